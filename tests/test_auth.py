"""Accounts and tokens (chatd/auth.py).

The token tests that only decode run without a database (``offline_auth``); the rest use the
real embedded PostgreSQL through the ``storage`` fixture.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
import trio
import trio.testing
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from chatd.auth import KDF_THREADS, LOGIN_KDF_THREADS, Auth, load_or_create_secret
from chatd.config import Config
from chatd.errors import ChatError
from chatd.storage.base import Storage, User

TIMEOUT = 10
SECRET = b"s" * 64
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
USER = User(id=7, name="alice", created_at=0)


class NoStorage:
    """Stands in where a test must not reach the database."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"storage.{name} used by an offline test")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config().replace(server={"data_dir": str(tmp_path)}, auth={"token_ttl": 3600})


@pytest.fixture
def offline_auth(config: Config) -> Auth:
    return Auth(cast(Storage, NoStorage()), config, SECRET, hasher=CHEAP_HASHER)


@pytest.fixture
def auth(storage: Storage, config: Config) -> Auth:
    return Auth(storage, config, SECRET, hasher=CHEAP_HASHER)


def claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": "7", "name": "alice", "jti": "abc", "iat": now, "exp": now + 600,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unauthenticated(auth: Auth, token: str) -> str:
    with pytest.raises(ChatError) as refused:
        auth.decode_token(token)
    assert refused.value.code == "unauthenticated"
    return refused.value.message


# -- the secret ------------------------------------------------------------------------------


def test_secret_created_once_with_mode_0600(tmp_path: Path) -> None:
    """The secret is created with mode 0600 and the same bytes come back after a restart."""
    data_dir = tmp_path / "fresh" / "data"
    first = load_or_create_secret(data_dir)
    assert len(first) >= 32
    mode = (data_dir / "jwt_secret").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert load_or_create_secret(data_dir) == first
    assert [p.name for p in data_dir.iterdir()] == ["jwt_secret"]  # no temporary left over
    assert load_or_create_secret(tmp_path / "other") != first


def test_short_secret_refused(tmp_path: Path) -> None:
    """A secret file with fewer than 32 bytes is an error, not a weak key."""
    (tmp_path / "jwt_secret").write_bytes(b"short")
    os.chmod(tmp_path / "jwt_secret", 0o600)
    with pytest.raises(ValueError):
        load_or_create_secret(tmp_path)


# -- tokens, offline -------------------------------------------------------------------------


def test_issued_token_round_trip(offline_auth: Auth) -> None:
    """An issued token decodes to its user, carries the pinned claims, and expires ttl later."""
    token, expires_at = offline_auth.issue_token(USER)
    decoded = offline_auth.decode_token(token)
    assert decoded.user_id == 7 and decoded.name == "alice"
    assert decoded.expires_at == expires_at
    assert abs(expires_at - (time.time() + 3600) * 1000) < 5000
    assert abs(decoded.issued_at - time.time() * 1000) < 5000
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    other, _ = offline_auth.issue_token(USER)
    assert offline_auth.decode_token(other).jti != decoded.jti


def test_expired_token_refused(offline_auth: Auth) -> None:
    """A token past its exp (beyond the clock-skew leeway) is refused as expired."""
    past = int(time.time()) - 3600
    token = jwt.encode(claims(iat=past - 60, exp=past), SECRET, algorithm="HS256")
    assert "expired" in unauthenticated(offline_auth, token)


def test_alg_none_refused(offline_auth: Auth) -> None:
    """An unsigned ``alg: none`` token is refused."""
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    token = f"{header}.{b64(json.dumps(claims()).encode())}."
    unauthenticated(offline_auth, token)


def test_other_algorithm_refused(offline_auth: Auth) -> None:
    """A token signed with the right secret but HS512 is refused: the algorithm is pinned."""
    token = jwt.encode(claims(), SECRET, algorithm="HS512")
    assert "algorithm" in unauthenticated(offline_auth, token)


def test_wrong_secret_refused(offline_auth: Auth) -> None:
    """A token signed with another secret is refused."""
    token = jwt.encode(claims(), b"o" * 64, algorithm="HS256")
    assert "signature" in unauthenticated(offline_auth, token)


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "jti"])
def test_required_claims(offline_auth: Auth, missing: str) -> None:
    """A token without exp, iat, sub or jti is refused."""
    token = jwt.encode(claims(**{missing: None}), SECRET, algorithm="HS256")
    unauthenticated(offline_auth, token)


@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "a.b"])
def test_malformed_token_refused(offline_auth: Auth, token: str) -> None:
    """Strings that are not JWTs are refused with unauthenticated, not another exception."""
    unauthenticated(offline_auth, token)


def test_non_numeric_subject_refused(offline_auth: Auth) -> None:
    """A subject that is not a user id is refused."""
    token = jwt.encode(claims(sub="alice"), SECRET, algorithm="HS256")
    unauthenticated(offline_auth, token)


# -- with the database -----------------------------------------------------------------------


async def test_register_hashes_with_argon2id(auth: Auth, storage: Storage) -> None:
    """A registered password is stored as an argon2id hash, never in clear."""
    with trio.fail_after(TIMEOUT):
        user = await auth.register("alice", "correct horse")
        assert user.name == "alice"
        credentials = await storage.get_credentials("alice")
        assert credentials is not None
        assert credentials.password_hash.startswith("$argon2id$")
        assert "correct horse" not in credentials.password_hash


async def test_register_validation(auth: Auth) -> None:
    """Bad names and short or huge passwords are bad_request; a taken name is conflict."""
    with trio.fail_after(TIMEOUT):
        for name, password in [("a b", "correct horse"), ("bob", "short"), ("bob", "x" * 1025)]:
            with pytest.raises(ChatError) as refused:
                await auth.register(name, password)
            assert refused.value.code == "bad_request"
        await auth.register("bob", "correct horse")
        with pytest.raises(ChatError) as refused:
            await auth.register("BOB", "correct horse")
        assert refused.value.code == "conflict"


async def test_login_failures_look_alike(auth: Auth) -> None:
    """A wrong password, an unknown user and a malformed name all get the same refusal."""
    with trio.fail_after(TIMEOUT):
        await auth.register("alice", "correct horse")
        messages = set()
        for name, password in [("alice", "wrong horse"), ("nobody", "x"), ("bad name!", "x")]:
            with pytest.raises(ChatError) as refused:
                await auth.login(name, password)
            assert refused.value.code == "unauthenticated"
            messages.add(refused.value.message)
        assert messages == {"wrong user name or password"}
        token, _ = await auth.login("ALICE", "correct horse")
        assert (await auth.authenticate(token)).name == "alice"


async def test_revoked_token_refused(auth: Auth) -> None:
    """A logged-out token is refused as revoked; other tokens of the user still work until a
    log-out everywhere, after which a new log-in works again."""
    with trio.fail_after(TIMEOUT):
        await auth.register("alice", "correct horse")
        first, _ = await auth.login("alice", "correct horse")
        second, _ = await auth.login("alice", "correct horse")
        await auth.logout(first)
        with pytest.raises(ChatError) as refused:
            await auth.authenticate(first)
        assert "revoked" in refused.value.message
        assert (await auth.authenticate(second)).name == "alice"
        await auth.logout(second, everywhere=True)
        with pytest.raises(ChatError):
            await auth.authenticate(second)
        third, _ = await auth.login("alice", "correct horse")
        assert (await auth.authenticate(third)).name == "alice"


async def test_token_of_unknown_user_refused(auth: Auth) -> None:
    """A well-signed token naming a user that does not exist is refused."""
    with trio.fail_after(TIMEOUT):
        token, _ = auth.issue_token(User(id=999_999, name="ghost", created_at=0))
        with pytest.raises(ChatError) as refused:
            await auth.authenticate(token)
        assert refused.value.code == "unauthenticated"



@pytest.mark.parametrize("name", ["", "x" * 33, "al ice", "alice\n", "\u00e5lice"])
async def test_register_refuses_bad_names(auth: Auth, name: str) -> None:
    """A name the protocol's rules refuse is bad_request (the rules: tests/protocol)."""
    with pytest.raises(ChatError) as refused:
        await auth.register(name, "correct horse")
    assert refused.value.code == "bad_request"


# -- ill-typed claims under the real key -----------------------------------------------------


@pytest.mark.parametrize("changes", [
    {"sub": "1" * 30}, {"sub": str(2**63)}, {"sub": 7}, {"sub": ""}, {"sub": "-7"},
    {"sub": "\u0667"}, {"sub": ["7"]}, {"iat": -1e300}, {"iat": 1e300}, {"iat": -1},
    {"iat": "1700000000"}, {"iat": True}, {"iat": float("nan")}, {"exp": float("inf")},
    {"exp": 10**30}, {"exp": "soon"}, {"exp": None}, {"jti": 5}, {"jti": ""},
    {"jti": "x" * 10_000}, {"jti": "a\u0000b"}, {"jti": {"a": 1}}, {"name": 5},
    {"name": "a\u0000"},
], ids=repr)
async def test_ill_typed_claims_are_unauthenticated(auth: Auth, changes: dict[str, Any]) -> None:
    """Claims we never issue, signed with our own key, are unauthenticated, before and
    after storage: never unavailable or an internal error (once 503: a 30-digit sub or an
    iat of -1e300 overflowed the database's columns)."""
    with trio.fail_after(TIMEOUT):
        token = jwt.encode(claims(**changes), SECRET, algorithm="HS256")
        with pytest.raises(ChatError) as refused:
            await auth.authenticate(token)
        assert refused.value.code == "unauthenticated"


_claim_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2**70), 2**70).map(str),
    st.floats(), st.text(max_size=40), st.text("0123456789", min_size=1, max_size=40),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2),
)


async def test_any_claims_signed_with_the_key_are_unauthenticated(auth: Auth) -> None:
    """Whatever the claims of a token signed with the real key hold, checking it (storage
    included: no user exists) ends in unauthenticated, nothing else.

    Hypothesis runs in a worker thread and each example checks its token in this trio run,
    against the real database (pytest-trio's fixtures do not outlive one example)."""

    @settings(max_examples=200, deadline=None, database=None)
    @given(st.dictionaries(st.sampled_from(["sub", "iat", "exp", "jti", "name"]),
                           _claim_values, max_size=5))
    def check(changes: dict[str, Any]) -> None:
        token = jwt.encode({**claims(), **changes}, SECRET, algorithm="HS256")
        code = trio.from_thread.run(_refusal, auth, token)
        assert code == "unauthenticated", (changes, code)

    with trio.fail_after(120):
        await trio.to_thread.run_sync(check)


async def _refusal(auth: Auth, token: str) -> str:
    try:
        await auth.authenticate(token)
    except ChatError as exc:
        return exc.code
    except Exception as exc:  # reported as the example's failure, with the claims
        return repr(exc)
    return "accepted"


# -- passwords that are not text -------------------------------------------------------------


@pytest.mark.parametrize("password", ["correct\u0000horse", "correct horse\ud800",
                                      "\udfffcorrect horse"], ids=repr)
async def test_passwords_that_are_not_text_are_bad_request(auth: Auth, password: str) -> None:
    """U+0000 or a lone surrogate in a password is bad_request at registration and at
    log-in (a lone surrogate once crashed argon2's encoding: 500)."""
    with trio.fail_after(TIMEOUT):
        await auth.register("alice", "correct horse")
        for attempt in (auth.register("bob", password), auth.login("alice", password),
                        auth.login("nobody", password)):
            with pytest.raises(ChatError) as refused:
                await attempt
            assert refused.value.code == "bad_request"
        assert await auth.storage.get_credentials("bob") is None


# -- registrations ---------------------------------------------------------------------------


async def test_registrations_are_limited_per_address(storage: Storage, config: Config) -> None:
    """Past the burst, concurrent registrations from one address are rate_limited with a
    retry_after, and create no account; another address and the operator's CLI path
    (no address) still register."""
    auth = Auth(storage, config.replace(auth={"registrations_per_ip": 5}), SECRET,
                hasher=CHEAP_HASHER)
    outcomes: list[str] = []

    async def register(i: int) -> None:
        try:
            await auth.register(f"flood{i}", "correct horse", address="192.0.2.1")
            outcomes.append("ok")
        except ChatError as exc:
            assert exc.code != "rate_limited" or (exc.retry_after or 0) > 0
            outcomes.append(exc.code)

    with trio.fail_after(TIMEOUT):
        async with trio.open_nursery() as nursery:
            for i in range(40):
                nursery.start_soon(register, i)
        assert sorted(outcomes) == ["ok"] * 5 + ["rate_limited"] * 35
        created = [i for i in range(40) if await storage.get_credentials(f"flood{i}")]
        assert len(created) == 5
        await auth.register("neighbour", "correct horse", address="192.0.2.2")
        await auth.register("operator", "correct horse")


class GatedHasher(PasswordHasher):
    """A cheap argon2id whose hashing of new passwords waits for ``gate`` (in the worker
    thread), counting the hashes that started: so a test can hold every registration in
    the middle of its hash and look at what else can still run."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.gate = threading.Event()
        self.started = 0
        self.busy: tuple[int, trio.Event] | None = None  # set the event at that many started
        self._lock = threading.Lock()

    def hash(self, password: str | bytes, *, salt: bytes | None = None) -> str:
        with self._lock:
            self.started += 1
            started = self.started
        if self.busy is not None and started >= self.busy[0]:
            trio.from_thread.run_sync(self.busy[1].set)
        self.gate.wait()
        return super().hash(password, salt=salt)


async def test_a_login_does_not_wait_behind_registrations(storage: Storage,
                                                          config: Config) -> None:
    """With every worker that hashes new passwords busy and more registrations queued, an
    existing user's log-in still gets its token (it once queued behind them: 3.8 s)."""
    hasher = GatedHasher()
    auth = Auth(storage, config, SECRET, hasher=hasher)
    try:
        with trio.fail_after(TIMEOUT):
            hasher.gate.set()
            await auth.register("alice", "correct horse")
            hasher.gate.clear()
            hasher.started = 0
            done: list[str] = []

            async def register(i: int) -> None:
                await auth.register(f"new{i}", "correct horse", address=f"192.0.2.{i}")
                done.append(f"new{i}")

            slots = KDF_THREADS - LOGIN_KDF_THREADS
            busy = trio.Event()
            hasher.busy = (slots, busy)
            async with trio.open_nursery() as nursery:
                for i in range(12):
                    nursery.start_soon(register, i)
                await busy.wait()  # every worker for new passwords holds a registration
                await trio.testing.wait_all_tasks_blocked()  # the others queue for one
                token, _ = await auth.login("alice", "correct horse")
                assert (await auth.authenticate(token)).name == "alice"
                # The registrations are all still in or waiting for their workers.
                assert done == []
                assert hasher.started == slots
                hasher.gate.set()
            assert len(done) == 12
    finally:
        hasher.gate.set()

"""Accounts and tokens (chatd/auth.py).

The token tests that only decode run without a database (``offline_auth``); the rest use the
real embedded PostgreSQL through the ``storage`` fixture.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import time
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
import trio
from argon2 import PasswordHasher

from chatd.auth import Auth, load_or_create_secret
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

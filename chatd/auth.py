"""Accounts and tokens: argon2id password hashes and revocable HS256 JWTs.

Theory of operation
-------------------
A password is hashed with argon2id (memory-hard, so a stolen database is slow to crack). Hashing
costs tens of milliseconds and 64 MiB, so it always runs in a worker thread, never on the event
loop, and at most :data:`KDF_THREADS` hashes run at once: a burst of log-ins must not take the
daemon's memory with it. Those slots are split: :data:`LOGIN_KDF_THREADS` verify the passwords
of log-ins, the others hash new passwords (registrations, changes), so that a flood of
registrations never makes an existing user's log-in wait; registrations are also limited per
client address (``auth.registrations_per_ip`` an hour). A log-in for a user that does not exist
still verifies a password, against a dummy hash, so that the answer's timing does not tell
which user names exist.

A log-in yields a JWT signed with HS256 and the daemon's secret (``<data_dir>/jwt_secret``). The
algorithm is pinned when decoding, which refuses ``alg: none`` and every algorithm-confusion
trick. A token carries ``sub`` (the user id), ``name``, ``jti`` (a random id), ``iat`` and
``exp``; ``iat`` has millisecond precision (JWT allows a fractional NumericDate) because storage
compares it with the moment of the user's last "log out everywhere", and a log-in a few
milliseconds after such a log-out must stay valid. Every use of a token asks storage whether it
was revoked, so a log-out takes effect at once on every node sharing the database.

A bot has no password: it authenticates with long-lived API tokens, wherever a JWT is taken
(``Authorization: Bearer``, the protocol's ``hello``). A bot token is ``chatdbot_`` followed
by 32 random bytes in base64url, told from a JWT by that prefix; storage keeps only its
SHA-256 (:func:`bot_token_hash`), so a copy of the database authenticates nobody, and a
random 256-bit secret needs no salt or key stretching. Each use asks storage, like a JWT's
revocation check, so revoking one works at once on every node. A session opened with one
carries the jti ``bot:<token id>``, which is what a revocation's notice names. A bot never
logs in with a password, whatever its row holds.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import math
import os
import secrets
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import jwt
import trio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chatd.config import Config
from chatd.errors import ChatError
from chatd.limits import KeyedLimiter
from chatd.protocol import InvalidName, codes, normalise_new_user, normalise_user
from chatd.protocol.events import is_storable
from chatd.storage.base import InvitedUser, SessionStart, Storage, User, invitation_refusal

if TYPE_CHECKING:
    from chatd.metrics import Metrics

__all__ = [
    "BOT_JTI_PREFIX",
    "BOT_TOKEN_PREFIX",
    "JWT_ALGORITHM",
    "KDF_THREADS",
    "LOGIN_KDF_THREADS",
    "MAX_PASSWORD_LENGTH",
    "SECRET_FILE",
    "Auth",
    "TokenClaims",
    "bot_token_hash",
    "load_or_create_secret",
    "new_bot_token",
]

log = logging.getLogger(__name__)

SECRET_FILE = "jwt_secret"
SECRET_BYTES = 64  # 512 bits: long enough for HS256 and for PyJWT's key-length checks
MIN_SECRET_BYTES = 32
JWT_ALGORITHM = "HS256"
# Clocks of nodes sharing one database differ a little; a token minted on one node must not be
# "not yet valid" on another. Small against any sensible token lifetime.
CLOCK_SKEW_SECONDS = 5
MAX_PASSWORD_LENGTH = 1024  # argon2 pre-hashes, but a bound keeps request bodies honest
KDF_THREADS = 4  # concurrent argon2 computations; each takes about 64 MiB
LOGIN_KDF_THREADS = 3  # of which verifying log-ins' passwords; the rest hash new passwords
# Bounds on what a token's claims may hold (see Auth.decode_token).
MAX_USER_ID = 2**63 - 1  # user ids are bigint
MAX_USER_ID_DIGITS = len(str(MAX_USER_ID))
MAX_JTI_CHARS = 256  # we issue 22
MAX_NAME_CHARS = 256
MAX_TOKEN_TIME = 253_402_300_799  # 9999-12-31T23:59:59Z, in seconds
BOT_TOKEN_PREFIX = "chatdbot_"  # what a bot token starts with (a JWT starts with "eyJ")
BOT_TOKEN_BYTES = 32
BOT_JTI_PREFIX = "bot:"  # the jti of a session opened with a bot token: bot:<token id>


def new_bot_token() -> tuple[str, bytes]:
    """A new bot token and the hash storage keeps of it (:func:`bot_token_hash`)."""
    token = BOT_TOKEN_PREFIX + secrets.token_urlsafe(BOT_TOKEN_BYTES)
    return token, bot_token_hash(token)


def bot_token_hash(token: str) -> bytes:
    """What storage keeps of a bot token (or of an incoming webhook's secret): its
    SHA-256."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def load_or_create_secret(data_dir: Path) -> bytes:
    """The daemon's JWT signing secret, created on first start and reused after restarts.

    The file is written under a temporary name and linked into place, so two processes starting
    at once agree on one secret and no reader ever sees a half-written file. It is created with
    mode 0600; a secret that others can read is reported in the log (and still used, since
    refusing to start would lock every user out).

    Args:
        data_dir: the daemon's data directory; created if missing.

    Returns:
        The secret (at least 32 bytes).

    Raises:
        ValueError: the existing file holds fewer than 32 bytes.
        OSError: the directory or file cannot be created or read.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    if not path.exists():
        tmp = data_dir / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(8)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(secrets.token_bytes(SECRET_BYTES))
                file.flush()
                os.fsync(file.fileno())
            # link() fails if the name exists: the first process to get here wins.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("%s is readable by other users (mode %o); chmod 600 it", path, mode & 0o777)
    secret = path.read_bytes()
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"{path}: a JWT secret needs at least {MIN_SECRET_BYTES} bytes")
    return secret


def _user_name(name: object) -> str:
    """A valid user name unchanged (names keep their case), else ``bad_request``."""
    try:
        return normalise_user(name)
    except InvalidName as exc:
        raise ChatError(codes.BAD_REQUEST, str(exc)) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenClaims:
    """What a verified token says. Times are ms since the epoch."""

    user_id: int
    name: str
    jti: str
    issued_at: int
    expires_at: int


def _check_text(password: str) -> None:
    """A password must be text argon2 can take as UTF-8 (no lone surrogate) and without
    U+0000 (which C-string tools and many clients cannot carry): else ``bad_request``."""
    if not is_storable(password):
        raise ChatError(codes.BAD_REQUEST,
                        "a password is Unicode text without U+0000 or lone surrogates")


def _is_time(value: object) -> bool:
    """Whether a claim is a NumericDate we could have issued: a finite number of seconds
    between the epoch and year 9999 (so that it fits storage's timestamps)."""
    return (
        isinstance(value, int | float) and not isinstance(value, bool)
        and math.isfinite(value) and 0 <= value <= MAX_TOKEN_TIME
    )


class Auth:
    """Registration, log-in, and the tokens that prove it.

    Args:
        storage: where users and revocations live.
        config: read for ``auth.token_ttl`` (seconds) and ``auth.min_password_length``.
        secret: the HS256 key, from :func:`load_or_create_secret`.
        metrics: when given, log-in outcomes are counted here (``logins{result}``); the HTTP
            front counts them itself only when this is None, so each attempt counts once.
        hasher: the argon2id parameters; the default is argon2-cffi's (RFC 9106 low-memory).
            Tests pass a cheaper one.
    """

    def __init__(
        self,
        storage: Storage,
        config: Config,
        secret: bytes,
        metrics: Metrics | None = None,
        *,
        hasher: PasswordHasher | None = None,
    ) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"a JWT secret needs at least {MIN_SECRET_BYTES} bytes")
        self.storage = storage
        self.config = config
        self.metrics = metrics
        self._secret = secret
        self._hasher = hasher if hasher is not None else PasswordHasher()
        self._kdf_limiters: tuple[trio.CapacityLimiter, trio.CapacityLimiter] | None = None
        self._dummy_hash: str | None = None
        per_ip = config.auth.login_attempts_per_ip
        per_user = config.auth.login_failures_per_user
        self._attempts = KeyedLimiter(rate=per_ip / 60, burst=per_ip)
        self._failures = KeyedLimiter(rate=per_user / 900, burst=per_user)
        registrations = config.auth.registrations_per_ip
        self._registrations = KeyedLimiter(rate=registrations / 3600, burst=registrations)
        self._looks = KeyedLimiter(rate=registrations / 3600, burst=registrations)

    # -- passwords -------------------------------------------------------------------------

    def _limiters(self) -> tuple[trio.CapacityLimiter, trio.CapacityLimiter]:
        """The worker slots (new passwords, log-ins). Made on first use, inside trio, so that
        Auth can be built before trio.run."""
        if self._kdf_limiters is None:
            self._kdf_limiters = (trio.CapacityLimiter(KDF_THREADS - LOGIN_KDF_THREADS),
                                  trio.CapacityLimiter(LOGIN_KDF_THREADS))
        return self._kdf_limiters

    async def _hash(self, password: str, *, for_login: bool = False) -> str:
        new_passwords, logins = self._limiters()
        return await trio.to_thread.run_sync(
            self._hasher.hash, password, limiter=logins if for_login else new_passwords
        )

    async def _verify(self, password_hash: str, password: str) -> bool:
        def verify() -> bool:
            try:
                return self._hasher.verify(password_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await trio.to_thread.run_sync(verify, limiter=self._limiters()[1])

    def _check_password(self, password: object) -> str:
        minimum = self.config.auth.min_password_length
        if not isinstance(password, str) or not minimum <= len(password) <= MAX_PASSWORD_LENGTH:
            raise ChatError(codes.BAD_REQUEST,
                f"a password is {minimum} to {MAX_PASSWORD_LENGTH} characters",
            )
        _check_text(password)
        return password

    async def register(self, name: str, password: str, *, address: str | None = None,
                       admin: bool = False) -> User:
        """Create an account (a server administrator with ``admin``: the operator's
        ``chatd user add --admin``).

        Registrations are limited per client ``address`` (``auth.registrations_per_ip`` an
        hour, all at once at most); the operator's ``chatd user add`` gives none.

        Raises:
            ChatError: ``bad_request`` for a malformed name or a password that is too short,
                too long or not text; ``rate_limited`` with ``retry_after`` (seconds) past the
                address's limit; ``conflict`` (from storage) when the name is taken in any
                case.
        """
        name, password = self._new_account(name, password, address)
        password_hash = await self._hash(password)
        return await self.storage.create_user(name, password_hash, admin=admin)

    async def register_invited(self, name: str, password: str, token: str, *,
                               address: str | None = None) -> InvitedUser:
        """Create an account with an invitation's token (a string of the shape of
        :data:`INVITATION_TOKEN`), which joins the invitation's rooms; checked and limited as
        :meth:`register`. The invitation is looked at before the password is hashed (a token
        that does not work costs no hash), then its use is taken atomically with the
        account's creation (storage).

        Raises:
            ChatError: as :meth:`register`; ``invitation_invalid``, ``invitation_expired``,
                ``invitation_used_up``, ``invitation_revoked``
                (:func:`chatd.storage.invitation_refusal`).
        """
        name, password = self._new_account(name, password, address)
        digest = bot_token_hash(token)
        found = await self.storage.invitation_by_hash(digest)
        if found is None or found.state != "valid":
            raise invitation_refusal(found)
        password_hash = await self._hash(password)
        return await self.storage.register_invited(name, password_hash, digest)

    def _new_account(self, name: str, password: str, address: str | None) -> tuple[str, str]:
        """A new account's name and password, checked, and a registration taken from the
        address's allowance."""
        try:
            name = normalise_new_user(name)
        except InvalidName as exc:
            raise ChatError(codes.BAD_REQUEST, str(exc)) from None
        password = self._check_password(password)
        if address:
            wait = self._registrations.take(address, trio.current_time())
            if wait > 0:
                raise ChatError(codes.RATE_LIMITED, "too many registrations; try again later",
                                retry_after=wait)
        return name, password

    def look_limit(self, address: str | None) -> None:
        """Take a look at an invitation (``GET /api/join/{token}``) from ``address``'s
        allowance: as many as registrations (``auth.registrations_per_ip`` an hour), kept
        apart from them so that opening a link does not spend the registration it leads to.

        Raises:
            ChatError: ``rate_limited`` with ``retry_after`` (seconds).
        """
        if address:
            wait = self._looks.take(address, trio.current_time())
            if wait > 0:
                raise ChatError(codes.RATE_LIMITED, "too many invitations looked at; try "
                                "again later", retry_after=wait)

    async def hash_new_password(self, password: object,
                                check: Callable[[], Awaitable[bool]] | None = None
                                ) -> str | None:
        """A new password checked as a registration's is, and hashed (off the loop): what a
        password reset stores. ``check``, when given, is asked after the password's rules
        and before the costly hash: None when it says no (a reset link that does not work
        costs no hash).

        Raises:
            ChatError: ``bad_request`` for a password out of bounds or not text.
        """
        checked = self._check_password(password)
        if check is not None and not await check():
            return None
        return await self._hash(checked)

    async def change_password(self, name: str, password: str, *,
                              actor_id: int | None = None) -> User:
        """Set a new password; every token issued before stops working. ``actor_id``: the
        administrator who did it (None: the command line), for the audit log.

        Raises:
            ChatError: ``bad_request`` for a password out of bounds; ``not_found``.
        """
        password_hash = await self._hash(self._check_password(password))
        return await self.storage.set_password(_user_name(name), password_hash,
                                               actor_id=actor_id)

    async def login(self, name: str, password: str, *, address: str | None = None
                    ) -> tuple[str, int]:
        """Check a name and password and issue a token.

        Every failure is the same ``unauthenticated`` answer after about the same work, so that
        the reply does not reveal whether the user exists. Attempts are limited per client
        ``address`` (``auth.login_attempts_per_ip`` a minute) and failures per user name
        (``auth.login_failures_per_user`` in 15 minutes), so that guessing passwords is slow;
        past either limit the answer is ``rate_limited`` with ``retry_after`` (seconds), and
        no password is checked.

        A deactivated account is refused with ``deactivated``, but only once its password
        was checked: the answer tells nobody else that the account exists.

        Returns:
            ``(token, expires_at)``, ``expires_at`` in ms since the epoch.

        Raises:
            ChatError: ``unauthenticated``, "wrong user name or password"; ``rate_limited``;
                ``deactivated``.
        """
        now = trio.current_time()
        user_key = name.lower() if isinstance(name, str) else ""
        wait = self._failures.wait(user_key, now)
        if address:
            wait = max(wait, self._attempts.take(address, now))
        if wait > 0:
            self._count_login("limited")
            raise ChatError(codes.RATE_LIMITED, "too many log-in attempts; try again later",
                            retry_after=wait)
        try:
            token = await self._login(name, password)
        except ChatError:
            self._failures.take(user_key, now)
            self._count_login("failed")
            raise
        self._count_login("ok")
        return token

    async def _login(self, name: str, password: str) -> tuple[str, int]:
        wrong = ChatError(codes.UNAUTHENTICATED, "wrong user name or password")
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            raise wrong
        _check_text(password)  # says nothing about the user: a clear bad_request
        credentials = None
        with contextlib.suppress(ChatError):
            credentials = await self.storage.get_credentials(_user_name(name))
        if credentials is None or credentials.user.bot:  # a bot has API tokens only
            await self._verify(await self._dummy(), password)
            raise wrong
        if not await self._verify(credentials.password_hash, password):
            raise wrong
        if credentials.user.deactivated:
            raise ChatError(codes.DEACTIVATED,
                            "this account is deactivated; ask an administrator")
        return self.issue_token(credentials.user)

    async def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = await self._hash(secrets.token_urlsafe(16), for_login=True)
        return self._dummy_hash

    def _count_login(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.logins.labels(result=result).inc()

    # -- tokens ----------------------------------------------------------------------------

    def derive_key(self, label: bytes) -> bytes:
        """A key for another use of the daemon's secret (signed file links): HMAC-SHA256 of
        ``label`` under the secret. Every node sharing the secret derives the same key; a MAC
        made with it is never a token's signature, which is made with the secret itself over
        a JWT's base64url header and payload (never equal to a label)."""
        return hmac.new(self._secret, label, hashlib.sha256).digest()

    def issue_token(self, user: User) -> tuple[str, int]:
        """A fresh token for ``user``, valid for ``auth.token_ttl`` seconds.

        Returns:
            ``(token, expires_at)``, ``expires_at`` in ms since the epoch.
        """
        now_ms = time.time_ns() // 1_000_000
        exp = now_ms // 1000 + self.config.auth.token_ttl
        claims = {
            "sub": str(user.id),
            "name": user.name,
            "jti": secrets.token_urlsafe(16),
            "iat": now_ms / 1000,
            "exp": exp,
        }
        token = jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)
        return token, exp * 1000

    def decode_token(self, token: str) -> TokenClaims:
        """Check a token's signature, algorithm, expiry and claims; storage is not asked.

        Raises:
            ChatError: ``unauthenticated`` with the reason.
        """
        try:
            payload: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["exp", "iat", "sub", "jti"]},
                leeway=CLOCK_SKEW_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise ChatError(codes.UNAUTHENTICATED, "the token has expired; log in again") from None
        except jwt.InvalidAlgorithmError:
            raise ChatError(codes.UNAUTHENTICATED,
                            "the token's algorithm is not accepted") from None
        except jwt.InvalidSignatureError:
            raise ChatError(codes.UNAUTHENTICATED, "the token's signature is not valid") from None
        except jwt.MissingRequiredClaimError as exc:
            raise ChatError(codes.UNAUTHENTICATED,
                            f"the token lacks the {exc.claim!r} claim") from None
        except jwt.InvalidTokenError:
            raise ChatError(codes.UNAUTHENTICATED, "the token is malformed") from None
        sub, jti, iat, exp = payload["sub"], payload["jti"], payload["iat"], payload["exp"]
        name = payload.get("name", "")
        # A token signed with our key may still carry claims we never issue (a key that leaked,
        # a token from a buggy version): every claim that reaches storage must fit its column,
        # or the database's refusal would read as "unavailable" instead of "unauthenticated".
        if (
            not (isinstance(sub, str) and 0 < len(sub) <= MAX_USER_ID_DIGITS
                 and sub.isascii() and sub.isdigit() and int(sub) <= MAX_USER_ID)
            or not (isinstance(jti, str) and 0 < len(jti) <= MAX_JTI_CHARS and is_storable(jti))
            or not (isinstance(name, str) and len(name) <= MAX_NAME_CHARS and is_storable(name))
            or not _is_time(iat)
            or not _is_time(exp)
        ):
            raise ChatError(codes.UNAUTHENTICATED, "the token is malformed")
        return TokenClaims(
            user_id=int(sub),
            name=name,
            jti=jti,
            issued_at=round(iat * 1000),
            expires_at=int(exp) * 1000,
        )

    async def verify(self, token: str) -> tuple[User, TokenClaims]:
        """The user a token belongs to, and what the token says (its ``jti``, for a session
        that must end when this very token is revoked).

        Raises:
            ChatError: ``unauthenticated``, as :meth:`authenticate`.
        """
        return await self._check(token)

    async def open_session(self, token: str, *, contacts_limit: int | None = None,
                           rooms_limit: int | None = None) -> tuple[SessionStart, TokenClaims]:
        """As :meth:`verify`, with what a hello reads next (the names of the user's rooms and
        contacts, and the first rooms in full): for a user's token, the revocation check and
        that read are one storage call. ``contacts_limit``: how many contacts to read, the
        first in order (None: all); ``rooms_limit``: how many rooms in full (None: all). A
        bot's reads only the names.

        Raises:
            ChatError: ``unauthenticated``, as :meth:`authenticate`.
        """
        if token.startswith(BOT_TOKEN_PREFIX):
            user, claims = await self._check_bot(token)
            rooms, contacts = await self.storage.room_and_contact_names(user.id)
            return SessionStart(user=user, rooms=rooms, contacts=contacts), claims
        claims = self.decode_token(token)
        found = await self.storage.open_session(claims.user_id, claims.jti, claims.issued_at,
                                                contacts_limit=contacts_limit,
                                                rooms_limit=rooms_limit)
        return _not_revoked(found), claims

    async def _check(self, token: str) -> tuple[User, TokenClaims]:
        if token.startswith(BOT_TOKEN_PREFIX):
            return await self._check_bot(token)
        claims = self.decode_token(token)
        user = await self.storage.check_token(claims.user_id, claims.jti, claims.issued_at)
        return _not_revoked(user), claims

    async def _check_bot(self, token: str) -> tuple[User, TokenClaims]:
        found = await self.storage.check_bot_token(bot_token_hash(token))
        if found is None:
            raise ChatError(codes.UNAUTHENTICATED, "the bot token is unknown or was revoked")
        user, bot_token = found
        return user, TokenClaims(user_id=user.id, name=user.name,
                                 jti=f"{BOT_JTI_PREFIX}{bot_token.id}",
                                 issued_at=bot_token.created_at,
                                 expires_at=MAX_TOKEN_TIME * 1000)

    async def authenticate(self, token: str) -> User:
        """The user a token belongs to.

        Raises:
            ChatError: ``unauthenticated`` for an expired, forged, malformed or revoked token,
                with a message saying which.
        """
        user, _ = await self._check(token)
        return user

    async def logout(self, token: str, everywhere: bool = False) -> tuple[User, TokenClaims]:
        """Revoke ``token`` (until it would have expired anyway); with ``everywhere``, every
        token the user holds. Returns whose token it was and what it said.

        Raises:
            ChatError: ``unauthenticated`` when the token is not valid in the first place.
        """
        user, claims = await self._check(token)
        if claims.jti.startswith(BOT_JTI_PREFIX):  # a bot token: revoked for good
            token_id = int(claims.jti.removeprefix(BOT_JTI_PREFIX))
            await self.storage.revoke_bot_tokens(user.id, None if everywhere else token_id)
            return user, claims
        await self.storage.revoke_token(claims.jti, claims.expires_at)
        if everywhere:
            await self.storage.revoke_all_tokens(user.id)
        return user, claims


_Found = TypeVar("_Found")


def _not_revoked(found: _Found | None) -> _Found:
    """What storage found for a user's token; ``unauthenticated`` when it found nothing (the
    token was revoked, or its user is gone)."""
    if found is None:
        raise ChatError(codes.UNAUTHENTICATED,
                        "the token was revoked or its user is gone; log in again")
    return found

"""Email, over HTTP only: a user's address and its confirmation, the missed-message emails'
setting and their unsubscribe link, and password reset by email.

An address is the user's once they open the link mailed to it
(``<public url>/#confirm-email=<token>``: 24 hours, once; the page posts the token); until
then it is stored unconfirmed and nothing else is mailed to it, and a confirmed address being
changed stays the user's, getting their mail, until the new one is confirmed. Tokens travel
in the links' fragments and the requests' bodies, never in a URL's path or query, where a
reverse proxy's access log would keep them (the old ``/api/email/confirm/<token>`` and
``POST /api/password-reset/<token>`` still take the links mailed before, deprecated).
Tokens are random (:data:`TOKEN_BYTES`) and only their SHA-256 is kept (as invitations':
migration 0044). A password reset mails a link to the page, ``<public url>/#reset=<token>``
(an hour, once), to an account named by its user name or its confirmed address; the request
is answered 202 whatever was found, so that nobody learns who has an account or an address
here, and the mail leaves from a queue (:meth:`chatd.mail.Mailer.send_soon`), not while the
request waits. Setting the new password ends every session of the account on every node, as
a log-out everywhere does.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from typing import Any

from chatd.actions.context import App, Bucket
from chatd.auth import bot_token_hash
from chatd.emails import check_unsubscribe_token
from chatd.errors import ChatError
from chatd.mail import MAX_ADDRESS_CHARS, confirmation_mail, is_address, page, reset_mail
from chatd.protocol import codes
from chatd.storage import EmailSettings, User

__all__ = [
    "CONFIRMATIONS",
    "CONFIRM_PREFIX",
    "CONFIRM_SECONDS",
    "EMAIL_TOKEN",
    "RESETS_PER_ADDRESS",
    "RESETS_PER_TARGET",
    "RESET_PREFIX",
    "RESET_SECONDS",
    "confirm",
    "confirm_token",
    "confirm_url",
    "get_email",
    "html_page",
    "new_token",
    "remove_email",
    "request_reset",
    "reset_password",
    "reset_url",
    "set_email",
    "set_notify",
    "settings_object",
    "unsubscribe",
    "unsubscribe_page",
]

#: Confirmation mails per user: 3 at once, then 3 an hour.
CONFIRMATIONS = Bucket("email_confirmations", lambda limits: (3 / 3600, 3),
                       "too many confirmation mails; try again in an hour", per_user=True)
#: Reset mails per account asked for (user name or address, any case): 3, then 3 an hour;
#: past it the request is still 202 and nothing is mailed (nobody learns it was limited).
#: Both reset limits are the database's (:meth:`App.take_shared`), shared by every node.
RESETS_PER_TARGET = Bucket("password_resets", lambda limits: (3 / 3600, 3),
                           "too many password resets for this account")
#: Reset requests per client address: 10, then 10 an hour (429 past it).
RESETS_PER_ADDRESS = Bucket("password_reset_requests", lambda limits: (10 / 3600, 10),
                            "too many password reset requests; try again later")
#: How long a confirmation link works (24 hours), and a reset link (an hour).
CONFIRM_SECONDS = 24 * 3600
RESET_SECONDS = 3600
#: Random bytes in a token: 192 bits, 32 characters of base64url.
TOKEN_BYTES = 24
#: What a token looks like (anything else is no token of ours, without asking storage).
EMAIL_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,128}")
#: The fragments of the page that the links mailed open (clients/web/email.js reads them).
CONFIRM_PREFIX = "#confirm-email="
RESET_PREFIX = "#reset="
#: The security headers of the small pages the links open.
PAGE_HEADERS = [
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'; "
                                 b"form-action 'self'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]


def new_token() -> tuple[str, bytes]:
    """A new token and what storage keeps of it (its SHA-256)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, bot_token_hash(token)


def settings_object(app: App, settings: EmailSettings) -> dict[str, Any]:
    """``{email, confirmed, notify, available, pending}`` (``available``: the server sends
    mail; ``pending``: the address a confirmed one is being changed to, or null)."""
    return {"email": settings.email, "confirmed": settings.confirmed,
            "notify": settings.notify, "available": app.config.email.enabled,
            "pending": settings.pending}


def _require_mail(app: App) -> None:
    if not app.config.email.enabled or app.mailer is None:
        raise ChatError(codes.EMAIL_DISABLED, "this server sends no email")


async def get_email(app: App, user: User) -> dict[str, Any]:
    """The user's address and settings."""
    return settings_object(app, await app.storage.email_settings(user.id))


async def set_email(app: App, user: User, body: Mapping[str, Any], *, base_url: str,
                    now: int) -> dict[str, Any]:
    """Give ``user`` the address ``body["email"]``, unconfirmed, and mail it a confirmation
    link (the page at ``base_url``; ``now``: ms). The user's confirmed address, given again,
    stays confirmed and nothing is mailed.

    Raises:
        ChatError: ``email_disabled``; ``bad_request`` (not an address); ``forbidden`` (a
            bot); ``email_taken``; ``rate_limited`` past :data:`CONFIRMATIONS`.
    """
    _require_mail(app)
    value = body.get("email")
    if isinstance(value, str):
        value = value.strip()
    if not is_address(value):
        raise ChatError(codes.BAD_REQUEST, "'email' must be an email address (at most "
                                           f"{MAX_ADDRESS_CHARS} characters)")
    assert isinstance(value, str)
    if user.bot:
        raise ChatError(codes.FORBIDDEN, "a bot has no email address")
    current = await app.storage.email_settings(user.id)
    if current.confirmed and current.email is not None \
            and current.email.lower() == value.lower():
        return settings_object(app, current)
    app.take_counted(CONFIRMATIONS, user.name, "email_confirmation")
    token, digest = new_token()
    settings = await app.storage.set_email(user.id, value, digest,
                                           expires_at=now + CONFIRM_SECONDS * 1000)
    url = confirm_url(base_url, token)
    assert app.mailer is not None
    app.mailer.send_soon(confirmation_mail(app.config.email, value, user.name, url,
                                           app.config.server.name), "a confirmation link")
    return settings_object(app, settings)


def confirm_url(base_url: str, token: str) -> str:
    """The confirmation link mailed: the page at ``base_url`` with the token in its
    fragment, which no request carries (nor a proxy's access log keeps); the page posts it
    (``POST /api/email/confirm``)."""
    return f"{base_url.rstrip('/')}/{CONFIRM_PREFIX}{token}"


def reset_url(base_url: str, token: str) -> str:
    """A password reset link: the page with the token in its fragment, which the page posts
    with the new password (``POST /api/password-reset/complete``)."""
    return f"{base_url.rstrip('/')}/{RESET_PREFIX}{token}"


async def remove_email(app: App, user: User) -> dict[str, Any]:
    """Remove the user's address (no more mail; its links stop working)."""
    return settings_object(app, await app.storage.remove_email(user.id))


async def set_notify(app: App, user: User, body: Mapping[str, Any]) -> dict[str, Any]:
    """Turn the missed-message emails on or off (``body["on"]``).

    Raises:
        ChatError: ``bad_request`` (``on`` not a boolean).
    """
    on = body.get("on")
    if not isinstance(on, bool):
        raise ChatError(codes.BAD_REQUEST, "'on' must be true or false")
    settings, changed = await app.storage.set_email_notify(user.id, on)
    if changed and on:
        _touched(app)
    return settings_object(app, settings)


def _touched(app: App) -> None:
    """Someone may have missed-message emails now: this node's notifier looks at once,
    before the request is answered (as a push subscription tells the pusher); the notice of
    migration 0046 tells every node, this one too, a moment later."""
    if app.emails is not None:
        app.emails.touched()


_CONFIRMED = {
    "confirmed": ("Your address is confirmed",
                  "Your email address is confirmed. Missed messages and password resets "
                  "can now reach you by email."),
    "expired": ("This link has expired",
                "This confirmation link has expired (links work for 24 hours). Set your "
                "address again to get a new one."),
    "used": ("This link was used",
             "This confirmation link was used already: each works once."),
    "unknown": ("This link does not work",
                "This confirmation link is not known here: it may have been replaced by a "
                "newer one."),
    "taken": ("This address is taken",
              "Another account has confirmed this address first."),
    "changed": ("This link is for another address",
                "Your address was changed after this link was sent: use the newest link."),
}


def html_page(status: int, title: str, text: str, base_url: str, *,
              extra: str = "", hash: str = "") -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """A small page (status, body, headers) with ``title``, ``text`` and a link to the
    web page (at ``hash``: ``#email-confirmed`` has it say the address is confirmed)."""
    link = base_url.rstrip('/') + '/' + hash
    body = (f"<h1 style=\"font-size:1.4em\">{html.escape(title)}</h1>"
            f"<p>{html.escape(text)}</p>{extra}"
            f"<p><a href=\"{html.escape(link)}\">Open chatd</a></p>")
    return status, page(title, body).encode(), PAGE_HEADERS


async def _confirmation(app: App, token: str) -> str:
    """Spend a confirmation token: its state (a key of :data:`_CONFIRMED`)."""
    if EMAIL_TOKEN.fullmatch(token) is None:
        state = "unknown"
    else:
        try:
            state, _ = await app.storage.confirm_email(bot_token_hash(token))
        except ChatError as exc:
            if exc.code != codes.CONFLICT:  # the unique index: confirmed by another meanwhile
                raise
            state = "taken"
    if state == "confirmed":
        _touched(app)
    return state


async def confirm(app: App, token: str) -> tuple[int, str, str]:
    """Open a confirmation link of the old shape (``/api/email/confirm/<token>``, mailed
    before the token went into the fragment; kept so that those links still work): (status,
    title, text) of the page to show (200 once confirmed, 400 for a link that does not
    work)."""
    state = await _confirmation(app, token)
    title, text = _CONFIRMED[state]
    return (200 if state == "confirmed" else 400), title, text


async def confirm_token(app: App, body: Mapping[str, Any]) -> dict[str, Any]:
    """``POST /api/email/confirm`` ``{token}``: the page, opened at a confirmation link
    (``#confirm-email=<token>``), posts its token. ``{"confirmed": true}`` once the address
    is the user's.

    Raises:
        ChatError: ``bad_request`` (no token string); ``bad_token`` (unknown, used or
            expired: its message says which); ``email_taken`` (another account confirmed
            the address first).
    """
    token = body.get("token")
    if not isinstance(token, str):
        raise ChatError(codes.BAD_REQUEST, "'token' must be a string (the token of a "
                                           "confirmation link)")
    state = await _confirmation(app, token)
    if state == "confirmed":
        return {"confirmed": True}
    code = codes.EMAIL_TAKEN if state == "taken" else codes.BAD_TOKEN
    raise ChatError(code, _CONFIRMED[state][1])


def _unsubscriber(app: App, token: str) -> int | None:
    return check_unsubscribe_token(app.email_key, token)


async def unsubscribe_page(app: App, token: str) -> tuple[int, str, str, bool]:
    """What the GET of an unsubscribe link shows: (status, title, text, whether to show the
    button). It changes nothing (a link scanner's GET must not unsubscribe)."""
    user_id = _unsubscriber(app, token)
    if user_id is None:
        return 400, "This link does not work", "This unsubscribe link is not valid.", False
    settings = await app.storage.email_settings(user_id)
    if not settings.notify:
        return 200, "Emails are off", "You get no missed-message emails.", False
    return (200, "Turn off missed-message emails?",
            "You get an email when someone sends you a direct message or mentions you "
            "while you are away. Press the button to stop them (you can turn them on again "
            "in chatd).", True)


async def unsubscribe(app: App, token: str) -> tuple[int, str, str]:
    """The POST of an unsubscribe link (the page's button, or a mail client's one-click
    RFC 8058 POST): the missed-message emails turned off."""
    user_id = _unsubscriber(app, token)
    if user_id is None:
        return 400, "This link does not work", "This unsubscribe link is not valid."
    try:
        await app.storage.set_email_notify(user_id, False)
    except ChatError as exc:
        if exc.code != codes.NOT_FOUND:
            raise
        return 400, "This link does not work", "This account is gone."
    return 200, "Emails are off", ("You will get no more missed-message emails. You can turn "
                                   "them on again in chatd.")


async def request_reset(app: App, body: Mapping[str, Any], *, address: str,
                        base_url: str, now: int) -> dict[str, Any]:
    """Mail a password reset link to the account ``body["user"]`` names (a user name or a
    confirmed address) if there is one that may have it; the answer is the same either way.

    Raises:
        ChatError: ``email_disabled``; ``bad_request`` (``user`` not a string of 1-254);
            ``rate_limited`` past :data:`RESETS_PER_ADDRESS` for the client's address.
    """
    _require_mail(app)
    target = body.get("user")
    if not isinstance(target, str) or not 1 <= len(target.strip()) <= MAX_ADDRESS_CHARS:
        raise ChatError(codes.BAD_REQUEST, "'user' must be a user name or an email address")
    target = target.strip()
    if "\x00" in target:
        raise ChatError(codes.BAD_REQUEST, "'user' must be a user name or an email address")
    # (Both kept in the database: a client reaching several nodes or workers gets no more.)
    await app.take_shared(RESETS_PER_ADDRESS, address or "-", "password_reset")
    try:
        await app.take_shared(RESETS_PER_TARGET, target.lower())
    except ChatError:
        return {}  # said as any other answer: nobody learns the account exists
    found = await app.storage.reset_target(target)
    if found is None:
        return {}
    token, digest = new_token()
    await app.storage.store_email_token(found.user_id, "reset", digest,
                                        expires_at=now + RESET_SECONDS * 1000)
    url = reset_url(base_url, token)
    assert app.mailer is not None
    app.mailer.send_soon(reset_mail(app.config.email, found.email, found.name, url,
                                    app.config.server.name), "a password reset link")
    return {}


async def reset_password(app: App, token: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """Set a new password with a reset link's token: the token is spent, every session of
    the account ends on every node.

    Raises:
        ChatError: ``bad_request`` (a password the registration would refuse);
            ``bad_token`` (unknown, used or expired, or the account deactivated).
    """
    bad = ChatError(codes.BAD_TOKEN, "this password reset link does not work (used, expired "
                                     "or unknown): ask for a new one")
    if EMAIL_TOKEN.fullmatch(token) is None:
        raise bad
    digest = bot_token_hash(token)
    password_hash = await app.auth.hash_new_password(body.get("password"),
                                                     check=lambda: _valid(app, digest))
    if password_hash is None:
        raise bad
    user = await app.storage.reset_password(digest, password_hash)
    if user is None:
        raise bad
    app.end_sessions(user.name, None)
    return {"user": user.name}


async def _valid(app: App, digest: bytes) -> bool:
    return await app.storage.reset_token_valid(digest)

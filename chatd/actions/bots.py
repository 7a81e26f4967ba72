"""Bot accounts and their API tokens, over HTTP only: make a bot, list one's bots, make a
token, revoke one. (How a bot token authenticates is chatd.auth's.)

A user owns the bots they make and manages their tokens; a server administrator manages any
bot's. A token is shown once, when it is made: storage keeps only its hash, and listings show
its metadata (name, when made, last used, revoked).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatd.actions.context import App, Bucket
from chatd.auth import BOT_JTI_PREFIX, new_bot_token
from chatd.errors import ChatError
from chatd.protocol import InvalidName, codes, normalise_new_user, normalise_user
from chatd.protocol.events import is_storable
from chatd.storage import Bot, BotToken, User

__all__ = ["BOTS", "TOKENS", "bot_object", "create_bot", "list_bots", "may_manage",
           "new_token", "revoke_token", "token_object"]

#: New bots per user: 10 at once, then 10 an hour.
BOTS = Bucket("bots", lambda limits: (10 / 3600, 10), "too many new bots; try again later",
              per_user=True)
#: New tokens per user, for all the bots they manage: 20 at once, then 20 an hour.
TOKENS = Bucket("bot_tokens", lambda limits: (20 / 3600, 20),
                "too many new tokens; try again later", per_user=True)
#: The longest name of a token (a label for people).
MAX_TOKEN_NAME = 64
DEFAULT_TOKEN_NAME = "default"


def token_object(token: BotToken) -> dict[str, Any]:
    """A token as it is listed: never its secret."""
    return {"id": token.id, "name": token.name, "created_at": token.created_at,
            "last_used_at": token.last_used_at, "revoked_at": token.revoked_at}


def bot_object(bot: Bot) -> dict[str, Any]:
    return {"name": bot.user.name, "owner": bot.owner, "created_at": bot.user.created_at,
            "tokens": [token_object(token) for token in bot.tokens]}


def _token_name(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key, DEFAULT_TOKEN_NAME)
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_TOKEN_NAME \
            or not is_storable(value) or not value.strip():
        raise ChatError(codes.BAD_REQUEST,
                        f"{key!r} must be a name of 1-{MAX_TOKEN_NAME} characters")
    return value


def _name(value: object, key: str, *, new: bool = False) -> str:
    try:
        return normalise_new_user(value) if new else normalise_user(value)
    except InvalidName as exc:
        raise ChatError(codes.BAD_REQUEST, f"{key!r}: {exc}") from None


async def may_manage(app: App, user: User, bot: Bot) -> bool:
    """Whether ``user`` may manage ``bot`` (its tokens, its webhooks): its owner, or a
    server administrator."""
    return bot.owner_id == user.id or await app.storage.is_admin(user.id)


async def _managed(app: App, user: User, name: str) -> Bot:
    """The bot called ``name``, if ``user`` may manage it.

    Raises:
        ChatError: ``not_found`` (no such bot), ``forbidden`` (not theirs).
    """
    bot = await app.storage.get_bot(_name(name, "name"))
    if bot is None:
        raise ChatError(codes.NOT_FOUND, f"there is no bot called {name!r}")
    if not await may_manage(app, user, bot):
        raise ChatError(codes.FORBIDDEN, f"{bot.user.name} is not your bot")
    return bot


async def create_bot(app: App, user: User, body: Mapping[str, Any]) -> dict[str, Any]:
    """A bot called ``body["name"]`` owned by ``user``, and its first token (named
    ``body["token_name"]``, else "default"), shown this once.

    Raises:
        ChatError: ``bad_request`` (a malformed name), ``conflict`` (the name is taken by a
            user or a bot), ``forbidden`` (a bot cannot own bots), ``rate_limited``.
    """
    if user.bot:
        raise ChatError(codes.FORBIDDEN, "a bot cannot own bots")
    name = _name(body.get("name"), "name", new=True)
    token_name = _token_name(body, "token_name")
    app.take(BOTS, user.name)
    token, digest = new_bot_token()
    bot = await app.storage.create_bot(user.id, name, token_name=token_name,
                                       token_hash=digest)
    return {"bot": bot_object(bot), "token": token}


async def list_bots(app: App, user: User) -> dict[str, Any]:
    """The bots ``user`` owns, with their tokens' metadata."""
    return {"bots": [bot_object(bot) for bot in await app.storage.bots(user.id)]}


async def new_token(app: App, user: User, name: str, body: Mapping[str, Any]
                    ) -> dict[str, Any]:
    """A new token of bot ``name`` (named ``body["name"]``, else "default"): its metadata,
    and the token itself, shown this once.

    Raises:
        ChatError: ``not_found``, ``forbidden`` (not a bot the user manages),
            ``bad_request``, ``rate_limited``.
    """
    token_name = _token_name(body, "name")
    bot = await _managed(app, user, name)
    app.take(TOKENS, user.name)
    token, digest = new_bot_token()
    stored = await app.storage.add_bot_token(bot.user.id, token_name, digest)
    return {**token_object(stored), "bot": bot.user.name, "token": token}


async def revoke_token(app: App, user: User, name: str, token_id: int) -> dict[str, Any]:
    """Revoke a token of bot ``name`` at once: the sessions it opened end here now, and on
    the other nodes when the revocation's notice reaches them (chatd.cluster).

    Raises:
        ChatError: ``not_found`` (no such bot, or no such token of it; revoking one twice
            is no error), ``forbidden``.
    """
    bot = await _managed(app, user, name)
    if token_id not in {token.id for token in bot.tokens}:
        raise ChatError(codes.NOT_FOUND, f"{bot.user.name} has no token {token_id}")
    await app.storage.revoke_bot_tokens(bot.user.id, token_id)
    app.end_sessions(None, f"{BOT_JTI_PREFIX}{token_id}")
    return {}

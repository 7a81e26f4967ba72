"""Web Push subscriptions (HTTP only): the server's public key, subscribing a browser and
unsubscribing it. Sending pushes is the pusher's (chatd.pusher)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chatd.actions.context import App, Bucket
from chatd.addresses import RefusedAddress, url_addresses
from chatd.errors import ChatError
from chatd.protocol import codes
from chatd.protocol.events import is_storable
from chatd.storage import User
from chatd.webpush import parse_subscription

__all__ = ["MAX_SUBSCRIPTIONS", "SUBSCRIBE", "public_key", "subscribe", "unsubscribe"]

#: Subscriptions kept per user: a new one past this many replaces their oldest.
MAX_SUBSCRIPTIONS = 10
#: Subscribing resolves a host the user names: 10 at once per user, then one a minute.
SUBSCRIBE = Bucket("push_subscriptions", lambda limits: (1 / 60, 10),
                   "too many push subscriptions; try again later", per_user=True)


def public_key(app: App) -> dict[str, Any]:
    """The VAPID public key the page subscribes with (``applicationServerKey``)."""
    return {"public_key": app.pusher.key.public_key}


async def subscribe(app: App, user: User, body: Mapping[str, Any]) -> dict[str, Any]:
    """Keep a browser's subscription for ``user`` (``PushSubscription.toJSON()``), in place
    of one with the same endpoint (whoever had it); past :data:`MAX_SUBSCRIPTIONS` their
    oldest goes. The endpoint must be https and its host must resolve to public addresses
    only, unless ``[push] allow_private_endpoints`` (chatd.addresses). A malformed
    subscription is refused before it counts against :data:`SUBSCRIBE`.

    Raises:
        ChatError: ``bad_request`` (a malformed subscription, an endpoint refused),
            ``rate_limited``.
    """
    allow_private = app.config.push.allow_private_endpoints
    subscription = parse_subscription(body, allow_http=allow_private)
    app.take(SUBSCRIBE, user.name)  # what it limits: resolving and storing, not a 400
    try:
        await url_addresses(subscription.endpoint, allow_private=allow_private)
    except RefusedAddress as exc:
        raise ChatError(codes.BAD_REQUEST, f"'endpoint' cannot be used: {exc}") from None
    await app.storage.add_push_subscription(user.id, subscription, keep=MAX_SUBSCRIPTIONS)
    app.pusher.touched()  # once stored: the pusher may have known of no subscription at all
    return {}


async def unsubscribe(app: App, user: User, body: Mapping[str, Any]) -> dict[str, Any]:
    """Forget ``user``'s subscription with this endpoint (if they have one: removing one
    twice is no error)."""
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or not is_storable(endpoint):
        raise ChatError(codes.BAD_REQUEST, "'endpoint' must be the subscription's URL")
    await app.storage.remove_push_subscription(user.id, endpoint)
    return {}

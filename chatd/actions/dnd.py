"""Do not disturb: a user pauses their notifications, on every device, for a while.

Theory of operation. The pause is one time per user (``users.dnd_until``, migration 0023),
not a change of each room's level: when it ends, every level is as it was (Mattermost's "Do
Not Disturb" with an expiry, Slack's "Pause notifications"). Nothing runs when it ends:
every reader compares it with a clock. The pusher compares the time read with the targets
of a push with the server's clock when it pushes (chatd.pusher); the page and the terminal
client, told the time by ``welcome`` (the ``user`` object's ``dnd_until``) and by the
``dnd`` event, compare it with the server's clock as they know it from the welcome's
``now``, and stop alerting until then. Unread counts, mentions and badges are kept as ever:
only the alerts (desktop notifications, sounds, the terminal's bell, pushes) are silent.
"""

from __future__ import annotations

from chatd.actions.context import App, Caller, signed_in
from chatd.actions.session import now_ms
from chatd.errors import ChatError
from chatd.protocol import MAX_DND_SECONDS, Answer, DndChanged, SetDnd, codes, frame
from chatd.rooms import ToUser

__all__ = ["dnd_until", "set_dnd"]


def dnd_until(request: SetDnd, now: int) -> int | None:
    """The time a ``set_dnd`` pauses until (ms), by the server's clock ``now`` (ms): None
    when it resumes (``until`` null, or a time not ahead of ``now``).

    Raises:
        ChatError('bad_request'): more than :data:`MAX_DND_SECONDS` ahead.
    """
    until = request.until
    if request.duration is not None:
        until = now + request.duration * 1000
    if until is None or until <= now:
        return None
    if until > now + MAX_DND_SECONDS * 1000:
        raise ChatError(codes.BAD_REQUEST, "notifications can be paused for at most "
                                           f"{MAX_DND_SECONDS // 86400} days")
    return until


async def set_dnd(app: App, caller: Caller, request: SetDnd) -> Answer:
    """Pause (or resume) the caller's notifications. Every connection of theirs on this
    node is told (the caller's too, as ``set_notify`` does); other nodes through storage
    (chatd.cluster)."""
    user = signed_in(caller)
    until = dnd_until(request, now_ms())
    await app.storage.set_dnd(user.id, until)
    await app.registry.send(ToUser(user.name, frame(DndChanged(until=until))))
    return Answer(id=request.id, fields={"until": until})

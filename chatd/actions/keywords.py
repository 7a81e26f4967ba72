"""A user's notification keywords: words that alert them as a mention does.

Theory of operation. The keywords are the user's alone (Slack's "My keywords", Zulip's alert
words): a list on their row (migration 0047), no entry of any log. ``set_keywords`` replaces
the whole list (cleaned by the protocol's parser: :func:`chatd.protocol.keywords.clean_keywords`)
and, when it changed, tells the user's other connections on every node (:meth:`App.tell`, the
asking connection aside: its reply carries the list) with the ``keywords`` event; nobody else
is told. The welcome carries the list from the user's row, which the hello reads already (no
statement of its own).

What the keywords do happens elsewhere: the pusher matches them against new messages, off the
send path (:mod:`chatd.keywords`, :mod:`chatd.pusher`); the clients highlight and notify by
the same rule (:mod:`chatd.protocol.keywords`).
"""

from __future__ import annotations

from chatd.actions.context import App, Bucket, Caller, signed_in
from chatd.errors import ChatError
from chatd.protocol import Answer, Keywords, KeywordsChanged, SetKeywords, codes, frame

__all__ = ["KEYWORD_CHANGES", "keywords", "set_keywords"]

#: Changes of a user's keywords, over all their connections and the HTTP API: a burst, then
#: one a second. Each one that changes something is a notice to every node.
KEYWORD_CHANGES = Bucket("keywords", lambda limits: (1.0, 30),
                         "changing keywords too often; slow down", per_user=True)


async def keywords(app: App, caller: Caller, request: Keywords) -> Answer:
    """The user's keywords, as stored."""
    user = signed_in(caller)
    return Answer(id=request.id, fields={"keywords": list(await app.storage.keywords(user.id))})


async def set_keywords(app: App, caller: Caller, request: SetKeywords) -> Answer:
    """Replace the user's keywords, at most ``limits.keywords_per_user`` of them (past it:
    ``bad_request``); when that changed them, the user's other connections, on every node,
    are told (the ``keywords`` event)."""
    user = signed_in(caller)
    most = app.config.limits.keywords_per_user
    if len(request.keywords) > most:
        raise ChatError(codes.BAD_REQUEST,
                        f"at most {most} keywords (limits.keywords_per_user): remove some")
    if await app.storage.set_keywords(user.id, request.keywords):
        await app.tell(user.name, frame(KeywordsChanged(keywords=request.keywords)),
                       "a change of keywords", exclude=caller.conn_id)
    return Answer(id=request.id, fields={"keywords": list(request.keywords)})

"""Search: the messages of the rooms a user may read, found by their words (chatd.search
parses the query, storage finds the messages, this adds where each one matched)."""

from __future__ import annotations

from chatd.actions.context import App, Caller, signed_in
from chatd.errors import ChatError
from chatd.protocol import Answer, Search, codes
from chatd.protocol.events import SEARCH_PAGE
from chatd.protocol.names import conversation_name
from chatd.search import QueryError, parse_query, snippet
from chatd.views import message_object

__all__ = ["search"]


async def search(app: App, caller: Caller, request: Search) -> Answer:
    """A page of matches, newest first, each a message object with its ``room`` and its
    ``snippet``; ``more``: older matches follow (ask again with ``before`` = the last
    msg_id). The rooms searched are ``room`` and those the query names (``in:``), or else
    every room and conversation the user is in."""
    user = signed_in(caller)
    try:
        query = parse_query(request.query)
    except QueryError as exc:
        raise ChatError(codes.BAD_REQUEST, str(exc)) from None
    rooms = list(query.rooms)
    rooms += [conversation_name((user.name, *peer.split(","))) for peer in query.peers]
    if request.room is not None:
        rooms.append(request.room)
    page = await app.storage.search(user.id, query, rooms=tuple(dict.fromkeys(rooms)),
                                    before=request.before, limit=request.limit or SEARCH_PAGE)
    return Answer(id=request.id, fields={
        "messages": [{**message_object(message),
                      "snippet": [{"text": text, "hit": hit}
                                  for text, hit in snippet(message.text, query)]}
                     for message in page.messages],
        "more": page.more,
    })

"""The user groups' names one node knows, so that a message whose mentions name no group
costs no statement to find out (chatd.actions.messages).

Theory of operation. Users and user groups share one namespace (migration 0035), and most
``@name`` in messages name people. Looking up every candidate among the groups would be one
more statement for every message with an ``@`` (about 0.3 ms of its send→ack); instead the
node keeps the set of group names and asks the database only when a candidate is in it. The
set follows the changes: this node's own as they are made, the other nodes' from their
``user_group`` events (the user events' channel to everyone, chatd.cluster), and it is read
again from the database when older than :data:`REFRESH` seconds, which bounds what a lost
notice (a node that died between its commit and its NOTIFY) can hide. A group made on
another node a moment ago is known here once its event has arrived: a message sent here in
between names it as plain text, as if it had been sent a moment earlier.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import trio

from chatd.storage import Storage

__all__ = ["REFRESH", "GroupNames"]

#: Seconds after which the set is read again before it is used.
REFRESH = 30.0


class GroupNames:
    """The names of the user groups, as this node knows them (see the module's docstring)."""

    def __init__(self) -> None:
        self._names: set[str] = set()
        self._read_at = -math.inf

    async def any_of(self, storage: Storage, words: Iterable[str]) -> bool:
        """Whether any of ``words`` (lower case) may be a user group's name now."""
        if trio.current_time() - self._read_at > REFRESH:
            read_at = trio.current_time()
            self._names = set(await storage.user_group_names())
            self._read_at = read_at
        return any(word in self._names for word in words)

    def changed(self, change: str, name: str) -> None:
        """Group ``name`` was ``"created"``, ``"changed"`` or ``"deleted"``."""
        if change == "deleted":
            self._names.discard(name)
        else:
            self._names.add(name)

    def heard(self, data: bytes) -> None:
        """A frame told to everyone, from another node: a ``user_group`` event moves the set
        (anything else, a custom emoji's event, does not)."""
        if b'"user_group"' not in data:
            return
        try:
            event = json.loads(data)
            if event["op"] == "user_group":
                self.changed(event["change"], event["group"]["name"])
        except (ValueError, KeyError, TypeError):
            return

"""Every operation of chatd, written once for both fronts.

An operation is a plain async function ``(app, caller, request) -> result`` in one of the
modules here (``rooms``, ``messages``, ``contacts``, ``session``; ``accounts`` and ``push`` for
the HTTP-only ones). It takes the daemon's shared objects (:class:`App`), who asks
(:class:`Caller`) and a validated request (the protocol's request records), calls storage and
the actors, and returns a reply event, a :class:`CatchUp` or an :class:`Append`, or raises
:class:`~chatd.errors.ChatError`. :data:`OPERATIONS` lists them with what they need. The
protocol connection (chatd.connection) and the HTTP routes (chatd.http.routes) are thin
adapters over the same functions.
"""

from chatd.actions.context import App, Append, Caller, CatchUp, Endable, Result, Stateless
from chatd.actions.table import OPERATIONS, SEND, TYPING, Bucket, Operation

__all__ = [
    "OPERATIONS",
    "SEND",
    "TYPING",
    "App",
    "Append",
    "Bucket",
    "Caller",
    "CatchUp",
    "Endable",
    "Operation",
    "Result",
    "Stateless",
]

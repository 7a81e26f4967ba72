"""The stable error codes of the protocol and of the HTTP front, in one table.

Clients branch on these words, so they never change meaning once published. Code refers to
them by these constants, never by string literals: a typo is then a NameError at import, not
a code no client knows. Each code has its meaning (docs/protocol.md is checked against it) and
the HTTP status the REST API answers it with; the socket protocol carries the word alone.
"""

from __future__ import annotations

import dataclasses
from typing import Final

__all__ = [
    "ARCHIVED",
    "BAD_FRAME",
    "BAD_REQUEST",
    "BAD_TOKEN",
    "CODES",
    "CONFLICT",
    "DEACTIVATED",
    "EMAIL_DISABLED",
    "EMAIL_TAKEN",
    "FATAL_CODES",
    "FORBIDDEN",
    "HTTP_STATUS",
    "INTERNAL",
    "INVITATION_EXPIRED",
    "INVITATION_INVALID",
    "INVITATION_REQUIRED",
    "INVITATION_REVOKED",
    "INVITATION_USED_UP",
    "METHOD_NOT_ALLOWED",
    "NOT_FORWARDABLE",
    "NOT_FOUND",
    "QUOTA_EXCEEDED",
    "RATE_LIMITED",
    "REGISTRATION_CLOSED",
    "SHUTTING_DOWN",
    "SLOW_CONSUMER",
    "TOO_LARGE",
    "TOO_MANY_DRAFTS",
    "TOO_MANY_PINS",
    "TOO_MANY_SAVED",
    "TOO_MANY_SCHEDULED",
    "TOO_MANY_SECTIONS",
    "UNAUTHENTICATED",
    "UNAVAILABLE",
    "UNKNOWN_OP",
    "Code",
]

BAD_FRAME: Final = "bad_frame"
TOO_LARGE: Final = "too_large"
UNKNOWN_OP: Final = "unknown_op"
BAD_REQUEST: Final = "bad_request"
UNAUTHENTICATED: Final = "unauthenticated"
FORBIDDEN: Final = "forbidden"
DEACTIVATED: Final = "deactivated"
NOT_FOUND: Final = "not_found"
NOT_FORWARDABLE: Final = "not_forwardable"
QUOTA_EXCEEDED: Final = "quota_exceeded"
METHOD_NOT_ALLOWED: Final = "method_not_allowed"
CONFLICT: Final = "conflict"
ARCHIVED: Final = "archived"
TOO_MANY_DRAFTS: Final = "too_many_drafts"
TOO_MANY_PINS: Final = "too_many_pins"
TOO_MANY_SAVED: Final = "too_many_saved"
TOO_MANY_SCHEDULED: Final = "too_many_scheduled"
TOO_MANY_SECTIONS: Final = "too_many_sections"
RATE_LIMITED: Final = "rate_limited"
SLOW_CONSUMER: Final = "slow_consumer"
SHUTTING_DOWN: Final = "shutting_down"
INTERNAL: Final = "internal"
UNAVAILABLE: Final = "unavailable"
REGISTRATION_CLOSED: Final = "registration_closed"
INVITATION_REQUIRED: Final = "invitation_required"
INVITATION_INVALID: Final = "invitation_invalid"
INVITATION_EXPIRED: Final = "invitation_expired"
INVITATION_USED_UP: Final = "invitation_used_up"
INVITATION_REVOKED: Final = "invitation_revoked"
EMAIL_TAKEN: Final = "email_taken"
EMAIL_DISABLED: Final = "email_disabled"
BAD_TOKEN: Final = "bad_token"


@dataclasses.dataclass(frozen=True, slots=True)
class Code:
    """What a code means, and the HTTP status the REST API answers it with."""

    meaning: str
    http_status: int
    socket: bool = True  # False: only the HTTP front uses it


_TABLE: Final[dict[str, Code]] = {
    BAD_FRAME: Code("the line is not a JSON object (or not UTF-8)", 400),
    TOO_LARGE: Code("the line is longer than the server's frame limit; the connection closes",
                    413),
    UNKNOWN_OP: Code("the op is not one the server knows", 400),
    BAD_REQUEST: Code("a field is missing, of the wrong type or out of range", 400),
    UNAUTHENTICATED: Code("no valid hello yet, or the token is bad, expired or revoked", 401),
    FORBIDDEN: Code("the user may not do this (e.g. a private room they are not in)", 403),
    DEACTIVATED: Code("the account is deactivated: it cannot log in", 403, socket=False),
    NOT_FOUND: Code("no such room or user", 404),
    QUOTA_EXCEEDED: Code("the files would take the user past their quota of files "
                         "(files.quota_bytes): what an upload answers too_large over HTTP, "
                         "without closing the connection", 413),
    NOT_FORWARDABLE: Code("the message cannot be forwarded: a poll (its votes belong to its "
                          "room)", 409),
    METHOD_NOT_ALLOWED: Code("the HTTP method is not allowed on this path", 405, socket=False),
    CONFLICT: Code("the name is taken", 409),
    ARCHIVED: Code("the room is archived: it can be read, but not written to, until it is "
                   "unarchived", 409),
    TOO_MANY_DRAFTS: Code("the user has as many drafts as one may keep "
                          "(limits.drafts_per_user): send or delete some first", 409),
    TOO_MANY_PINS: Code("the room has as many pinned messages as it may have "
                        "(limits.pins_per_room): unpin one first", 409),
    TOO_MANY_SAVED: Code("the user has saved as many messages as one may keep "
                         "(limits.saved_per_user): remove some first", 409),
    TOO_MANY_SCHEDULED: Code("the user has as many scheduled messages waiting as one may "
                             "(limits.scheduled_per_user): cancel some first", 409),
    TOO_MANY_SECTIONS: Code("the user has as many sidebar sections as one may "
                            "(limits.sections_per_user): delete one first", 409),
    RATE_LIMITED: Code("too many requests; slow down", 429),
    SLOW_CONSUMER: Code("the client did not read fast enough; the connection closes", 400),
    SHUTTING_DOWN: Code("the server is stopping; reconnect later", 503),
    INTERNAL: Code("a bug in the server; the request may or may not have taken effect", 500),
    UNAVAILABLE: Code("the database is unreachable; retry later", 503),
    REGISTRATION_CLOSED: Code("the server takes no registrations (auth.registration "
                              "\"closed\"): accounts are made on the command line", 403,
                              socket=False),
    INVITATION_REQUIRED: Code("registering takes an invitation (auth.registration "
                              "\"invite\")", 403, socket=False),
    # Said by join_link on the socket too: a room link is an invitation to one room.
    INVITATION_INVALID: Code("no invitation (or room link) has this token", 403),
    INVITATION_EXPIRED: Code("the invitation (or room link) has expired", 403),
    INVITATION_USED_UP: Code("the invitation (or room link) has been used as many times as it "
                             "allows", 403),
    INVITATION_REVOKED: Code("the invitation (or room link) was revoked", 403),
    EMAIL_TAKEN: Code("another account has confirmed this email address", 409, socket=False),
    EMAIL_DISABLED: Code("the server sends no email (no [email] smtp_host)", 409,
                         socket=False),
    BAD_TOKEN: Code("the link's token is unknown, used or expired", 400, socket=False),
}

#: Every code a server may put in an ``error`` frame, with what it means.
CODES: Final[dict[str, str]] = {code: c.meaning for code, c in _TABLE.items() if c.socket}

#: The HTTP status of every code (the REST API's JSON errors carry the same words).
HTTP_STATUS: Final[dict[str, int]] = {code: c.http_status for code, c in _TABLE.items()}

#: Codes after which the server closes the connection.
FATAL_CODES: Final = frozenset({TOO_LARGE, SLOW_CONSUMER, SHUTTING_DOWN})

"""The stable error codes of the protocol (and of the HTTP front).

Clients branch on these words, so they never change meaning once published.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CODES", "FATAL_CODES"]

BAD_FRAME: Final = "bad_frame"
TOO_LARGE: Final = "too_large"
UNKNOWN_OP: Final = "unknown_op"
BAD_REQUEST: Final = "bad_request"
UNAUTHENTICATED: Final = "unauthenticated"
FORBIDDEN: Final = "forbidden"
NOT_FOUND: Final = "not_found"
CONFLICT: Final = "conflict"
RATE_LIMITED: Final = "rate_limited"
SLOW_CONSUMER: Final = "slow_consumer"
SHUTTING_DOWN: Final = "shutting_down"
INTERNAL: Final = "internal"
UNAVAILABLE: Final = "unavailable"

#: Every code a server may put in an ``error`` frame, with what it means.
CODES: Final[dict[str, str]] = {
    BAD_FRAME: "the line is not a JSON object (or not UTF-8)",
    TOO_LARGE: "the line is longer than the server's frame limit; the connection closes",
    UNKNOWN_OP: "the op is not one the server knows",
    BAD_REQUEST: "a field is missing, of the wrong type or out of range",
    UNAUTHENTICATED: "no valid hello yet, or the token is bad, expired or revoked",
    FORBIDDEN: "the user may not do this (e.g. a private room they are not in)",
    NOT_FOUND: "no such room or user",
    CONFLICT: "the name is taken",
    RATE_LIMITED: "too many requests; slow down",
    SLOW_CONSUMER: "the client did not read fast enough; the connection closes",
    SHUTTING_DOWN: "the server is stopping; reconnect later",
    INTERNAL: "a bug in the server; the request may or may not have taken effect",
    UNAVAILABLE: "the database is unreachable; retry later",
}

#: Codes after which the server closes the connection.
FATAL_CODES: Final = frozenset({TOO_LARGE, SLOW_CONSUMER, SHUTTING_DOWN})

"""The one error type that crosses layers: a refusal with a stable code.

Storage, the session handlers and the HTTP front all raise :class:`ChatError` when a request is
refused for a reason the client should see. The socket protocol turns it into an ``error`` frame
and the HTTP front into a JSON body with the matching status; the code is the same word in both.
Anything else that escapes a handler is a bug and is reported as ``internal``.
"""

from __future__ import annotations

from chatd.protocol.codes import HTTP_STATUS

__all__ = ["ChatError"]


class ChatError(Exception):
    """A request refused for a reason the client is told about.

    Args:
        code: one of the stable codes in :mod:`chatd.protocol.codes` (use its constants).
        message: a sentence for a person; never contains secrets.
        retry_after: with ``rate_limited``, seconds until a retry can succeed.
    """

    def __init__(self, code: str, message: str, *, retry_after: float | None = None) -> None:
        if code not in HTTP_STATUS:
            raise ValueError(f"unknown error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

"""systemd integration without a library: readiness, stopping and the watchdog.

systemd passes ``$NOTIFY_SOCKET`` (a unix datagram socket; a leading ``@`` means the abstract
namespace) to a ``Type=notify`` service; the service sends it ``KEY=VALUE`` lines. With
``WatchdogSec=`` it also passes ``$WATCHDOG_USEC``, and expects ``WATCHDOG=1`` more often than
that: :func:`watchdog` sends it at half the period from an ordinary trio task, so the pings
stop, and systemd restarts the daemon, when the event loop stops running tasks, and also
while the daemon says it cannot serve (its embedded database gone for good: ``failing``).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable

import trio

__all__ = ["notify", "watchdog", "watchdog_interval"]

log = logging.getLogger(__name__)


def notify(message: str) -> bool:
    """Send ``message`` (e.g. ``"READY=1"``) to systemd; False when not run by systemd.

    Never blocks: the socket is non-blocking and a message that does not fit is dropped.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.setblocking(False)
            sock.sendto(message.encode("utf-8"), address)
    except OSError as exc:
        log.warning("sd_notify %r failed: %s", message.split("=", 1)[0], exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """Seconds between watchdog pings (half of ``$WATCHDOG_USEC``), or None when systemd did
    not ask for them (or asked another process: ``$WATCHDOG_PID``)."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 2_000_000
    except ValueError:
        return None


def _never() -> bool:
    return False


async def watchdog(*, failing: Callable[[], bool] = _never,
                   task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Ping systemd's watchdog for as long as the event loop runs tasks and ``failing()`` is
    false. While it is true the pings stop, so that systemd restarts the daemon when the
    watchdog period runs out; they resume if it turns false first. Each change is logged and
    sent as ``STATUS=`` (``systemctl status`` shows it)."""
    interval = watchdog_interval()
    task_status.started()
    if interval is None or interval <= 0:
        return
    starved = False
    while True:
        if not failing():
            if starved:
                log.warning("the daemon can serve again: feeding systemd's watchdog again")
                notify("STATUS=serving again: the database answers")
            starved = False
            notify("WATCHDOG=1")
        elif not starved:
            starved = True
            log.error("the database has been gone too long: no longer feeding systemd's "
                      "watchdog, which will restart the daemon")
            notify("STATUS=the database has been gone too long: waiting for the watchdog "
                   "to restart the daemon")
        await trio.sleep(interval)

"""End-to-end: image bombs uploaded to a ``chatd serve`` process are kept as plain files, and
the process's peak memory (VmHWM, from /proc) stays where it was.

A bound on memory, not on time. Rules: 127.0.0.1 and port 0 only; every wait is bounded.
"""

from __future__ import annotations

from pathlib import Path

import trio

from tests.client import register_and_login
from tests.client.wire import http
from tests.e2e.conftest import daemon_process
from tests.e2e.test_files import STEP_TIMEOUT, download, upload
from tests.images import encode, picture, png_bomb

MiB = 1024 * 1024


def peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for process {pid}")


async def test_image_bombs_keep_memory_bounded(tmp_path: Path, database_dsn: str) -> None:
    """A 30000x30000 PNG (past Pillow's own limit) and a 9000x9000 RGBA PNG (under Pillow's
    limit, over max_image_pixels: 324 MB once decoded), each a few hundred KB, are kept as
    plain files without a thumbnail, and the daemon's peak memory grows by less than
    100 MB."""
    bombs = [png_bomb(30000, 30000), png_bomb(9000, 9000, "RGBA")]
    assert all(len(bomb) < MiB for bomb in bombs)
    async with daemon_process(tmp_path, database_dsn, "bombs") as daemon:
        with trio.fail_after(STEP_TIMEOUT):
            token = await register_and_login(daemon.http_port, "ann")
            status, _ = await http(daemon.http_port, "POST", "/api/rooms", {"room": "team"},
                                   token=token)
            assert status == 201
            # A real image first: what thumbnails load once (Pillow's plugins) is loaded.
            image = await upload(daemon, token, "team", encode(picture(2000, 1500), "PNG"),
                                 filename="real.png", content_type="image/png")
            assert image["thumbnail_url"] is not None
            before = peak_rss(daemon.process.pid)
            for bomb in bombs:
                file = await upload(daemon, token, "team", bomb, filename="bomb.png",
                                    content_type="image/png")
                assert (file["thumbnail_url"], file["width"], file["height"]) == \
                    (None, None, None)
                assert await download(daemon, token, file["url"]) == (200, bomb)
            grown = peak_rss(daemon.process.pid) - before
    assert grown < 100 * MiB, f"the daemon's peak memory grew by {grown // MiB} MiB"

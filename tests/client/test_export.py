"""`chatd client` and Download my data, end to end: a real client process on a pty, a real
daemon (its exporter building the zip in the background) on 127.0.0.1.

What is checked: /export with none yet starts one and says so; /export again says how it goes
until it is ready, then prints the download's signed link, which serves the zip without a
token; /export save PATH saves the same zip to a new file (not over one that exists); /export new
within the hour is the server's rate_limited, said as a problem; /export with anything
else is its usage.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import trio

from chatd.config import Config
from tests.client.test_changes import ann_with_bob
from tests.client.wire import http
from tests.e2e.conftest import running
from tests.helpers import make_config


async def test_export_starts_tells_and_links(tmp_path: Path, database_dsn: str) -> None:
    """/export (started), /export (ready, with its link: the zip, bob's message in it),
    /export new (rate_limited), /export junk (usage)."""
    config: Config = make_config(tmp_path, database_dsn, server={"grace_period": 3.0})
    async with running(config) as server, trio.open_nursery() as nursery, \
            ann_with_bob(tmp_path, server, nursery) as (term, bob):
        await bob.request("send", room="general", text="minutes of the meeting", nonce="m1")
        await term.expect(r"minutes of the meeting")
        await term.type("/export")
        await term.expect(r"your export is being made \(your account")
        with trio.fail_after(30):
            while True:
                await term.type("/export")
                said = (await term.expect(r"your export is (being made|ready)[^\n]*")).group(0)
                if "ready" in said:
                    break
        found = re.search(r"from (http://\S+)", said)
        assert found, said
        url = found.group(1)
        status, body = await http(server.http_port, "GET",
                                  url.partition(f"127.0.0.1:{server.http_port}")[2])
        assert status == 200
        with zipfile.ZipFile(io.BytesIO(body)) as zf:
            account = json.loads(zf.read("account.json"))
        assert account["name"] == "ann"
        await term.type("/export new")
        await term.expect(r"/export: rate_limited")
        saved = tmp_path / "mine.zip"
        await term.type(f"/export save {saved}")
        await term.expect(r"your data is saved in \S*mine\.zip \(")
        assert await trio.to_thread.run_sync(saved.read_bytes) == body
        await term.type(f"/export save {saved}")  # not over an existing file
        await term.expect(r"/export save: cannot write")
        await term.type("/export junk")
        await term.expect(r"usage: /export \[new\|save PATH\]")
        await bob.aclose()

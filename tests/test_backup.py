"""`chatd backup FILE` and `chatd restore FILE`, run as an operator runs them (real processes,
real pg_dump and pg_restore), on a DSN and on the embedded database.

A round trip must give back the same users (ids, names, creation times), the same history (seq,
msg_id, sender, text, time) in every room and conversation, and a room's next message must get
the seq after its last one; the same bytes for every uploaded file, whatever store the
restored daemon uses; and the same keys (jwt_secret, vapid_key), so that the tokens and push
subscriptions of before still work.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import stat
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import trio
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from chatd.protocol.names import dm_room_name
from chatd.storage.backup import DUMP, KEY_MEMBERS, MANIFEST, BackupError
from chatd.webpush import VapidKey
from tests.client import Client, full_history, http, register_and_login
from tests.e2e.conftest import running
from tests.helpers import make_config, serving
from tests.http.test_uploads import multipart

PASSWORD = "correct horse"
DM = dm_room_name("ann", "bob")
KEYS = list(KEY_MEMBERS)  # keys/jwt_secret, keys/vapid_key: in this order, after the dump


def _chatd(tmp_path: Path, *args: str, dsn: str | None = None,
           data: str = "data", files: dict[str, str] | None = None,
           ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    env["CHATD_SERVER_DATA_DIR"] = str(tmp_path / data)
    if dsn is not None:
        env["CHATD_DATABASE_DSN"] = dsn
    env.update({f"CHATD_FILES_{key.upper()}": value for key, value in (files or {}).items()})
    return subprocess.run([sys.executable, "-m", "chatd", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)


async def _chatd_async(tmp_path: Path, *args: str, dsn: str | None = None,
                       data: str = "data") -> subprocess.CompletedProcess[str]:
    return await trio.to_thread.run_sync(
        lambda: _chatd(tmp_path, *args, dsn=dsn, data=data))


async def _share_a_file(http_port: int, tcp_port: int, data: bytes) -> str:
    """ann uploads ``data`` to ops and sends it there (after :func:`_fill`); its url."""
    status, body = await http(http_port, "POST", "/api/login",
                              {"username": "ann", "password": PASSWORD})
    assert status == 200, body
    token = body["token"]
    form, headers = multipart(data, filename="photo.bin")
    status, answer = await http(http_port, "POST", "/api/rooms/ops/files", token=token,
                                raw=form, headers=headers)
    assert status == 201, answer
    client = await Client.tcp(tcp_port)
    try:
        await client.hello(token)
        sent = await client.request("send", room="ops", text="", nonce="file",
                                    files=[answer["file"]["id"]])
        assert sent["op"] == "ok", sent
    finally:
        await client.aclose()
    url: str = answer["file"]["url"]
    return url


async def _download(http_port: int, url: str) -> tuple[int, Any]:
    """ann downloads ``url``."""
    status, body = await http(http_port, "POST", "/api/login",
                              {"username": "ann", "password": PASSWORD})
    assert status == 200, body
    return await http(http_port, "GET", url, token=body["token"])


@pytest.fixture
def other_dsn(pg_server: str) -> Iterator[str]:
    """A second empty database on the session's server, dropped afterwards."""
    name = f"chatd_restore_{uuid.uuid4().hex[:12]}"

    async def execute(statement: str) -> None:
        conn = await asyncpg.connect(pg_server)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        parts = urllib.parse.urlsplit(pg_server)
        yield urllib.parse.urlunsplit(parts._replace(path="/" + name))
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _fill(http_port: int, tcp_port: int) -> None:
    """Two users, three messages in a room, two in their conversation."""
    ann = await register_and_login(http_port, "ann", PASSWORD)
    await register_and_login(http_port, "bob", PASSWORD)
    client = await Client.tcp(tcp_port)
    try:
        await client.hello(ann)
        await client.request("join", room="ops")
        for n in range(3):
            ack = await client.request("send", room="ops", text=f"m{n}", nonce=f"n{n}")
            assert ack["op"] == "ok", ack
        for n in range(2):
            reply = await client.request("dm", to="bob", text=f"d{n}", nonce=f"d{n}")
            assert reply["op"] == "ok", reply
    finally:
        await client.aclose()


async def _history(http_port: int, tcp_port: int) -> dict[str, list[dict[str, Any]]]:
    """Every message ann can read, by room; ann logs in (she must exist already)."""
    status, body = await http(http_port, "POST", "/api/login",
                              {"username": "ann", "password": PASSWORD})
    assert status == 200, body
    client = await Client.tcp(tcp_port)
    try:
        await client.hello(body["token"])
        return {room: await full_history(client, room) for room in ("ops", DM)}
    finally:
        await client.aclose()


async def _send_next(http_port: int, tcp_port: int) -> int:
    """ann sends one more message to ops; its seq."""
    status, body = await http(http_port, "POST", "/api/login",
                              {"username": "ann", "password": PASSWORD})
    assert status == 200, body
    client = await Client.tcp(tcp_port)
    try:
        await client.hello(body["token"])
        await client.request("join", room="ops")
        ack = await client.request("send", room="ops", text="after", nonce="after")
        assert ack["op"] == "ok", ack
        return int(ack["seq"])
    finally:
        await client.aclose()


def _assert_private(path: Path) -> None:
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, oct(path.stat().st_mode)


async def test_round_trip_through_a_dsn(tmp_path: Path, database_dsn: str,
                                        other_dsn: str) -> None:
    """Back up a served database, restore it into another: same users, same history, and the
    next message gets the next seq. Restore refuses a database with data unless --force, and
    one a daemon is connected to."""
    backup = tmp_path / "chatd.dump"
    async with running(make_config(tmp_path, database_dsn)) as server:
        await _fill(server.http_port, server.tcp_port)
        before = await _history(server.http_port, server.tcp_port)
        made = await _chatd_async(tmp_path, "backup", str(backup), dsn=database_dsn)
        assert made.returncode == 0, made.stderr
    _assert_private(backup)
    assert [m["text"] for m in before["ops"]] == ["m0", "m1", "m2"]
    users = _chatd(tmp_path, "user", "list", dsn=database_dsn).stdout
    assert "ann" in users and "bob" in users

    restored = _chatd(tmp_path, "restore", str(backup), dsn=other_dsn)
    assert restored.returncode == 0, restored.stderr
    assert _chatd(tmp_path, "user", "list", dsn=other_dsn).stdout == users
    config = make_config(tmp_path / "other", other_dsn)
    async with running(config) as server:
        assert await _history(server.http_port, server.tcp_port) == before
        assert await _send_next(server.http_port, server.tcp_port) == 4
        busy = await _chatd_async(tmp_path, "restore", "--force", str(backup), dsn=other_dsn)
        assert busy.returncode == 1
        assert "of a running chatd use" in busy.stderr and "stop chatd" in busy.stderr

    refused = _chatd(tmp_path, "restore", str(backup), dsn=other_dsn)
    assert refused.returncode == 1
    assert "already holds users or messages: restore --force replaces them" in refused.stderr
    forced = _chatd(tmp_path, "restore", "--force", str(backup), dsn=other_dsn)
    assert forced.returncode == 0, forced.stderr
    async with running(config) as server:
        assert await _history(server.http_port, server.tcp_port) == before


def test_restore_refuses_what_is_not_a_chatd_backup(tmp_path: Path, database_dsn: str) -> None:
    """A file pg_restore cannot read is refused in one line, and the database is untouched."""
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"not a dump")
    result = _chatd(tmp_path, "restore", str(junk), dsn=database_dsn)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"chatd: {junk} is not a backup pg_restore can read" in result.stderr
    missing = _chatd(tmp_path, "restore", str(tmp_path / "nope.dump"), dsn=database_dsn)
    assert missing.returncode == 1 and "nope.dump: no such file" in missing.stderr


@asynccontextmanager
async def _serving(tmp_path: Path, data: str) -> AsyncIterator[tuple[int, int]]:
    """`chatd serve` on the embedded database of ``tmp_path/data``; its two ports. Stopped
    with SIGTERM, which must exit 0."""
    env = {"CHATD_SERVER_DATA_DIR": str(tmp_path / data), "CHATD_HTTP_PORT": "0",
           "CHATD_TCP_PORT": "0"}
    log_path = tmp_path / f"{data}.log"
    async with serving(tmp_path, env, log_path) as (process, http_port, tcp_port):
        yield http_port, tcp_port
        process.send_signal(signal.SIGTERM)
        with trio.fail_after(30):
            assert await process.wait() == 0, log_path.read_text()


@pytest.mark.slow
async def test_round_trip_of_the_embedded_database(tmp_path: Path) -> None:
    """Embedded: a backup works while chatd runs (which goes on serving) and while it is
    stopped; restoring into a fresh data directory makes its database, with the same users
    and history, and the next message gets the next seq; the keys come back too."""
    running_backup = tmp_path / "running.dump"
    stopped_backup = tmp_path / "stopped.dump"
    async with _serving(tmp_path, "data") as (http_port, tcp_port):
        await _fill(http_port, tcp_port)
        before = await _history(http_port, tcp_port)
        made = await _chatd_async(tmp_path, "backup", str(running_backup))
        assert made.returncode == 0, made.stderr
        assert made.stderr.startswith(
            f"chatd: using the embedded PostgreSQL in {tmp_path / 'data' / 'postgres'}")
        assert await _history(http_port, tcp_port) == before  # still serving
    made = _chatd(tmp_path, "backup", str(stopped_backup))
    assert made.returncode == 0, made.stderr
    _assert_private(running_backup)
    _assert_private(stopped_backup)
    users = _chatd(tmp_path, "user", "list").stdout
    assert "ann" in users

    restored = _chatd(tmp_path, "restore", str(running_backup), data="fresh")
    assert restored.returncode == 0, restored.stderr
    assert _chatd(tmp_path, "user", "list", data="fresh").stdout == users
    assert _keys_of(tmp_path / "fresh") == _keys_of(tmp_path / "data")
    async with _serving(tmp_path, "fresh") as (http_port, tcp_port):
        assert await _history(http_port, tcp_port) == before
        assert await _send_next(http_port, tcp_port) == 4
    again = _chatd(tmp_path, "restore", str(stopped_backup), data="fresh")
    assert again.returncode == 1 and "--force" in again.stderr


@pytest.mark.parametrize(
    ("dsn", "dbname", "password"),
    [
        ("postgresql://chatd:s3cret@db:5432/chatd", "postgresql://chatd@db:5432/chatd",
         "s3cret"),
        ("postgresql://chatd@db/chatd?password=s3cret&sslmode=require",
         "postgresql://chatd@db/chatd?sslmode=require", "s3cret"),
        ("postgresql://chatd:change%20me@db/chatd", "postgresql://chatd@db/chatd", "change me"),
        ("postgresql://postgres:@/postgres?host=/tmp/x/postgres",
         "postgresql://postgres@/postgres?host=/tmp/x/postgres", None),
    ],
)
def test_the_password_goes_in_the_environment(dsn: str, dbname: str,
                                              password: str | None) -> None:
    """pg_dump and pg_restore get the DSN without its password (ps shows command lines)."""
    from chatd.storage.backup import _Target

    shown, env = _Target(dsn, embedded=False).tool_args()
    assert shown == dbname
    assert env.get("PGPASSWORD") == (password or os.environ.get("PGPASSWORD"))


async def test_files_round_trip(tmp_path: Path, database_dsn: str, other_dsn: str) -> None:
    """A backup holds the uploaded files: restored on a machine without them (another
    database and data directory), the file downloads with the same bytes. The archive holds
    the manifest, the dump and the file by its SHA-256, nothing else; it is private."""
    data = os.urandom(150_000)
    digest = hashlib.sha256(data).hexdigest()
    backup = tmp_path / "chatd.backup"
    async with running(make_config(tmp_path, database_dsn)) as server:
        await _fill(server.http_port, server.tcp_port)
        url = await _share_a_file(server.http_port, server.tcp_port, data)
        made = await _chatd_async(tmp_path, "backup", str(backup), dsn=database_dsn)
    assert made.returncode == 0, made.stderr
    assert f"and 1 files from the folder {tmp_path / 'data' / 'files'} to {backup}" in made.stderr
    _assert_private(backup)
    assert not list(tmp_path.glob(".chatd.backup*"))  # noqa: ASYNC240 (no temporary left)
    with tarfile.open(backup) as tar:
        assert tar.getnames() == [MANIFEST, DUMP, *KEYS,
                                  f"files/{digest[:2]}/{digest[2:4]}/{digest}"]
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        assert manifest["format"] == 1 and manifest["files"] == "included"

    restored = _chatd(tmp_path, "restore", str(backup), dsn=other_dsn, data="other/data")
    assert restored.returncode == 0, restored.stderr
    assert f"and 1 files into the folder {tmp_path / 'other' / 'data' / 'files'}" \
        in restored.stderr
    async with running(make_config(tmp_path / "other", other_dsn)) as server:
        assert await _download(server.http_port, url) == (200, data)


async def test_restore_puts_the_files_in_a_bucket(tmp_path: Path, database_dsn: str,
                                                  other_dsn: str,
                                                  s3_settings: dict[str, str]) -> None:
    """A backup of the files folder restored into a daemon configured with the S3 store
    puts the files in its bucket (a way from the folder to a bucket); a backup made with the
    S3 store holds no files and says where they are."""
    data = os.urandom(70_000)
    backup = tmp_path / "chatd.backup"
    async with running(make_config(tmp_path, database_dsn)) as server:
        await _fill(server.http_port, server.tcp_port)
        url = await _share_a_file(server.http_port, server.tcp_port, data)
    assert _chatd(tmp_path, "backup", str(backup), dsn=database_dsn).returncode == 0
    restored = _chatd(tmp_path, "restore", str(backup), dsn=other_dsn, data="other/data",
                      files=s3_settings)
    assert restored.returncode == 0, restored.stderr
    assert f"and 1 files into the S3 bucket {s3_settings['s3_bucket']}" in restored.stderr
    config = make_config(tmp_path / "other", other_dsn, files=s3_settings)
    async with running(config) as server:
        assert await _download(server.http_port, url) == (200, data)
    assert [p for p in (tmp_path / "other").rglob("files/*") if p.is_file()] == []
    again = _chatd(tmp_path, "backup", str(tmp_path / "s3.backup"), dsn=other_dsn,
                   data="other/data", files=s3_settings)
    assert again.returncode == 0, again.stderr
    assert "without the files, which are in the S3 bucket" in again.stderr
    with tarfile.open(tmp_path / "s3.backup") as tar:
        assert tar.getnames() == [MANIFEST, DUMP, *KEYS]


async def test_older_and_partial_backups(tmp_path: Path, database_dsn: str,
                                         other_dsn: str) -> None:
    """A bare pg_dump file (what backups were before they held files) still restores, as the
    database only; --no-files leaves the files out and restore says so; a file of the
    archive whose bytes do not match its name is refused by name, after the rest."""
    data = b"the bytes of a file" * 1000
    backup = tmp_path / "chatd.backup"
    async with running(make_config(tmp_path, database_dsn)) as server:
        await _fill(server.http_port, server.tcp_port)
        await _share_a_file(server.http_port, server.tcp_port, data)
    assert _chatd(tmp_path, "backup", str(backup), dsn=database_dsn).returncode == 0

    bare = tmp_path / "bare.dump"
    with tarfile.open(backup) as tar:
        bare.write_bytes(tar.extractfile(DUMP).read())  # type: ignore[union-attr]
    restored = _chatd(tmp_path, "restore", str(bare), dsn=other_dsn, data="other")
    assert restored.returncode == 0, restored.stderr
    assert "(a backup of the database only)" in restored.stderr

    without = _chatd(tmp_path, "backup", "--no-files", str(tmp_path / "without.backup"),
                     dsn=database_dsn)
    assert without.returncode == 0 and "without the files (--no-files)" in without.stderr
    with tarfile.open(tmp_path / "without.backup") as tar:
        assert tar.getnames() == [MANIFEST, DUMP, *KEYS]
    restored = _chatd(tmp_path, "restore", "--force", str(tmp_path / "without.backup"),
                      dsn=other_dsn, data="other")
    assert restored.returncode == 0, restored.stderr
    assert "restore the files folder yourself" in restored.stderr

    with tarfile.open(backup) as tar:
        [member] = [m for m in tar.getmembers() if m.name.startswith("files/")]
    with open(backup, "r+b") as raw:  # noqa: ASYNC230 (a test's own file)
        raw.seek(member.offset_data + 10)
        raw.write(b"X")
    damaged = _chatd(tmp_path, "restore", "--force", str(backup), dsn=other_dsn,
                     data="damaged")
    assert damaged.returncode == 1 and "Traceback" not in damaged.stderr
    assert (f"restored the database, the keys and 0 files, but 1 files of {backup} are "
            "damaged (their "
            f"bytes do not match their names) and were left out: {member.name}"
            ) in damaged.stderr
    assert [p for p in (tmp_path / "damaged" / "files").rglob("*") if p.is_file()] == []

    junk = tmp_path / "junk.tar"
    with tarfile.open(junk, "w") as tar:
        tar.add(bare, arcname="something.dump")
    refused = _chatd(tmp_path, "restore", str(junk), dsn=other_dsn, data="other")
    assert refused.returncode == 1
    assert f"{junk} is a tar archive but not a chatd backup" in refused.stderr


def _keys_of(data_dir: Path) -> dict[str, bytes]:
    return {name: (data_dir / name).read_bytes() for name in KEY_MEMBERS.values()}


async def _push_key(http_port: int) -> str:
    status, body = await http(http_port, "GET", "/api/push/key")
    assert status == 200, body
    key: str = body["public_key"]
    return key


async def test_keys_round_trip(tmp_path: Path, database_dsn: str, other_dsn: str) -> None:
    """A backup holds data_dir's jwt_secret and vapid_key: restored into a data directory
    where a daemon made other keys, they replace those (same bytes, mode 0600, nothing else
    left there), so a token issued before the backup still opens a session on the restored
    server, and the Web Push key is the one the browsers subscribed with."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        await _fill(server.http_port, server.tcp_port)
        status, body = await http(server.http_port, "POST", "/api/login",
                                  {"username": "ann", "password": PASSWORD})
        assert status == 200, body
        token, push_key = body["token"], await _push_key(server.http_port)
    keys = _keys_of(tmp_path / "data")
    backup = tmp_path / "chatd.backup"
    made = _chatd(tmp_path, "backup", str(backup), dsn=database_dsn)
    assert made.returncode == 0, made.stderr
    assert (f"the backup holds the keys of {tmp_path / 'data'} (jwt_secret, vapid_key): "
            "keep it as secret as they are") in made.stderr
    _assert_private(backup)
    with tarfile.open(backup) as tar:
        assert tar.getnames()[:4] == [MANIFEST, DUMP, *KEYS]
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        assert manifest["keys"] == "included" and manifest["key_files"] == KEYS
        assert {member.name: member.mode for member in tar.getmembers()
                if member.name in KEYS} == dict.fromkeys(KEYS, 0o600)

    # The new machine: a daemon was started there before the restore, and made its own.
    other = tmp_path / "other" / "data"
    async with running(make_config(tmp_path / "other", other_dsn)):
        pass
    assert _keys_of(other) != keys
    if os.geteuid() == 0:  # restore as root gives the keys to data_dir's owner, the daemon's
        os.chown(other, 4321, 4321)
    restored = _chatd(tmp_path, "restore", "--force", str(backup), dsn=other_dsn,
                      data="other/data")
    assert restored.returncode == 0, restored.stderr
    assert (f"chatd: wrote the backup's keys, replacing those there: {other / 'jwt_secret'}, "
            f"{other / 'vapid_key'} (mode 0600)") in restored.stderr
    assert _keys_of(other) == keys
    for name in KEY_MEMBERS.values():
        _assert_private(other / name)
        if os.geteuid() == 0:
            assert (other / name).stat().st_uid == (other / name).stat().st_gid == 4321
    assert sorted(p.name for p in other.iterdir() if p.is_file()) == sorted(
        KEY_MEMBERS.values())  # no temporary file left

    async with running(make_config(tmp_path / "other", other_dsn)) as server:
        client = await Client.tcp(server.tcp_port)
        try:
            welcome = await client.hello(token)
            assert welcome["user"]["name"] == "ann", welcome
        finally:
            await client.aclose()
        assert await _push_key(server.http_port) == push_key


async def test_no_keys_and_backups_without_keys(tmp_path: Path, database_dsn: str,
                                                other_dsn: str) -> None:
    """--no-keys leaves the keys out and the manifest says so; restoring it, or an archive
    made before backups held keys, leaves data_dir's keys as they are and tells the operator
    to put the old ones back. A damaged key is refused before the database is touched."""
    async with running(make_config(tmp_path, database_dsn)) as server:
        await _fill(server.http_port, server.tcp_port)
    without = tmp_path / "without.backup"
    made = _chatd(tmp_path, "backup", "--no-keys", str(without), dsn=database_dsn)
    assert made.returncode == 0, made.stderr
    assert "the backup holds no keys (--no-keys)" in made.stderr
    with tarfile.open(without) as tar:
        assert tar.getnames() == [MANIFEST, DUMP]
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        assert manifest["keys"] == "left out" and manifest["key_files"] == []

    other = tmp_path / "other"
    other.mkdir()
    (other / "jwt_secret").write_bytes(b"s" * 64)
    restored = _chatd(tmp_path, "restore", str(without), dsn=other_dsn, data="other")
    assert restored.returncode == 0, restored.stderr
    assert (f"chatd: made with --no-keys: put the jwt_secret and vapid_key of the backed-up "
            f"server in {other} before starting chatd") in restored.stderr
    assert (other / "jwt_secret").read_bytes() == b"s" * 64
    assert not (other / "vapid_key").exists()

    # An archive as chatd wrote them before keys: its manifest says nothing of them.
    full = tmp_path / "full.backup"
    assert _chatd(tmp_path, "backup", str(full), dsn=database_dsn).returncode == 0
    older = tmp_path / "older.backup"
    with tarfile.open(full) as source, tarfile.open(older, "w", format=tarfile.PAX_FORMAT
                                                    ) as tar:
        for member in source.getmembers():
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == MANIFEST:
                manifest = json.loads(data)
                del manifest["keys"], manifest["key_files"]
                data = json.dumps(manifest).encode()
            elif member.name in KEYS:
                continue
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    restored = _chatd(tmp_path, "restore", "--force", str(older), dsn=other_dsn, data="fresh")
    assert restored.returncode == 0, restored.stderr
    assert "chatd: the backup holds no keys: put the jwt_secret" in restored.stderr
    assert not (tmp_path / "fresh" / "jwt_secret").exists()

    # A damaged key: refused before anything is touched (the data directory is not made).
    damaged = tmp_path / "damaged.backup"
    with tarfile.open(full) as source, tarfile.open(damaged, "w", format=tarfile.PAX_FORMAT
                                                    ) as tar:
        for member in source.getmembers():
            data = source.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "keys/vapid_key":
                data = data.replace(b"PRIVATE KEY", b"PUBLIC KEY")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    refused = _chatd(tmp_path, "restore", "--force", str(damaged), dsn=other_dsn,
                     data="broken")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert f"chatd: {damaged}: keys/vapid_key is damaged: not a PEM private key" \
        in refused.stderr
    assert not (tmp_path / "broken").exists()


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)
_SECRET = os.urandom(64)
_PEM = VapidKey(ec.generate_private_key(ec.SECP256R1())).pem()


@given(key_files=_JSON | st.lists(st.sampled_from([*KEYS, "keys/../x", "files/x"]),
                                  max_size=3),
       members=st.lists(st.tuples(st.sampled_from([*KEYS, "keys/other", "files/x"]),
                                  st.sampled_from([b"", b"short", _SECRET, _PEM, b"-----BEGIN"])),
                        max_size=4))
def test_reading_keys_refuses_or_returns_checked_keys(key_files: Any,
                                                      members: list[tuple[str, bytes]]) -> None:
    """Whatever the manifest's key_files and the key members hold, reading the keys of an
    archive returns only known members, each of a usable key, every listed one among them,
    or refuses with a BackupError; nothing else is raised."""

    from chatd.storage.backup import _extract_keys

    manifest = {"format": 1, "keys": "included", "key_files": key_files}
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "a.backup"
        with tarfile.open(archive, "w", format=tarfile.PAX_FORMAT) as tar:
            for name, data in [(MANIFEST, json.dumps(manifest).encode()), (DUMP, b"PGDMP"),
                               *members]:
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        try:
            found = _extract_keys(archive, manifest)
        except BackupError:
            return
    assert set(found) <= set(KEYS) and set(key_files) <= set(found)
    assert found.get("keys/jwt_secret") in (None, _SECRET, _PEM)
    assert found.get("keys/vapid_key") in (None, _PEM)

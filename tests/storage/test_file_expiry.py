"""Contract tests of ``expire_uploads`` (chatd.storage.base): an upload that no message
attached in time becomes a deleted file, against a real (embedded) PostgreSQL.

An age of 0 seconds expires every unattached upload made before the call, so no test waits.
"""

from __future__ import annotations

import trio

from chatd.errors import ChatError
from chatd.storage import Storage
from tests.storage.test_files import SHA, add, with_files
from tests.storage.test_postgres import TIMEOUT, appended, make_member, refused

QUOTA = 1000
OTHER_SHA = "cd" * 32


async def test_unattached_uploads_expire_attached_ones_stay(storage: Storage) -> None:
    """Expiring takes the unattached uploads only: they are no longer served, counted or
    attachable (not_found), and their bytes are dead unless a kept file shares them."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        kept = await add(storage, ann, "general", 300)
        left = await add(storage, ann, "general", 600, sha256=OTHER_SHA)
        appended((await storage.append_messages([with_files(ann, "general", "k", kept)]))[0])
        assert await storage.upload_allowance(ann.id, "general", QUOTA) == 100
        assert await storage.expire_uploads(3600) == 0  # none is an hour old
        assert await storage.expire_uploads(0) == 1
        assert await storage.expire_uploads(0) == 0
        assert await storage.upload_allowance(ann.id, "general", QUOTA) == 700
        assert await storage.get_file(ann.id, left.info.id) is None
        assert await storage.get_file(ann.id, kept.info.id) is not None
        [late] = await storage.append_messages([with_files(ann, "general", "l", left)])
        assert refused(late) == "not_found"
        assert await storage.dead_file_bytes(10) == [OTHER_SHA]
        assert await storage.file_bytes_in_use(SHA)


async def test_expiring_one_users_uploads(storage: Storage) -> None:
    """With ``uploader_id`` only that user's unattached uploads expire; bytes another kept
    file shares are not dead."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob", "general")
        await add(storage, ann, "general", 10)
        bobs = await add(storage, bob, "general", 10)
        assert await storage.expire_uploads(0, uploader_id=ann.id) == 1
        assert await storage.get_file(bob.id, bobs.info.id) is not None
        assert await storage.dead_file_bytes(10) == []  # bob's upload holds the same bytes
        assert await storage.expire_uploads(0) == 1
        assert await storage.dead_file_bytes(10) == [SHA]


async def test_expiry_and_attach_racing(storage: Storage) -> None:
    """Sends attaching uploads while the uploads expire: each file ends either attached (and
    kept) or expired (and its send refused), never both, never neither."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        files = [await add(storage, ann, "general", 1, sha256=f"{n:02x}" * 32)
                 for n in range(20)]
        outcomes: dict[int, str] = {}

        async def send(index: int) -> None:
            [result] = await storage.append_messages(
                [with_files(ann, "general", f"n{index}", files[index])])
            outcomes[index] = result.code if isinstance(result, ChatError) else "sent"

        async with trio.open_nursery() as nursery:
            for index in range(0, 20, 2):
                nursery.start_soon(send, index)
            nursery.start_soon(storage.expire_uploads, 0)
            for index in range(1, 20, 2):
                nursery.start_soon(send, index)
        for index, file in enumerate(files):
            readable = await storage.get_file(ann.id, file.info.id)
            if outcomes[index] == "sent":
                assert readable is not None and readable.message_id is not None, index
            else:
                assert outcomes[index] == "not_found" and readable is None, index

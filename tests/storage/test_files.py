"""Contract tests of files in storage (``upload_allowance``, ``add_file``, ``get_file``, and
``files`` of ``append_messages``), against a real (embedded) PostgreSQL.

The rules (chatd.storage.base): only members upload; a user's kept files stay within their
quota, also when their uploads race; a file is attached once, by its uploader, to a message of
its room, in the transaction that stores the message; an attached file is readable by whoever
may read the room, an unattached one by its uploader only; a deleted message's files are
neither served nor counted. A message without files never looks at the files table. An
image's size and thumbnail travel with its file; a thumbnail's bytes are in use while its file
is kept, and collected after.
"""

from __future__ import annotations

import pytest
import trio

from chatd.errors import ChatError
from chatd.storage import ImageFacts, NewChange, NewMessage, Storage, StoredFile, User
from tests.storage.plans import page_plan, scans
from tests.storage.test_changes import one
from tests.storage.test_postgres import TIMEOUT, appended, make_member, refused

SHA = "ab" * 32
QUOTA = 1000


async def add(storage: Storage, user: User, room: str, size: int = 10, *, name: str = "f.txt",
              sha256: str = SHA, quota: int = QUOTA) -> StoredFile:
    return await storage.add_file(user.id, room, sha256=sha256, size=size, name=name,
                                  content_type="text/plain", quota_bytes=quota)


def with_files(user: User, room: str, nonce: str, *files: StoredFile,
               text: str = "") -> NewMessage:
    return NewMessage(user_id=user.id, room=room, text=text, nonce=nonce,
                      files=tuple(f.info.id for f in files))


async def test_uploads_need_membership(storage: Storage) -> None:
    """upload_allowance and add_file refuse a non-member (forbidden) and an unknown room
    (not_found)."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob")
        assert await storage.upload_allowance(ann.id, "general", QUOTA) == QUOTA
        for user, room, code in ((bob, "general", "forbidden"), (ann, "nowhere", "not_found")):
            with pytest.raises(ChatError) as caught:
                await storage.upload_allowance(user.id, room, QUOTA)
            assert caught.value.code == code
            with pytest.raises(ChatError) as caught:
                await add(storage, user, room)
            assert caught.value.code == code


async def test_quota_holds_under_concurrent_uploads(storage: Storage) -> None:
    """Ten uploads of 300 bytes at once against a quota of 1000: three are kept, the others
    are too_large; the allowance is what is left."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        outcomes: list[str] = []

        async def upload() -> None:
            try:
                await add(storage, ann, "general", 300)
                outcomes.append("kept")
            except ChatError as exc:
                outcomes.append(exc.code)

        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(upload)
        assert sorted(outcomes) == ["kept"] * 3 + ["too_large"] * 7
        assert await storage.upload_allowance(ann.id, "general", QUOTA) == 100


async def test_attach_rules(storage: Storage) -> None:
    """A file is attached by its uploader, to a message of its room, once; a batch that
    names it twice attaches it to the first message only; a refused message stores
    nothing."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general", "other")
        bob = await make_member(storage, "bob", "general")
        mine = await add(storage, ann, "general", name="a.png")
        theirs = await add(storage, bob, "general")
        elsewhere = await add(storage, ann, "other")
        assert refused(await one(storage, with_files(ann, "general", "n1", theirs))) \
            == "not_found"
        assert refused(await one(storage, with_files(ann, "general", "n2", elsewhere))) \
            == "not_found"
        missing = NewMessage(user_id=ann.id, room="general", text="", nonce="n3",
                             files=(10**9,))
        assert refused(await one(storage, missing)) == "not_found"
        first, second = await storage.append_messages([
            with_files(ann, "general", "n4", mine), with_files(ann, "general", "n5", mine)])
        posted = appended(first).message
        assert posted.files == (mine.info,)
        assert refused(second) == "bad_request"
        assert refused(await one(storage, with_files(ann, "general", "n6", mine))) \
            == "bad_request"
        page = await storage.history(ann.id, "general", limit=10)
        assert [m.nonce for m in page.messages] == ["n4"]
        assert page.messages[0].files == (mine.info,)
        found = await storage.get_file(bob.id, mine.info.id)
        assert found is not None and found.message_id == posted.msg_id


async def test_who_reads_a_file(storage: Storage) -> None:
    """An unattached file is its uploader's only; attached, it is readable by whoever reads
    the room (a public room's by any user, a private room's by members); unknown ids and
    non-readers get None alike."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob")
        await storage.create_room(ann.id, "secret", private=True, topic="")
        public = await add(storage, ann, "general")
        private = await add(storage, ann, "secret")
        assert await storage.get_file(bob.id, public.info.id) is None
        assert await storage.get_file(ann.id, public.info.id) is not None
        await storage.append_messages([with_files(ann, "general", "p", public),
                                       with_files(ann, "secret", "s", private)])
        assert await storage.get_file(bob.id, public.info.id) is not None
        assert await storage.get_file(bob.id, private.info.id) is None
        assert await storage.get_file(ann.id, private.info.id) is not None
        assert await storage.get_file(ann.id, 10**9) is None
        assert await storage.get_file(ann.id, 2**70) is None


async def test_deleting_a_message_drops_its_files(storage: Storage) -> None:
    """Deleting a message makes its files unreadable, gives their bytes back to the quota,
    and leaves them out of the message object; bytes still referred to by another file stay
    in use."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        gone = await add(storage, ann, "general", 400)
        kept = await add(storage, ann, "general", 400)  # the same bytes (SHA)
        posted = appended(await one(storage, with_files(ann, "general", "n1", gone))).message
        assert await storage.upload_allowance(ann.id, "general", QUOTA) == 200
        appended(await one(storage, NewChange(user_id=ann.id, room="general",
                                              msg_id=posted.msg_id, kind="deleted")))
        assert await storage.get_file(ann.id, gone.info.id) is None
        assert await storage.upload_allowance(ann.id, "general", QUOTA) == 600
        page = await storage.history(ann.id, "general", limit=10)
        assert page.messages[0].deleted and page.messages[0].files == ()
        assert await storage.file_bytes_in_use(SHA)
        second = appended(await one(storage, with_files(ann, "general", "n2", kept))).message
        appended(await one(storage, NewChange(user_id=ann.id, room="general",
                                              msg_id=second.msg_id, kind="deleted")))
        assert not await storage.file_bytes_in_use(SHA)


async def test_a_page_without_files_never_reads_the_files_table(storage: Storage,
                                                                database_dsn: str) -> None:
    """In a page of messages without files the lookup of files never runs (0 loops); in a
    page with one message with files, it runs once."""
    with trio.fail_after(TIMEOUT * 2):
        ann = await make_member(storage, "ann", "general")
        for i in range(30):
            appended(await one(storage, NewMessage(user_id=ann.id, room="general",
                                                   text=f"m{i}", nonce=f"m{i}")))
        plain = await page_plan(database_dsn)
        file = await add(storage, ann, "general")
        appended(await one(storage, with_files(ann, "general", "f", file)))
        mixed = await page_plan(database_dsn)
    assert [s["Actual Loops"] for s in scans(plain) if s.get("Relation Name") == "files"] \
        in ([], [0])
    probes = [s for s in scans(mixed) if s.get("Relation Name") == "files"]
    assert [s["Actual Loops"] for s in probes] == [1]



THUMB = "cd" * 32


def image_facts(thumb_sha256: str = THUMB) -> ImageFacts:
    return ImageFacts(width=1200, height=600, thumb_sha256=thumb_sha256, thumb_width=400,
                      thumb_height=200)


async def test_an_image_carries_its_size_and_thumbnail(storage: Storage) -> None:
    """A file added with image facts has its size and a thumbnail wherever it is read (the
    upload's answer, get_file, the message live and in history); a plain file has none."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        image = await storage.add_file(ann.id, "general", sha256=SHA, size=10, name="a.png",
                                       content_type="image/png", quota_bytes=QUOTA,
                                       image=image_facts())
        plain = await add(storage, ann, "general")
        assert (image.info.width, image.info.height, image.info.thumbnail) == (1200, 600, True)
        assert image.thumb_sha256 == THUMB
        assert (plain.info.width, plain.info.height, plain.info.thumbnail) == (None, None, False)
        assert plain.thumb_sha256 is None
        found = await storage.get_file(ann.id, image.info.id)
        assert found is not None and found.info == image.info and found.thumb_sha256 == THUMB
        posted = appended(await one(storage, with_files(ann, "general", "n", image, plain)))
        assert posted.message.files == (image.info, plain.info)
        page = await storage.history(ann.id, "general", limit=10)
        assert page.messages[0].files == (image.info, plain.info)


async def test_readable_files_and_kept_file(storage: Storage) -> None:
    """readable_files keeps the files the user may read (as get_file), by id, whatever ids
    are asked (unknown, repeated, out of range); kept_file finds any file not deleted,
    whoever may read it."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        bob = await make_member(storage, "bob")
        await storage.create_room(ann.id, "secret", private=True, topic="")
        public = await add(storage, ann, "general")
        private = await add(storage, ann, "secret")
        unattached = await add(storage, ann, "general")
        gone = await add(storage, ann, "general")
        await storage.append_messages([with_files(ann, "general", "p", public),
                                       with_files(ann, "secret", "s", private)])
        deleted = appended(await one(storage, with_files(ann, "general", "g", gone))).message
        appended(await one(storage, NewChange(user_id=ann.id, room="general",
                                              msg_id=deleted.msg_id, kind="deleted")))
        asked = [gone.info.id, unattached.info.id, private.info.id, public.info.id,
                 public.info.id, 10**9, 2**70, 0, -1]
        assert [f.info.id for f in await storage.readable_files(ann.id, asked)] == \
            [public.info.id, private.info.id, unattached.info.id]
        assert [f.info.id for f in await storage.readable_files(bob.id, asked)] == \
            [public.info.id]
        assert await storage.readable_files(bob.id, []) == []
        for file in (public, private, unattached):
            kept = await storage.kept_file(file.info.id)
            assert kept is not None and kept.info == file.info and kept.sha256 == SHA
        for missing in (gone.info.id, 10**9, 2**70, 0):
            assert await storage.kept_file(missing) is None


async def test_thumbnail_bytes_are_in_use_while_their_file_is_kept(storage: Storage) -> None:
    """A thumbnail's bytes are in use while its file is kept; once it is deleted they are
    dead, listed before the file's own bytes; forgetting the thumbnail's bytes first and the
    file's then removes the row (the file's bytes alone leave it, waiting for its
    thumbnail's)."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        image = await storage.add_file(ann.id, "general", sha256=SHA, size=10, name="a.png",
                                       content_type="image/png", quota_bytes=QUOTA,
                                       image=image_facts())
        posted = appended(await one(storage, with_files(ann, "general", "n", image))).message
        assert await storage.file_bytes_in_use(THUMB) and await storage.file_bytes_in_use(SHA)
        assert await storage.dead_file_bytes(10) == []
        appended(await one(storage, NewChange(user_id=ann.id, room="general",
                                              msg_id=posted.msg_id, kind="deleted")))
        assert not await storage.file_bytes_in_use(THUMB)
        assert await storage.dead_file_bytes(10) == [THUMB, SHA]
        assert await storage.dead_file_bytes(1) == [THUMB]
        await storage.forget_dead_files(SHA)  # the thumbnail's bytes are not collected yet
        assert await storage.dead_file_bytes(10) == [THUMB, SHA]
        await storage.forget_dead_files(THUMB)
        assert await storage.dead_file_bytes(10) == [SHA]
        await storage.forget_dead_files(SHA)
        assert await storage.dead_file_bytes(10) == []


async def test_bytes_shared_by_a_thumbnail_and_a_file(storage: Storage) -> None:
    """Bytes that are one file's thumbnail and another's content (someone uploaded the
    thumbnail) stay in use while either file is kept."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        image = await storage.add_file(ann.id, "general", sha256=SHA, size=10, name="a.png",
                                       content_type="image/png", quota_bytes=QUOTA,
                                       image=image_facts())
        copy = await add(storage, ann, "general", sha256=THUMB)
        first = appended(await one(storage, with_files(ann, "general", "a", image))).message
        second = appended(await one(storage, with_files(ann, "general", "b", copy))).message
        appended(await one(storage, NewChange(user_id=ann.id, room="general",
                                              msg_id=first.msg_id, kind="deleted")))
        assert await storage.file_bytes_in_use(THUMB)
        assert await storage.dead_file_bytes(10) == [SHA]
        await storage.forget_dead_files(THUMB)  # in use: nothing is forgotten
        appended(await one(storage, NewChange(user_id=ann.id, room="general",
                                              msg_id=second.msg_id, kind="deleted")))
        assert await storage.dead_file_bytes(10) == [THUMB, SHA]

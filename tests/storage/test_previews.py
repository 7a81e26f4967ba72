"""Contract tests of link previews in storage (migration 0026, chatd.storage.changes): a
preview is an entry of the room's log, stored only for the text's first link as it is when
the room is locked and only once per link; its author or a moderator removes it; its picture
is a file of the room that is neither an attachment nor in anyone's quota; a deletion takes
it all away. Against a real (embedded) PostgreSQL."""

from __future__ import annotations

import trio

from chatd.storage import (
    COMMAND_LINE,
    NewChange,
    Preview,
    PreviewImage,
    Storage,
)
from tests.storage.test_changes import current, delete, edit, one, say
from tests.storage.test_postgres import TIMEOUT, appended, make_member, refused

URL = "https://forge.example/pr/12"
SHA = "ab" * 32
PREVIEW = Preview(url=URL, title="Fix the flaky test", description="d", site="Forge",
                  image=PreviewImage(sha256=SHA, size=1234, width=400, height=210))


def made(room: str, msg_id: int, url: str = URL, preview: Preview | None = PREVIEW
         ) -> NewChange:
    return NewChange(user_id=COMMAND_LINE, room=room, msg_id=msg_id, kind="preview", url=url,
                     preview=preview)


async def test_a_preview_is_an_entry_for_the_first_link_as_it_is_now(storage: Storage) -> None:
    """A preview takes the next seq and shows in the message object (with its picture's file
    id), which is not an attachment; one for a link the text no longer has first, or for a
    link decided already, stores nothing; an edit's new link gets its own."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        sent = appended(await one(storage, say(ann, "general", f"see {URL}")))
        msg_id = sent.message.msg_id
        shown = appended(await one(storage, made("general", msg_id)))
        assert not shown.duplicate and shown.message.seq == sent.message.seq + 1
        [preview] = shown.message.previews
        assert preview.image is not None and preview.image.file_id > 0
        now = await current(storage, ann, "general", msg_id)
        assert now.previews == (preview,) and now.rev == shown.message.seq and now.files == ()
        assert appended(await one(storage, made("general", msg_id))).duplicate  # decided

        other = "https://docs.example/a"
        edited = appended(await one(storage, edit(ann, "general", msg_id, f"rather {other}")))
        stale = appended(await one(storage, made("general", msg_id, URL, PREVIEW)))
        assert stale.duplicate and stale.message.seq == edited.message.seq
        fresh = appended(await one(storage, made("general", msg_id, other, Preview(
            url=other, title="Docs"))))
        assert not fresh.duplicate
        assert (await current(storage, ann, "general", msg_id)).previews == (
            Preview(url=other, title="Docs"),)
        # The first picture's file is no longer kept (its bytes go as a deleted message's).
        assert await storage.get_file(ann.id, preview.image.file_id) is None
        page = await storage.history(ann.id, "general", limit=50)
        assert [(m.kind, m.seq) for m in page.messages] == [
            ("message", sent.message.seq), ("preview", shown.message.seq),
            ("edited", edited.message.seq), ("preview", fresh.message.seq)]


async def test_removing_is_the_authors_or_a_moderators_and_it_stays(storage: Storage) -> None:
    """remove_preview ("unpreview"): the author's or a moderator's; anyone else is refused;
    once removed, the server's preview of the same link stores nothing; a deletion takes the
    preview from the message and from its entries; the picture counted in no quota."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")  # the owner
        bob = await make_member(storage, "bob", "general")
        cid = await make_member(storage, "cid", "general")
        msg_id = appended(await one(storage, say(bob, "general", URL))).message.msg_id
        shown = appended(await one(storage, made("general", msg_id)))
        assert await storage.upload_allowance(bob.id, "general", 10_000) == 10_000
        unpreview = NewChange(user_id=cid.id, room="general", msg_id=msg_id, kind="unpreview")
        assert refused(await one(storage, unpreview)) == "forbidden"
        assert await storage.leave_room(bob.id, "general")  # the author, gone: no more
        assert refused(await one(storage, NewChange(
            user_id=bob.id, room="general", msg_id=msg_id, kind="unpreview"))) == "forbidden"
        await storage.join_room(bob.id, "general")
        gone = appended(await one(storage, NewChange(user_id=ann.id, room="general",
                                                     msg_id=msg_id, kind="unpreview")))
        assert not gone.duplicate and gone.message.previews == ()
        assert appended(await one(storage, NewChange(
            user_id=bob.id, room="general", msg_id=msg_id, kind="unpreview"))).duplicate
        assert appended(await one(storage, made("general", msg_id))).duplicate
        assert (await current(storage, bob, "general", msg_id)).previews == ()

        again = appended(await one(storage, say(bob, "general", f"{URL} again")))
        appended(await one(storage, made("general", again.message.msg_id)))
        appended(await one(storage, delete(bob, "general", again.message.msg_id)))
        page = await storage.history(ann.id, "general", limit=50)
        assert all(m.previews == () for m in page.messages
                   if m.msg_id == again.message.msg_id)
        assert shown.message.previews != ()
        gone_message = await current(storage, ann, "general", again.message.msg_id)
        assert gone_message.deleted and gone_message.previews == ()
        assert refused(await one(storage, made("general", again.message.msg_id))) == "not_found"


async def test_a_preview_and_a_deletion_in_one_batch(storage: Storage) -> None:
    """A preview and then the message's deletion committed together: both entries are
    stored, in that order, and the deletion wins: no preview on the message nor in its
    entry, and no picture kept."""
    with trio.fail_after(TIMEOUT):
        ann = await make_member(storage, "ann", "general")
        msg_id = appended(await one(storage, say(ann, "general", URL))).message.msg_id
        shown, gone = await storage.append_messages([made("general", msg_id),
                                                     delete(ann, "general", msg_id)])
        shown, gone = appended(shown), appended(gone)
        assert (shown.message.kind, gone.message.kind) == ("preview", "deleted")
        assert gone.message.seq == shown.message.seq + 1
        page = await storage.history(ann.id, "general", limit=50)
        assert [(m.kind, m.previews) for m in page.messages] == [
            ("message", ()), ("preview", ()), ("deleted", ())]
        assert page.messages[0].deleted
        assert shown.message.previews[0].image is None  # no picture made for it

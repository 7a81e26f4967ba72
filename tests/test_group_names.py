"""A node's user group names (chatd.group_names): what it reads from the real database, how
its own changes and the other nodes' events move it, and the refresh that bounds a lost
notice (on trio's MockClock, moved by hand: no waiting for time)."""

from __future__ import annotations

from pathlib import Path

import trio.testing

from chatd.group_names import REFRESH, GroupNames
from chatd.protocol import UserGroupChanged, frame
from chatd.storage import open_storage
from tests.helpers import make_config
from tests.storage.test_postgres import make_member


def _event(change: str, name: str) -> bytes:
    return frame(UserGroupChanged(change=change, group={"name": name, "description": "",
                                                        "members": 0, "by": None, "ts": 1},
                                  added=(), removed=(), by="ann", ts=1))


async def test_read_then_kept_by_changes_and_read_again_when_old(
        tmp_path: Path, database_dsn: str, mock_clock: trio.testing.MockClock) -> None:
    async with open_storage(make_config(tmp_path, database_dsn)) as storage:
        ann = await make_member(storage, "ann", "general")
        names = GroupNames()
        assert not await names.any_of(storage, ["backend"])
        # made where no event reached this node (a node that died before its NOTIFY)
        await storage.create_user_group("backend", "", ann.id, (), max_groups=10,
                                        max_members=10)
        assert not await names.any_of(storage, ["backend"])
        mock_clock.jump(REFRESH + 1)
        assert await names.any_of(storage, ["bob", "backend"])
        names.heard(_event("deleted", "backend"))
        assert not await names.any_of(storage, ["backend"])
        names.heard(_event("created", "web"))
        names.heard(b'{"op":"custom_emoji","name":"user_group","url":null}')
        names.heard(b'{"op":"user_group","change":')  # cut short: ignored
        assert await names.any_of(storage, ["web"])
        names.changed("deleted", "web")
        names.changed("created", "ops")
        assert not await names.any_of(storage, ["web"]) and await names.any_of(storage, ["ops"])

"""Storage: one small interface (:class:`Storage`), implemented once for PostgreSQL.

Nothing outside this package imports asyncpg or knows that it runs on asyncio.
"""

from chatd.storage.base import (
    UNREAD_CAP,
    Appended,
    Change,
    CommitNotice,
    Conversation,
    Credentials,
    Joined,
    MembershipNotice,
    Message,
    NewMessage,
    Page,
    RevocationNotice,
    Room,
    Storage,
    StorageStatistics,
    StorageUnavailable,
    User,
)
from chatd.storage.postgres import open_storage

__all__ = [
    "UNREAD_CAP",
    "Appended",
    "Change",
    "CommitNotice",
    "Conversation",
    "Credentials",
    "Joined",
    "MembershipNotice",
    "Message",
    "NewMessage",
    "Page",
    "RevocationNotice",
    "Room",
    "Storage",
    "StorageStatistics",
    "StorageUnavailable",
    "User",
    "open_storage",
]

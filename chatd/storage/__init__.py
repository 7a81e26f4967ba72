"""Storage: one small interface (:class:`Storage`), implemented once for PostgreSQL.

Nothing outside this package imports asyncpg or knows that it runs on asyncio.
"""

from chatd.storage.base import (
    MAX_REACTIONS,
    UNREAD_CAP,
    Appended,
    Change,
    CommitNotice,
    Conversation,
    Credentials,
    FileInfo,
    ImageFacts,
    Joined,
    MembershipNotice,
    Message,
    NewChange,
    NewEntry,
    NewMessage,
    Page,
    RevocationNotice,
    Room,
    Storage,
    StorageStatistics,
    StorageUnavailable,
    StoredFile,
    User,
)
from chatd.storage.postgres import open_storage

__all__ = [
    "MAX_REACTIONS",
    "UNREAD_CAP",
    "Appended",
    "Change",
    "CommitNotice",
    "Conversation",
    "Credentials",
    "FileInfo",
    "ImageFacts",
    "Joined",
    "MembershipNotice",
    "Message",
    "NewChange",
    "NewEntry",
    "NewMessage",
    "Page",
    "RevocationNotice",
    "Room",
    "Storage",
    "StorageStatistics",
    "StorageUnavailable",
    "StoredFile",
    "User",
    "open_storage",
]

"""User groups: a named set of people mentioned together (``@backend``), as Slack's user
groups, Mattermost's custom groups and Zulip's user groups.

Theory of operation. A group is a row and its members' rows (migration 0035; names shared
with users, race-proof, by the migration's triggers). Every user sees every group: the list
is one statement (``user_groups`` on the socket, ``GET /api/groups``), and clients keep it,
updated by ``user_group`` events, told to every connection of every user on every node
(:func:`announce`, as custom emoji's are). Changes are rare and rate-limited per user
(:data:`GROUP_CHANGES`); best effort past the commit: a client that missed one has the right
list at its next ``user_groups``.

Mentions: ``@backend`` in a room's message is resolved when the message is sent
(:mod:`chatd.actions.messages`), by one more statement
(:meth:`chatd.storage.Storage.user_group_mentions`), only for a text with a mention
candidate that names a group this node knows of (chatd.group_names: most ``@name`` name
people, and cost nothing more); its members in the room get mention rows with the message,
as ``@room``'s do, and the message keeps the groups' names (``user_groups``). A plain
message does nothing new.

Bots may be members (a bot that answers ``@oncall``); a deactivated member stays a member
but is not mentioned.
"""

from __future__ import annotations

from chatd.actions.context import App, Bucket, Caller, signed_in
from chatd.actions.session import now_ms
from chatd.errors import ChatError
from chatd.protocol import (
    Answer,
    CreateUserGroup,
    DeleteUserGroup,
    EditUserGroup,
    UserGroupInfo,
    UserGroupList,
    codes,
    frame,
)
from chatd.storage import EVERYONE, User, UserGroupChange
from chatd.views import user_group_event, user_group_object

__all__ = ["GROUP_CHANGES", "announce", "create", "create_user_group", "delete",
           "delete_user_group", "edit", "edit_user_group", "listed", "may_create", "shown",
           "user_group", "user_groups"]

#: Changes to user groups per user, over all their sessions and the HTTP API: twenty at
#: once, then one every three seconds (as a directory is edited: a few at a sitting).
GROUP_CHANGES = Bucket("user_groups", lambda limits: (1 / 3, 20),
                       "too many changes to user groups; try again in a moment", per_user=True)


def may_create(app: App, user: User) -> None:
    """Refuse ``user`` when ``[user_groups] who_can_create`` is "admins" and they are not
    one.

    Raises:
        ChatError('forbidden')
    """
    if app.config.user_groups.who_can_create == "admins" and not user.admin:
        raise ChatError(codes.FORBIDDEN,
                        "only server administrators may create user groups here")


async def listed(app: App, user: User) -> list[dict[str, object]]:
    """Every group's object, by name, with ``you``."""
    return [user_group_object(g, you=g.you) for g in await app.storage.user_groups(user.id)]


async def shown(app: App, name: str) -> dict[str, object]:
    """``{group, members}`` of group ``name``.

    Raises:
        ChatError('not_found')
    """
    found = await app.storage.user_group(name)
    if found is None:
        raise ChatError(codes.NOT_FOUND, f"there is no user group {name!r}")
    group, members = found
    return {"group": user_group_object(group), "members": members}


async def create(app: App, user: User, name: str, description: str,
                 members: tuple[str, ...], now: int) -> UserGroupChange:
    """Make group ``name`` by ``user`` (checked: :func:`may_create`); tell everyone."""
    may_create(app, user)
    limits = app.config.limits
    done = await app.storage.create_user_group(
        name, description, user.id, members, max_groups=limits.user_groups,
        max_members=limits.user_group_members)
    await announce(app, "created", done, user, now)
    return done


async def edit(app: App, user: User, name: str, description: str | None,
               add: tuple[str, ...], remove: tuple[str, ...], now: int) -> UserGroupChange:
    """Change group ``name`` by ``user``; tell everyone when anything changed."""
    done = await app.storage.edit_user_group(
        name, user.id, admin=user.admin, description=description, add=add, remove=remove,
        max_members=app.config.limits.user_group_members)
    await announce(app, "changed", done, user, now)
    return done


async def delete(app: App, user: User, name: str, now: int) -> UserGroupChange:
    """Delete group ``name`` by ``user``; tell everyone."""
    done = await app.storage.delete_user_group(name, user.id, admin=user.admin)
    await announce(app, "deleted", done, user, now)
    return done


async def announce(app: App, change: str, done: UserGroupChange, user: User,
                   now: int) -> None:
    """Tell every connection here and on every other node of ``change``."""
    app.group_names.changed(change, done.group.name)
    await app.tell(EVERYONE, frame(user_group_event(change, done, user.name, now)),
                   "a user group")


# -- the socket's operations ----------------------------------------------------------------


async def user_groups(app: App, caller: Caller, request: UserGroupList) -> Answer:
    """``{groups: [group objects with "you"]}``, by name."""
    return Answer(id=request.id, fields={"groups": await listed(app, signed_in(caller))})


async def user_group(app: App, caller: Caller, request: UserGroupInfo) -> Answer:
    """``{group, members}``."""
    return Answer(id=request.id, fields=await shown(app, request.name))


async def create_user_group(app: App, caller: Caller, request: CreateUserGroup) -> Answer:
    """``{group}``, the group made."""
    done = await create(app, signed_in(caller), request.name, request.description,
                        request.members, now_ms())
    return Answer(id=request.id, fields={"group": user_group_object(done.group)})


async def edit_user_group(app: App, caller: Caller, request: EditUserGroup) -> Answer:
    """``{group}``, the group as changed."""
    done = await edit(app, signed_in(caller), request.name, request.description, request.add,
                      request.remove, now_ms())
    return Answer(id=request.id, fields={"group": user_group_object(done.group)})


async def delete_user_group(app: App, caller: Caller, request: DeleteUserGroup) -> Answer:
    """``{}``."""
    await delete(app, signed_in(caller), request.name, now_ms())
    return Answer(id=request.id, fields={})

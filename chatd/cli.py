"""The ``chatd`` command: ``serve``, ``migrate``,
``user add|passwd|list|admin|deactivate|reactivate``, ``token``, ``bot add|token|list|revoke``,
``room list|delete``, ``invite create|list|revoke``, ``email test``, ``audit``, ``stats``,
``backup``, ``restore``, ``client``, ``version``, ``help``. What the admin API does besides
(``room``, ``invite``, ``audit``, ``stats``, deleting a deactivated user's messages) is in
:mod:`chatd.cli_admin`.

Every subcommand reads the same configuration (``--config FILE``, before or after the
subcommand; default ``./chatd.toml`` or the built-in defaults) with ``CHATD_<SECTION>_<KEY>``
overrides from the environment.

What an operator meets first is held to three rules here:

- A failure is one line on stderr that names the setting to change and where it was set, and a
  non-zero exit; never a traceback (those are for bugs).
- ``serve --check`` names every mistake it can find without starting anything (the config, the
  web page, the listening hosts), and otherwise says what ``serve`` would use.
- Only ``serve`` (and ``restore``, whose job it is) creates a database. The other commands say
  on stderr which database they use, and refuse when there is none: a command run with the
  wrong ``--config`` must not quietly make an empty one.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import secrets
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from chatd import __version__
from chatd.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from chatd.auth import Auth
    from chatd.server import Server
    from chatd.storage import Storage
    from chatd.workers import WorkerLink

__all__ = ["main"]

log = logging.getLogger("chatd")

JSON_HELP = "print JSON (the admin API's objects) instead of text, for scripts"

# Exit statuses: a configuration to fix, and anything else that went wrong.
EXIT_CONFIG = 2
EXIT_FAILED = 1


class _Refused(Exception):
    """The command cannot go on; the message, one line, says why and what to do."""


def _setup_logging(config: Config) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=config.server.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if config.server.log_level.lower() != "debug":
        # pgserver logs every pg_ctl command line and its whole output at INFO.
        logging.getLogger("pgserver").setLevel(logging.WARNING)


def _web_root_problem(config: Config) -> str | None:
    """Why the web page cannot be served, if it cannot."""
    root = config.web_root
    if (root / "index.html").is_file():
        return None
    if config.http.web_root:
        return f"{config.source('http.web_root')}: {root} has no index.html"
    return (f"the web page shipped with chatd is missing ({root} has no index.html): "
            "reinstall chatd, or set [http] web_root")


def _bucket_problem(config: Config) -> str | None:
    """Why the S3 bucket of ``[files] store = "s3"`` cannot be used, if it cannot."""
    if config.files.store != "s3":
        return None
    from chatd.files import StoreUnavailable, open_file_store

    store = open_file_store(config)
    try:
        store.check()
    except StoreUnavailable as exc:
        return f"{config.source('files.s3_bucket')}: {exc}"
    return None


def _problems(config: Config) -> list[str]:
    """What would stop ``serve`` that loading the config cannot see: the web page, listening
    hosts that do not resolve or are not this machine's, an S3 bucket that does not
    answer."""
    from chatd.listen import check_address

    found = [_web_root_problem(config), check_address(config, "http"),
             check_address(config, "tcp"), _bucket_problem(config)]
    return [problem for problem in found if problem is not None]


def _check(config: Config) -> int:
    """``serve --check``: every problem, or what serve would use."""
    from chatd.listen import format_address
    from chatd.storage.embedded import cluster_exists

    problems = _problems(config)
    for problem in problems:
        print(f"chatd: {problem}", file=sys.stderr)
    if problems:
        return EXIT_CONFIG
    database = config.database_label
    if not config.database.dsn and not cluster_exists(config.data_dir):
        database += " (made on the first start)"
    print(f"chatd: configuration OK ({config.path or 'built-in defaults'})")
    print(f"  web page, /api, /ws   http://{format_address(config.http.host, config.http.port)}")
    print(f"  protocol (tcp)        {format_address(config.tcp.host, config.tcp.port)}")
    print(f"  database              {database}")
    print(f"  data directory        {config.data_dir}")
    print(f"  files                 {config.files_label}")
    print(f"  web root              {config.web_root}")
    return 0


def _use_database(config: Config, *, create: bool = False) -> None:
    """For commands other than ``serve``: say which database they use; unless ``create``,
    refuse when there is none."""
    from chatd.storage.embedded import cluster_exists, cluster_path

    print(f"chatd: using {config.database_label}", file=sys.stderr)
    if create or config.database.dsn or cluster_exists(config.data_dir):
        return
    where = cluster_path(config.data_dir)
    if where.exists():
        raise _Refused(f"cannot read the database in {where}: run this as the user that runs "
                       "chatd")
    raise _Refused(
        f"no database in {where} (data directory from {config.source('server.data_dir')}): "
        "chatd serve creates it on its first start; or give the daemon's config with --config")


def _minutes(text: str) -> float:
    """``--idle-after``: minutes, 0 or more (0: never)."""
    try:
        minutes = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of minutes, not {text!r}") from None
    if not minutes >= 0 or minutes == float("inf"):
        raise argparse.ArgumentTypeError("0 or more minutes")
    return minutes


def _workers(text: str) -> int:
    """``--workers``: a count of at least 1, or ``auto`` (the cores)."""
    if text == "auto":
        return os.cpu_count() or 1
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number or 'auto', not {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return count


async def _serve(config: Config, inherited: dict[str, list[int]] | None = None,
                 worker: WorkerLink | None = None) -> None:
    from chatd.server import serve
    from chatd.workers import clean_up_after_parent, watch_parent

    log.info("database: %s", config.database_label)
    log.info("web page: %s", config.web_root)
    log.info("files: %s", config.files_label)
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        draining = False
        orphan = False  # the parent died
        async with trio.open_nursery() as nursery:

            async def run(task_status: trio.TaskStatus[Server]) -> None:
                await serve(config, inherited=inherited, worker=worker,
                            task_status=task_status)
                nursery.cancel_scope.cancel()  # drained: stop listening for signals

            def orphaned() -> None:
                nonlocal draining, orphan
                orphan = True
                if not draining:
                    draining = True
                    server.shutdown()

            server = await nursery.start(run)
            if worker is not None:
                nursery.start_soon(watch_parent, worker.parent_fd, orphaned)
            async for signum in signals:
                name = signal.Signals(signum).name
                if draining:
                    # A worker hears SIGTERM twice when systemd signals every process of the
                    # unit and its parent forwards it: the drain goes on.
                    log.info("%s again: already draining", name)
                    continue
                log.info("%s: draining (grace period %ss)", name, config.server.grace_period)
                draining = True
                server.shutdown()
    if worker is not None and orphan:
        await trio.to_thread.run_sync(clean_up_after_parent, worker)


async def _migrate(config: Config) -> None:
    from chatd.storage.postgres import migrate

    applied = await migrate(config)
    print(f"applied migrations: {', '.join(map(str, applied))}" if applied
          else "the schema is up to date")


def _read_password(from_stdin: bool) -> str:
    """The new password: the first line of standard input when asked to, or when it is not a
    terminal (a script, a pipe); otherwise asked twice on the terminal."""
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise _Refused("no password on standard input (give it as the first line)")
        return line.rstrip("\r\n")
    try:
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise _Refused("the passwords differ")
    except EOFError:
        raise _Refused("no password given") from None
    return first


def _unsigned_auth(storage: Storage, config: Config) -> Auth:
    """An Auth for commands that sign no token (add, passwd): a throwaway key, so that they
    leave no ``jwt_secret`` behind in a data directory the daemon may not even use."""
    from chatd.auth import Auth

    return Auth(storage, config, secrets.token_bytes(32))


async def _user_add(config: Config, name: str, password: str, admin: bool = False) -> None:
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        user = await _unsigned_auth(storage, config).register(name, password, admin=admin)
        what = "server administrator" if user.admin else "user"
        print(f"created {what} {user.name} (id {user.id})")


async def _user_admin(config: Config, name: str, revoke: bool) -> None:
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        user = await storage.set_admin(name, not revoke)
        print(f"{user.name} is {'a' if user.admin else 'no longer a'} server administrator")


async def _user_reactivate(config: Config, name: str) -> None:
    """Let a deactivated account log in again (deactivating: chatd.cli_admin.deactivate)."""
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        user = await storage.set_deactivated(name, False)
        print(f"{user.name} is active again")


async def _user_passwd(config: Config, name: str, password: str) -> None:
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        user = await _unsigned_auth(storage, config).change_password(name, password)
        print(f"changed the password of {user.name}; their earlier tokens no longer work")


async def _user_list(config: Config, as_json: bool = False) -> None:
    from chatd.storage import open_storage
    from chatd.views import admin_user_object

    async with open_storage(config) as storage:
        users = await storage.list_users()
        if as_json:  # the admin API's user objects
            json.dump({"users": [admin_user_object(user) for user in users]}, sys.stdout,
                      indent=2)
            print()
            return
        for user in users:
            created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(user.created_at / 1000))
            flags = "".join((" admin" if user.admin else "",
                             " deactivated" if user.deactivated else "",
                             "  (bot)" if user.bot else ""))
            print(f"{user.id:>6}  {user.name:<32}  created {created} UTC{flags}")
        if not users:
            print("chatd: no users yet (chatd user add NAME)", file=sys.stderr)


async def _token(config: Config, name: str) -> None:
    from chatd.auth import SECRET_FILE, Auth, load_or_create_secret
    from chatd.errors import ChatError
    from chatd.protocol import codes
    from chatd.storage import open_storage

    if not (config.data_dir / SECRET_FILE).is_file():
        raise _Refused(
            f"no token secret in {config.data_dir} (data directory from "
            f"{config.source('server.data_dir')}): the daemon would not accept a token signed "
            "with another; give the daemon's config with --config")
    async with open_storage(config) as storage:
        credentials = await storage.get_credentials(name)
        if credentials is None:
            raise ChatError(codes.NOT_FOUND, f"no user called {name!r}")
        auth = Auth(storage, config, load_or_create_secret(config.data_dir))
        token, _ = auth.issue_token(credentials.user)
        print(token)


async def _bot_add(config: Config, name: str, owner: str, token_name: str) -> None:
    from chatd.auth import new_bot_token
    from chatd.errors import ChatError
    from chatd.protocol import InvalidName, codes, normalise_new_user
    from chatd.storage import open_storage

    try:
        name = normalise_new_user(name)
    except InvalidName as exc:
        raise _Refused(f"{name!r}: {exc}") from None
    async with open_storage(config) as storage:
        credentials = await storage.get_credentials(owner)
        if credentials is None:
            raise ChatError(codes.NOT_FOUND, f"no user called {owner!r} (the bot's owner)")
        token, digest = new_bot_token()
        bot = await storage.create_bot(credentials.user.id, name, token_name=token_name,
                                       token_hash=digest)
        print(f"chatd: created bot {bot.user.name} (id {bot.user.id}), owned by "
              f"{bot.owner}; its token (shown once):", file=sys.stderr)
        print(token)


async def _bot_token(config: Config, name: str, token_name: str) -> None:
    from chatd.auth import new_bot_token
    from chatd.errors import ChatError
    from chatd.protocol import codes
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        bot = await storage.get_bot(name)
        if bot is None:
            raise ChatError(codes.NOT_FOUND, f"there is no bot called {name!r}")
        token, digest = new_bot_token()
        stored = await storage.add_bot_token(bot.user.id, token_name, digest)
        print(f"chatd: a new token of {bot.user.name}, id {stored.id} (shown once):",
              file=sys.stderr)
        print(token)


def _token_name(name: str) -> str:
    from chatd.actions.bots import MAX_TOKEN_NAME

    if not 1 <= len(name) <= MAX_TOKEN_NAME or not name.isprintable():
        raise _Refused(f"--token-name: 1 to {MAX_TOKEN_NAME} printable characters")
    return name


def _when(ms: int | None) -> str:
    return "-" if ms is None else time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))


async def _bot_list(config: Config) -> None:
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        bots = await storage.bots()
        for bot in bots:
            print(f"{bot.user.name:<32}  owner {bot.owner or '-':<32}  "
                  f"created {_when(bot.user.created_at)} UTC")
            for token in bot.tokens:
                state = (f"revoked {_when(token.revoked_at)}" if token.revoked_at is not None
                         else f"last used {_when(token.last_used_at)}")
                print(f"    token {token.id:>6}  {token.name:<24}  created "
                      f"{_when(token.created_at)}  {state}")
        if not bots:
            print("chatd: no bots yet (chatd bot add NAME --owner USER)", file=sys.stderr)


async def _bot_revoke(config: Config, name: str, token_id: int) -> None:
    from chatd.errors import ChatError
    from chatd.protocol import codes
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        bot = await storage.get_bot(name)
        if bot is None or token_id not in {token.id for token in bot.tokens}:
            raise ChatError(codes.NOT_FOUND, f"there is no token {token_id} of a bot {name!r}")
        revoked = await storage.revoke_bot_tokens(bot.user.id, token_id)
        print(f"chatd: revoked token {token_id} of {bot.user.name}; its sessions end on every "
              "node" if revoked else f"chatd: token {token_id} was revoked already",
              file=sys.stderr)


async def _backup(config: Config, file: str, files: bool, keys: bool = True) -> None:
    from chatd.auth import SECRET_FILE
    from chatd.storage.backup import backup
    from chatd.webpush import KEY_FILE

    written = await backup(config, Path(file), files=files, keys=keys)
    what = {"included": f"and {written.files} files from {config.files_label}",
            "left out": "without the files (--no-files)",
            "s3": f"without the files, which are in {config.files_label}: back the bucket "
                  "up by S3's own means (versioning, replication)"}[written.files_are]
    print(f"chatd: backed up {config.database_label} {what} to {file} ({written.size} bytes)",
          file=sys.stderr)
    if written.keys_are == "included":
        print(f"chatd: the backup holds the keys of {config.data_dir} "
              f"({', '.join(written.keys)}): keep it as secret as they are", file=sys.stderr)
    elif written.keys_are == "left out":
        print(f"chatd: the backup holds no keys (--no-keys): keep {SECRET_FILE} and "
              f"{KEY_FILE} of {config.data_dir} yourself", file=sys.stderr)
    else:
        print(f"chatd: warning: no {SECRET_FILE} nor {KEY_FILE} in {config.data_dir} (from "
              f"{config.source('server.data_dir')}), so the backup holds no keys: is that the "
              "daemon's data directory?", file=sys.stderr)


async def _export(config: Config, name: str, out: str) -> None:
    """``chatd export USER --out FILE``: the user's "Download my data" archive, made by the
    same code as theirs (chatd.export), for the operator (no rate limit)."""
    from chatd.export import export_to_file
    from chatd.files import open_file_store
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        done = await export_to_file(storage, open_file_store(config), config, name, Path(out))
    print(f"chatd: exported the data of {name} to {out}: {done.messages} messages, "
          f"{done.files} files", file=sys.stderr)


async def _restore(config: Config, file: str, force: bool) -> None:
    from chatd.auth import SECRET_FILE
    from chatd.storage.backup import restore
    from chatd.webpush import KEY_FILE

    restored = await restore(config, Path(file), force=force)
    what = {"none": " (a backup of the database only)",
            "left out": " (made with --no-files: restore the files folder yourself)",
            "s3": " (its files are in an S3 bucket, not in the backup)"}.get(
                restored.files_are, f" and {restored.files} files into {config.files_label}")
    print(f"chatd: restored {file} into {config.database_label}{what}", file=sys.stderr)
    if restored.keys:
        print(f"chatd: wrote the backup's keys, replacing those there: "
              f"{', '.join(map(str, restored.keys))} (mode 0600)", file=sys.stderr)
    else:
        why = ("made with --no-keys" if restored.keys_are == "left out"
               else "the backup holds no keys")
        print(f"chatd: {why}: put the {SECRET_FILE} and {KEY_FILE} of the backed-up server in "
              f"{config.data_dir} before starting chatd (without them every session token "
              "is refused and every push subscription fails until its page subscribes again)",
              file=sys.stderr)


def _parser() -> tuple[argparse.ArgumentParser, dict[tuple[str, ...], argparse.ArgumentParser]]:
    """The command line, and each (sub)command's parser by its words, for ``chatd help``."""
    # --config is accepted at every level; SUPPRESS keeps a level where it is not given from
    # overwriting the value given at another.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                        help="the TOML config file (default: ./chatd.toml, else the defaults)")
    parser = argparse.ArgumentParser(prog="chatd", description="A self-hosted chat server.",
                                     parents=[common])
    parser.add_argument("--version", action="version", version=f"chatd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    by_words: dict[tuple[str, ...], argparse.ArgumentParser] = {(): parser}

    def command(words: tuple[str, ...], group: argparse._SubParsersAction,  # type: ignore[type-arg]
                summary: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(
            words[-1], help=summary, description=summary, parents=[common])
        by_words[words] = sub
        return sub

    serve = command(("serve",), commands, "run the daemon")
    serve.add_argument("--check", action="store_true",
                       help="name every mistake in the configuration, or show what serve would "
                            "use, and exit")
    serve.add_argument("--workers", metavar="N", type=_workers,
                       help="run N worker processes sharing the ports, each a node on the same "
                            "database ('auto': one per core)")
    # A worker's, from its parent: the listening sockets it inherited.
    serve.add_argument("--listen-fds", help=argparse.SUPPRESS)
    # A worker's, from its parent: its index, the parent's pipe and metrics folder.
    serve.add_argument("--worker", help=argparse.SUPPRESS)
    command(("migrate",), commands, "apply pending database migrations and exit")
    user = command(("user",), commands, "manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="COMMAND")
    for name, summary in (("add", "create a user"),
                          ("passwd", "set a user's password (logs them out everywhere)")):
        sub = command(("user", name), user_commands, summary)
        sub.add_argument("name")
        sub.add_argument("--password-stdin", action="store_true",
                         help="read the password from the first line of standard input (the "
                              "default when standard input is not a terminal)")
        if name == "add":
            sub.add_argument("--admin", action="store_true",
                             help="make them a server administrator")
    user_list = command(("user", "list"), user_commands, "list the users")
    user_list.add_argument("--json", action="store_true", help=JSON_HELP)
    admin = command(("user", "admin"), user_commands,
                    "make a user a server administrator (may moderate every room and use "
                    "the admin API)")
    admin.add_argument("name")
    admin.add_argument("--revoke", action="store_true",
                       help="make them no longer a server administrator")
    deactivate = command(("user", "deactivate"), user_commands,
                         "deactivate an account: its sessions end on every node, it cannot "
                         "log in, its messages stay (unless --delete-messages)")
    deactivate.add_argument("name")
    deactivate.add_argument(
        "--delete-messages", metavar="DURATION",
        help="also delete its messages of the last DURATION (3600, 90m, 24h, 7d; at most "
             "7d) in every room and conversation, live for the connected members; at most "
             "1000 at a time (run it again for more)")
    reactivate = command(("user", "reactivate"), user_commands,
                         "let a deactivated account log in again")
    reactivate.add_argument("name")
    token = command(("token",), commands, "print a token for USER (for scripts)")
    token.add_argument("user")
    bot = command(("bot",), commands, "manage bot accounts and their API tokens")
    bot_commands = bot.add_subparsers(dest="bot_command", required=True, metavar="COMMAND")
    bot_add = command(("bot", "add"), bot_commands,
                      "create a bot owned by a user, and print its first token")
    bot_add.add_argument("name")
    bot_add.add_argument("--owner", required=True, metavar="USER",
                         help="the user who owns the bot (and may manage its tokens)")
    bot_add.add_argument("--token-name", default="default", metavar="LABEL",
                         help="a name for the token (default: default)")
    bot_token = command(("bot", "token"), bot_commands, "print a new token for a bot")
    bot_token.add_argument("name")
    bot_token.add_argument("--token-name", default="default", metavar="LABEL",
                           help="a name for the token (default: default)")
    command(("bot", "list"), bot_commands, "list the bots, their owners and tokens")
    bot_revoke = command(("bot", "revoke"), bot_commands,
                         "revoke a bot's token (its sessions end on every node)")
    bot_revoke.add_argument("name")
    bot_revoke.add_argument("token_id", type=int, metavar="ID")
    room = command(("room",), commands, "manage rooms as an administrator")
    room_commands = room.add_subparsers(dest="room_command", required=True, metavar="COMMAND")
    room_list = command(("room", "list"), room_commands,
                        "list the rooms (not conversations): owner, members, last seq, state")
    room_list.add_argument("--query", metavar="Q", default="",
                           help="only the rooms whose name holds Q")
    room_list.add_argument("--json", action="store_true", help=JSON_HELP)
    room_delete = command(("room", "delete"), room_commands,
                          "delete a room with its messages, members, bans, webhooks and "
                          "files (no undo); its members are told on every node")
    room_delete.add_argument("name")
    room_delete.add_argument("--yes", action="store_true",
                             help="do not ask (required when standard input is no terminal)")
    invite = command(("invite",), commands,
                     "manage invitation links (who may register: [auth] registration)")
    invite_commands = invite.add_subparsers(dest="invite_command", required=True,
                                            metavar="COMMAND")
    invite_create = command(("invite", "create"), invite_commands,
                            "make an invitation link and print it (shown this once)")
    invite_create.add_argument("--uses", metavar="N", type=int, default=1,
                               help="how many accounts may register with it (default 1, at "
                                    "most 1000)")
    invite_create.add_argument("--expires", metavar="DAYS", default="7",
                               help="how long it works: days (7), or 3d, 12h, 90m (default "
                                    "7 days, at most 30)")
    invite_create.add_argument("--room", metavar="NAME", action="append", default=[],
                               help="a room the new accounts join (repeat for more)")
    invite_create.add_argument("--json", action="store_true", help=JSON_HELP)
    invite_list = command(("invite", "list"), invite_commands,
                          "list the invitations, newest first: state, uses, expiry, rooms")
    invite_list.add_argument("--limit", metavar="N", type=int, default=None,
                             help="at most the N newest (default: every one, however many)")
    invite_list.add_argument("--before", metavar="ID", type=int, default=None,
                             help="only those older than invitation ID (the next page after "
                                  "one that ended at ID)")
    invite_list.add_argument("--json", action="store_true", help=JSON_HELP)
    invite_revoke = command(("invite", "revoke"), invite_commands,
                            "revoke an invitation: its link works no more")
    invite_revoke.add_argument("invitation_id", type=int, metavar="ID")
    email = command(("email",), commands, "check the [email] settings")
    email_commands = email.add_subparsers(dest="email_command", required=True,
                                          metavar="COMMAND")
    email_test = command(("email", "test"), email_commands,
                         "send a test mail to ADDRESS with the [email] settings (exit status "
                         "0 once the SMTP server took it)")
    email_test.add_argument("address", metavar="ADDRESS")
    audit = command(("audit",), commands,
                    "show the audit log (moderation and admin actions), newest first")
    audit.add_argument("--room", metavar="NAME",
                       help="only the entries of one room (or @user:user conversation)")
    audit.add_argument("--limit", metavar="N", type=int, default=50,
                       help="show the N newest entries (default 50)")
    audit.add_argument("--json", action="store_true", help=JSON_HELP)
    stats = command(("stats",), commands,
                    "show what the database holds and the nodes running on it")
    stats.add_argument("--json", action="store_true", help=JSON_HELP)
    backup = command(("backup",), commands,
                     "write the database, the keys of data_dir and the uploaded files to "
                     "FILE (a tar archive, mode 0600); works while chatd runs")
    backup.add_argument("file", metavar="FILE")
    backup.add_argument("--no-files", action="store_true",
                        help="leave the files of data_dir/files out (copy the folder "
                             "yourself: see docs/operations.md)")
    backup.add_argument("--no-keys", action="store_true",
                        help="leave the keys of data_dir (jwt_secret, vapid_key) out (keep "
                             "them apart yourself: see docs/operations.md)")
    restore = command(("restore",), commands,
                      "load a backup into the configured database, data_dir (its keys) "
                      "and file store (stop chatd first)")
    restore.add_argument("file", metavar="FILE")
    restore.add_argument("--force", action="store_true",
                         help="replace a database that already holds users or messages")
    export = command(("export",), commands,
                     "write a user's own data (what \"Download my data\" gives them: account, "
                     "rooms, their messages and conversations, files) to a zip FILE")
    export.add_argument("user", metavar="USER")
    export.add_argument("--out", metavar="FILE", required=True,
                        help="the zip to write (mode 0600; replaced only once complete)")
    client = command(("client",), commands, "chat in the terminal")
    client.add_argument("--server", metavar="URL",
                        help="the server's HTTP address, for logging in, /upload and the "
                             "WebSocket (default: from the config's [http])")
    client.add_argument("--user", help="the user name (asked for when not given)")
    client.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    client.add_argument("--tcp", metavar="HOST:PORT",
                        help="use the bare TCP protocol port instead of the WebSocket (log-in "
                             "and /upload still go to --server)")
    client.add_argument("--register", action="store_true",
                        help="create the account first (a taken name is just logged in)")
    client.add_argument("--invitation", metavar="LINK",
                        help="register with this invitation link (or its token): the new "
                             "account joins its rooms (implies --register)")
    client.add_argument("--bell", action="store_true",
                        help="ring the terminal bell when a message you are notified of "
                             "arrives (/notify; by default a direct message or a mention)")
    client.add_argument("--idle-after", type=_minutes, default=10.0, metavar="MINUTES",
                        help="others see you away after this many minutes without a typed "
                             "line, until the next (default 10; 0: never)")
    command(("version",), commands, "print chatd's version")
    help_ = command(("help",), commands, "show the help of chatd or of a command")
    help_.add_argument("topic", nargs="*", metavar="COMMAND", help="e.g. serve, or user add")
    return parser, by_words


def _sole(exc: BaseException) -> BaseException:
    """The one exception inside nested single-member groups (a nursery wraps what its task
    raised), or ``exc`` itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _run(args: argparse.Namespace, config: Config) -> int:
    """Run the command; exceptions that are the operator's to fix propagate to :func:`main`."""
    if args.command == "serve":
        if args.check:
            return _check(config)
        if problems := _problems(config):
            raise ConfigError(*problems)
        if args.workers is not None and not args.listen_fds:
            from chatd.workers import Supervisor

            trio.run(Supervisor(config, args.workers).run)
            return 0
        from chatd.server import tune_gc
        from chatd.workers import WorkerLink, parse_fds

        inherited = parse_fds(args.listen_fds) if args.listen_fds else None
        worker = WorkerLink.parse(args.worker) if args.worker else None
        tune_gc()  # after the imports, which it freezes
        trio.run(_serve, config, inherited, worker)
    elif args.command == "restore":
        _use_database(config, create=True)
        trio.run(_restore, config, args.file, args.force)
    elif args.command == "email":
        return _email_test(config, args.address)
    elif args.command == "client":
        from chatd.client import main as client_main

        return client_main(config, server=args.server, user=args.user,
                           password_stdin=args.password_stdin, tcp=args.tcp,
                           register=args.register, bell=args.bell,
                           idle_after=args.idle_after, invitation=args.invitation)
    elif args.command in ("room", "audit", "stats", "invite") or (
            args.command == "user" and args.user_command == "deactivate"):
        _run_admin(args, config)
    else:
        _use_database(config)
        if args.command == "migrate":
            trio.run(_migrate, config)
        elif args.command == "user" and args.user_command == "list":
            trio.run(_user_list, config, args.json)
        elif args.command == "user" and args.user_command == "admin":
            trio.run(_user_admin, config, args.name, args.revoke)
        elif args.command == "user" and args.user_command == "reactivate":
            trio.run(_user_reactivate, config, args.name)
        elif args.command == "user" and args.user_command == "add":
            trio.run(_user_add, config, args.name, _read_password(args.password_stdin),
                     args.admin)
        elif args.command == "user":
            trio.run(_user_passwd, config, args.name, _read_password(args.password_stdin))
        elif args.command == "token":
            trio.run(_token, config, args.user)
        elif args.command == "bot":
            if args.bot_command == "add":
                trio.run(_bot_add, config, args.name, args.owner, _token_name(args.token_name))
            elif args.bot_command == "token":
                trio.run(_bot_token, config, args.name, _token_name(args.token_name))
            elif args.bot_command == "list":
                trio.run(_bot_list, config)
            else:
                trio.run(_bot_revoke, config, args.name, args.token_id)
        elif args.command == "backup":
            trio.run(_backup, config, args.file, not args.no_files, not args.no_keys)
        elif args.command == "export":
            trio.run(_export, config, args.user, args.out)
    return 0


def _email_test(config: Config, address: str) -> int:
    """``chatd email test ADDRESS``: one mail, sent as the daemon sends, with a clear line
    either way."""
    from chatd.mail import MailError, check_mail, deliver, is_address

    settings = config.email
    if not settings.enabled:
        print(f"chatd: email is off: set [email] smtp_host ({config.source('email.smtp_host')})"
              " and from", file=sys.stderr)
        return EXIT_CONFIG
    if not is_address(address):
        print(f"chatd: {address!r} is not an email address", file=sys.stderr)
        return EXIT_CONFIG
    try:
        deliver(settings, check_mail(settings, address))
    except MailError as exc:
        print(f"chatd: the test mail was not sent ({exc.reason}): {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"chatd: the SMTP server at {settings.smtp_host}:{settings.smtp_port} took a test "
          f"mail to {address}", file=sys.stderr)
    return 0


def _run_admin(args: argparse.Namespace, config: Config) -> None:
    """The commands of :mod:`chatd.cli_admin`; their arguments are checked before the
    database is looked for."""
    from chatd import cli_admin

    if args.command == "user":
        seconds = (None if args.delete_messages is None
                   else cli_admin.parse_duration(args.delete_messages))
        _use_database(config)
        trio.run(cli_admin.deactivate, config, args.name, seconds)
    elif args.command == "room" and args.room_command == "list":
        _use_database(config)
        trio.run(cli_admin.list_rooms, config, args.query, args.json)
    elif args.command == "room":
        name = cli_admin.check_deletion(args.name, args.yes)
        _use_database(config)
        trio.run(cli_admin.delete_room, config, name, args.yes)
    elif args.command == "invite" and args.invite_command == "create":
        uses, seconds, rooms = cli_admin.check_new_invitation(
            args.uses, cli_admin.parse_expiry(args.expires), args.room)
        _use_database(config)
        trio.run(cli_admin.create_invitation, config, uses, seconds, rooms, args.json)
    elif args.command == "invite" and args.invite_command == "list":
        cli_admin.check_invitation_page(args.limit, args.before)
        _use_database(config)
        trio.run(cli_admin.list_invitations, config, args.json, args.limit, args.before)
    elif args.command == "invite":
        cli_admin.check_invitation_id(args.invitation_id, "ID")
        _use_database(config)
        trio.run(cli_admin.revoke_invitation, config, args.invitation_id)
    elif args.command == "audit":
        room = cli_admin.check_audit(args.room, args.limit)
        _use_database(config)
        trio.run(cli_admin.audit, config, room, args.limit, args.json)
    else:
        _use_database(config)
        trio.run(cli_admin.stats, config, args.json)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``chatd`` console script; returns the exit status."""
    parser, by_words = _parser()
    args = parser.parse_args(argv)
    if args.command == "version":
        print(f"chatd {__version__}")
        return 0
    if args.command == "help":
        topic = tuple(args.topic)
        if topic not in by_words:
            print(f"chatd: no command {' '.join(topic)!r}; chatd help lists them",
                  file=sys.stderr)
            return EXIT_CONFIG
        by_words[topic].print_help()
        return 0
    try:
        config = load_config(getattr(args, "config", None))
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"chatd: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    _setup_logging(config)
    try:
        return _run(args, config)
    except BaseException as raised:  # sorted below; anything else is a bug: re-raised
        status = _report(_sole(raised), config)
        if status is None:
            raise
        return status


def _report(exc: BaseException, config: Config) -> int | None:
    """Print a failure that is the operator's to fix (one line) and return the exit status;
    None for anything else (a bug, whose traceback is wanted)."""
    from chatd.errors import ChatError
    from chatd.storage import StorageUnavailable
    from chatd.storage.backup import BackupError

    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, ConfigError):
        for problem in exc.problems:
            print(f"chatd: {problem}", file=sys.stderr)
        return EXIT_CONFIG
    if isinstance(exc, StorageUnavailable):
        key = "database.dsn" if config.database.dsn else "server.data_dir"
        print(f"chatd: database unavailable ({config.source(key)}): {exc}", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(exc, ChatError):
        print(f"chatd: {exc.message}", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(exc, _Refused | BackupError | OSError):
        print(f"chatd: {exc}", file=sys.stderr)
        return EXIT_FAILED
    return None

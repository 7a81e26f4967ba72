"""The ``chatd`` command: ``serve``, ``migrate``, ``user add|passwd|list``, ``token``,
``client``.

Every subcommand reads the same configuration (``--config``, default ``./chatd.toml`` or the
built-in defaults) with ``CHATD_<SECTION>_<KEY>`` overrides from the environment.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import signal
import sys
import time
from collections.abc import Sequence

import trio

from chatd import __version__
from chatd.config import Config, ConfigError, load_config

__all__ = ["main"]

log = logging.getLogger("chatd")


def _setup_logging(config: Config) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=config.server.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if config.server.log_level.lower() != "debug":
        # pgserver logs every pg_ctl command line and its whole output at INFO.
        logging.getLogger("pgserver").setLevel(logging.WARNING)


async def _serve(config: Config) -> None:
    from chatd.server import serve

    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(serve, config)
            async for signum in signals:
                log.info("%s: draining (grace period %ss)", signal.Signals(signum).name,
                         config.server.grace_period)
                server.shutdown()
                break


async def _migrate(config: Config) -> None:
    from chatd.storage.postgres import migrate

    applied = await migrate(config)
    print(f"applied migrations: {', '.join(map(str, applied))}" if applied
          else "the schema is up to date")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise SystemExit("chatd: the passwords differ")
    return first


async def _user_add(config: Config, name: str, password: str) -> None:
    from chatd.auth import Auth, load_or_create_secret
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        auth = Auth(storage, config, load_or_create_secret(config.data_dir))
        user = await auth.register(name, password)
        print(f"created user {user.name} (id {user.id})")


async def _user_passwd(config: Config, name: str, password: str) -> None:
    from chatd.auth import Auth, load_or_create_secret
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        auth = Auth(storage, config, load_or_create_secret(config.data_dir))
        user = await auth.change_password(name, password)
        print(f"changed the password of {user.name}; their earlier tokens no longer work")


async def _user_list(config: Config) -> None:
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        for user in await storage.list_users():
            created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(user.created_at / 1000))
            print(f"{user.id:>6}  {user.name:<32}  created {created} UTC")


async def _token(config: Config, name: str) -> None:
    from chatd.auth import Auth, load_or_create_secret
    from chatd.errors import ChatError
    from chatd.storage import open_storage

    async with open_storage(config) as storage:
        credentials = await storage.get_credentials(name)
        if credentials is None:
            raise ChatError("not_found", f"no user called {name!r}")
        auth = Auth(storage, config, load_or_create_secret(config.data_dir))
        token, _ = auth.issue_token(credentials.user)
        print(token)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chatd", description="A self-hosted chat server.")
    parser.add_argument("--version", action="version", version=f"chatd {__version__}")
    parser.add_argument("--config", help="the TOML config file (default: ./chatd.toml)")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the daemon")
    serve.add_argument("--check", action="store_true",
                       help="validate the configuration and exit")
    commands.add_parser("migrate", help="apply pending database migrations and exit")
    user = commands.add_parser("user", help="manage users")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    passwd = user_commands.add_parser("passwd", help="set a user's password (logs them out)")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    user_commands.add_parser("list", help="list the users")
    token = commands.add_parser("token", help="print a token for USER (for scripts)")
    token.add_argument("user")
    client = commands.add_parser("client", help="chat in the terminal")
    client.add_argument("--server", metavar="URL",
                        help="the server's HTTP address (default: from the config's [http])")
    client.add_argument("--user", help="the user name (asked for when not given)")
    client.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input")
    client.add_argument("--tcp", metavar="HOST:PORT",
                        help="use the bare TCP protocol port instead of the WebSocket")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"chatd: config: {exc}", file=sys.stderr)
        return 2
    _setup_logging(config)
    from chatd.errors import ChatError
    from chatd.storage import StorageUnavailable

    try:
        if args.command == "serve":
            if args.check:
                source = config.path or "built-in defaults"
                print(f"chatd: configuration OK ({source}); data in {config.data_dir}")
                return 0
            from chatd.server import tune_gc

            tune_gc()  # after the imports, which it freezes
            trio.run(_serve, config)
        elif args.command == "migrate":
            trio.run(_migrate, config)
        elif args.command == "user" and args.user_command == "list":
            trio.run(_user_list, config)
        elif args.command == "user":
            password = _read_password(args.password_stdin)
            action = _user_add if args.user_command == "add" else _user_passwd
            trio.run(action, config, args.name, password)
        elif args.command == "token":
            trio.run(_token, config, args.user)
        elif args.command == "client":
            from chatd.tui import main as client_main

            return client_main(config, server=args.server, user=args.user,
                               password_stdin=args.password_stdin, tcp=args.tcp)
    except ChatError as exc:
        print(f"chatd: {exc.message}", file=sys.stderr)
        return 1
    except StorageUnavailable as exc:
        print(f"chatd: database unavailable: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"chatd: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0

"""Configuration: ``chatd.toml`` plus ``CHATD_<SECTION>_<KEY>`` environment overrides.

The shipped ``chatd.toml`` documents every key; this module holds the same keys as typed
dataclasses with the same defaults, so that a missing file still gives a working daemon. A key
that is not known here (in the file or as a ``CHATD_*`` variable), or a value of the wrong type,
is an error that names the key and suggests the nearest known one: a typo should stop the
daemon, not be silently ignored. Every mistake is reported at once, not the first only, so that
``chatd serve --check`` lists them all.

A loaded :class:`Config` remembers where each value came from (a file key, a variable or the
default): start-up failures that only show later (a port in use, a host that does not resolve,
a database that does not answer) name the setting to change, as :meth:`Config.source` says it.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import os
import tomllib
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "EDIT_HISTORY_MODES",
    "EMAIL_SECURITY",
    "ClusterConfig",
    "Config",
    "ConfigError",
    "EmailConfig",
    "EmojiConfig",
    "MessagesConfig",
    "PreviewsConfig",
    "UserGroupsConfig",
    "load_config",
    "redact_dsn",
    "shipped_web_root",
]

#: Who may read a message's edit history (``[messages] edit_history``): anyone who may read
#: the room, only its author and the room's owner and moderators, or nobody (administrators
#: always may).
EDIT_HISTORY_MODES = ("everyone", "moderators", "off")

#: How chatd talks to its SMTP server (``[email] security``): STARTTLS after connecting in
#: plain text (port 587, "submission"), TLS from the first byte (port 465, "submissions"), or
#: plain text throughout (a relay on the same machine or a closed network only).
EMAIL_SECURITY = ("starttls", "tls", "none")

# Environment variables under the CHATD_ prefix that are not settings: the test suite's.
_NOT_SETTINGS = "CHATD_TEST_"


class ConfigError(Exception):
    """The configuration cannot be used; each problem names the key and what is wrong.

    Attributes:
        problems: one line per mistake (``str(error)`` joins them with newlines).
    """

    def __init__(self, *problems: str) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclasses.dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: str = "./chatd-data"
    grace_period: float = 10.0
    log_level: str = "info"
    name: str = ""
    public_url: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    web_root: str = ""
    max_body_bytes: int = 65536
    max_header_bytes: int = 16384
    request_timeout: float = 30.0
    body_idle_timeout: float = 30.0
    keepalive_timeout: float = 10.0
    connections_per_ip: int = 32
    trust_forwarded_for: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class TcpConfig:
    host: str = "127.0.0.1"
    port: int = 7700


@dataclasses.dataclass(frozen=True, slots=True)
class DatabaseConfig:
    dsn: str = ""
    pool_size: int = 10
    max_batch: int = 1024
    commits_in_flight: int = 2
    statement_timeout: float = 5.0
    connect_timeout: float = 5.0
    watchdog_grace: float = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class AuthConfig:
    token_ttl: int = 604800
    min_password_length: int = 8
    login_attempts_per_ip: int = 30
    login_failures_per_user: int = 10
    registrations_per_ip: int = 20
    registration: str = "open"
    who_can_invite: str = "admins"


@dataclasses.dataclass(frozen=True, slots=True)
class LimitsConfig:
    max_frame_bytes: int = 65536
    max_text_chars: int = 4000
    outbox_frames: int = 1024
    idle_timeout: float = 120.0
    join_recent: int = 50
    resume_max: int = 1000
    max_in_flight: int = 64
    send_rate: float = 20.0
    send_burst: int = 100
    user_send_rate: float = 40.0
    user_send_burst: int = 200
    user_typing_rate: float = 2.0
    user_typing_burst: int = 10
    connections_per_ip: int = 64
    history_max: int = 500
    rooms_per_hour: int = 20
    rooms_page_max: int = 200
    uploads_per_minute: int = 30
    searches_per_minute: int = 120
    hook_rate: float = 1.0
    hook_burst: int = 30
    group_mention_members: int = 50
    pins_per_room: int = 100
    saved_per_user: int = 1000
    scheduled_per_user: int = 100
    sections_per_user: int = 50
    keywords_per_user: int = 50
    drafts_per_user: int = 200
    user_groups: int = 500
    user_group_members: int = 1000
    exports_per_hour: int = 1
    export_keep_hours: float = 24.0


@dataclasses.dataclass(frozen=True, slots=True)
class FilesConfig:
    max_bytes: int = 25 * 1024 * 1024
    quota_bytes: int = 1024 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    link_seconds: int = 3600
    store: str = "local"
    s3_endpoint: str = ""
    s3_bucket: str = ""
    s3_region: str = ""
    s3_prefix: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = dataclasses.field(default="", repr=False)
    unattached_seconds: float = 86400.0


@dataclasses.dataclass(frozen=True, slots=True)
class MessagesConfig:
    edit_history: str = "everyone"


@dataclasses.dataclass(frozen=True, slots=True)
class UserGroupsConfig:
    who_can_create: str = "everyone"


@dataclasses.dataclass(frozen=True, slots=True)
class EmojiConfig:
    max_bytes: int = 256 * 1024
    who_can_add: str = "everyone"


@dataclasses.dataclass(frozen=True, slots=True)
class PushConfig:
    subject: str = "mailto:admin@localhost"
    allow_private_endpoints: bool = False
    concurrency: int = 4
    queue_size: int = 1000
    ttl: int = 86400


@dataclasses.dataclass(frozen=True, slots=True)
class WebhooksConfig:
    allow_private_endpoints: bool = False
    concurrency: int = 4
    queue_size: int = 1000
    timeout: float = 10.0


@dataclasses.dataclass(frozen=True, slots=True)
class PreviewsConfig:
    enabled: bool = True
    timeout_seconds: float = 10.0
    max_html_bytes: int = 512 * 1024
    allow_private_addresses: bool = False
    concurrency: int = 4
    queue_size: int = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class EmailConfig:
    """``[email]``: the SMTP server chatd sends through (none: email is off), who the mails
    are from, and how long a missed message waits to be read before it is mailed. The key
    ``from`` is the field ``sender`` (``from`` is a Python keyword: its metadata names the
    key)."""

    smtp_host: str = ""
    smtp_port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = dataclasses.field(default="", repr=False)
    sender: str = dataclasses.field(default="", metadata={"key": "from"})
    batch_seconds: float = 120.0
    timeout: float = 10.0

    @property
    def enabled(self) -> bool:
        """Whether the server sends email at all (an SMTP host is set)."""
        return bool(self.smtp_host)


@dataclasses.dataclass(frozen=True, slots=True)
class ClusterConfig:
    heartbeat_interval: float = 5.0
    node_timeout: float = 20.0
    reminder_check: float = 30.0
    claim_lease: float = 30.0


def shipped_web_root() -> Path:
    """The web page shipped with chatd.

    An installed wheel carries it as package data in ``chatd/web`` (setup.cfg maps
    ``clients/web`` there); a checkout, editable installs included, serves ``clients/web`` in
    place. The folder may be missing or empty in a broken install: ``chatd serve`` checks it.
    """
    package = Path(__file__).resolve().parent
    installed = package / "web"
    if installed.is_dir():
        return installed
    return package.parent / "clients" / "web"


def redact_dsn(dsn: str) -> str:
    """``dsn`` with its password masked (in the user part and in a ``password=`` parameter),
    for logs and messages."""
    try:
        parts = urllib.parse.urlsplit(dsn)
        query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        netloc = parts.netloc
        if parts.password is not None:
            user, host = netloc.rsplit("@", 1)
            netloc = f"{user.split(':', 1)[0]}:***@{host}"
    except ValueError:
        return "<an unparsable DSN>"
    if any(key == "password" for key, _ in query):
        masked = [(key, "***" if key == "password" else value) for key, value in query]
        parts = parts._replace(query=urllib.parse.urlencode(masked, safe="*/"))
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration.

    Attributes:
        path: the file it was read from, if any.
        sources: where each key (``"http.port"``) got its value, when not from the default,
            in words (see :meth:`source`).
    """

    server: ServerConfig = dataclasses.field(default_factory=ServerConfig)
    http: HttpConfig = dataclasses.field(default_factory=HttpConfig)
    tcp: TcpConfig = dataclasses.field(default_factory=TcpConfig)
    database: DatabaseConfig = dataclasses.field(default_factory=DatabaseConfig)
    auth: AuthConfig = dataclasses.field(default_factory=AuthConfig)
    limits: LimitsConfig = dataclasses.field(default_factory=LimitsConfig)
    files: FilesConfig = dataclasses.field(default_factory=FilesConfig)
    emoji: EmojiConfig = dataclasses.field(default_factory=EmojiConfig)
    messages: MessagesConfig = dataclasses.field(default_factory=MessagesConfig)
    user_groups: UserGroupsConfig = dataclasses.field(default_factory=UserGroupsConfig)
    push: PushConfig = dataclasses.field(default_factory=PushConfig)
    webhooks: WebhooksConfig = dataclasses.field(default_factory=WebhooksConfig)
    previews: PreviewsConfig = dataclasses.field(default_factory=PreviewsConfig)
    email: EmailConfig = dataclasses.field(default_factory=EmailConfig)
    cluster: ClusterConfig = dataclasses.field(default_factory=ClusterConfig)
    path: Path | None = None
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False,
                                                   repr=False)

    @property
    def data_dir(self) -> Path:
        """``server.data_dir``, resolved against the config file's folder when relative."""
        data_dir = Path(self.server.data_dir).expanduser()
        if not data_dir.is_absolute():
            base = self.path.parent if self.path is not None else Path.cwd()
            data_dir = base / data_dir
        return data_dir.resolve()

    @property
    def files_dir(self) -> Path:
        """Where uploaded files are kept: ``data_dir/files`` (by content hash, and ``tmp/``
        for uploads in progress)."""
        return self.data_dir / "files"

    @property
    def files_label(self) -> str:
        """Where uploaded files are kept, in words, for logs and messages (no secret)."""
        files = self.files
        if files.store != "s3":
            return f"the folder {self.files_dir}"
        prefix = f" (keys under {files.s3_prefix!r})" if files.s3_prefix else ""
        return f"the S3 bucket {files.s3_bucket}{prefix} at {files.s3_endpoint or 'AWS'}"

    @property
    def web_root(self) -> Path:
        """The folder served at ``/``: ``http.web_root``, or the page shipped with chatd."""
        if self.http.web_root:
            root = Path(self.http.web_root).expanduser()
            if not root.is_absolute() and self.path is not None:
                root = self.path.parent / root
            return root.resolve()
        return shipped_web_root()

    @property
    def database_label(self) -> str:
        """The database in use, in words, its password masked: for logs and messages."""
        if self.database.dsn:
            return f"PostgreSQL at {redact_dsn(self.database.dsn)}"
        return f"the embedded PostgreSQL in {self.data_dir / 'postgres'}"

    def source(self, key: str) -> str:
        """Where ``key`` (``"http.port"``) got its value, for messages that tell the operator
        what to change: ``[http] port in /etc/chatd/chatd.toml``, ``CHATD_HTTP_PORT in the
        environment``, or ``the default of [http] port``."""
        section, _, name = key.partition(".")
        return self.sources.get(key, f"the default of [{section}] {name}")

    def replace(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys changed, e.g. ``cfg.replace(http={"port": 0})``."""
        changed: dict[str, Any] = {}
        sources = dict(self.sources)
        for name, values in sections.items():
            current = getattr(self, name)
            changed[name] = dataclasses.replace(
                current, **{_KEY_NAMES.get((name, key), key): value
                            for key, value in values.items()})
            for key in values:
                sources[f"{name}.{key}"] = f"[{name}] {key} as set by the program"
        return dataclasses.replace(self, **changed, sources=sources)


_SECTIONS = {f.name: f for f in dataclasses.fields(Config) if f.name not in {"path", "sources"}}
_SECTION_DEFAULTS: dict[str, Any] = {name: getattr(Config(), name) for name in _SECTIONS}

#: Keys whose field has another name (a key that is a Python keyword: the field's metadata
#: says the key), by (section, key).
_KEY_NAMES = {(section, f.metadata["key"]): f.name
              for section in _SECTIONS
              for f in dataclasses.fields(_SECTION_DEFAULTS[section])
              if "key" in f.metadata}
_FIELD_KEYS = {(section, field): key for (section, key), field in _KEY_NAMES.items()}


def _defaults(section: str) -> dict[str, Any]:
    """The section's keys (as the file and the environment name them) and their defaults."""
    factory: Any = _SECTIONS[section].default_factory
    defaults = factory()
    return {_FIELD_KEYS.get((section, f.name), f.name): getattr(defaults, f.name)
            for f in dataclasses.fields(defaults)}


def _variable(section: str, key: str) -> str:
    return f"CHATD_{section.upper()}_{key.upper()}"


def _suggest(name: str, known: list[str]) -> str | None:
    """The known name nearest to a misspelt one, if any is near."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return close[0] if close else None


def _coerce(value: Any, default: Any, *, from_env: bool = False) -> Any:
    """Check a value against the type of its default; environment strings are converted.

    Raises:
        ValueError: the value does not fit; the message says what was expected.
    """
    kind = type(default)
    if from_env and kind is not str:
        text = value.strip()
        try:
            if kind is bool:
                if text.lower() not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                    raise ValueError(text)
                return text.lower() in {"1", "true", "yes", "on"}
            return kind(text)
        except ValueError:
            raise ValueError(f"expected {kind.__name__}, got {value!r}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not kind:
        raise ValueError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _build(raw: Mapping[str, Any], env: Mapping[str, str], file: Path | None,
           problems: list[str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The sections from the file's tables and the environment, and where each value came
    from; every mistake is appended to ``problems``, starting with where it was made."""
    sections: dict[str, Any] = {}
    sources: dict[str, str] = {}
    tables: dict[str, Mapping[str, Any]] = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            suggestion = _suggest(name, list(_SECTIONS))
            problems.append(f"[{name}] in {file}: unknown section"
                            + (f"; did you mean [{suggestion}]?" if suggestion else ""))
        elif not isinstance(value, dict):
            problems.append(f"[{name}] in {file}: must be a table")
        else:
            tables[name] = value
    for name, field in _SECTIONS.items():
        known = _defaults(name)
        values: dict[str, Any] = {}
        for key, value in tables.get(name, {}).items():
            where = f"[{name}] {key} in {file}"
            if key not in known:
                suggestion = _suggest(key, list(known))
                problems.append(f"{where}: unknown key"
                                + (f"; did you mean [{name}] {suggestion}?" if suggestion else ""))
                continue
            try:
                values[key] = _coerce(value, known[key])
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            sources[f"{name}.{key}"] = where
        for key, default in known.items():
            var = _variable(name, key)
            if var not in env:
                continue
            where = f"{var} in the environment"
            try:
                values[key] = _coerce(env[var], default, from_env=True)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")
                continue
            sources[f"{name}.{key}"] = where
        factory: Any = field.default_factory
        sections[name] = dataclasses.replace(
            factory(), **{_KEY_NAMES.get((name, key), key): value
                          for key, value in values.items()})
    variables = [_variable(name, key) for name in _SECTIONS for key in _defaults(name)]
    for var in sorted(env):
        if var.startswith("CHATD_") and not var.startswith(_NOT_SETTINGS) \
                and var not in variables:
            suggestion = _suggest(var, variables)
            problems.append(f"{var} in the environment: not a chatd setting"
                            + (f"; did you mean {suggestion}?" if suggestion else ""))
    return sections, sources


def _validate(config: Config, problems: list[str]) -> None:
    def bad(key: str, problem: str) -> None:
        problems.append(f"{config.source(key)}: {problem}")

    for key, port in (("http.port", config.http.port), ("tcp.port", config.tcp.port)):
        if not 0 <= port <= 65535:
            bad(key, f"{port} is not a port number (0-65535; 0 picks a free one)")
    for key, host in (("http.host", config.http.host), ("tcp.host", config.tcp.host)):
        if not host.strip():
            bad(key, "empty (use 127.0.0.1, or 0.0.0.0 for every address)")
    dsn = config.database.dsn
    if dsn and not dsn.startswith(("postgresql://", "postgres://")):
        bad("database.dsn", "must be empty or a postgresql:// DSN")
    positive = [
        "server.grace_period", "http.max_body_bytes", "http.max_header_bytes",
        "http.request_timeout", "http.body_idle_timeout", "http.keepalive_timeout",
        "http.connections_per_ip",
        "database.pool_size", "database.max_batch", "database.commits_in_flight",
        "database.statement_timeout", "database.connect_timeout", "auth.token_ttl",
        "auth.login_attempts_per_ip", "auth.login_failures_per_user",
        "auth.registrations_per_ip", "limits.max_frame_bytes",
        "limits.max_text_chars", "limits.outbox_frames", "limits.idle_timeout",
        "limits.join_recent", "limits.resume_max", "limits.max_in_flight", "limits.send_rate",
        "limits.send_burst", "limits.user_send_rate", "limits.user_send_burst",
        "limits.user_typing_rate", "limits.user_typing_burst",
        "limits.connections_per_ip", "limits.history_max",
        "limits.rooms_per_hour", "limits.rooms_page_max", "limits.uploads_per_minute",
        "limits.searches_per_minute", "limits.pins_per_room", "limits.saved_per_user",
        "limits.scheduled_per_user", "limits.sections_per_user", "limits.keywords_per_user",
        "limits.drafts_per_user", "limits.user_groups",
        "limits.user_group_members", "limits.exports_per_hour", "limits.export_keep_hours",
        "files.max_bytes", "files.quota_bytes", "files.link_seconds", "files.unattached_seconds",
        "emoji.max_bytes",
        "push.concurrency", "push.queue_size", "limits.hook_rate", "limits.hook_burst",
        "webhooks.concurrency", "webhooks.queue_size", "webhooks.timeout",
        "previews.timeout_seconds", "previews.max_html_bytes", "previews.concurrency",
        "previews.queue_size", "cluster.heartbeat_interval", "cluster.node_timeout",
        "cluster.reminder_check", "cluster.claim_lease", "email.batch_seconds",
        "email.timeout",
    ]
    for key in positive:
        section, _, name = key.partition(".")
        value = getattr(getattr(config, section), name)
        if value <= 0:
            bad(key, f"must be greater than 0, got {value}")
    if config.limits.group_mention_members < 0:
        bad("limits.group_mention_members",
            "must be 0 (only owners and moderators mention a group) or more")
    if config.files.max_image_pixels < 0:
        bad("files.max_image_pixels", "must be 0 (no thumbnails) or more")
    if config.database.watchdog_grace < 0:
        bad("database.watchdog_grace", "must be 0 (off) or more")
    if config.server.log_level.lower() not in {"debug", "info", "warning", "error"}:
        bad("server.log_level", "one of debug, info, warning, error")
    if config.cluster.node_timeout < 2 * config.cluster.heartbeat_interval:
        bad("cluster.node_timeout", "must be at least twice [cluster] heartbeat_interval "
            f"({config.cluster.heartbeat_interval}), or live nodes are taken for dead")
    _validate_files(config, bad)
    _validate_push(config, bad)
    _validate_email(config, bad)
    if config.emoji.who_can_add not in {"everyone", "admins"}:
        bad("emoji.who_can_add", f'"everyone" or "admins", got {config.emoji.who_can_add!r}')
    if config.auth.registration not in {"open", "invite", "closed"}:
        bad("auth.registration",
            f'"open", "invite" or "closed", got {config.auth.registration!r}')
    if config.auth.who_can_invite not in {"everyone", "admins"}:
        bad("auth.who_can_invite",
            f'"everyone" or "admins", got {config.auth.who_can_invite!r}')
    public_url = config.server.public_url
    if public_url and (not public_url.startswith(("http://", "https://"))
                       or "#" in public_url or "?" in public_url
                       or any(c.isspace() or not c.isprintable() for c in public_url)):
        bad("server.public_url", "empty, or the http:// or https:// address people open the "
            f"page at (no query or #), got {public_url!r}")
    if config.messages.edit_history not in EDIT_HISTORY_MODES:
        bad("messages.edit_history", '"everyone", "moderators" or "off", '
            f"got {config.messages.edit_history!r}")
    if config.user_groups.who_can_create not in {"everyone", "admins"}:
        bad("user_groups.who_can_create",
            f'"everyone" or "admins", got {config.user_groups.who_can_create!r}')


def _validate_files(config: Config, bad: Any) -> None:
    files = config.files
    if files.store not in {"local", "s3"}:
        bad("files.store", f'"local" or "s3", got {files.store!r}')
    if files.s3_endpoint and not files.s3_endpoint.startswith(("http://", "https://")):
        bad("files.s3_endpoint", "must be empty (AWS) or an http:// or https:// URL")
    if bool(files.s3_access_key) != bool(files.s3_secret_key):
        bad("files.s3_secret_key" if files.s3_access_key else "files.s3_access_key",
            "s3_access_key and s3_secret_key go together (or leave both empty for the "
            "AWS_* variables or an instance role)")
    if files.s3_prefix.startswith("/"):
        bad("files.s3_prefix", "must not start with / (keys are relative to the bucket)")
    if files.store == "s3":
        if not files.s3_bucket:
            bad("files.s3_bucket", 'needed with [files] store = "s3"')
        if importlib.util.find_spec("boto3") is None:
            bad("files.store", "\"s3\" needs boto3: pip install 'chatd[s3]' (or boto3)")


def _validate_push(config: Config, bad: Any) -> None:
    push = config.push
    subject = push.subject
    if not ((subject.startswith("mailto:") and len(subject) > len("mailto:"))
            or (subject.startswith("https://") and len(subject) > len("https://"))) \
            or any(c.isspace() or not c.isprintable() for c in subject):
        bad("push.subject", "a mailto: address or an https:// URL where the push services "
            f"can reach the server's operator, got {subject!r}")
    if not 0 <= push.ttl <= 28 * 86400:
        bad("push.ttl", f"seconds from 0 to 2419200 (28 days), got {push.ttl}")


def _validate_email(config: Config, bad: Any) -> None:
    email = config.email
    if email.security not in EMAIL_SECURITY:
        bad("email.security", f'"starttls", "tls" or "none", got {email.security!r}')
    if not 1 <= email.smtp_port <= 65535:
        bad("email.smtp_port", f"{email.smtp_port} is not a port number (1-65535)")
    if any(c.isspace() or c in "/@" for c in email.smtp_host):
        bad("email.smtp_host", f"a host name or address, got {email.smtp_host!r}")
    if bool(email.username) != bool(email.password):
        bad("email.password" if email.username else "email.username",
            "username and password go together (or leave both empty: no log-in)")
    if email.enabled:
        # checked here, so that a daemon never starts with mail it cannot send
        from chatd.mail import parse_sender
        try:
            parse_sender(email.sender)
        except ValueError as exc:
            bad("email.from", str(exc))


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration.

    Args:
        path: the TOML file. ``None`` means ``./chatd.toml`` if it exists, else the defaults.
        env: the environment to take ``CHATD_<SECTION>_<KEY>`` overrides from (default
            ``os.environ``); they win over the file. Any other ``CHATD_*`` variable is a
            mistake (a misspelt setting), except ``CHATD_TEST_*``, the test suite's.

    Raises:
        ConfigError: the file is missing (when named) or not TOML, or the file or the
            environment holds unknown keys or values of the wrong type; it lists them all.
    """
    env = os.environ if env is None else env
    raw: dict[str, Any] = {}
    file: Path | None = None
    if path is None:
        candidate = Path("chatd.toml")
        if candidate.is_file():
            file = candidate.resolve()
    else:
        file = Path(path).expanduser().resolve()
        if not file.is_file():
            raise ConfigError(f"{path}: no such config file")
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{file}: cannot be read: {exc.strerror}") from None
    problems: list[str] = []
    sections, sources = _build(raw, env, file, problems)
    config = Config(**sections, path=file, sources=sources)
    _validate(config, problems)
    if problems:
        raise ConfigError(*problems)
    return config

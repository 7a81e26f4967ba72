"""Configuration: ``chatd.toml`` plus ``CHATD_<SECTION>_<KEY>`` environment overrides.

The shipped ``chatd.toml`` documents every key; this module holds the same keys as typed
dataclasses with the same defaults, so that a missing file still gives a working daemon. A key
that is not known here, or a value of the wrong type, is an error that names the key: a typo in
a config file should stop the daemon, not be silently ignored.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["Config", "ConfigError", "load_config"]


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and the problem."""


@dataclasses.dataclass(frozen=True, slots=True)
class ServerConfig:
    data_dir: str = "./chatd-data"
    grace_period: float = 10.0
    log_level: str = "info"


@dataclasses.dataclass(frozen=True, slots=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    web_root: str = ""
    max_body_bytes: int = 65536
    max_header_bytes: int = 16384
    request_timeout: float = 30.0
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


@dataclasses.dataclass(frozen=True, slots=True)
class AuthConfig:
    token_ttl: int = 604800
    min_password_length: int = 8
    login_attempts_per_ip: int = 30
    login_failures_per_user: int = 10


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
    connections_per_ip: int = 64
    history_max: int = 500


@dataclasses.dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration. ``path`` is the file it was read from, if any."""

    server: ServerConfig = dataclasses.field(default_factory=ServerConfig)
    http: HttpConfig = dataclasses.field(default_factory=HttpConfig)
    tcp: TcpConfig = dataclasses.field(default_factory=TcpConfig)
    database: DatabaseConfig = dataclasses.field(default_factory=DatabaseConfig)
    auth: AuthConfig = dataclasses.field(default_factory=AuthConfig)
    limits: LimitsConfig = dataclasses.field(default_factory=LimitsConfig)
    path: Path | None = None

    @property
    def data_dir(self) -> Path:
        """``server.data_dir``, resolved against the config file's folder when relative."""
        data_dir = Path(self.server.data_dir).expanduser()
        if not data_dir.is_absolute():
            base = self.path.parent if self.path is not None else Path.cwd()
            data_dir = base / data_dir
        return data_dir.resolve()

    @property
    def web_root(self) -> Path:
        """The folder served at ``/``: ``http.web_root``, or the shipped ``clients/web``."""
        if self.http.web_root:
            root = Path(self.http.web_root).expanduser()
            if not root.is_absolute() and self.path is not None:
                root = self.path.parent / root
            return root.resolve()
        return (Path(__file__).resolve().parent.parent / "clients" / "web").resolve()

    def replace(self, **sections: Mapping[str, Any]) -> Config:
        """A copy with some keys changed, e.g. ``cfg.replace(http={"port": 0})``."""
        changed: dict[str, Any] = {}
        for name, values in sections.items():
            current = getattr(self, name)
            changed[name] = dataclasses.replace(current, **values)
        return dataclasses.replace(self, **changed)


_SECTIONS = {f.name: f for f in dataclasses.fields(Config) if f.name != "path"}


def _coerce(where: str, value: Any, default: Any, *, from_env: bool = False) -> Any:
    """Check a value against the type of its default; environment strings are converted."""
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
            raise ConfigError(f"{where}: expected {kind.__name__}, got {value!r}") from None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not kind:
        raise ConfigError(f"{where}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def _build(raw: Mapping[str, Any], env: Mapping[str, str], source: str) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}]")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
    for name, field in _SECTIONS.items():
        factory: Any = field.default_factory
        defaults = factory()
        known = {f.name: getattr(defaults, f.name) for f in dataclasses.fields(defaults)}
        values: dict[str, Any] = {}
        for key, value in raw.get(name, {}).items():
            if key not in known:
                raise ConfigError(f"{source}: unknown key {name}.{key}")
            values[key] = _coerce(f"{source}: {name}.{key}", value, known[key])
        for key, default in known.items():
            var = f"CHATD_{name.upper()}_{key.upper()}"
            if var in env:
                values[key] = _coerce(f"environment {var}", env[var], default, from_env=True)
        sections[name] = dataclasses.replace(defaults, **values)
    return sections


def _validate(config: Config) -> None:
    for where, port in (("http.port", config.http.port), ("tcp.port", config.tcp.port)):
        if not 0 <= port <= 65535:
            raise ConfigError(f"{where}: {port} is not a port number (0-65535; 0 picks a free one)")
    dsn = config.database.dsn
    if dsn and not dsn.startswith(("postgresql://", "postgres://")):
        raise ConfigError("database.dsn: must be empty or a postgresql:// DSN")
    positive = {
        "server.grace_period": config.server.grace_period,
        "http.max_body_bytes": config.http.max_body_bytes,
        "http.max_header_bytes": config.http.max_header_bytes,
        "http.request_timeout": config.http.request_timeout,
        "database.pool_size": config.database.pool_size,
        "database.max_batch": config.database.max_batch,
        "auth.token_ttl": config.auth.token_ttl,
        "auth.login_attempts_per_ip": config.auth.login_attempts_per_ip,
        "auth.login_failures_per_user": config.auth.login_failures_per_user,
        "limits.max_frame_bytes": config.limits.max_frame_bytes,
        "limits.max_text_chars": config.limits.max_text_chars,
        "limits.outbox_frames": config.limits.outbox_frames,
        "limits.idle_timeout": config.limits.idle_timeout,
        "limits.join_recent": config.limits.join_recent,
        "limits.resume_max": config.limits.resume_max,
        "limits.max_in_flight": config.limits.max_in_flight,
        "limits.send_rate": config.limits.send_rate,
        "limits.send_burst": config.limits.send_burst,
        "limits.connections_per_ip": config.limits.connections_per_ip,
        "limits.history_max": config.limits.history_max,
    }
    for where, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{where}: must be greater than 0, got {value}")
    if config.server.log_level.lower() not in {"debug", "info", "warning", "error"}:
        raise ConfigError("server.log_level: one of debug, info, warning, error")


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read the configuration.

    Args:
        path: the TOML file. ``None`` means ``./chatd.toml`` if it exists, else the defaults.
        env: the environment to take ``CHATD_<SECTION>_<KEY>`` overrides from (default
            ``os.environ``); they win over the file.

    Raises:
        ConfigError: the file is missing (when named), not TOML, or holds an unknown key or a
            value of the wrong type.
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
    source = str(file) if file else "defaults"
    if file is not None:
        try:
            raw = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    config = Config(**_build(raw, env, source), path=file)
    _validate(config)
    return config

"""Helpers shared by the tests (import them from ``tests.helpers``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chatd.config import Config

__all__ = ["make_config"]


def make_config(tmp_path: Path, dsn: str, **sections: Mapping[str, Any]) -> Config:
    """A config for one test: data under ``tmp_path/data``, database ``dsn``, both listeners
    on port 0 (a free port). ``sections`` change more keys, merged over those, as for
    :meth:`Config.replace`: ``make_config(tmp_path, dsn, limits={"history_max": 10})``."""
    changes: dict[str, dict[str, Any]] = {
        "server": {"data_dir": str(tmp_path / "data")},
        "database": {"dsn": dsn},
        "http": {"port": 0},
        "tcp": {"port": 0},
    }
    for name, values in sections.items():
        changes[name] = {**changes.get(name, {}), **values}
    return Config().replace(**changes)

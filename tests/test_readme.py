"""The README's promises: its commands are the ones CI runs, and the shipped config loads."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from chatd.config import Config, load_config

ROOT = Path(__file__).resolve().parent.parent


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text)[:2]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """The second README command appears verbatim as a line of .ci/run."""
    _, test_command = _readme_commands()
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_first_command_serves() -> None:
    """The first README command installs and runs `chatd serve`."""
    serve_command, _ = _readme_commands()
    assert "pip install" in serve_command and serve_command.endswith("chatd serve")


def test_shipped_config_loads_and_matches_the_defaults() -> None:
    """chatd.toml holds every key, with the same values as the built-in defaults."""
    shipped = load_config(ROOT / "chatd.toml", env={})
    defaults = Config()
    for field in dataclasses.fields(Config):
        if field.name not in {"path", "sources"}:
            assert getattr(shipped, field.name) == getattr(defaults, field.name), field.name
    text = (ROOT / "chatd.toml").read_text()
    for field in dataclasses.fields(Config):
        if field.name in {"path", "sources"}:
            continue
        for key in dataclasses.fields(getattr(defaults, field.name)):
            name = key.metadata.get("key", key.name)  # [email] from is the field sender
            assert re.search(rf"^{name} = ", text, re.M), f"{field.name}.{name}"

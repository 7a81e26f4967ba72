"""Configuration: file, environment overrides, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatd.config import ConfigError, load_config


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chatd.toml"
    path.write_text(text)
    return path


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    """CHATD_<SECTION>_<KEY> overrides the file, converted to the key's type."""
    path = _write(tmp_path, "[http]\nport = 9000\n[limits]\nidle_timeout = 5\n")
    config = load_config(path, env={"CHATD_HTTP_PORT": "9100", "CHATD_TCP_HOST": "0.0.0.0"})
    assert config.http.port == 9100 and config.tcp.host == "0.0.0.0"
    assert config.limits.idle_timeout == 5.0


def test_relative_data_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    """A relative data_dir resolves against the config file's folder, not the cwd."""
    path = _write(tmp_path, '[server]\ndata_dir = "state"\n')
    assert load_config(path, env={}).data_dir == (tmp_path / "state").resolve()


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[htp]\nport = 1\n", {}, "unknown section [htp]"),
        ("[http]\nprot = 1\n", {}, "unknown key http.prot"),
        ('[http]\nport = "80"\n', {}, "http.port: expected int"),
        ("[http]\nport = 70000\n", {}, "not a port number"),
        ("", {"CHATD_HTTP_PORT": "eighty"}, "CHATD_HTTP_PORT: expected int"),
        ('[database]\ndsn = "mysql://x"\n', {}, "database.dsn"),
        ("[limits]\noutbox_frames = 0\n", {}, "limits.outbox_frames: must be greater"),
        ("[http\n", {}, "not valid TOML"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, env: dict[str, str],
                            message: str) -> None:
    """Each mistake gives a ConfigError naming the key and what is wrong."""
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(_write(tmp_path, text), env=env)


def test_missing_named_file_is_an_error(tmp_path: Path) -> None:
    """A config file that was named but does not exist is an error, not the defaults."""
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml", env={})

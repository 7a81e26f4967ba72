"""Configuration: file, environment overrides, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatd.config import Config, ConfigError, load_config


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


def test_files_defaults_and_folder(tmp_path: Path) -> None:
    """[files] defaults to 25 MiB uploads and a 1 GiB quota, stored under data_dir/files."""
    config = load_config(_write(tmp_path, '[server]\ndata_dir = "state"\n'),
                         env={"CHATD_FILES_MAX_BYTES": "1000"})
    assert config.files.max_bytes == 1000
    assert config.files.quota_bytes == 1024 ** 3
    assert Config().files.max_bytes == 25 * 1024 ** 2
    assert config.files_dir == (tmp_path / "state" / "files").resolve()


def test_s3_settings(tmp_path: Path) -> None:
    """The S3 store's keys come from the file or CHATD_FILES_S3_*; the secret key is never in
    the config's repr, nor in the label that logs show."""
    path = _write(tmp_path, '[files]\nstore = "s3"\ns3_bucket = "team-files"\n'
                  's3_prefix = "chatd/"\n')
    config = load_config(path, env={"CHATD_FILES_S3_ENDPOINT": "https://s3.example.org",
                                    "CHATD_FILES_S3_ACCESS_KEY": "AKIAEXAMPLE",
                                    "CHATD_FILES_S3_SECRET_KEY": "very-secret"})
    assert config.files.s3_bucket == "team-files"
    assert config.files.s3_secret_key == "very-secret"
    assert config.files_label == ("the S3 bucket team-files (keys under 'chatd/') at "
                                  "https://s3.example.org")
    assert "very-secret" not in repr(config) + config.files_label
    assert Config().files.store == "local"
    assert Config().files_label == f"the folder {Config().files_dir}"


def test_relative_data_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    """A relative data_dir resolves against the config file's folder, not the cwd."""
    path = _write(tmp_path, '[server]\ndata_dir = "state"\n')
    assert load_config(path, env={}).data_dir == (tmp_path / "state").resolve()


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[htp]\nport = 1\n", {}, "[htp] in .*: unknown section; did you mean [http]?"),
        ("[http]\nprot = 1\n", {}, "[http] prot in .*: unknown key; did you mean [http] port?"),
        ('[http]\nport = "80"\n', {}, "[http] port in .*chatd.toml: expected int"),
        ("[http]\nport = 70000\n", {}, "[http] port in .*: 70000 is not a port number"),
        ("", {"CHATD_HTTP_PORT": "eighty"}, "CHATD_HTTP_PORT in the environment: expected int"),
        ("", {"CHATD_HTTP_PROT": "9000"},
         "CHATD_HTTP_PROT in the environment: not a chatd setting; did you mean CHATD_HTTP_PORT?"),
        ("", {"CHATD_SERVR_DATA_DIR": "/x"}, "did you mean CHATD_SERVER_DATA_DIR?"),
        ('[database]\ndsn = "mysql://x"\n', {}, "[database] dsn in .*: must be empty or a"),
        ("", {"CHATD_LIMITS_OUTBOX_FRAMES": "0"},
         "CHATD_LIMITS_OUTBOX_FRAMES in the environment: must be greater than 0"),
        ("", {"CHATD_DATABASE_COMMITS_IN_FLIGHT": "0"},
         "CHATD_DATABASE_COMMITS_IN_FLIGHT in the environment: must be greater than 0"),
        ("[http\n", {}, "not valid TOML"),
        ("[http]\nbody_idle_timeout = 0\n", {},
         "[http] body_idle_timeout in .*: must be greater than 0"),
        ("[files]\nmax_byte = 1\n", {},
         "[files] max_byte in .*: unknown key; did you mean [files] max_bytes?"),
        ("", {"CHATD_FILES_QUOTA_BYTES": "0"},
         "CHATD_FILES_QUOTA_BYTES in the environment: must be greater than 0"),
        ("", {"CHATD_FILES_MAXBYTES": "1"}, "did you mean CHATD_FILES_MAX_BYTES?"),
        ('[files]\nstore = "nfs"\n', {}, '[files] store in .*: "local" or "s3", got \'nfs\''),
        ('[files]\nstore = "s3"\n', {},
         'the default of [files] s3_bucket: needed with [files] store = "s3"'),
        ("", {"CHATD_FILES_STORE": "s3"}, "needed with [files] store = \"s3\""),
        ("", {"CHATD_FILES_S3_ENDPOINT": "minio:9000"},
         "CHATD_FILES_S3_ENDPOINT in the environment: must be empty (AWS) or an http://"),
        ("", {"CHATD_FILES_S3_ACCESS_KEY": "AKIA"},
         "the default of [files] s3_secret_key: s3_access_key and s3_secret_key go together"),
        ('[files]\ns3_prefix = "/chatd/"\n', {}, "[files] s3_prefix in .*: must not start"),
        ('[auth]\nregistration = "invites"\n', {},
         '[auth] registration in .*: "open", "invite" or "closed", got \'invites\''),
        ("", {"CHATD_AUTH_WHO_CAN_INVITE": "members"},
         'CHATD_AUTH_WHO_CAN_INVITE in the environment: "everyone" or "admins", got '
         "'members'"),
        ('[messages]\nedit_history = "admins"\n', {},
         '[messages] edit_history in .*: "everyone", "moderators" or "off", got \'admins\''),
        ("", {"CHATD_MESSAGES_EDIT_HISTORY": "nobody"},
         "CHATD_MESSAGES_EDIT_HISTORY in the environment: \"everyone\", \"moderators\" or "),
        ('[server]\npublic_url = "chat.example.org"\n', {},
         "[server] public_url in .*: empty, or the http:// or https:// address"),
        ('[server]\npublic_url = "https://chat.example.org/#x"\n', {},
         "[server] public_url in .*: empty, or the http:// or https:// address"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, env: dict[str, str],
                            message: str) -> None:
    """Each mistake gives a ConfigError naming the key and what is wrong."""
    pattern = re.escape(message).replace(re.escape(".*"), ".*")
    with pytest.raises(ConfigError, match=pattern):
        load_config(_write(tmp_path, text), env=env)


def test_every_mistake_is_named_at_once(tmp_path: Path) -> None:
    """All mistakes of the file and the environment come in one error, one line each."""
    path = _write(tmp_path, '[http]\nprot = 1\nport = "x"\n[tcp]\nport = -1\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={"CHATD_TCP_HOTS": "0.0.0.0", "CHATD_TEST_DSN": "ignored"})
    problems = caught.value.problems
    assert len(problems) == 4, problems
    assert str(caught.value).splitlines() == problems
    assert any("did you mean CHATD_TCP_HOST?" in p for p in problems)
    assert not any("CHATD_TEST_DSN" in p for p in problems)


def test_sources_name_the_file_key_or_the_variable(tmp_path: Path) -> None:
    """Each value knows where it came from: a file key, a variable, or the default."""
    path = _write(tmp_path, "[http]\nport = 9000\nhost = \"::1\"\n")
    config = load_config(path, env={"CHATD_HTTP_HOST": "0.0.0.0"})
    assert config.source("http.port") == f"[http] port in {path.resolve()}"
    assert config.source("http.host") == "CHATD_HTTP_HOST in the environment"
    assert config.source("tcp.port") == "the default of [tcp] port"
    changed = config.replace(tcp={"port": 0})
    assert changed.source("tcp.port") == "[tcp] port as set by the program"


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://chatd:s3cret@db:5432/chatd", "postgresql://chatd:***@db:5432/chatd"),
        ("postgresql://chatd@/chatd?host=/run/postgresql",
         "postgresql://chatd@/chatd?host=/run/postgresql"),
        ("postgresql://db/chatd?user=chatd&password=s3cret",
         "postgresql://db/chatd?user=chatd&password=***"),
        ("postgresql://ch%40td:p%40ss@db/chatd", "postgresql://ch%40td:***@db/chatd"),
    ],
)
def test_database_label_masks_the_password(dsn: str, shown: str) -> None:
    """The database is named in logs and messages without its password."""
    config = Config().replace(database={"dsn": dsn})
    assert config.database_label == f"PostgreSQL at {shown}"
    assert "s3cret" not in config.database_label and "p%40ss" not in config.database_label


def test_default_web_root_holds_the_page() -> None:
    """With no [http] web_root, the page shipped with chatd is served: it has index.html."""
    assert (Config().web_root / "index.html").is_file()


def test_missing_named_file_is_an_error(tmp_path: Path) -> None:
    """A config file that was named but does not exist is an error, not the defaults."""
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.toml", env={})


def test_who_can_sign_up_defaults_and_settings(tmp_path: Path) -> None:
    """Registration is open and only administrators invite by default (existing installs
    keep working); the file and the environment set the keys of "who can sign up"."""
    default = load_config(_write(tmp_path, ""), env={})
    assert (default.auth.registration, default.auth.who_can_invite) == ("open", "admins")
    assert (default.server.public_url, default.server.name) == ("", "")
    text = ('[auth]\nregistration = "invite"\n[server]\npublic_url = '
            '"https://chat.example.org"\nname = "Example"\n')
    config = load_config(_write(tmp_path, text), env={"CHATD_AUTH_WHO_CAN_INVITE": "everyone"})
    assert (config.auth.registration, config.auth.who_can_invite) == ("invite", "everyone")
    assert (config.server.public_url, config.server.name) == ("https://chat.example.org",
                                                              "Example")


def test_edit_history_defaults_and_settings(tmp_path: Path) -> None:
    """Everyone who may read a room reads its messages' edit histories by default (as before
    the key); the file and the environment set ``[messages] edit_history``."""
    assert load_config(_write(tmp_path, ""), env={}).messages.edit_history == "everyone"
    text = '[messages]\nedit_history = "moderators"\n'
    assert load_config(_write(tmp_path, text), env={}).messages.edit_history == "moderators"
    off = load_config(_write(tmp_path, text), env={"CHATD_MESSAGES_EDIT_HISTORY": "off"})
    assert off.messages.edit_history == "off"

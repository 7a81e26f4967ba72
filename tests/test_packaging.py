"""The package as an operator installs it: a wheel (a non-editable `pip install .`) carries
the web page and the migrations, and a chatd installed from it serves the page.

The wheel is built offline (`--no-build-isolation`, with the setuptools of this venv) and
installed into a fresh venv under tmp_path; that venv reaches the dependencies through a
``.pth`` line naming this venv's site-packages, so nothing is downloaded, and the chatd it runs
is the one from the wheel (this venv's editable chatd is not on its path).
"""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import sysconfig
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tests.helpers import read_until_listening

ROOT = Path(__file__).resolve().parent.parent

# What a build needs from the source tree (README.md: the long description).
_SOURCES = ["chatd", "clients/web", "setup.cfg", "pyproject.toml", "README.md"]


def _listed_packages() -> set[str]:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "setup.cfg")
    return set(parser["options"]["packages"].split())


def test_setup_cfg_lists_every_package() -> None:
    """Every folder of chatd/ with an __init__.py is listed in setup.cfg, plus chatd.web."""
    found = {".".join(init.parent.relative_to(ROOT).parts)
             for init in (ROOT / "chatd").rglob("__init__.py")}
    assert _listed_packages() == found | {"chatd.web"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a copy of this checkout (so no build/ folder lands in it)."""
    source = tmp_path_factory.mktemp("source")
    for name in _SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--disable-pip-version-check", "--wheel-dir", str(dist), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (found,) = dist.glob("chatd-*.whl")
    return found


def test_wheel_carries_the_page_and_the_migrations(wheel: Path) -> None:
    """Every file of clients/web is in the wheel under chatd/web/, and every module and
    migration of chatd/ is in it too."""
    names = set(zipfile.ZipFile(wheel).namelist())
    page = {f"chatd/web/{p.relative_to(ROOT / 'clients' / 'web').as_posix()}"
            for p in (ROOT / "clients" / "web").rglob("*") if p.is_file()}
    assert "chatd/web/index.html" in page
    assert page <= names, page - names
    code = {p.relative_to(ROOT).as_posix() for p in (ROOT / "chatd").rglob("*")
            if p.suffix in {".py", ".sql"}}
    assert code <= names, code - names


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the wheel installed; its bin/ folder."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
         "--no-deps", "--no-index", "--disable-pip-version-check", str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert pip.returncode == 0, pip.stderr
    purelib = subprocess.run([str(python), "-c", "import sysconfig; "
                              "print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # The dependencies, from this venv: a plain path line (this venv's own .pth files, the
    # editable chatd's among them, are not processed from there).
    Path(purelib, "_chatd_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"])
    yield venv / "bin"


def _env(tmp_path: Path, dsn: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATD_")}
    env.update({"CHATD_SERVER_DATA_DIR": str(tmp_path / "data"), "CHATD_HTTP_PORT": "0",
                "CHATD_TCP_PORT": "0", "CHATD_DATABASE_DSN": dsn})
    return env


def test_installed_chatd_uses_its_packaged_page(installed: Path, tmp_path: Path) -> None:
    """The installed chatd imports itself from the venv and its web root is package data."""
    where = subprocess.run(
        [str(installed / "python"), "-c",
         "import chatd, chatd.config; print(chatd.__file__); "
         "print(chatd.config.Config().web_root)"],
        capture_output=True, text=True, check=True, cwd=tmp_path).stdout.split()
    venv = installed.parent
    assert Path(where[0]).is_relative_to(venv) and Path(where[1]).is_relative_to(venv), where
    assert (Path(where[1]) / "index.html").is_file()


async def test_installed_chatd_serves_the_page(installed: Path, tmp_path: Path,
                                               database_dsn: str) -> None:
    """`chatd serve` from the wheel answers GET / with the page (it gave 404 when the page
    was looked for next to the package, in a checkout's clients/web)."""
    proc = await trio.lowlevel.open_process(
        [str(installed / "chatd"), "serve"], cwd=tmp_path, env=_env(tmp_path, database_dsn),
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    try:
        with trio.fail_after(60):
            _, http_port, _ = await read_until_listening(proc)
        url = f"http://127.0.0.1:{http_port}/"
        with trio.fail_after(30):
            body = await trio.to_thread.run_sync(lambda: urllib.request.urlopen(url).read())
        assert b"<!doctype html>" in body.lower()
    finally:
        proc.terminate()
        with trio.fail_after(30):
            await proc.wait()

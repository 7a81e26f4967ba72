"""The terminal client is a client: of chatd it imports only the protocol package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = ("chatd", "chatd.client", "chatd.protocol")

PROGRAM = """
import json, sys
import {module}
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] == "chatd")))
"""


def _chatd_modules(module: str) -> list[str]:
    """The chatd modules a fresh interpreter has loaded after importing ``module``."""
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM.format(module=module)], cwd=ROOT, capture_output=True,
        text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    modules: list[str] = json.loads(result.stdout)
    return modules


def _outside(modules: list[str]) -> list[str]:
    return [m for m in modules
            if m != "chatd" and not m.startswith(("chatd.client.", "chatd.protocol."))
            and m not in ALLOWED]


def test_the_client_imports_no_server_module() -> None:
    """``import chatd.client`` (every module of it) loads chatd.protocol and nothing else of
    chatd: no config, storage, server or auth."""
    modules = _chatd_modules("chatd.client, chatd.client.commands, chatd.client.main")
    assert "chatd.protocol.client" in modules
    assert _outside(modules) == []


def test_the_check_would_see_a_server_module() -> None:
    """The check does notice a server module (so an empty answer means something)."""
    assert "chatd.config" in _outside(_chatd_modules("chatd.client, chatd.config"))

"""chatd.protocol and chatd.delivery are sans-IO: importing them loads no I/O, database or web
library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ["trio", "asyncpg", "h11", "wsproto", "trio_websocket", "jwt", "argon2"]

PROGRAM = """
import json, sys
import chatd.protocol
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in FORBIDDEN)))
"""


def test_protocol_imports_only_the_standard_library() -> None:
    """Importing chatd.protocol in a fresh interpreter loads none of the I/O libraries."""
    program = f"FORBIDDEN = {FORBIDDEN!r}\n{PROGRAM}"
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_check_would_see_a_forbidden_import() -> None:
    """The subprocess check does notice a forbidden module (so an empty answer means something)."""
    program = f"FORBIDDEN = {FORBIDDEN!r}\nimport h11\n{PROGRAM}"
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "h11" in json.loads(result.stdout)


def test_the_delivery_order_imports_only_the_standard_library() -> None:
    """chatd.delivery (the writer's ordering rules) is sans-IO too: importing it in a fresh
    interpreter loads no trio, no database and no web library."""
    program = f"FORBIDDEN = {FORBIDDEN!r}\n" + PROGRAM.replace(
        "import chatd.protocol", "import chatd.delivery"
    )
    assert "import chatd.delivery" in program
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []

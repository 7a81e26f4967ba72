"""The browser tests write screenshots to tests/artifacts/ only: none names docs/screenshots/
as a place to write (their session checks the folder too, tests/browser/conftest.py), and
``python -m tests.browser.refresh_screenshots`` is the one way the docs' copies change."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.browser.refresh_screenshots import refresh

BROWSER = Path(__file__).resolve().parent / "browser"


def _screenshot_paths(source: str) -> list[str]:
    """The string constants of a module (its docstrings aside) that name docs/screenshots:
    the folder built by parts (``ROOT / "docs" / "screenshots"``) or in one string."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef
                                | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings
            and (node.value == "screenshots" or "docs/screenshots" in node.value)]


def test_no_browser_test_names_docs_screenshots() -> None:
    modules = sorted(BROWSER.glob("test_*.py"))
    assert modules, BROWSER
    named = {path.name: found for path in modules
             if (found := _screenshot_paths(path.read_text(encoding="utf-8")))}
    assert named == {}


def test_the_check_sees_a_path_built_by_parts() -> None:
    source = 'X = ROOT / "docs" / "screenshots"\nY = "docs/screenshots/a.png"\n' \
             'def f():\n    """Writes docs/screenshots/a.png, it says."""\n'
    assert sorted(_screenshot_paths(source)) == ["docs/screenshots/a.png", "screenshots"]


def test_refresh_copies_the_same_names(tmp_path: Path) -> None:
    """Without names: each picture of the docs that has a screenshot of its name; with
    names: those (a new one too); a name with no screenshot is refused."""
    artifacts, docs = tmp_path / "artifacts", tmp_path / "docs"
    artifacts.mkdir()
    docs.mkdir()
    (artifacts / "desktop-a.png").write_bytes(b"new a")
    (artifacts / "desktop-new.png").write_bytes(b"new")
    (docs / "desktop-a.png").write_bytes(b"old a")
    (docs / "desktop-b.png").write_bytes(b"old b")
    assert refresh([], artifacts, docs) == (["desktop-a"], ["desktop-b"])
    assert (docs / "desktop-a.png").read_bytes() == b"new a"
    assert not (docs / "desktop-new.png").exists()
    assert refresh(["desktop-new.png"], artifacts, docs) == (["desktop-new"], [])
    assert (docs / "desktop-new.png").read_bytes() == b"new"
    try:
        refresh(["desktop-b"], artifacts, docs)
    except FileNotFoundError:
        pass
    else:
        raise AssertionError("a name without a screenshot copied nothing silently")

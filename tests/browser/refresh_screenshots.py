"""Refresh docs/screenshots/ from the browser tests' latest screenshots in tests/artifacts/.

The browser tests never write to docs/screenshots/ (tests/browser/conftest.py checks it):
every screenshot goes to tests/artifacts/, which git ignores. To update the pictures the
docs show, run the browser tests, look at their screenshots, then::

    python -m tests.browser.refresh_screenshots            # every docs picture with a
                                                           # screenshot of the same name
    python -m tests.browser.refresh_screenshots NAME ...   # these (new ones too), by name,
                                                           # with or without ".png"

and commit what changed. Pictures of docs/screenshots/ with no screenshot of that name are
listed and left alone (some were taken by hand, or under another name).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"


def refresh(names: list[str], artifacts: Path = ARTIFACTS, screenshots: Path = SCREENSHOTS
            ) -> tuple[list[str], list[str]]:
    """Copy ``artifacts/<name>.png`` over ``screenshots/<name>.png`` for each of ``names``
    (all the pictures ``screenshots`` holds when empty). Returns the names copied and those
    without a screenshot.

    Raises:
        FileNotFoundError: a name given is no screenshot in ``artifacts``.
    """
    wanted = [name.removesuffix(".png") for name in names]
    if not wanted:
        wanted = sorted(path.stem for path in screenshots.glob("*.png"))
    else:
        missing = [name for name in wanted if not (artifacts / f"{name}.png").is_file()]
        if missing:
            raise FileNotFoundError(f"no screenshot in {artifacts}: {missing}")
    copied, left = [], []
    for name in wanted:
        source = artifacts / f"{name}.png"
        if source.is_file():
            screenshots.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, screenshots / f"{name}.png")
            copied.append(name)
        else:
            left.append(name)
    return copied, left


def main(argv: list[str]) -> int:
    try:
        copied, left = refresh(argv)
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    for name in copied:
        print(f"refreshed docs/screenshots/{name}.png")
    if left:
        print(f"no screenshot of these in tests/artifacts/, left as they are: {', '.join(left)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Summarise a py-spy raw profile (``py-spy record --format raw``, as ``run --profile``
writes them): the functions with the most samples of their own, and the ones whose subtree
holds the most (inclusive), each as a share of all samples.

Each line of a raw profile is one stack, frames separated by ``;`` from the outermost in,
then a space and the number of samples it was seen in.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

__all__ = ["summary"]

# "function (path/to/file.py:123)": the line number differs between samples of one function
_LINE = re.compile(r":\d+\)$")


def _frame(raw: str) -> str:
    name = _LINE.sub(")", raw.strip())
    # keep the path short: site-packages/trio/_core/_run.py -> trio/_core/_run.py
    for marker in ("site-packages/", "/lib/python3"):
        at = name.find(marker)
        if at >= 0:
            head = name[: name.rfind("(", 0, at) + 1]
            name = head + name[at + len(marker):].lstrip("/0123456789.")
    return name


def summary(path: Path, *, top: int = 25) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    if total == 0:
        return f"{path}: no samples"
    out = [f"{path}: {total} samples", "", "own share  function"]
    out += [f"{100 * n / total:8.1f}%  {name}" for name, n in own.most_common(top)]
    out += ["", "inclusive  function"]
    out += [f"{100 * n / total:8.1f}%  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(out)

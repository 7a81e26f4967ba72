"""Percentiles and the merging of worker reports."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from typing import Any

__all__ = ["latency_summary", "merge_latencies", "percentile"]


def merge_latencies(reports: Iterable[dict[str, Any]], key: str = "latencies_ms") -> list[float]:
    """Every worker's latencies (sent as packed doubles), sorted."""
    values = array("d")
    for report in reports:
        data = report.get(key, b"")
        if isinstance(data, bytes | bytearray):
            values.frombytes(data)
        else:  # from the Node load generator: a list of numbers
            values.extend(float(v) for v in data)
    return sorted(values)


def percentile(ordered: list[float], q: float) -> float:
    """The q-th percentile (0-100) of sorted values, nearest rank; NaN when empty."""
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(ordered: list[float]) -> dict[str, float | int | None]:
    """p50, p99, p99.9 and max of sorted latencies (ms), rounded; None where there are none."""
    def r(value: float) -> float | None:
        return None if math.isnan(value) else round(value, 2)

    return {
        "samples": len(ordered),
        "p50_ms": r(percentile(ordered, 50)),
        "p99_ms": r(percentile(ordered, 99)),
        "p99_9_ms": r(percentile(ordered, 99.9)),
        "max_ms": r(ordered[-1]) if ordered else None,
    }

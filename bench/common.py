"""Measurement helpers shared by the benchmarks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

NS_PER = {"us": 1_000.0, "ms": 1_000_000.0}


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0.0 when empty)."""
    if not ordered:
        return 0.0
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
    return float(ordered[rank - 1])


def summary(samples_ns: Sequence[int], unit: str = "us") -> dict[str, Any]:
    """p50/p90/p99/p99.9/max/mean of nanosecond samples, in ``unit`` (us or ms)."""
    scale = NS_PER[unit]
    ordered = sorted(samples_ns)
    n = len(ordered)
    return {
        "n": n,
        f"p50_{unit}": percentile(ordered, 50) / scale,
        f"p90_{unit}": percentile(ordered, 90) / scale,
        f"p99_{unit}": percentile(ordered, 99) / scale,
        f"p999_{unit}": percentile(ordered, 99.9) / scale,
        f"max_{unit}": (ordered[-1] / scale) if n else 0.0,
        f"mean_{unit}": (sum(ordered) / n / scale) if n else 0.0,
    }


def timed(fn: Callable[[], Any]) -> tuple[int, Any]:
    """(nanoseconds, result) of one call."""
    start = time.perf_counter_ns()
    result = fn()
    return time.perf_counter_ns() - start, result

"""Measurement helpers shared by the benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from claude_tui.core.stats import percentile

NS_PER = {"us": 1_000.0, "ms": 1_000_000.0}


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


def render_table(headers: dict[str, str], rows: list[dict[str, Any]], groups: list[Any]) -> str:
    """Aligned columns under a header and a rule; a blank line where ``groups`` changes.

    ``rows`` hold the cells by column key, already formatted as text.
    """
    cols = list(headers)
    cells = [[str(row[c]) for c in cols] for row in rows]
    widths = [max(len(headers[c]), *(len(line[i]) for line in cells)) for i, c in enumerate(cols)]
    out = ["  ".join(headers[c].ljust(w) for c, w in zip(cols, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    for i, line in enumerate(cells):
        if i and groups[i] != groups[i - 1]:
            out.append("")
        out.append("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(out)

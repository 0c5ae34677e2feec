"""In-process counters and latency samples for each cache tier and operation."""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Sequence
from typing import Any

TIERS = ("l1", "l2", "sqlite")


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; 0.0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered))))
    return float(ordered[rank - 1])


class Stats:
    """Hit counts per tier and the last N latency samples per operation."""

    def __init__(self, keep: int = 10_000) -> None:
        self._lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.misses: Counter[str] = Counter()
        self._latency: dict[str, deque[float]] = {}
        self._keep = keep
        # What was already added to the data dir's shared counters (see unflushed).
        self._flushed_hits: Counter[str] = Counter()
        self._flushed_misses: Counter[str] = Counter()

    def hit(self, tier: str) -> None:
        """Count a read served by ``tier``; the tiers above it missed."""
        with self._lock:
            self.hits[tier] += 1
            for upper in TIERS[: TIERS.index(tier)]:
                self.misses[upper] += 1

    def miss_all(self) -> None:
        """Count a read that no tier could serve (the key does not exist)."""
        with self._lock:
            for tier in TIERS:
                self.misses[tier] += 1

    def timing(self, op: str, seconds: float) -> None:
        """Record one latency sample for ``op`` (e.g. ``get``, ``put``)."""
        with self._lock:
            samples = self._latency.get(op)
            if samples is None:
                samples = self._latency[op] = deque(maxlen=self._keep)
            samples.append(seconds)

    def unflushed(self) -> dict[str, dict[str, int]]:
        """``{tier: {"hits": n, "misses": n}}`` counted since the last :meth:`mark_flushed`."""
        with self._lock:
            return {
                tier: {
                    "hits": self.hits[tier] - self._flushed_hits[tier],
                    "misses": self.misses[tier] - self._flushed_misses[tier],
                }
                for tier in TIERS
                if self.hits[tier] != self._flushed_hits[tier]
                or self.misses[tier] != self._flushed_misses[tier]
            }

    def mark_flushed(self, delta: dict[str, dict[str, int]]) -> None:
        """Note that ``delta`` (from :meth:`unflushed`) is in the shared counters now."""
        with self._lock:
            for tier, pair in delta.items():
                self._flushed_hits[tier] += pair.get("hits", 0)
                self._flushed_misses[tier] += pair.get("misses", 0)

    def snapshot(self) -> dict[str, Any]:
        """Hit rates per tier and p50/p99 latency (ms) per op, JSON-ready."""
        with self._lock:
            tiers = {}
            for tier in TIERS:
                hits, misses = self.hits[tier], self.misses[tier]
                total = hits + misses
                tiers[tier] = {
                    "hits": hits,
                    "misses": misses,
                    "hit_rate": hits / total if total else 0.0,
                }
            ops = {}
            for op, samples in self._latency.items():
                data = list(samples)
                ops[op] = {
                    "count": len(data),
                    "p50_ms": percentile(data, 50) * 1000,
                    "p99_ms": percentile(data, 99) * 1000,
                }
            return {"tiers": tiers, "ops": ops}

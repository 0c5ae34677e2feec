"""Metric samples: recorded in SQLite, the last 24 hours of each series kept in L1."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from claude_tui.core.errors import BadInput
from claude_tui.core.models import Metric
from claude_tui.core.records import metrics as metric_door
from claude_tui.core.services.runtime import Runtime
from claude_tui.core.validation import check_text, decode_json

_COLS = "id, session_id, agent_id, metric_type, value, timestamp, metadata"


class MetricService:
    """Record and query metric samples."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def record(
        self,
        metric_type: str,
        value: float,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Metric:
        """Store one sample and return it."""
        check_text(metric_type, "metric type", max_len=200)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise BadInput(f"metric value must be a finite number, not {value!r}")
        now = self.rt.clock()
        row = metric_door.protect(
            self.rt.guard,
            {"session_id": session_id, "agent_id": agent_id, "metric_type": metric_type,
             "value": float(value), "timestamp": now, "metadata": json.dumps(metadata or {})},
        )  # fmt: skip
        metric_id = self.rt.write(lambda conn: metric_door.insert(conn, row))
        metadata = decode_json(row.values["metadata"], {})
        metric = Metric(
            metric_id, session_id, agent_id, metric_type, float(value), now, metadata or {}
        )
        self.rt.l1.put("metric", f"metric\x1f{metric_type}\x1f{session_id}", metric, now)
        return metric

    def flush_counters(self) -> bool:
        """Add this process's cache hits and misses since the last flush to the data dir's.

        Returns whether there was anything to add. Raises ``OSError`` when the
        counters file cannot be written (callers log it: the counts are advisory).
        """
        delta = self.rt.stats.unflushed()
        if not delta:
            return False
        day = dt.datetime.fromtimestamp(self.rt.clock()).date().isoformat()
        metric_door.add_counters(self.counters_path, day, delta)
        self.rt.stats.mark_flushed(delta)
        return True

    @property
    def counters_path(self) -> Path:
        """The data dir's shared cache counters file."""
        return self.rt.config.data_dir / metric_door.COUNTERS_FILE

    def latest(self, metric_type: str, session_id: str | None = None) -> Metric | None:
        """The newest sample of a series from the last 24 hours (L1 first)."""
        now = self.rt.clock()
        cached = self.rt.l1.get(f"metric\x1f{metric_type}\x1f{session_id}", now)
        if isinstance(cached, Metric):
            return cached
        window = self.rt.config.cache.metrics_window_seconds
        rows = self.series(metric_type, since=now - window, session_id=session_id, limit=1)
        return rows[-1] if rows else None

    def series(
        self,
        metric_type: str,
        *,
        since: float | None = None,
        session_id: str | None = None,
        limit: int = 10_000,
    ) -> list[Metric]:
        """Samples of one type, oldest first (the newest ``limit`` of them)."""
        where: list[str] = ["metric_type = ?"]
        params: list[Any] = [metric_type]
        if since is not None:
            where.append("timestamp >= ?")
            params.append(since)
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)
        rows = self.rt.store.rows(
            f"SELECT {_COLS} FROM metrics WHERE {' AND '.join(where)} "
            "ORDER BY timestamp DESC, id DESC LIMIT ?",
            (*params, limit),
        )
        return [
            Metric(r[0], r[1], r[2], r[3], r[4], r[5], decode_json(r[6], {}))
            for r in reversed(rows)
        ]

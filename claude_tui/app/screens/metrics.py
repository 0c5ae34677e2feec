"""Metrics: cache hit rate per tier, latency over time, storage per session."""

from __future__ import annotations

from collections import deque
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.widgets import DataTable, Footer, Label, Sparkline, Static

from claude_tui.app.formatting import cell, size
from claude_tui.app.screens.base import ModeScreen
from claude_tui.app.widgets.status_bar import StatusBar

HISTORY = 60


class MetricsScreen(ModeScreen):
    """What this app's coordinator measured, sampled every two seconds."""

    MODE = "metrics"

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, deque[float]] = {
            name: deque([0.0], maxlen=HISTORY)
            for name in ("get_p50", "get_p99", "put_p99", "reads", "tokens")
        }

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status-bar")
        with Grid(id="metrics-grid"):
            with Vertical(classes="panel"):
                yield Label("Cache hit rate per tier (this process)", classes="panel-title")
                yield Static("", id="hit-rates")
            with Vertical(classes="panel"):
                yield Label("Read latency p50 / p99 (ms)", classes="panel-title")
                yield Sparkline([0.0], id="spark-get-p50")
                yield Sparkline([0.0], id="spark-get-p99")
                yield Static("", id="latency")
            with Vertical(classes="panel"):
                yield Label("Reads per sample · write p99 (ms)", classes="panel-title")
                yield Sparkline([0.0], id="spark-reads")
                yield Sparkline([0.0], id="spark-put-p99")
                yield Static("", id="counts")
            with Vertical(classes="panel"):
                yield Label("Storage per session", classes="panel-title")
                yield DataTable(id="storage", cursor_type="none")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#storage", DataTable).add_columns("Session", "Entries", "Values")
        self.set_interval(2.0, self.reload)
        self._last_reads = 0

    def reload(self) -> None:
        self.sample()

    @work(thread=True, exclusive=True, group="metrics", exit_on_error=False)
    def sample(self) -> None:
        c = self.coordinator
        stats = c.rt.stats.snapshot()
        storage = c.memory.stats_by_session()
        self.app.call_from_thread(self.show, stats, storage)

    def show(self, stats: dict[str, Any], storage: dict[str | None, tuple[int, int]]) -> None:
        tiers = stats["tiers"]
        self.query_one("#hit-rates", Static).update(
            "\n".join(
                f"{tier.upper():6} {info['hit_rate']:6.1%}  "
                f"({info['hits']} hits, {info['misses']} misses)"
                for tier, info in tiers.items()
            )
        )
        get = stats["ops"].get("get", {"p50_ms": 0.0, "p99_ms": 0.0, "count": 0})
        put = stats["ops"].get("put", {"p50_ms": 0.0, "p99_ms": 0.0, "count": 0})
        reads = sum(info["hits"] for info in tiers.values())
        self.history["get_p50"].append(get["p50_ms"])
        self.history["get_p99"].append(get["p99_ms"])
        self.history["put_p99"].append(put["p99_ms"])
        self.history["reads"].append(float(reads - self._last_reads))
        self._last_reads = reads
        for name in ("get_p50", "get_p99", "reads", "put_p99"):
            self.query_one(f"#spark-{name.replace('_', '-')}", Sparkline).data = list(
                self.history[name]
            )
        self.query_one("#latency", Static).update(
            f"get p50 {get['p50_ms']:.3f} ms · p99 {get['p99_ms']:.3f} ms · {get['count']} samples"
        )
        self.query_one("#counts", Static).update(
            f"reads {reads} · writes {put['count']} · put p99 {put['p99_ms']:.3f} ms"
        )
        table = self.query_one("#storage", DataTable)
        table.clear()
        for session, (count, nbytes) in sorted(storage.items(), key=lambda kv: -kv[1][1]):
            table.add_row(*map(cell, (session or "(shared)", f"{count:,}", size(nbytes))))

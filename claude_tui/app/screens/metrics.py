"""Metrics: tokens, cost, tool calls, memory growth, storage, backups and cache hit rates.

The figures come from ``claude_tui.core.metrics`` (cheap queries, no Textual);
this screen only draws them, as plots with labelled axes and units. What runs
while the screen shows:

- on open and on every change of the data: the queries over the metrics
  table (tokens, cost, tool calls: an index range) and, when memory or
  patterns changed (at most every ``SLOW_SECONDS``), memory's figures (growth
  by day and storage per session: sums triggers keep, schema migration 14;
  patterns per day: range counts on the creation-time index);
- every ``REFRESH_SECONDS``: the cache counters of every process (a small file)
  and the backup manifest, neither of which is in the change feed.

Hidden (another mode, or a dialog on top), nothing runs: the timer is paused
on ``ScreenSuspend`` and resumed, with a reload, on ``ScreenResume``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Grid, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Label, Static
from textual.worker import Worker, WorkerState

from claude_tui.app.formatting import esc, size, when
from claude_tui.app.messages import DataChanged
from claude_tui.app.screens.base import ModeScreen
from claude_tui.app.widgets.footer import AppFooter
from claude_tui.app.widgets.status_bar import StatusBar
from claude_tui.core import metrics as core_metrics
from claude_tui.core.errors import ClaudeTUIError

if TYPE_CHECKING:
    from textual_plotext import PlotextPlot

DAYS = 14
TOP_SESSIONS = 6  # bars a 13-row plot shows each with its label
REFRESH_SECONDS = 2.0
# Memory's figures are read at most this often: cheap now (rows the triggers keep),
# but a burst of writes is still one read, not one per write.
SLOW_SECONDS = 60.0
SLOW_TABLES = frozenset({"memory_entries", "neural_patterns"})
PLOTS = ("tokens-day", "cost-day", "tokens-session", "tools-day", "growth", "storage", "cache")


@dataclass
class UsageFigures:
    """What the metrics table says: tokens, cost and tool calls."""

    days: list[str]
    by_day: list[core_metrics.DayUsage]
    sessions: list[core_metrics.SessionUsage]
    tools: list[core_metrics.DayTools]


@dataclass
class MemoryFigures:
    """What memory's sums say: growth by day and storage per session."""

    growth: list[core_metrics.DayGrowth]
    storage: list[tuple[str | None, int, int]]


@dataclass
class LiveFigures:
    """What the timer reads: every process's cache counters and the backups' health."""

    cache: core_metrics.CacheRates
    backups: core_metrics.BackupHealth


class MetricsLoaded(Message, bubble=False):
    """A worker read some figures; the handler draws them (workers never touch widgets)."""

    def __init__(
        self,
        usage: UsageFigures | None = None,
        memory: MemoryFigures | None = None,
        live: LiveFigures | None = None,
    ) -> None:
        super().__init__()
        self.usage, self.memory, self.live = usage, memory, live


def scale(peak: float, steps: Sequence[tuple[float, str]]) -> tuple[float, str]:
    """The largest (divisor, unit) of ``steps`` not above ``peak`` (the first one if none)."""
    chosen = steps[0]
    for step in steps:
        if peak >= step[0]:
            chosen = step
    return chosen


TOKEN_UNITS = ((1.0, "tokens"), (1e3, "k tokens"), (1e6, "M tokens"), (1e9, "G tokens"))
BYTE_UNITS = ((1.0, "bytes"), (1024.0, "KiB"), (1024.0**2, "MiB"), (1024.0**3, "GiB"))


def short_day(day: str) -> str:
    """``11-20`` for ``2026-11-20``: the axis is narrow; the title says the year."""
    return day[5:]


class MetricsScreen(ModeScreen):
    """Plots of what Claude Code and this app did, per day and per session."""

    MODE = "metrics"

    def __init__(self) -> None:
        super().__init__()
        self._timer: Timer | None = None
        self._memory_dirty = True  # memory's figures are due (first open, memory changed)
        self._memory_at = float("-inf")
        self._drawn: set[str] = set()  # which figures have reached the plots

    def compose(self) -> ComposeResult:
        # Imported here, not at the top: plotext costs ~20 ms, paid when the screen
        # is first shown rather than by every launch.
        from textual_plotext import PlotextPlot

        yield StatusBar(id="status-bar")
        yield Static("Reading the metrics…", id="metrics-scope", classes="scope")
        # Hidden until the first figures are drawn: plots drawn empty and then again
        # with the data cost the first open a second pass over every plot.
        scroll = VerticalScroll(id="metrics-scroll")
        scroll.display = False
        with scroll, Grid(id="metrics-grid"):
            for name in PLOTS:
                with Vertical(classes="panel", id=f"panel-{name}"):
                    # The title is a label, not plotext's: plotext drops a title wider
                    # than the plot, a label is cut to the width.
                    yield Label("", id=f"title-{name}", classes="panel-title")
                    yield PlotextPlot(id=f"plot-{name}")
            with Vertical(classes="panel", id="panel-backups"):
                yield Label("Backup health", classes="panel-title")
                yield Static("", id="backup-health")
        yield AppFooter()

    def on_mount(self) -> None:
        self._timer = self.set_interval(REFRESH_SECONDS, self.sample_live)

    def on_screen_suspend(self) -> None:
        if self._timer is not None:
            self._timer.pause()

    def on_screen_resume(self) -> None:
        if self._timer is not None:
            self._timer.resume()
        # Changes made while hidden were not seen (only the shown screen hears them):
        # memory may have changed; its figures are still read at most every SLOW_SECONDS.
        self._memory_dirty = True
        super().on_screen_resume()

    def on_data_changed(self, message: DataChanged) -> None:
        if not message.events or any(e.table in SLOW_TABLES for e in message.events):
            self._memory_dirty = True
        self.reload()

    # -- loading ----------------------------------------------------------------
    def reload(self) -> None:
        self.load()
        if self._memory_dirty and time.monotonic() - self._memory_at >= SLOW_SECONDS:
            self._memory_dirty = False
            self._memory_at = time.monotonic()
            self.load_memory()

    @work(thread=True, exclusive=True, group="metrics", exit_on_error=False)
    def load(self) -> None:
        c = self.coordinator
        store, days = c.store, core_metrics.day_range(c.rt.clock(), DAYS)
        sessions = core_metrics.session_usage(store)
        usage = UsageFigures(
            days,
            core_metrics.usage_by_day(sessions, days),
            sessions,
            core_metrics.tools_by_day(store, days),
        )
        self.post_message(MetricsLoaded(usage=usage, live=self._live()))

    @work(thread=True, exclusive=True, group="metrics-memory", exit_on_error=False)
    def load_memory(self) -> None:
        c = self.coordinator
        store, days = c.store, core_metrics.day_range(c.rt.clock(), DAYS)
        memory = MemoryFigures(
            core_metrics.growth_by_day(store, days),
            core_metrics.storage_by_session(store, TOP_SESSIONS),
        )
        self.post_message(MetricsLoaded(memory=memory))

    @work(thread=True, exclusive=True, group="metrics-live", exit_on_error=False)
    def sample_live(self) -> None:
        self.post_message(MetricsLoaded(live=self._live()))

    def _live(self) -> LiveFigures:
        c = self.coordinator
        cache = core_metrics.cache_rates(
            c.metrics.counters_path,
            c.rt.stats.unflushed(),
            core_metrics.day_of(c.rt.clock()),
        )
        backups, scheduler = self.tui.services.backups, self.tui.services.scheduler
        error = None
        try:
            records = backups.list()
        except ClaudeTUIError as exc:
            records, error = [], exc.message
        return LiveFigures(cache, core_metrics.backup_health(records, scheduler.status(), error))

    # -- drawing ------------------------------------------------------------------
    def on_metrics_loaded(self, message: MetricsLoaded) -> None:
        if message.usage is not None:
            self._draw_usage(message.usage)
            self._drawn.add("usage")
        if message.memory is not None:
            self._draw_memory(message.memory)
            self._drawn.add("memory")
        if message.live is not None:
            self._draw_live(message.live)
        if {"usage", "memory"} <= self._drawn:
            self._show_plots()

    @on(Worker.StateChanged)
    def _show_plots_on_error(self, event: Worker.StateChanged) -> None:
        # A failed read is reported by the app; what was drawn shows, not a blank screen.
        if event.state == WorkerState.ERROR:
            self._show_plots()

    def _show_plots(self) -> None:
        scroll = self.query_one("#metrics-scroll")
        if not scroll.display:
            scroll.display = True

    @staticmethod
    def _floor(plot: PlotextPlot, values: Sequence[float]) -> None:
        """Bars start at 0; with nothing to show the axis is 0..1, not -1..1."""
        if not any(values):
            plot.plt.ylim(0, 1)

    @staticmethod
    def _day_ticks(plot: PlotextPlot, labels: Sequence[str]) -> None:
        """Every other day on the x axis, the last one (today) always.

        Set here, not left to plotext: it thins crowded ticks differently from one
        process to the next (string hashing), which would make screenshots differ.
        """
        picked = list(range(len(labels), 0, -2))[::-1]
        plot.plt.xticks([float(i) for i in picked], [labels[i - 1] for i in picked])

    @staticmethod
    def _name_ticks(plot: PlotextPlot, names: Sequence[str]) -> None:
        """Every bar of a horizontal chart with its name (plotext would thin them)."""
        plot.plt.yticks([float(i) for i in range(1, len(names) + 1)], list(names))

    def _plot(self, name: str, title: str) -> PlotextPlot:
        """The plot ``name``, cleared, under ``title``."""
        from textual_plotext import PlotextPlot

        self.query_one(f"#title-{name}", Label).update(title)
        plot = self.query_one(f"#plot-{name}", PlotextPlot)
        plot.plt.clear_figure()
        return plot

    def _draw_usage(self, u: UsageFigures) -> None:
        labels = [short_day(d) for d in u.days]
        tokens = sum((d.tokens for d in u.by_day), core_metrics.Tokens())

        ins = [_sent(d.tokens) for d in u.by_day]
        outs = [d.tokens.output for d in u.by_day]
        plot = self._plot(
            "tokens-day",
            f"Tokens per day, {u.days[0]} – {u.days[-1]}: {_sent(tokens):,} in "
            f"({tokens.cache_read:,} of them cache reads), {tokens.output:,} out",
        )
        div, unit = scale(max([*ins, *outs], default=0), TOKEN_UNITS)
        plot.plt.multiple_bar(
            labels,
            [[v / div for v in ins], [v / div for v in outs]],
            labels=["in (incl. cache)", "out"],  # type: ignore[call-arg]  # the stub says label
        )
        self._floor(plot, [*ins, *outs])
        self._day_ticks(plot, labels)
        plot.plt.ylabel(unit)
        plot.plt.xlabel("day")
        plot.refresh()

        unpriced = sum(d.unpriced for d in u.by_day)
        note = f" ({unpriced} sessions of unpriced models left out)" if unpriced else ""
        total = sum(d.cost_usd for d in u.by_day)
        plot = self._plot(
            "cost-day", f"Cost per day at list prices: ${total:,.2f} in {len(u.days)} days{note}"
        )
        costs = [d.cost_usd for d in u.by_day]
        plot.plt.bar(labels, costs, label="estimated USD")
        self._floor(plot, costs)
        self._day_ticks(plot, labels)
        plot.plt.ylabel("USD")
        plot.plt.xlabel("day")
        plot.refresh()

        top = u.sessions[:TOP_SESSIONS][::-1]  # newest at the top of a horizontal chart
        plot = self._plot(
            "tokens-session",
            f"Tokens per session: the {len(top)} most recent of {len(u.sessions)}"
            if top
            else "Tokens per session: no Claude Code sessions imported yet",
        )
        if top:
            ins, outs = [_sent(s.tokens) for s in top], [s.tokens.output for s in top]
            div, unit = scale(max([*ins, *outs]), TOKEN_UNITS)
            names = [_session_label(s) for s in top]
            plot.plt.multiple_bar(
                names,
                [[v / div for v in ins], [v / div for v in outs]],
                labels=["in (incl. cache)", "out"],  # type: ignore[call-arg]  # the stub says label
                orientation="horizontal",
            )
            self._name_ticks(plot, names)
            plot.plt.xlabel(unit)
        plot.refresh()

        calls, errors = sum(d.calls for d in u.tools), sum(d.errors for d in u.tools)
        rate = f" ({errors / calls:.1%} failed)" if calls else ""
        plot = self._plot(
            "tools-day", f"Tool calls and errors per day: {calls:,} calls, {errors:,} errors{rate}"
        )
        plot.plt.multiple_bar(
            labels,
            [[d.calls for d in u.tools], [d.errors for d in u.tools]],
            labels=["calls", "errors"],  # type: ignore[call-arg]  # the stub says label
        )
        self._floor(plot, [calls])
        self._day_ticks(plot, labels)
        plot.plt.ylabel("tool calls")
        plot.plt.xlabel("day")
        plot.refresh()

        cost = sum(d.cost_usd for d in u.by_day)
        self.query_one("#metrics-scope", Static).update(
            f"Last {len(u.days)} days: {sum(d.sessions for d in u.by_day)} of "
            f"{len(u.sessions)} Claude Code sessions · {_sent(tokens):,} tokens in · "
            f"{tokens.output:,} out · ≈ ${cost:,.2f} at list prices"
        )

    def _draw_memory(self, m: MemoryFigures) -> None:
        last = m.growth[-1] if m.growth else None
        new = sum(g.memory_new for g in m.growth)
        plot = self._plot(
            "growth",
            f"Memory and patterns over time: {last.memory_total:,} entries "
            f"(+{new:,} in {len(m.growth)} days), {last.patterns_total:,} patterns"
            if last
            else "Memory and patterns over time",
        )
        if m.growth:
            labels = [short_day(g.day) for g in m.growth]
            xs = [float(i) for i in range(1, len(labels) + 1)]
            plot.plt.plot(xs, [g.memory_total for g in m.growth], label="memory entries")
            plot.plt.plot(xs, [g.patterns_total for g in m.growth], label="patterns", yside="right")
            self._day_ticks(plot, labels)
            plot.plt.ylabel("memory entries", yside="left")  # type: ignore[call-arg]  # stub: xside
            plot.plt.ylabel("patterns", yside="right")  # type: ignore[call-arg]
            plot.plt.xlabel("day")
        plot.refresh()

        rows = m.storage[::-1]  # the largest at the top
        plot = self._plot(
            "storage",
            f"Storage per session (bytes of values): the {len(rows)} largest, "
            f"{sum(r[1] for r in rows):,} entries"
            if rows
            else "Storage per session: no memory entries",
        )
        if rows:
            div, unit = scale(max(r[2] for r in rows), BYTE_UNITS)
            names = [_storage_label(r[0]) for r in rows]
            plot.plt.bar(names, [r[2] / div for r in rows], orientation="horizontal")
            self._name_ticks(plot, names)
            plot.plt.xlabel(unit)
        plot.refresh()

    def _draw_live(self, live: LiveFigures) -> None:
        tiers = list(live.cache.today)
        overall = [live.cache.rate(live.cache.overall[t]) for t in tiers]
        reads = sum(live.cache.today.get("l1", (0, 0)))  # every read is an L1 hit or miss
        summary = ", ".join(
            f"{t.upper()} {r:.0%}" if r is not None else f"{t.upper()} -"
            for t, r in zip(tiers, overall, strict=True)
        )
        plot = self._plot(
            "cache",
            f"Cache hit rate, every process: {reads:,} reads today; "
            f"{live.cache.days} days: {summary}",
        )
        rates = [live.cache.rate(live.cache.today[t]) for t in tiers]
        plot.plt.bar([t.upper() for t in tiers], [100 * (r or 0.0) for r in rates], label="today")
        plot.plt.ylim(0, 100)
        plot.plt.ylabel("hit rate %")
        plot.plt.xlabel("tier")
        plot.refresh()
        self.query_one("#backup-health", Static).update(_health_markup(live.backups))


def _sent(t: core_metrics.Tokens) -> int:
    """Tokens sent to the model: new input, cache writes and cache reads."""
    return t.input + t.cache_creation + t.cache_read


def _session_label(s: core_metrics.SessionUsage) -> str:
    name = " ".join((s.name or s.session_id).split())
    return (name[:17] + "…") if len(name) > 18 else name


def _storage_label(session_id: str | None) -> str:
    if session_id is None:
        return "(shared)"
    return (session_id[:17] + "…") if len(session_id) > 18 else session_id


def _health_markup(h: core_metrics.BackupHealth) -> str:
    lines = []
    if h.manifest_error:
        lines.append(f"[b red]manifest unreadable: {esc(h.manifest_error)}[/b red]")
    if h.last_success_at is None:
        lines.append("[b yellow]no successful backup yet[/b yellow] (b on the Backups screen)")
    else:
        lines.append(
            f"last success  [green]{when(h.last_success_at)}[/green]  "
            f"{esc(h.last_success_id or '')}  {size(h.last_success_size)}"
        )
    lines.append(f"backups       {h.backups:,} in the manifest, {size(h.total_size)} kept")
    if h.failures:
        lines.append(
            f"failures      [b red]{h.failures:,}[/b red] "
            f"({h.failures_since_success:,} since the last success); "
            f"last {when(h.last_failure_at) if h.last_failure_at else '-'}: "
            f"[red]{esc(h.last_failure_error or '')}[/red]"
        )
    else:
        lines.append("failures      [green]none[/green]")
    if h.latest_failure and not h.manifest_error:
        lines.append(f"[b red]✖ the latest attempt failed:[/b red] {esc(h.latest_failure)}")
    return "\n".join(lines)

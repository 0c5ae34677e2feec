"""The Metrics screen: its figures in the core (real db, real imported transcripts), its
plots (real app through Pilot), and its timers (nothing runs while the screen is hidden).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from claude_tui.app.messages import DataChanged
from claude_tui.app.screens import backups as backups_screen
from claude_tui.app.screens import metrics as metrics_screen
from claude_tui.core import metrics as core_metrics
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.durability.manifest import BackupRecord
from claude_tui.core.durability.scheduler import JobStatus
from claude_tui.core.events import ChangeEvent
from claude_tui.core.importers.claude_code import ClaudeCodeImporter
from claude_tui.core.records import metrics as metric_door
from tests.app_helpers import FixedClock, make_app, open_coordinator, settle
from tests.conftest import run_cli, run_together

FIXTURES = Path(__file__).parent / "fixtures" / "claude-code"
VIEWER = FIXTURES / "claude-code-viewer_v1.0.98" / "fe5e1c67-53e7-4862-81ae-d0e013e3270b.jsonl"
VIEWER_SESSION = "cc_fe5e1c67-53e7-4862-81ae-d0e013e3270b"
SPOTTER_SESSION = "cc_4d5611e5-241a-462a-8d15-5122611a9569"
# 2026-02-12 18:00 local-ish: the day the spotter fixture ends (its last activity).
FIXTURE_NOW = time.mktime((2026, 2, 12, 18, 0, 0, 0, 0, -1))
DAY = 86_400.0


def expected_usage(path: Path) -> tuple[core_metrics.Tokens, int]:
    """(usage counted once per message id, the output a naive per-line sum would give).

    Read straight from the transcript, independently of the importer: an
    assistant message spans several lines sharing ``message.id``, each
    repeating its ``usage``; each field counts once, at its largest value.
    """
    fields = ("input_tokens", "output_tokens", "cache_read_input_tokens",
              "cache_creation_input_tokens")  # fmt: skip
    per_message: dict[str, list[int]] = {}
    naive_output = 0
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        msg = rec.get("message")
        if rec.get("type") != "assistant" or not isinstance(msg, dict):
            continue
        usage, mid = msg.get("usage"), msg.get("id")
        if not isinstance(usage, dict) or not mid or msg.get("model") == "<synthetic>":
            continue
        naive_output += int(usage.get("output_tokens") or 0)
        seen = per_message.setdefault(mid, [0, 0, 0, 0])
        for i, name in enumerate(fields):
            seen[i] = max(seen[i], int(usage.get(name) or 0))
    totals = [sum(v[i] for v in per_message.values()) for i in range(4)]
    return core_metrics.Tokens(*totals), naive_output


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FIXTURE_NOW)


@pytest.fixture
def imported(data_dir: Path, clock: FixedClock) -> Iterator[MemoryCoordinator]:
    """A real data dir (no Redis) with every fixture transcript imported."""
    with open_coordinator(data_dir, clock=clock) as c:
        ClaudeCodeImporter(c).run([FIXTURES])
        yield c


# -- tokens and cost -----------------------------------------------------------------


def test_tokens_are_counted_once_per_message_id_per_session(imported: MemoryCoordinator) -> None:
    want, naive_output = expected_usage(VIEWER)
    assert naive_output > want.output  # the fixture repeats usage over lines: dedup matters
    sessions = {s.session_id: s for s in core_metrics.session_usage(imported.store)}
    assert set(sessions) >= {VIEWER_SESSION, SPOTTER_SESSION}
    assert sessions[VIEWER_SESSION].tokens == want
    # Importing the same transcripts again counts nothing twice.
    ClaudeCodeImporter(imported).run([FIXTURES])
    again = {s.session_id: s for s in core_metrics.session_usage(imported.store)}
    assert again == sessions


def test_tokens_and_cost_per_day_sum_the_sessions_of_each_day(
    imported: MemoryCoordinator,
) -> None:
    sessions = core_metrics.session_usage(imported.store)
    viewer = next(s for s in sessions if s.session_id == VIEWER_SESSION)
    assert viewer.model is not None and viewer.model.startswith("claude-sonnet-4")
    t = viewer.tokens
    price = (t.input * 3 + t.output * 15 + t.cache_creation * 3.75 + t.cache_read * 0.30) / 1e6
    assert viewer.cost_usd == pytest.approx(price)

    days = core_metrics.day_range(FIXTURE_NOW, 14)
    assert len(days) == 14 and days[-1] == "2026-02-12"
    by_day = {d.day: d for d in core_metrics.usage_by_day(sessions, days)}
    in_window = [s for s in sessions if s.day in by_day]
    assert {s.session_id for s in in_window} == {SPOTTER_SESSION, *(
        s.session_id for s in sessions if s.day == "2026-02-10")}  # fmt: skip
    total = sum((d.tokens for d in by_day.values()), core_metrics.Tokens())
    assert total == sum((s.tokens for s in in_window), core_metrics.Tokens())
    for day, usage in by_day.items():
        own = [s for s in sessions if s.day == day]
        assert usage.sessions == len(own)
        assert usage.cost_usd == pytest.approx(sum(s.cost_usd or 0.0 for s in own))
    assert by_day["2026-02-01"].tokens == core_metrics.Tokens()  # a quiet day is zero


def test_a_model_with_no_known_price_is_not_guessed() -> None:
    assert core_metrics.price_of("claude-opus-4-1-20250805") == (15.0, 75.0, 18.75, 1.50)
    assert core_metrics.price_of("claude-opus-4-6") == (5.0, 25.0, 6.25, 0.50)
    assert core_metrics.cost_of(core_metrics.Tokens(1_000_000), "gpt-5") is None
    day = core_metrics.usage_by_day(
        [core_metrics.SessionUsage("s", None, "2026-02-12", core_metrics.Tokens(5), None, None)],
        ["2026-02-12"],
    )
    assert day[0].unpriced == 1 and day[0].cost_usd == 0.0 and day[0].tokens.input == 5


# -- tool calls, memory ------------------------------------------------------------------


def test_tool_calls_per_day_come_from_the_import_or_else_from_the_hooks(
    imported: MemoryCoordinator, clock: FixedClock
) -> None:
    days = core_metrics.day_range(FIXTURE_NOW, 3)
    before = {d.day: (d.calls, d.errors) for d in core_metrics.tools_by_day(imported.store, days)}
    spotter = imported.store.rows(
        "SELECT metric_type, value FROM metrics WHERE session_id = ? AND agent_id IS NULL "
        "AND metric_type IN ('claude_code.tool_calls', 'claude_code.tool_errors')",
        (SPOTTER_SESSION,),
    )
    assert before["2026-02-12"] == tuple(int(v) for _, v in sorted(spotter))  # calls, errors
    # A hooked session never imported: its per-call rows count (0.0 is a failed call).
    hooked = imported.sessions.create().id
    for ok in (1.0, 1.0, 0.0):
        imported.metrics.record("hook.tool", ok, session_id=hooked)
    # An imported session's hook rows do not count again.
    imported.metrics.record("hook.tool", 1.0, session_id=SPOTTER_SESSION)
    clock.now -= DAY
    imported.metrics.record("hook.tool", 0.0, session_id=hooked)
    after = {d.day: (d.calls, d.errors) for d in core_metrics.tools_by_day(imported.store, days)}
    calls, errors = before["2026-02-12"]
    assert after["2026-02-12"] == (calls + 3, errors + 1)
    assert after["2026-02-11"] == (before["2026-02-11"][0] + 1, before["2026-02-11"][1] + 1)


def test_memory_and_patterns_over_time_count_what_each_day_added(
    data_dir: Path, clock: FixedClock
) -> None:
    with open_coordinator(data_dir, clock=clock) as c:
        s = c.sessions.create().id
        start = clock.now
        clock.now = start - 2 * DAY
        c.memory.store("old", 1, session_id=s)
        clock.now = start - DAY
        for i in range(3):
            c.memory.store(f"k{i}", i, session_id=s)
        clock.now = start
        c.memory.store("today", 1, session_id=s)
        days = core_metrics.day_range(start, 3)
        growth = core_metrics.growth_by_day(c.store, days)
        assert [(g.day, g.memory_new, g.memory_total) for g in growth] == [
            (days[0], 1, 1), (days[1], 3, 4), (days[2], 1, 5)
        ]  # fmt: skip
        storage = core_metrics.storage_by_session(c.store)
        assert storage[0][0] == s and storage[0][1] == 5


@pytest.fixture
def kathmandu() -> Iterator[None]:
    """Local time at UTC+5:45: a day that starts on a quarter hour, not an hour."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Kathmandu"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_growth_per_day_follows_local_midnight_in_a_quarter_hour_zone(
    data_dir: Path, clock: FixedClock, kathmandu: None
) -> None:
    """Memory's counts per quarter hour add up to local days, either side of midnight."""
    days = ["2026-11-19", "2026-11-20"]
    midnight = core_metrics.day_start(days[1])
    assert midnight % 3600 != 0  # the zone is what the test says
    with open_coordinator(data_dir, clock=clock) as c:
        s = c.sessions.create().id
        for i, at in enumerate((midnight - 1, midnight, midnight + 86_399, midnight + 86_400)):
            clock.now = at
            c.memory.store(f"k{i}", i, session_id=s)
        growth = core_metrics.growth_by_day(c.store, days)
        assert [(g.memory_new, g.memory_total) for g in growth] == [(1, 2), (2, 4)]


# -- backup health -------------------------------------------------------------------


def _record(rid: str, at: float, status: str = "ok", error: str | None = None) -> BackupRecord:
    return BackupRecord(id=rid, kind="full", created_at=at, status=status, file=f"{rid}.db",
                        size=1000, error=error)  # fmt: skip


def test_backup_health_names_the_last_success_and_the_failures_since() -> None:
    records = [
        _record("b_1", 100.0),
        _record("b_2", 200.0, "failed", "disk full"),
        _record("b_3", 300.0),
        _record("b_4", 400.0, "failed", "no space"),
        _record("b_5", 500.0, "failed", "still no space"),
    ]
    h = core_metrics.backup_health(records, [])
    assert (h.last_success_id, h.last_success_at, h.total_size) == ("b_3", 300.0, 2000)
    assert (h.failures, h.failures_since_success) == (3, 2)
    assert (h.last_failure_at, h.last_failure_error) == (500.0, "still no space")
    assert h.latest_failure == "still no space"
    # A later good job run means the latest attempt did not fail; one that failed
    # before writing a record is the latest failure.
    ok_run = JobStatus("incremental", None, 600.0, "ok", None)
    assert core_metrics.backup_health(records, [ok_run]).latest_failure is None
    bad_run = JobStatus("full", None, 700.0, "failed", "lock held")
    assert core_metrics.backup_health(records, [ok_run, bad_run]).latest_failure == "lock held"
    assert core_metrics.backup_health([], []).last_success_at is None
    broken = core_metrics.backup_health([], [], manifest_error="manifest unreadable")
    assert broken.latest_failure == "manifest unreadable"


# -- cache hit rates across processes ----------------------------------------------------


def test_cache_counts_of_every_process_add_up_in_the_data_dir(data_dir: Path) -> None:
    run_cli(data_dir, "memory", "store", "k", "v", check=True)
    counters = data_dir / metric_door.COUNTERS_FILE

    def today() -> dict[str, dict[str, int]]:
        return metric_door.read_counters(counters).get(core_metrics.day_of(time.time()), {})

    run_cli(data_dir, "memory", "get", "k", check=True)
    one = today()
    assert one["sqlite"]["hits"] >= 1 and one["l1"]["misses"] >= 1
    run_cli(data_dir, "memory", "get", "k", check=True)
    two = today()
    for tier, pair in one.items():  # a second process added as much again
        assert two[tier] == {name: 2 * n for name, n in pair.items()}
    assert stat.S_IMODE(os.stat(counters).st_mode) == 0o600
    # This process's own counts, not yet flushed, are added on top.
    rates = core_metrics.cache_rates(
        counters, {"l1": {"hits": 5, "misses": 0}}, core_metrics.day_of(time.time())
    )
    assert rates.today["l1"] == (two["l1"]["hits"] + 5, two["l1"]["misses"])
    assert rates.overall["sqlite"] == (two["sqlite"]["hits"], two["sqlite"]["misses"])


RACE = """
import sys
from pathlib import Path
from claude_tui.core.records import metrics as door
for _ in range(50):
    door.add_counters(Path(sys.argv[1]), "2026-02-12", {"l1": {"hits": 1, "misses": 0}})
"""


def test_processes_adding_at_once_lose_no_count(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / metric_door.COUNTERS_FILE
    done = run_together(RACE, str(path), n=4)
    assert all(d.returncode == 0 for d in done), [d.stderr for d in done]
    assert metric_door.read_counters(path)["2026-02-12"]["l1"] == {"hits": 200, "misses": 0}


def test_a_coordinator_flushes_only_what_it_counted_since_its_last_flush(
    data_dir: Path,
) -> None:
    with open_coordinator(data_dir) as c:
        s = c.sessions.create().id
        c.memory.store("k", "v", session_id=s)
        c.rt.l1.clear()
        c.memory.get("k", session_id=s)
        assert c.metrics.flush_counters() is True
        assert c.metrics.flush_counters() is False  # nothing new
        first = metric_door.read_counters(c.metrics.counters_path)
    # Closing flushed nothing more (no read since): the counts are unchanged.
    assert metric_door.read_counters(data_dir / metric_door.COUNTERS_FILE) == first


def test_a_bad_counters_file_reads_as_empty_and_is_replaced(data_dir: Path) -> None:
    path = data_dir / metric_door.COUNTERS_FILE
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert metric_door.read_counters(path) == {}
    metric_door.add_counters(path, "2026-02-12", {"l1": {"hits": 2, "misses": 1}})
    assert metric_door.read_counters(path) == {"2026-02-12": {"l1": {"hits": 2, "misses": 1}}}


# -- the screen ------------------------------------------------------------------------


async def until(condition: Callable[[], bool], pilot: Any, timeout: float = 20.0) -> None:
    """Let the app run until ``condition()`` holds (fails after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the condition")
        await pilot.pause()


def _plot_text(app: Any, name: str) -> str:
    from textual_plotext import PlotextPlot

    return str(app.screen.query_one(f"#plot-{name}", PlotextPlot).render())


def _label(app: Any, name: str) -> str:
    from textual.widgets import Label

    return str(app.screen.query_one(f"#title-{name}", Label).render())


@pytest.mark.parametrize("size", [(160, 45), (80, 24)])
def test_the_screen_draws_each_plot_with_labelled_axes_and_units(
    imported: MemoryCoordinator, size: tuple[int, int]
) -> None:
    async def run() -> None:
        app = make_app(imported)
        async with app.run_test(size=size) as pilot:
            await settle(pilot)
            await app.switch_mode("metrics")
            await until(lambda: "entries" in _label(app, "growth"), pilot)
            await until(lambda: "USD" in _plot_text(app, "cost-day"), pilot)
            tokens = _plot_text(app, "tokens-day")
            assert "M tokens" in tokens and "day" in tokens  # the y unit, the x axis
            assert "2026-01-30 – 2026-02-12" in _label(app, "tokens-day")
            assert "in (incl. cache)" in tokens and "out" in tokens
            assert "tokens" in _plot_text(app, "tokens-session")
            assert "most recent of 3" in _label(app, "tokens-session")
            tools = _plot_text(app, "tools-day")
            assert "tool calls" in tools and "calls" in tools and "errors" in tools
            growth = _plot_text(app, "growth")
            assert "memory entries" in growth and "patterns" in growth
            assert "KiB" in _plot_text(app, "storage")
            await until(lambda: "hit rate %" in _plot_text(app, "cache"), pilot)
            assert "L1" in _plot_text(app, "cache") and "SQLITE" in _plot_text(app, "cache")
            health = str(app.screen.query_one("#backup-health").render())
            assert "no successful backup yet" in health

    asyncio.run(run())


class Spy:
    """Counts the calls of a function and passes them on."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.calls = fn, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self.fn(*args, **kwargs)


def test_metrics_and_backups_timers_stop_while_their_screen_is_hidden(
    imported: MemoryCoordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    interval = 0.05
    monkeypatch.setattr(metrics_screen, "REFRESH_SECONDS", interval)
    monkeypatch.setattr(backups_screen, "REFRESH_SECONDS", interval)
    cache_reads = Spy(core_metrics.cache_rates)
    memory_passes = Spy(core_metrics.storage_by_session)
    monkeypatch.setattr(core_metrics, "cache_rates", cache_reads)
    monkeypatch.setattr(core_metrics, "storage_by_session", memory_passes)
    # The Backups screen's reads of the manifest (the app's own backend check every
    # 3 s reads it too, for the status bar: not counted).
    manifest_reads = Spy(backups_screen.BackupsView)
    monkeypatch.setattr(backups_screen, "BackupsView", manifest_reads)

    async def run() -> None:
        app = make_app(imported)
        ticks = [0]

        def tick() -> None:
            ticks[0] += 1

        async def hidden_for(n: int) -> None:
            await settle(pilot)  # workers started before the switch are done
            start = ticks[0]
            await until(lambda: ticks[0] >= start + n, pilot)

        async with app.run_test(size=(120, 40)) as pilot:
            app.set_interval(interval, tick)  # a clock of the same period, to wait on
            await settle(pilot)
            await app.switch_mode("metrics")
            await until(lambda: cache_reads.calls >= 3, pilot)  # the timer runs while shown
            assert memory_passes.calls == 1  # the pass over memory ran once, not per tick
            await app.switch_mode("sessions")
            await settle(pilot)
            seen = cache_reads.calls
            await hidden_for(10)
            assert cache_reads.calls == seen  # ten periods hidden: not one sample

            await app.switch_mode("metrics")  # back: a reload at once, then the timer again
            await until(lambda: cache_reads.calls >= seen + 3, pilot)
            assert memory_passes.calls == 1  # within a minute of the last one: no second pass

            await app.switch_mode("backups")
            await until(lambda: manifest_reads.calls >= 3, pilot)
            await app.switch_mode("sessions")
            await settle(pilot)
            seen_cache, seen_manifest = cache_reads.calls, manifest_reads.calls
            await hidden_for(10)
            assert (cache_reads.calls, manifest_reads.calls) == (seen_cache, seen_manifest)

    asyncio.run(run())


def test_a_memory_change_brings_a_new_pass_over_memory_and_a_metric_does_not(
    imported: MemoryCoordinator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_screen, "SLOW_SECONDS", 0.0)
    memory_passes = Spy(core_metrics.storage_by_session)
    usage_reads = Spy(core_metrics.session_usage)
    monkeypatch.setattr(core_metrics, "storage_by_session", memory_passes)
    monkeypatch.setattr(core_metrics, "session_usage", usage_reads)

    async def run() -> None:
        app = make_app(imported)
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await app.switch_mode("metrics")
            await until(lambda: memory_passes.calls == 1, pilot)
            await settle(pilot)
            passes, reads = memory_passes.calls, usage_reads.calls
            # Another process's hook recorded a tool call (the feed says: metrics).
            imported.metrics.record("hook.tool", 1.0, session_id=SPOTTER_SESSION)
            app.post_message(DataChanged([ChangeEvent(None, "metrics", "insert", "1")]))
            await until(lambda: usage_reads.calls > reads, pilot)
            await settle(pilot)
            assert memory_passes.calls == passes  # a metric: the figures, not memory
            imported.memory.store("new", 1, session_id=SPOTTER_SESSION)
            await until(lambda: memory_passes.calls == passes + 1, pilot)
            await until(lambda: "7 entries" in _label(app, "growth"), pilot)

    asyncio.run(run())

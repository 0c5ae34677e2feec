"""SVG snapshots of every screen on the demo data (pytest-textual-snapshot).

Regenerate after an intended change with ``pytest tests/test_snapshots.py --snapshot-update``
and look at the report before committing.
"""

from __future__ import annotations

import time

import pytest

from tests.app_helpers import FixedClock, demo_coordinator, make_app, settle

SIZE = (140, 36)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


@pytest.fixture
def demo(data_dir):
    with demo_coordinator(data_dir, clock=FixedClock()) as c:
        yield c


def _app(coordinator, theme: str = "textual-dark"):
    app = make_app(coordinator, session_id="ses_demo000001")
    app.state.theme = theme
    return app


async def _ready(pilot) -> None:
    await settle(pilot, rounds=4)


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_sessions_screen(snap_compare, demo, theme):
    async def run_before(pilot):
        await pilot.press("1")
        await _ready(pilot)

    assert snap_compare(_app(demo, theme), terminal_size=SIZE, run_before=run_before)


def test_agents_screen(snap_compare, demo):
    async def run_before(pilot):
        await pilot.press("2")
        await _ready(pilot)

    assert snap_compare(_app(demo), terminal_size=SIZE, run_before=run_before)


def test_task_tree_expanded(snap_compare, demo):
    async def run_before(pilot):
        await pilot.press("3")
        await _ready(pilot)
        await pilot.press("e", "down", "down")
        await _ready(pilot)

    assert snap_compare(_app(demo), terminal_size=SIZE, run_before=run_before)


def test_memory_browser(snap_compare, demo):
    async def run_before(pilot):
        await pilot.press("4")
        await _ready(pilot)
        await pilot.press("down", "down")
        await _ready(pilot)

    assert snap_compare(_app(demo), terminal_size=SIZE, run_before=run_before)


def test_pattern_search(snap_compare, demo):
    async def run_before(pilot):
        await pilot.press("5")
        await _ready(pilot)
        await pilot.press("slash", *"retry policy")
        await _ready(pilot)

    assert snap_compare(_app(demo), terminal_size=SIZE, run_before=run_before)


def test_metrics_screen(snap_compare, demo):
    # Latencies differ from run to run: show fixed ones (storage per session stays real).
    fixed = {
        "tiers": {
            "l1": {"hits": 90, "misses": 10, "hit_rate": 0.9},
            "l2": {"hits": 6, "misses": 4, "hit_rate": 0.6},
            "sqlite": {"hits": 4, "misses": 0, "hit_rate": 1.0},
        },
        "ops": {
            "get": {"count": 100, "p50_ms": 0.012, "p99_ms": 0.35},
            "put": {"count": 12, "p50_ms": 2.1, "p99_ms": 4.8},
        },
    }
    demo.rt.stats.snapshot = lambda: fixed  # type: ignore[method-assign]

    async def run_before(pilot):
        await pilot.press("6")
        await _ready(pilot)

    assert snap_compare(_app(demo), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare, demo):
    async def run_before(pilot):
        await pilot.press("4")
        await _ready(pilot)
        await pilot.press("question_mark")
        await _ready(pilot)

    assert snap_compare(_app(demo), terminal_size=SIZE, run_before=run_before)

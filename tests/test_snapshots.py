"""SVG snapshots of every screen and every dialog, per feature (pytest-textual-snapshot).

Each screen is taken in both themes at 160x45 and at 80x24 (the smallest size
the app must read well at); each dialog the same, on the deterministic demo
data (fixed clock, UTC). What varies from run to run (the temp data dir's
path, backup ids and times) is replaced by fixed values the way a user would
see them.

Regenerate after an intended change with
``pytest tests/test_snapshots.py --snapshot-update`` and look at the report
(``snapshot_report.html``) before committing.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from claude_tui.app.dialogs.error import ErrorDialog
from claude_tui.core.durability.manifest import BackupRecord
from tests.app_helpers import (
    DEMO_SESSION,
    FIXED_NOW,
    DemoApp,
    make_app,
    open_coordinator,
    settle,
)

THEMES = ("claude-tui-dark", "claude-tui-light")
SIZES = {"160x45": (160, 45), "80x24": (80, 24)}
# Where a user's data dir usually is (the tests' temp dir differs on every run).
SHOWN_DATA_DIR = Path("/home/you/.local/share/claude-tui")

every_theme = pytest.mark.parametrize("theme", THEMES)
every_size = pytest.mark.parametrize("size", SIZES.values(), ids=SIZES.keys())


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.delenv("TZ")
    time.tzset()


def _app(demo_app: DemoApp, theme: str, mode: str = "sessions"):
    """The app as a user left it: on ``mode`` with the demo's first session (one screen
    mounted, not two: the snapshots stay quick)."""
    app = demo_app(session_id=None)
    app.ui.state.theme, app.ui.state.mode, app.ui.state.session_id = theme, mode, DEMO_SESSION
    return app


async def _ready(pilot) -> None:  # type: ignore[no-untyped-def]
    """Workers done, the screen redrawn, and no blinking cursor (it would differ per run)."""
    await settle(pilot, rounds=3)
    for box in pilot.app.screen.query("Input, TextArea"):
        box.cursor_blink = False  # the cursor stays shown while focused
        # A TextArea caches its lines by cursor state, and with blinking off a line
        # drawn in a blink's off phase (no cursor) would be reused: drop that cache.
        # notify_style_update is the public call that clears it (a plain refresh keeps it).
        box.notify_style_update()
        box.refresh()
    await settle(pilot, rounds=1)
    await pilot.wait_for_scheduled_animations()


def _keys(*keys: str):  # type: ignore[no-untyped-def]
    """A run_before that presses ``keys`` one at a time, letting the app settle after each."""

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        for key in keys:
            await pilot.press(key)
            await _ready(pilot)

    return run_before


# -- Sessions --------------------------------------------------------------------------
@every_theme
@every_size
def test_sessions_screen(snap_compare, demo_app, theme, size):
    """The sessions table with counts; the detail pane beside it (below it at 80 columns)."""
    assert snap_compare(_app(demo_app, theme, "sessions"), terminal_size=size, run_before=_keys())


@every_theme
@every_size
def test_delete_session_dialog(snap_compare, demo_app, theme, size):
    """x asks first: the whole sentence wraps, Cancel has the focus."""
    app = _app(demo_app, theme, "sessions")
    assert snap_compare(app, terminal_size=size, run_before=_keys("x"))


@every_size
def test_new_session_prompt(snap_compare, demo_app, size):
    """n asks for a name: one line of text, enter/escape named."""
    app = _app(demo_app, THEMES[size == SIZES["80x24"]], "sessions")
    assert snap_compare(app, terminal_size=size, run_before=_keys("n"))


@every_size
def test_session_status_choice(snap_compare, demo_app, size):
    """s picks the session's status from a list, the current one highlighted."""
    app = _app(demo_app, THEMES[size == SIZES["80x24"]], "sessions")
    assert snap_compare(app, terminal_size=size, run_before=_keys("s"))


# -- Agents ------------------------------------------------------------------------------
@every_theme
@every_size
def test_agents_screen(snap_compare, demo_app, theme, size):
    """The session's agents with type and status filters and the memory context."""
    assert snap_compare(_app(demo_app, theme, "agents"), terminal_size=size, run_before=_keys())


# -- Tasks -------------------------------------------------------------------------------
@every_theme
@every_size
def test_task_tree_expanded(snap_compare, demo_app, theme, size):
    """Every task, 4 levels deep, glyphs coloured by status with their legend."""
    app = _app(demo_app, theme, "tasks")
    assert snap_compare(app, terminal_size=size, run_before=_keys("e", "down", "down"))


# -- Memory ------------------------------------------------------------------------------
@every_theme
@every_size
def test_memory_browser(snap_compare, demo_app, theme, size):
    """A page of entries, filters above, the selected entry's JSON in the detail pane."""
    app = _app(demo_app, theme, "memory")
    assert snap_compare(app, terminal_size=size, run_before=_keys("down", "down"))


@every_theme
@every_size
def test_memory_edit_dialog(snap_compare, demo_app, theme, size):
    """e edits the value: the editor fills the room left, Save/Cancel and keys stay visible."""
    app = _app(demo_app, theme, "memory")
    assert snap_compare(app, terminal_size=size, run_before=_keys("e"))


@every_size
def test_memory_delete_dialog(snap_compare, demo_app, size):
    """x on an entry asks first, with where it lives."""
    app = _app(demo_app, THEMES[size == SIZES["80x24"]], "memory")
    assert snap_compare(app, terminal_size=size, run_before=_keys("x"))


# -- Patterns ----------------------------------------------------------------------------
@every_theme
@every_size
def test_pattern_search(snap_compare, demo_app, theme, size):
    """A search by words: its best match selected and opened."""
    app = _app(demo_app, theme, "patterns")

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _keys()(pilot)
        await pilot.press("slash", *"retry policy")
        await _ready(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# -- Metrics -----------------------------------------------------------------------------
def test_metrics_screen(snap_compare, demo_app):
    """The metrics screen (latencies fixed: they differ from run to run)."""
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
    demo_app.coordinator.rt.stats.snapshot = lambda: fixed  # type: ignore[method-assign]
    app = _app(demo_app, THEMES[0], "metrics")
    assert snap_compare(app, terminal_size=(140, 36), run_before=_keys())


# -- Backups -----------------------------------------------------------------------------
def _with_backups(app) -> None:  # type: ignore[no-untyped-def]
    """Three backups with fixed ids and times (the last one failed), shown at a usual path."""
    manifest = app.services.backups.manifest
    day = 86_400.0
    manifest.put(BackupRecord("b_full0000001", "full", FIXED_NOW - 2 * day, chain="chain_1",
                              seq_hi=725, size=593_920, rows=725, verified_at=FIXED_NOW - day,
                              seconds=0.06, sha256="ef9ff714acd5"))  # fmt: skip
    manifest.put(BackupRecord("b_incr0000002", "incremental", FIXED_NOW - day,
                              base="b_full0000001", chain="chain_1", seq_lo=725, seq_hi=790,
                              size=12_288, rows=65, seconds=0.01))  # fmt: skip
    manifest.put(BackupRecord("b_incr0000003", "incremental", FIXED_NOW - 600, status="failed",
                              base="b_incr0000002", chain="chain_1", seq_lo=790, seq_hi=802,
                              error="disk full (28): No space left on device"))  # fmt: skip
    app.services.backups.dir = SHOWN_DATA_DIR / "backups"  # what the scope line names


@every_theme
@every_size
def test_backups_screen(snap_compare, demo_app, theme, size):
    """The manifest (a failure in red), its detail, the scheduled jobs below."""
    app = _app(demo_app, theme, "backups")
    _with_backups(app)
    assert snap_compare(app, terminal_size=size, run_before=_keys())


@every_theme
@every_size
def test_backup_restore_dialog(snap_compare, demo_app, theme, size):
    """R: which backup replaces the database, and what happens to the current one."""
    app = _app(demo_app, theme, "backups")
    _with_backups(app)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _keys()(pilot)
        screen = pilot.app.screen
        latest = [r for r in pilot.app.services.backups.list() if r.status == "ok"]
        screen.confirm_restore(latest, latest[:1], str(SHOWN_DATA_DIR))
        await _ready(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


# -- Swarm -------------------------------------------------------------------------------
@every_theme
@every_size
def test_swarm_screen_with_sync_off(snap_compare, demo_app, theme, size):
    """Sync off: how to turn it on, and the (empty) conflicts list."""
    assert snap_compare(_app(demo_app, theme, "swarm"), terminal_size=size, run_before=_keys())


# -- Help --------------------------------------------------------------------------------
@every_theme
@every_size
def test_help_screen(snap_compare, demo_app, theme, size):
    """? lists every key of the app and the screen as people type them, with its id."""
    app = _app(demo_app, theme, "memory")
    assert snap_compare(app, terminal_size=size, run_before=_keys("question_mark"))


# -- First run ---------------------------------------------------------------------------
@every_theme
@every_size
def test_demo_offer(snap_compare, data_dir, theme, size):
    """An empty data dir and no Claude Code history: the demo is offered (Load demo focused)."""
    with open_coordinator(data_dir) as coordinator:
        app = make_app(coordinator)
        app.ui.state.theme = theme
        assert snap_compare(app, terminal_size=size, run_before=_keys())


@every_theme
@every_size
def test_import_offer(snap_compare, data_dir, theme, size):
    """Claude Code history on disk: importing it is offered, the whole reason wrapped."""
    home = Path("/home/you/.claude/projects")
    found = [home / f"-home-you-app{n}" / f"{n:08x}.jsonl" for n in range(3)]
    with open_coordinator(data_dir) as coordinator:
        app = make_app(coordinator, find_transcripts=lambda: found)
        app.ui.state.theme = theme
        assert snap_compare(app, terminal_size=size, run_before=_keys())


# -- Errors ------------------------------------------------------------------------------
@every_size
def test_error_dialog(snap_compare, demo_app, size):
    """An error too long for a toast: its details scroll, escape or enter closes."""
    app = _app(demo_app, THEMES[size == SIZES["80x24"]])

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _ready(pilot)
        details = "RuntimeError: the [sync] url is not reachable\n" + "\n".join(
            f'  File "claude_tui/core/sync/engine.py", line {n}, in pull' for n in range(40)
        )
        pilot.app.push_screen(ErrorDialog("Something went wrong", details))
        await _ready(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)

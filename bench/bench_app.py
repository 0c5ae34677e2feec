"""Time to first paint of the app, and paging in the memory browser, on a big database.

Builds a data dir with N memory entries (default 1,000,000) and 10,000 tasks in a
four-level tree, then, in one run:

- opens the coordinator and runs the real app headless (``App.run_test``) and
  times how long until the first screen (sessions) shows its rows, and until
  the counts (which scan the big tables) arrive;
- times the same for a bare Textual app with one empty DataTable (the floor:
  what Textual itself costs on this machine) - the ratio is the robust figure;
- switches to the memory browser and times the first page, the next page and
  the tenth page (keyset paging: it never loads the entries all at once);
- switches to the task tree and times building all 10,000 nodes.

Run: ``python -m bench.bench_app [--entries N] [--tasks N] [--data-dir DIR]``. Prints
a table and writes ``bench/results/app.json``. Building 1M entries takes minutes: with
``--data-dir`` the data is built there once and reused by later runs with the same
``--entries`` and ``--tasks`` (a ``bench-data.json`` beside it says what it holds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_memory import populate

RESULTS = Path(__file__).resolve().parent / "results" / "app.json"
SIZE = (160, 48)
TARGET_FIRST_PAINT_S = 1.0


def add_tasks(db_path: Path, session_id: str, count: int) -> None:
    """A task tree four levels deep: 10 roots, 10 children each, and so on."""
    now = time.time()
    rows = []
    parents: list[str | None] = [None]
    level = 0
    while len(rows) < count:
        nxt: list[str | None] = []
        for parent in parents:
            for i in range(10):
                if len(rows) >= count:
                    break
                task_id = f"tsk_b{len(rows):08d}"
                status = ("pending", "in_progress", "completed", "blocked")[len(rows) % 4]
                rows.append(
                    (task_id, session_id, None, parent, f"L{level} task {i}", status, i % 4,
                     json.dumps({"n": len(rows)}), None, now, now, None)
                )  # fmt: skip
                nxt.append(task_id)
        parents = nxt
        level += 1
    conn = sqlite3.connect(str(db_path), isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    # Columns named: later migrations add columns (``sealed``) that keep their defaults.
    conn.executemany(
        "INSERT INTO tasks (id, session_id, agent_id, parent_task_id, title, status, priority, "
        "payload, result, created_at, updated_at, completed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    conn.close()


async def _wait(predicate: Any, pilot: Any, limit: float = 120.0) -> float:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > limit:
            raise TimeoutError("the screen never showed its data")
        await pilot.pause(0.005)
    return time.perf_counter() - started


async def measure_app(data_dir: Path, session_id: str) -> dict[str, float]:
    from claude_tui.app.app import ClaudeTUIApp
    from claude_tui.core.config import Config
    from claude_tui.core.coordinator import MemoryCoordinator

    started = time.perf_counter()
    coordinator = MemoryCoordinator.open(Config.load(data_dir, env={}, redis_enabled=False))
    app = ClaudeTUIApp(coordinator, fresh=True)
    result: dict[str, float] = {}
    try:
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one("#sessions-table")
            await _wait(lambda: table.row_count > 0, pilot)
            result["first_paint_s"] = time.perf_counter() - started
            await _wait(lambda: "…" not in str(table.get_row_at(0)[-1]), pilot)
            result["counts_s"] = time.perf_counter() - started
            app.set_session(session_id)

            t0 = time.perf_counter()
            await pilot.press("4")
            screen = app.screen
            await _wait(lambda: len(getattr(screen, "_entries", {})) == 100, pilot)
            result["memory_first_page_s"] = time.perf_counter() - t0
            pages = []
            for _ in range(10):
                first = set(screen._entries)
                t0 = time.perf_counter()
                await pilot.press("right_square_bracket")
                await _wait(lambda f=first: set(screen._entries) != f, pilot)
                pages.append(time.perf_counter() - t0)
            result["memory_next_page_s"] = pages[0]
            result["memory_page_10_s"] = pages[-1]
            result["memory_page_median_s"] = statistics.median(pages)

            t0 = time.perf_counter()
            await pilot.press("3")
            tasks_screen = app.screen
            await _wait(lambda: len(getattr(tasks_screen, "_tasks", {})) > 0, pilot)
            result["task_tree_s"] = time.perf_counter() - t0
            result["task_nodes"] = float(len(tasks_screen._tasks))
    finally:
        coordinator.close()
    return result


async def measure_floor() -> float:
    """A bare Textual app with an empty DataTable: Textual's own first-paint cost."""
    from textual.app import App, ComposeResult
    from textual.widgets import DataTable, Footer

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield DataTable()
            yield Footer()

        def on_mount(self) -> None:
            self.query_one(DataTable).add_columns("a", "b")
            self.query_one(DataTable).add_row("1", "2")

    started = time.perf_counter()
    app = Bare()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(DataTable)
        await _wait(lambda: table.row_count > 0, pilot)
        return time.perf_counter() - started


MARKER = "bench-data.json"


def build(data_dir: Path, entries: int, tasks: int) -> str:
    """Build the data (or reuse what an earlier run built there); returns the session id."""
    marker = data_dir / MARKER
    if marker.exists():
        built = json.loads(marker.read_text())
        if built.get("entries") == entries and built.get("tasks") == tasks:
            print(f"reusing {entries:,} entries and {tasks:,} tasks in {data_dir}",
                  file=sys.stderr)  # fmt: skip
            return str(built["session_id"])
        raise SystemExit(
            f"error: {data_dir} holds {built.get('entries'):,} entries and "
            f"{built.get('tasks'):,} tasks, not {entries:,} and {tasks:,}: pick another dir"
        )
    if data_dir.exists() and any(data_dir.iterdir()):
        raise SystemExit(f"error: {data_dir} is not empty and was not built by this benchmark")
    t0 = time.perf_counter()
    session_id, _ = populate(data_dir, entries, random.Random(1))
    add_tasks(data_dir / "claude-tui.db", session_id, tasks)
    print(f"built {entries:,} entries and {tasks:,} tasks in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)  # fmt: skip
    # Written last: a build cut short is not taken for a whole one.
    marker.write_text(json.dumps({"entries": entries, "tasks": tasks, "session_id": session_id}))
    return session_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--data-dir", type=Path, default=None,
        help="build the data here once and reuse it on later runs (default: a temp dir)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ctui-bench-app-") as tmp:
        data_dir = args.data_dir if args.data_dir is not None else Path(tmp) / "data"
        session_id = build(data_dir, args.entries, args.tasks)
        runs = [asyncio.run(measure_app(data_dir, session_id)) for _ in range(args.runs)]
        floors = [asyncio.run(measure_floor()) for _ in range(args.runs)]
    keys = list(runs[0])
    med = {k: statistics.median(r[k] for r in runs) for k in keys}
    floor = statistics.median(floors)
    rows = [
        ("first paint (sessions screen with rows)", med["first_paint_s"],
         f"< {TARGET_FIRST_PAINT_S:.0f} s",
         "PASS" if med["first_paint_s"] < TARGET_FIRST_PAINT_S else "FAIL"),
        ("bare Textual app, same size (floor)", floor, "-", "info"),
        ("counts of 1M entries arrive (after paint)", med["counts_s"], "-", "info"),
        ("memory browser: first page of 100", med["memory_first_page_s"], "-", "info"),
        ("memory browser: next page", med["memory_next_page_s"], "-", "info"),
        ("memory browser: 10th page", med["memory_page_10_s"], "-", "info"),
        (f"task tree: {int(med['task_nodes']):,} tasks", med["task_tree_s"], "-", "info"),
    ]  # fmt: skip
    print(f"\nApp on {args.entries:,} memory entries and {args.tasks:,} tasks "
          f"(median of {args.runs} runs)")  # fmt: skip
    print(f"{'measure':44} {'seconds':>9}  {'target':8} result")
    for name, value, target, verdict in rows:
        print(f"{name:44} {value:9.3f}  {target:8} {verdict}")
    print(f"first paint / bare Textual floor: {med['first_paint_s'] / floor:.2f}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "entries": args.entries,
                "tasks": args.tasks,
                "runs": runs,
                "floor_runs": floors,
                "median": med,
                "floor_median": floor,
            },
            indent=2,
        )
    )
    print(f"JSON in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The conversation viewer on a 4 MB transcript with a 1 MB line (issue 13: open in under 1 s).

The transcript is the 3 MB real sample (1,512 lines) with the result of its
first tool call grown to 1 MB (a huge command output: the line the first page
has to show) and its subagent's 144 lines appended, 4.4 MB in all. Cases, each
run ``--runs`` times, median reported:

- core, first page: open the file (no read), index and parse only the lines
  of the first page of 40 turns, pairing each call with its result;
- core, structure: the one pass over every line (branch, subagent links),
  which runs after the first page is on screen;
- core, search: a text search for a word of the session;
- app, first page from the file: ``t`` on the sessions screen until the
  conversation screen has its first turns laid out on screen (Pilot,
  headless; the key is posted, not awaited), and until the screen is settled
  (every queued message handled: the footer rebuilt, the structure read);
- app, first page from the archive: the same session imported (so archived)
  and its file gone, read back from the archive;
- floors, same run: ``json.loads`` of every line of the file (what any parse
  of the whole file costs) and a bare Textual app showing one Static.

Run: ``python -m bench.bench_conversation [--runs N]``. Prints a table and
writes ``bench/results/conversation.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import render_table

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "tests" / "fixtures" / "claude-code" / "spotter_v2.1.38-39"
MAIN = SAMPLE / "4d5611e5-241a-462a-8d15-5122611a9569.jsonl"
AGENT = SAMPLE / MAIN.stem / "subagents" / "agent-a2898e3.jsonl"
RESULTS = Path(__file__).resolve().parent / "results" / "conversation.json"
TARGET_S = 1.0
SIZE = (160, 48)
BIG = 1 << 20


def build_transcript(folder: Path) -> Path:
    """The 4.4 MB transcript: the sample, its first tool result grown to 1 MB, its agent's lines."""
    lines = MAIN.read_bytes().split(b"\n")
    for i, line in enumerate(lines):
        if b'"tool_result"' in line:
            record = json.loads(line)
            block = record["message"]["content"][0]
            filler = "build output line with some words in it and a counter "
            text = "".join(f"{filler}{n}\n" for n in range(BIG // len(filler) + 1))
            block["content"] = text[:BIG]
            lines[i] = json.dumps(record, ensure_ascii=False).encode()
            break
    body = b"\n".join(lines).rstrip(b"\n") + b"\n" + AGENT.read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MAIN.name
    path.write_bytes(body)
    return path


def _median(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def core_cases(path: Path, runs: int) -> dict[str, float]:
    from claude_tui.core.transcripts.conversation import Conversation, TranscriptFiles
    from claude_tui.core.transcripts.search import text_search

    def first_page() -> None:
        conversation = Conversation(TranscriptFiles(path, str(path)))
        page = conversation.main.page(0, 40)
        assert page.turns and any(
            t.tool and t.tool.result and len(t.tool.result.text) >= BIG - 64 for t in page.turns
        ), "the 1 MB result is not on the first page"
        conversation.close()

    def structure() -> None:
        conversation = Conversation(TranscriptFiles(path, str(path)))
        conversation.structure()
        conversation.close()

    conversation = Conversation(TranscriptFiles(path, str(path)))
    conversation.structure()

    def search() -> None:
        assert text_search(conversation, "AshComputer")

    out = {
        "core_first_page_s": _median(first_page, runs),
        "core_structure_s": _median(structure, runs),
        "core_search_s": _median(search, runs),
    }
    conversation.close()
    return out


def floor_parse(path: Path, runs: int) -> float:
    def parse_all() -> None:
        with open(path, "rb") as handle:
            for line in handle:
                if line.strip():
                    json.loads(line)

    return _median(parse_all, runs)


async def _until(pilot: Any, predicate: Callable[[], bool], limit: float = 60.0) -> None:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > limit:
            raise TimeoutError("the conversation never showed")
        await pilot.pause(0.002)


async def app_first_page(data_dir: Path, session_id: str) -> tuple[float, float]:
    """Seconds from ``t`` on the sessions screen to the first turns laid out on screen, and
    to the screen settled (every queued message handled, the footer rebuilt)."""
    from textual.widgets import DataTable

    from claude_tui.app.app import ClaudeTUIApp
    from claude_tui.app.screens.conversation import ConversationScreen
    from claude_tui.core.config import Config
    from claude_tui.core.coordinator import MemoryCoordinator

    coordinator = MemoryCoordinator.open(Config.load(data_dir, env={}, redis_enabled=False))
    app = ClaudeTUIApp(
        coordinator, fresh=True, vector_search=False, scheduler=False, find_transcripts=list
    )
    try:
        async with app.run_test(size=SIZE) as pilot:
            table = app.screen.query_one(DataTable)
            await _until(pilot, lambda: table.row_count > 0)
            table.move_cursor(row=table.get_row_index(session_id))
            await pilot.pause()
            started = time.perf_counter()
            app.simulate_key("t")  # posted, not awaited: the clock runs while the app works

            def shown() -> bool:
                screen = app.screen
                pager = screen._pagers.get("") if isinstance(screen, ConversationScreen) else None
                if pager is None or not pager.views:
                    return False
                return pager.views[0] in screen._compositor.visible_widgets

            while not shown():
                if time.perf_counter() - started > 60:
                    raise TimeoutError("the conversation never showed")
                await asyncio.sleep(0.002)
            visible = time.perf_counter() - started
            await pilot.pause()
            return visible, time.perf_counter() - started
    finally:
        coordinator.close()


async def floor_app() -> float:
    """A bare Textual app showing one Static of 2,000 characters."""
    from textual.app import App, ComposeResult
    from textual.widgets import Static

    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Static("x " * 1000)

    started = time.perf_counter()
    app = Bare()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        return time.perf_counter() - started


def setup_sessions(root: Path, path: Path) -> tuple[Path, str, Path, str]:
    """Two data dirs: one whose session names the file (as the hooks record it), one that
    imported (so archived) it and then lost the file."""
    from claude_tui.core.config import Config
    from claude_tui.core.coordinator import MemoryCoordinator
    from claude_tui.core.importers.claude_code import ClaudeCodeImporter

    by_file = root / "data-file"
    with MemoryCoordinator.open(Config.load(by_file, env={}, redis_enabled=False)) as c:
        session = c.sessions.create(name="4 MB transcript", metadata={"transcript_path": str(path)})
        file_sid = session.id
    archived = root / "data-archive"
    copy = root / "gone" / path.name
    copy.parent.mkdir()
    shutil.copy(path, copy)
    with MemoryCoordinator.open(Config.load(archived, env={}, redis_enabled=False)) as c:
        ClaudeCodeImporter(c).run([copy])
        archive_sid = c.sessions.list()[0].id
    copy.unlink()
    return by_file, file_sid, archived, archive_sid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="ctui-bench-conv-"))
    try:
        path = build_transcript(root / "projects" / "-bench")
        size = path.stat().st_size
        longest = max(len(line) for line in path.read_bytes().split(b"\n"))
        core = core_cases(path, args.runs)
        parse_floor = floor_parse(path, args.runs)
        by_file, file_sid, archived, archive_sid = setup_sessions(root, path)
        file_runs = [asyncio.run(app_first_page(by_file, file_sid)) for _ in range(args.runs)]
        archive_runs = [
            asyncio.run(app_first_page(archived, archive_sid)) for _ in range(args.runs)
        ]
        app_file, app_archive = [r[0] for r in file_runs], [r[0] for r in archive_runs]
        app_floor = [asyncio.run(floor_app()) for _ in range(args.runs)]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    med = {
        **core,
        "floor_json_loads_every_line_s": parse_floor,
        "app_first_page_file_s": statistics.median(app_file),
        "app_first_page_archive_s": statistics.median(app_archive),
        "app_settled_file_s": statistics.median(r[1] for r in file_runs),
        "floor_bare_textual_s": statistics.median(app_floor),
    }
    target = f"< {TARGET_S:.0f} s"

    def verdict(value: float) -> str:
        return "PASS" if value < TARGET_S else "FAIL"

    rows = [
        ("core: open + first page (40 turns)", med["core_first_page_s"], "-", "info"),
        ("core: structure pass (every line)", med["core_structure_s"], "-", "info"),
        ("core: text search", med["core_search_s"], "-", "info"),
        ("floor: json.loads of every line", parse_floor, "-", "floor"),
        ("app: t -> first page (file)", med["app_first_page_file_s"], target,
         verdict(med["app_first_page_file_s"])),
        ("app: t -> first page (archived copy)", med["app_first_page_archive_s"], target,
         verdict(med["app_first_page_archive_s"])),
        ("app: t -> screen settled (file)", med["app_settled_file_s"], "-", "info"),
        ("floor: bare Textual app, one Static", med["floor_bare_textual_s"], "-", "floor"),
    ]  # fmt: skip
    print(
        f"\nConversation viewer: {size / 1e6:.1f} MB transcript, longest line "
        f"{longest / 1e6:.2f} MB (median of {args.runs} runs)"
    )
    table = [
        {"m": name, "s": f"{value:.3f}", "target": tgt, "result": res}
        for name, value, tgt, res in rows
    ]
    print(
        render_table(
            {"m": "measure", "s": "seconds", "target": "target", "result": "result"},
            table,
            [0, 0, 0, 0, 1, 1, 1, 1],
        )
    )
    print(
        f"core first page / json.loads floor: {med['core_first_page_s'] / parse_floor:.2f}x; "
        f"app first page (file) / bare Textual: "
        f"{med['app_first_page_file_s'] / med['floor_bare_textual_s']:.2f}x"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "bytes": size,
                "longest_line": longest,
                "runs": args.runs,
                "median": med,
                "app_file_runs": app_file,
                "app_archive_runs": app_archive,
                "app_floor_runs": app_floor,
            },
            indent=2,
        )
    )
    print(f"JSON in {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

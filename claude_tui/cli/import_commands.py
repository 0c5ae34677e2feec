"""``claude-tui import claude-code [PATH ...] [--watch] [--json]``.

Prints a summary table (rows added/updated per kind, and every malformed line
as FILE:LINE: reason). Progress goes to stderr when it is a terminal. With
``--watch`` it then follows the transcripts, printing one line per session
that changed, until Ctrl-C (exit 0).
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from claude_tui.cli import output as out
from claude_tui.core.errors import BadInput

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator
    from claude_tui.core.importers.claude_code import ImportReport, SessionReport

Handler = Callable[["MemoryCoordinator", argparse.Namespace], int]

_LABELS = {
    "sessions": "sessions",
    "agents": "agents",
    "tasks": "tasks (todos)",
    "memory": "memory entries",
    "patterns": "patterns",
    "metrics": "metrics",
}


def resolve_paths(args: argparse.Namespace) -> list[Path]:
    """The paths to import: those given (checked), or the discovered directories.

    Raises:
        BadInput: a given path does not exist.
    """
    if args.paths:
        paths = [Path(p).expanduser() for p in args.paths]
        for path in paths:
            if not path.exists():
                raise BadInput(f"no such file or directory: {path}")
        return paths
    from claude_tui.core.importers.claude_code import discover_roots

    return discover_roots()


def _progress(done: int, total: int, name: str) -> None:
    if sys.stderr.isatty() and total > 1:
        sys.stderr.write(f"\rimporting {done}/{total} sessions… {name[:36]:<36}")
        if done == total:
            sys.stderr.write("\r" + " " * 70 + "\r")
        sys.stderr.flush()


def _print_report(report: ImportReport) -> None:
    totals = report.totals()
    data = report.to_dict()
    sessions = data["sessions"]
    print(
        f"{report.files} file(s), {len(report.sessions)} session(s): {sessions['new']} new, "
        f"{sessions['updated'] + sessions['reimported']} updated, {sessions['unchanged']} "
        f"unchanged; {report.lines:,} line(s) read in {report.seconds:.2f} s"
    )
    out.table(
        ["KIND", "ADDED", "UPDATED", "REMOVED"],
        [(_LABELS[k], v[0], v[1], v[2]) for k, v in totals.items()],
    )
    bad = report.malformed
    print(f"malformed lines: {len(bad)}")
    for item in bad:
        print(f"  {item}")
    for one in report.merged:
        print(
            f"{one.session_id}: {len(one.merged)} files claim this session, merged by record "
            f"uuid ({one.duplicates:,} record(s) were copies)"
        )
        for path in one.merged:
            print(f"  {path}")
    if report.coerced:
        print(f"records kept with a field ignored or coerced: {len(report.coerced)}")
        for item in report.coerced[:20]:
            print(f"  {item}")
        if len(report.coerced) > 20:
            print(f"  … and {len(report.coerced) - 20} more (--json lists them all)")
    for skipped in report.skipped:
        print(f"skipped {skipped}")


def _session_line(one: SessionReport) -> str:
    added = {k: v[0] for k, v in one.counts.items() if v[0]}
    updated = {k: v[1] for k, v in one.counts.items() if v[1]}
    parts = [f"{one.session_id}: {one.status}, {one.lines} new line(s)"]
    if added:
        parts.append("added " + ", ".join(f"{n} {k}" for k, n in added.items()))
    if updated:
        parts.append("updated " + ", ".join(f"{n} {k}" for k, n in updated.items()))
    if len(one.merged) > 1:
        parts.append(f"merged {len(one.merged)} files ({one.duplicates} copied record(s))")
    line = "; ".join(parts)
    for item in one.malformed:
        line += f"\n  malformed: {item}"
    return line


def import_claude_code(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.core.importers.claude_code import ClaudeCodeImporter

    paths = resolve_paths(a)
    importer = ClaudeCodeImporter(c)
    if not paths:
        print("no Claude Code transcripts found (looked in $CLAUDE_CONFIG_DIR, ~/.claude, "
              "~/.config/claude)")  # fmt: skip
        if not a.watch:
            return 0
    report = importer.run(paths, final=not a.watch, progress=_progress)
    if any(report.totals().get("memory", ())):
        from claude_tui.cli.search_commands import index_imported

        index_imported(c, quiet=a.json)  # before the summary: stdout stays one JSON document
    if a.json:
        out.emit_json(report.to_dict())
    else:
        _print_report(report)
    for item in report.malformed:
        sys.stderr.write(f"malformed: {item}\n")
    from claude_tui.cli.transcript_commands import purge_notice

    purge_notice(c)  # one line on stderr when Claude Code purges within 30 days
    if not a.watch:
        return 0
    sys.stdout.write("watching for changes (Ctrl-C to stop)\n")
    sys.stdout.flush()
    stop = threading.Event()

    def show(one: SessionReport) -> None:
        sys.stdout.write(_session_line(one) + "\n")
        sys.stdout.flush()

    try:
        importer.watch(paths, stop=stop, on_report=show)
    except KeyboardInterrupt:
        stop.set()
    sys.stdout.write("stopped\n")
    return 0


IMPORT_HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("import", "claude-code"): import_claude_code,
}

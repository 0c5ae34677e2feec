"""Printing results: ``--json`` for machines, aligned plain columns for people."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Sequence
from typing import Any


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def when(stamp: float | None) -> str:
    """A local timestamp for people ('-' when unset)."""
    if stamp is None:
        return "-"
    return dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M:%S")


def short(value: Any, width: int = 60) -> str:
    """One line of at most ``width`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print rows as left-aligned columns under a header line."""
    cells = [[str(c) for c in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        sys.stdout.write(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        )
    if not rows:
        sys.stdout.write("(none)\n")


def cut_note(what: str, offset: int, shown: int, total: int, *, as_json: bool) -> None:
    """Say when a listing stopped at its limit, and how to see the rest (silent when it did not).

    Text output gets it as its last line; ``--json`` output stays a plain list
    (its consumers are unchanged) and the note goes to stderr.
    """
    if offset + shown >= total:
        return
    first = offset + 1 if shown else offset
    text = (
        f"showing {first:,}-{offset + shown:,} of {total:,} {what}; "
        f"--limit N or --offset {offset + shown} for more"
    )
    if as_json:
        sys.stderr.write(f"claude-tui: {text}\n")
    else:
        sys.stdout.write(text + "\n")


def fields(pairs: Sequence[tuple[str, Any]]) -> None:
    """Print ``name: value`` lines."""
    width = max(len(name) for name, _ in pairs)
    for name, value in pairs:
        shown = (
            value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        )
        sys.stdout.write(f"{name.ljust(width)}  {shown}\n")


def ago(seconds: float) -> str:
    """A duration in the past as a short phrase ("42 s ago", "3 h ago")."""
    seconds = max(0.0, seconds)
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"

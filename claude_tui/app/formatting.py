"""Small display helpers shared by the screens."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from rich.syntax import Syntax
from rich.text import Text
from textual.markup import escape

TASK_GLYPHS = {
    "pending": "○",
    "in_progress": "◐",
    "blocked": "⊘",
    "completed": "●",
    "failed": "✖",
    "cancelled": "–",
}
# Each status its own colour (ANSI names: both themes map them to readable shades).
TASK_STYLES = {
    "pending": "blue",
    "in_progress": "bold yellow",
    "blocked": "magenta",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "dim",
}
MASK = "•••••• sensitive — press r to reveal"


def task_glyph(status: str) -> Text:
    """A task status as its glyph, coloured by what it means."""
    return Text(TASK_GLYPHS.get(status, "?"), style=TASK_STYLES.get(status, ""))


def task_legend() -> Text:
    """``○ pending  ◐ in progress  …``: what the task glyphs and colours mean."""
    legend = Text()
    for status, glyph in TASK_GLYPHS.items():
        if legend:
            legend.append("  ")
        legend.append(glyph, style=TASK_STYLES[status])
        legend.append(" " + status.replace("_", " "))
    return legend


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 task``, ``2 tasks``, ``1 best match``, ``3 best matches`` (``many``: irregular)."""
    if count == 1:
        return f"{count:,} {word}"
    if many is None:
        many = word + ("es" if word.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{count:,} {many}"


def fixed(value: float, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, never ``-0.00`` (a tiny negative reads as 0)."""
    text = f"{value:.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def when(stamp: float | None) -> str:
    """A short local time, or '-'."""
    if stamp is None:
        return "-"
    return dt.datetime.fromtimestamp(stamp).strftime("%Y-%m-%d %H:%M")


def duration(seconds: float | None) -> str:
    """'4m 12s', '2h 05m', '3d 4h', or '∞' for None."""
    if seconds is None:
        return "∞"
    s = int(max(0, seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86_400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86_400}d {s % 86_400 // 3600}h"


def size(n: int) -> str:
    """Bytes as a short human size."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def one_line(value: Any, width: int = 48) -> str:
    """A value squeezed onto one line."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def json_view(value: Any, *, raw_invalid: str | None = None) -> Syntax | Text:
    """Highlighted, indented JSON; raw text flagged when it is not JSON."""
    if raw_invalid is not None:
        return Text.assemble(("⚠ not valid JSON — shown as stored\n", "bold yellow"), raw_invalid)
    return Syntax(
        json.dumps(value, indent=2, ensure_ascii=False), "json", word_wrap=True, theme="ansi_dark"
    )


def cell(value: object) -> Text:
    """A table cell that shows user data literally (strings would be parsed as markup)."""
    return Text(str(value), no_wrap=True, overflow="ellipsis", end="")


def esc(value: object) -> str:
    """User data made safe to embed in markup."""
    return escape(str(value))

"""Write what a screen shows to a file: a list or one entry, as JSON or Markdown.

Exports go to ``<data dir>/exports/`` (0700), one new 0600 file each, named
after the screen and the time (``memory-20261120-120000.json``): always
writable, private like the rest of the data dir, and the toast names the
path. What is written is what the screen shows: secrets stay masked unless
the user revealed them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from claude_tui.core.durability.files import PRIVATE_FILE, fsync_dir, open_private, private_dir

FORMATS = {"json": "JSON", "md": "Markdown"}


def to_json(data: Any) -> str:
    """Indented JSON (text kept as it is: no ``\\u`` escapes)."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _md_cell(value: object) -> str:
    # A pipe would end the cell and a newline the row: keep each value in its cell.
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")


def list_markdown(title: str, rows: Sequence[Mapping[str, object]]) -> str:
    """A heading and a Markdown table of ``rows`` (the keys of the first row are the columns)."""
    lines = [f"# {title}", ""]
    if not rows:
        return "\n".join([*lines, "(no rows)", ""])
    columns = list(rows[0])
    lines.append("| " + " | ".join(_md_cell(c) for c in columns) + " |")
    lines.append("|" + "---|" * len(columns))
    for row in rows:
        lines.append("| " + " | ".join(_md_cell(row.get(c, "")) for c in columns) + " |")
    return "\n".join([*lines, ""])


def entry_markdown(title: str, entry: Mapping[str, object]) -> str:
    """A heading and a field/value table for one entry; a structured value as a JSON block."""
    lines = [f"# {title}", "", "| field | value |", "|---|---|"]
    blocks: list[str] = []
    for name, value in entry.items():
        if isinstance(value, dict | list):
            blocks += ["", f"## {name}", "", "```json", to_json(value).rstrip(), "```"]
        else:
            lines.append(f"| {_md_cell(name)} | {_md_cell('' if value is None else value)} |")
    return "\n".join([*lines, *blocks, ""])


def export_dir(data_dir: Path) -> Path:
    """Where exports are written."""
    return data_dir / "exports"


def write_export(data_dir: Path, name: str, ext: str, text: str, now: float) -> Path:
    """Write ``text`` to a new private file in the exports folder; return its path.

    The name is ``<name>-<local time>.<ext>``; a second export in the same
    second gets ``-2``, ``-3``, ... (never overwrites an earlier one).

    Raises:
        OSError: the folder or the file cannot be written.
    """
    folder = export_dir(data_dir)
    private_dir(folder)
    stamp = dt.datetime.fromtimestamp(now).strftime("%Y%m%d-%H%M%S")
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in name) or "export"
    for n in range(1, 1000):
        path = folder / f"{safe}-{stamp}{'' if n == 1 else f'-{n}'}.{ext}"
        try:
            fd = open_private(path, os.O_WRONLY | os.O_EXCL, mode=PRIVATE_FILE)
        except FileExistsError:
            continue
        try:
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        except BaseException:
            path.unlink(missing_ok=True)  # never leave half an export behind
            raise
        finally:
            os.close(fd)
        fsync_dir(folder)
        return path
    raise FileExistsError(f"too many exports named {safe}-{stamp} in {folder}")

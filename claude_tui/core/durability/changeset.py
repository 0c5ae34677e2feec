"""Differential and incremental backup files: gzip-compressed JSON lines.

The first line is a header (kind, ids, the change-log range ``(seq_lo, seq_hi]``,
the columns of every table present and the row count); each following line is
one row as it was at ``seq_hi``: ``{"t": table, "k": key, "r": [values]}``, or
``"r": null`` when the row no longer existed (a delete marker). BLOBs are
written as ``{"b64": "..."}`` so they survive JSON.
"""

from __future__ import annotations

import base64
import gzip
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from claude_tui.core.errors import BackupFailed

FORMAT = "claude-tui-changes"
VERSION = 1
_BATCH = 500


def encode_value(value: Any) -> Any:
    """A SQLite value as JSON (BLOBs as ``{"b64": ...}``)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode("ascii")}
    return value


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value`."""
    if isinstance(value, dict):
        return base64.b64decode(value["b64"])
    return value


def quote(name: str) -> str:
    """An SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableShape:
    """What a changes file needs to know about one table: its columns and primary key."""

    columns: list[str]
    pk: str
    integer_pk: bool


def table_shape(conn: sqlite3.Connection, table: str) -> TableShape:
    """Columns and single-column primary key of ``table``.

    Raises:
        BackupFailed: no such table, or no single-column primary key.
    """
    info = conn.execute(f"PRAGMA table_info({quote(table)})").fetchall()
    if not info:
        raise BackupFailed(f"the change log names table {table!r}, which does not exist")
    pks = [row for row in info if row[5]]
    if len(pks) != 1:
        raise BackupFailed(f"table {table!r} has no single-column primary key")
    return TableShape([row[1] for row in info], pks[0][1], str(pks[0][2]).upper() == "INTEGER")


def fetch_rows(
    conn: sqlite3.Connection, table: str, shape: TableShape, keys: list[str]
) -> dict[str, tuple[Any, ...]]:
    """The current rows of ``table`` whose primary key is in ``keys``, by key text."""
    found: dict[str, tuple[Any, ...]] = {}
    pk_index = shape.columns.index(shape.pk)
    cols = ", ".join(quote(c) for c in shape.columns)
    for start in range(0, len(keys), _BATCH):
        chunk = keys[start : start + _BATCH]
        params = [int(k) for k in chunk] if shape.integer_pk else chunk
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT {cols} FROM {quote(table)} WHERE {quote(shape.pk)} IN ({marks})"
        for row in conn.execute(sql, params):
            found[str(row[pk_index])] = row
    return found


class ChangesWriter:
    """Writes a changes file: header first, then one line per row."""

    def __init__(self, handle: IO[bytes], header: dict[str, Any]) -> None:
        self._gz = gzip.GzipFile(fileobj=handle, mode="wb", compresslevel=6, mtime=0)
        self._line({"format": FORMAT, "version": VERSION, **header})

    def _line(self, obj: Any) -> None:
        self._gz.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def row(self, table: str, key: str, values: tuple[Any, ...] | None) -> None:
        """One row as it is now, or ``None`` for a row that is gone."""
        self._line(
            {
                "t": table,
                "k": key,
                "r": None if values is None else [encode_value(v) for v in values],
            }
        )

    def close(self) -> None:
        """Finish the gzip stream (the caller closes and fsyncs the file)."""
        self._gz.close()


@dataclass
class ChangeRow:
    """One decoded row of a changes file (``values`` is None for a delete)."""

    table: str
    key: str
    values: list[Any] | None


def read_changes(path: Path) -> tuple[dict[str, Any], Iterator[ChangeRow]]:
    """The header and a lazy iterator over the rows of a changes file.

    Raises:
        BackupFailed: not a readable changes file.
    """
    try:
        gz = gzip.open(path, "rb")  # noqa: SIM115 (closed by the row iterator)
        first = gz.readline()
        header = json.loads(first)
    except (OSError, EOFError, ValueError) as exc:
        raise BackupFailed(f"{path.name} is not a readable changes file: {exc}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        gz.close()
        raise BackupFailed(f"{path.name} is not a claude-tui changes file")

    def rows() -> Iterator[ChangeRow]:
        with gz:
            try:
                for line in gz:
                    item = json.loads(line)
                    values = item["r"]
                    yield ChangeRow(
                        item["t"],
                        str(item["k"]),
                        None if values is None else [decode_value(v) for v in values],
                    )
            except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
                raise BackupFailed(f"{path.name} is damaged: {exc}") from None

    return header, rows()


def check_changes_file(path: Path, expected: dict[str, Any]) -> int:
    """Decompress a changes file fully; check its header and row count.

    ``expected`` holds header fields that must match (kind, id, base, seq range...).
    Returns the row count.

    Raises:
        BackupFailed: naming the first mismatch.
    """
    header, rows = read_changes(path)
    for name, value in expected.items():
        if header.get(name) != value:
            raise BackupFailed(
                f"{path.name}: header {name} is {header.get(name)!r}, expected {value!r}"
            )
    count = 0
    columns = header.get("columns", {})
    for row in rows:
        if row.values is not None and len(row.values) != len(columns.get(row.table, ())):
            raise BackupFailed(f"{path.name}: a {row.table} row has the wrong number of columns")
        count += 1
    if count != header.get("rows"):
        raise BackupFailed(f"{path.name} holds {count} rows, its header says {header.get('rows')}")
    return count

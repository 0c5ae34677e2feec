"""``claude-tui backup run|list|verify|restore``.

``list``, ``verify`` and ``restore`` need only the config, never an open
coordinator: ``main`` runs them through :func:`run_without_store`, so they
work while the database is damaged (which is when a restore is needed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from claude_tui.cli import output as out
from claude_tui.core.errors import BackupFailed, BadInput

if TYPE_CHECKING:
    from claude_tui.core.config import Config
    from claude_tui.core.coordinator import MemoryCoordinator
    from claude_tui.core.durability.manifest import BackupRecord

Handler = Callable[["MemoryCoordinator", argparse.Namespace], int]

_EPOCH = re.compile(r"\d+(\.\d+)?")


def parse_moment(text: str) -> float:
    """``--at``: ISO 8601 local time (``2026-11-25T14:00``, ``2026-11-25 14:00:00``) or epoch.

    Raises:
        BadInput: anything else.
    """
    stripped = text.strip()
    if _EPOCH.fullmatch(stripped):
        return float(stripped)
    try:
        moment = dt.datetime.fromisoformat(stripped)
    except ValueError:
        raise BadInput(
            f"--at must be a time like 2026-11-25T14:00, '2026-11-25 14:00:00' or epoch "
            f"seconds, not {text!r}"
        ) from None
    return moment.timestamp()  # a naive time is local time


def human_size(size: int) -> str:
    """Bytes for people: 512 B, 2.1 MB."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _service(config: Config, c: MemoryCoordinator | None = None) -> Any:
    from claude_tui.core.durability.backups import BackupService

    if not os.environ.get("CLAUDE_TUI_DEBUG"):
        # The command prints the failure itself, as one line; the service's ERROR
        # log would repeat it (it still goes to the manifest and the metrics).
        logging.getLogger("claude_tui.core.durability").setLevel(logging.CRITICAL)
    return BackupService(config, c)


def _err(message: str) -> None:
    sys.stderr.write(message.rstrip() + "\n")


def backup_run(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    record: BackupRecord = _service(c.config, c).run(a.kind)
    if a.json:
        out.emit_json(record.to_dict())
        return 0
    if record.status == "skipped":
        print(f"{record.kind} backup skipped: {record.note}")
        return 0
    print(
        f"{record.kind} backup {record.id}: {record.rows:,} rows, {human_size(record.size)}, "
        f"verified (sha256 {(record.sha256 or '')[:8]}…)"
    )
    if record.note:
        _err(f"note: {record.note}")
    return 0


def _list(config: Config, a: argparse.Namespace) -> int:
    records = _service(config).list()
    if a.json:
        out.emit_json([r.to_dict() for r in records])
        return 0
    out.table(
        ["ID", "KIND", "BASE", "SEQ", "CREATED", "SIZE", "STATUS"],
        [(r.id, r.kind, r.base or "-", f"{r.seq_lo}-{r.seq_hi}", out.when(r.created_at),
          human_size(r.size) if r.file else "-",
          r.status if not r.error else f"{r.status}: {out.short(r.error, 60)}")
         for r in records],
    )  # fmt: skip
    return 0


def _verify(config: Config, a: argparse.Namespace) -> int:
    results = _service(config).verify(a.id)
    if a.json:
        out.emit_json([{**r.to_dict(), "problem": problem} for r, problem in results])
    else:
        for record, problem in results:
            state = "ok" if problem is None else f"FAILED: {problem}"
            print(f"{record.id}  {record.kind:<12}  {state}")
        if not results:
            print("no backups to verify")
    return 1 if any(problem is not None for _, problem in results) else 0


def _confirm(question: str) -> bool:
    sys.stderr.write(question)
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in {"y", "yes"}


def _restore(config: Config, a: argparse.Namespace) -> int:
    at = parse_moment(a.at) if a.at is not None else None
    backup_id = None if a.target in (None, "latest") else a.target
    if backup_id is not None and at is not None:
        raise BadInput("give a backup id or --at, not both")
    service = _service(config)
    chain = service.plan(backup_id, at)
    target = chain[-1]
    summary = (
        f"replace {config.db_path} with its state at {out.when(target.created_at)} "
        f"(backup {target.id}, {len(chain)} file{'s' if len(chain) > 1 else ''})"
    )
    if not a.yes:
        if not sys.stdin.isatty():
            raise BadInput(
                "refusing to restore without --yes: stdin is not a terminal to confirm on"
            )
        if not _confirm(f"{summary[0].upper()}{summary[1:]}? The current database is kept "
                        f"under {config.data_dir / 'replaced'}. [y/N] "):  # fmt: skip
            print("nothing restored")
            return 1
    started = time.monotonic()
    report = service.restore(backup_id, at)
    parts = " + ".join(f"{k} {i}" for k, i in zip(report.kinds, report.applied, strict=True))
    print(
        f"restored {config.db_path.name} to its state at {out.when(report.state_at)} "
        f"(change {report.seq:,}): {parts}; {report.rows_replayed:,} rows replayed "
        f"in {time.monotonic() - started:.1f} s"
    )
    if report.kept_aside:
        print(f"the previous database is kept at {report.kept_aside}")
    if report.vector_index_reset:
        print("the pattern index will be rebuilt from the restored patterns on next use")
    print("the next backup will be a full one; restart any running claude-tui")
    return 0


def backup_list(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    return _list(c.config, a)


def backup_verify(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    return _verify(c.config, a)


def backup_restore(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    return _restore(c.config, a)


def run_without_store(config: Config, a: argparse.Namespace) -> int:
    """Run ``backup list|verify|restore`` without opening the database."""
    return {"list": _list, "verify": _verify, "restore": _restore}[a.action](config, a)


def backup_status(config: Config) -> dict[str, Any]:
    """For ``doctor``: the newest good backup and how many failed, as data and a line."""
    from claude_tui.core.durability.backups import BackupService

    try:
        records = BackupService(config).list()
    except BackupFailed as exc:
        return {"line": f"manifest unreadable: {exc}", "latest": None, "failed": None}
    good = [r for r in records if r.usable]
    failed = [r for r in records if r.status == "failed"]
    latest = good[-1] if good else None
    line = (
        f"latest {latest.kind} {latest.id} at {out.when(latest.created_at)}"
        if latest
        else "none yet (claude-tui backup run)"
    )
    if failed:
        line += f"; {len(failed)} FAILED (claude-tui backup list)"
    return {
        "line": line,
        "dir": str(config.backups_path),
        "latest": latest.to_dict() if latest else None,
        "failed": len(failed),
    }


BACKUP_HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("backup", "run"): backup_run,
    ("backup", "list"): backup_list,
    ("backup", "verify"): backup_verify,
    ("backup", "restore"): backup_restore,
}

"""The backup manifest: one JSON file per backup dir listing every backup and its state.

Readers never see a half-written manifest: it is written to a temporary file,
fsynced and renamed over the old one. Writers (a scheduled backup in the app,
``claude-tui backup run`` in a shell) take an exclusive ``flock`` on a lock
file, so two read-modify-write cycles never interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from claude_tui.core.durability.files import open_private, private_dir, write_atomic
from claude_tui.core.errors import BackupFailed

MANIFEST_NAME = "manifest.json"
LOCK_NAME = ".manifest.lock"
FORMAT_VERSION = 1

KINDS = ("full", "differential", "incremental")
OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass
class BackupRecord:
    """One backup as the manifest lists it.

    ``base`` is the full a differential builds on, or the backup an incremental
    follows; ``chain`` names the line of backups of one database history (a
    restore starts a new one); ``seq_lo``/``seq_hi`` bound the change-log range
    the backup covers, ``(seq_lo, seq_hi]`` (a full covers ``(0, seq_hi]``).
    """

    id: str
    kind: str
    created_at: float
    status: str = OK
    base: str | None = None
    chain: str | None = None
    db_id: str | None = None
    seq_lo: int = 0
    seq_hi: int = 0
    file: str | None = None
    size: int = 0
    sha256: str | None = None
    rows: int = 0
    schema_version: int | None = None
    verified_at: float | None = None
    seconds: float = 0.0
    error: str | None = None
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        """Written, verified and not since found damaged."""
        return self.status == OK and self.verified_at is not None and self.file is not None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackupRecord:
        """Read a manifest entry, ignoring fields a newer version may have added."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class Manifest:
    """The manifest of one backup dir."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.path = directory / MANIFEST_NAME

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the manifest's exclusive lock (blocks while another process holds it)."""
        private_dir(self.dir)
        fd = open_private(self.dir / LOCK_NAME)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def load(self) -> list[BackupRecord]:
        """Every record, oldest first ([] when there is no manifest yet).

        Raises:
            BackupFailed: the manifest exists but cannot be read.
        """
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise BackupFailed(f"cannot read {self.path}: {exc.strerror or exc}") from None
        try:
            doc = json.loads(raw)
            records = [BackupRecord.from_dict(e) for e in doc["backups"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupFailed(f"{self.path} is not a valid backup manifest: {exc}") from None
        return sorted(records, key=lambda r: (r.created_at, r.id))

    def save(self, records: list[BackupRecord]) -> None:
        """Write ``records`` atomically (call while holding :meth:`locked`)."""
        doc = {
            "format": "claude-tui-backups",
            "version": FORMAT_VERSION,
            "backups": [r.to_dict() for r in sorted(records, key=lambda r: (r.created_at, r.id))],
        }
        write_atomic(self.path, json.dumps(doc, indent=1).encode())  # 0600, dir 0700

    def update(self, change: Callable[[list[BackupRecord]], list[BackupRecord]]) -> None:
        """Read, change and write the records under the lock."""
        with self.locked():
            self.save(change(self.load()))

    def put(self, record: BackupRecord) -> None:
        """Add ``record``, or replace the record with the same id."""
        self.update(lambda rs: [r for r in rs if r.id != record.id] + [record])

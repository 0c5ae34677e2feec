"""Keeping transcript files in the archive, and reading them back byte for byte.

A file is known by the path it was seen at. Each time it is kept:

- unchanged size, mtime and inode: nothing is read;
- it grew and its first ``size`` bytes still hash to the digest kept for the
  current version: only the new bytes are stored (Claude Code appends);
- it shrank, or its kept prefix changed: a new version is stored (the old
  ones stay), sharing every chunk whose bytes did not change.

Chunks are aligned 256 KiB blocks of the file, so two copies of a file (a
checkpoint copy and the live one, a version and its successor) share their
common whole blocks. Appends smaller than a block are stored as they come (a
"loose" part each); when appends complete a block, its loose parts are
replaced by one whole-block chunk, so a file's chunks end up the same however
it was taken in, and compress like whole blocks.

Each file is kept in one write transaction (its chunks, its version, its
parts): a file is in the archive whole as of some moment, or not at all.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from claude_tui.core.archive import codec, layout
from claude_tui.core.archive.layout import FileSpec
from claude_tui.core.errors import BadInput, NotFound
from claude_tui.core.records import archive as door

if TYPE_CHECKING:
    import sqlite3

    from cryptography.fernet import MultiFernet

    from claude_tui.core.coordinator import MemoryCoordinator

log = logging.getLogger(__name__)

BLOCK = codec.BLOCK
HISTORY_INTERVAL = 60.0  # history.jsonl grows with every prompt: re-read at most once a minute
CWD_SCAN_BYTES = 1 << 20
_RETRIES = 5

NEW, APPENDED, UNCHANGED, SAME, TRUNCATED, REWRITTEN, UNREADABLE = (
    "new", "appended", "unchanged", "same", "truncated", "rewritten", "unreadable",
)  # fmt: skip


@dataclass(frozen=True)
class Version:
    """One version of an archived file."""

    id: int
    n: int
    size: int
    sha256: str
    reason: str
    created_at: float
    updated_at: float


@dataclass
class ArchivedFile:
    """An archived file with its versions (oldest first)."""

    id: int
    path: str
    claude_session: str
    role: str
    rel: str
    project: str | None
    cwd: str | None
    size: int
    mtime_ns: int
    inode: int
    first_seen: float
    last_seen: float
    versions: list[Version] = field(default_factory=list)

    @property
    def latest(self) -> Version | None:
        """The newest version (None for a file row without one)."""
        return self.versions[-1] if self.versions else None


@dataclass(frozen=True)
class Kept:
    """What keeping one file did: ``taken`` plain bytes read in, ``stored`` payload bytes added."""

    path: str
    status: str
    version: int
    size: int
    taken: int = 0
    stored: int = 0


@dataclass(frozen=True)
class SessionSummary:
    """One archived session, for ``transcripts list``."""

    claude_session: str
    files: int
    size: int
    updated_at: float
    cwd: str | None
    project: str | None
    main_paths: tuple[str, ...]


class _Raced(Exception):
    """Another process kept the same file meanwhile: plan again."""


@dataclass
class _Plan:
    """What to write for one file, worked out before the write transaction."""

    status: str
    size: int
    sha256: str
    based_on: Version | None
    parts: list[tuple[int, int, str]] = field(default_factory=list)
    drop: tuple[int, int] | None = None  # loose parts [lo, hi) replaced by a whole block
    packed: dict[str, tuple[int, str, bytes]] = field(default_factory=dict)
    reused: set[str] = field(default_factory=set)
    taken: int = 0
    cwd: str | None = None


_FILE_COLS = (
    "id, path, claude_session, role, rel, project, cwd, size, mtime_ns, inode, first_seen, "
    "last_seen"
)
_VERSION_COLS = "id, n, size, sha256, reason, created_at, updated_at"


def _read_exact(fh: IO[bytes], n: int) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise _Raced()  # the file shrank while it was read: look again
    return data


_CWD = re.compile(rb'"cwd"\s*:\s*"((?:[^"\\]|\\.){1,4096})"')


def _first_cwd(data: bytes) -> str | None:
    """The first ``cwd`` a transcript records (its project dir), from its first bytes."""
    import json

    for line in data.split(b"\n")[:500]:
        if b'"cwd"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            found = _CWD.search(line)  # a line longer than what was read: its field still counts
            if found is None:
                continue
            try:
                record = {"cwd": json.loads(b'"' + found.group(1) + b'"')}
            except ValueError:
                continue
        cwd = record.get("cwd") if isinstance(record, dict) else None
        if isinstance(cwd, str) and cwd.startswith("/") and "\x00" not in cwd:
            return cwd
    return None


class TranscriptArchive:
    """The archive of one data dir (reads through the store, writes through its door)."""

    def __init__(self, coordinator: MemoryCoordinator) -> None:
        self.c = coordinator

    @property
    def fernet(self) -> MultiFernet:
        """The data dir's keys to open chunks with (reloaded after another process rotated them)."""
        return codec.fernet_of(self.c.rt.sealer, sealing=False)

    # -- keeping -----------------------------------------------------------------
    def keep_session(
        self, claude_session: str, paths: Iterable[Path], *, history: bool = True
    ) -> list[Kept]:
        """Keep every file of a session (see :func:`layout.session_specs`).

        Every transcript is checked readable before any file is kept, so an
        unreadable one leaves the session's archive as it was; a tool result or
        other file of the session folder that cannot be read is left out (status
        ``unreadable``, and a warning in the log). With ``history``, the
        ``history.jsonl`` of the Claude Code folder the session is in is kept too
        (at most once a minute).

        Raises:
            BadInput: a file cannot be read (one line: which, and why).
        """
        specs = layout.session_specs(claude_session, list(paths))
        known = self.files_at([s.path for s in specs])
        stats: dict[str, os.stat_result] = {}
        kept: list[Kept] = []
        for spec in specs:
            try:
                stats[spec.path] = _stat(spec.path)
            except BadInput as exc:
                if spec.role in layout.TRANSCRIPT_ROLES:
                    raise
                # A tool result or workflow file we may not read: the rest is kept whole.
                log.warning("not archived: %s", exc.message)
                kept.append(Kept(spec.path, UNREADABLE, 0, 0))
        kept += [
            self._keep(spec, known.get(spec.path), stats[spec.path])
            for spec in specs
            if spec.path in stats
        ]
        found = layout.history_of(specs) if history else None
        if found is not None:
            try:
                one = self.keep_history(found)
            except BadInput as exc:  # the prompt history is a bonus: never the session's failure
                log.warning("not archived: %s", exc.message)
                one = Kept(str(found), UNREADABLE, 0, 0)
            if one is not None:
                kept.append(one)
        return kept

    def keep_history(self, path: Path, *, interval: float = HISTORY_INTERVAL) -> Kept | None:
        """Keep ``history.jsonl`` (None: looked at less than ``interval`` seconds ago)."""
        spec = FileSpec(
            str(Path(os.path.abspath(path))), layout.HISTORY_SESSION, layout.HISTORY,
            layout.HISTORY_NAME, None,
        )  # fmt: skip
        row = self.files_at([spec.path]).get(spec.path)
        if row is not None and self.c.rt.clock() - row.last_seen < interval:
            return None
        return self._keep(spec, row, _stat(spec.path))

    def keep_file(self, spec: FileSpec) -> Kept:
        """Keep one file as it is now.

        Raises:
            BadInput: it cannot be read.
        """
        return self._keep(spec, self.files_at([spec.path]).get(spec.path), _stat(spec.path))

    def _keep(self, spec: FileSpec, row: ArchivedFile | None, st: os.stat_result) -> Kept:
        current = row.latest if row is not None else None
        if (
            row is not None
            and current is not None
            and (st.st_size, st.st_mtime_ns, st.st_ino) == (row.size, row.mtime_ns, row.inode)
            and current.size == st.st_size
        ):
            return Kept(spec.path, UNCHANGED, current.n, current.size)
        for attempt in range(_RETRIES):
            try:
                return self._keep_once(spec, row, current)
            except _Raced:
                if attempt == _RETRIES - 1:
                    raise BadInput(
                        f"{spec.path} kept changing while it was archived; try again"
                    ) from None
                row = self.files_at([spec.path]).get(spec.path)
                current = row.latest if row is not None else None
        raise AssertionError("unreachable")

    def _keep_once(self, spec: FileSpec, row: ArchivedFile | None, current: Version | None) -> Kept:
        try:
            fh = open(spec.path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise BadInput(f"cannot read {spec.path}: {exc.strerror or exc}") from None
        with fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise BadInput(f"cannot archive {spec.path}: not a regular file")
            try:
                plan = self._plan(fh, st.st_size, current)
                if spec.role == layout.MAIN and (row is None or row.cwd is None):
                    fh.seek(0)
                    plan.cwd = _first_cwd(fh.read(CWD_SCAN_BYTES))
            except OSError as exc:
                raise BadInput(f"cannot read {spec.path}: {exc.strerror or exc}") from None
        now = self.c.rt.clock()
        values: dict[str, Any] = {
            "path": spec.path, "claude_session": spec.claude_session, "role": spec.role,
            "rel": spec.rel, "project": spec.project, "cwd": plan.cwd, "size": st.st_size,
            "mtime_ns": st.st_mtime_ns, "inode": st.st_ino, "first_seen": now, "last_seen": now,
        }  # fmt: skip
        chunks = [(cid, size, cdc, data, now) for cid, (size, cdc, data) in plan.packed.items()]

        def body(conn: sqlite3.Connection) -> int:
            found = conn.execute(
                f"SELECT {_VERSION_COLS} FROM archive_versions WHERE file_id = "
                "(SELECT id FROM archive_files WHERE path = ?) ORDER BY n DESC LIMIT 1",
                (spec.path,),
            ).fetchone()
            latest = Version(*found) if found else None
            if (latest and (latest.id, latest.size, latest.sha256)) != (
                current and (current.id, current.size, current.sha256)
            ):
                raise _Raced()
            for cid in plan.reused:  # a chunk another process just dropped: plan again
                if (
                    conn.execute("SELECT 1 FROM archive_chunks WHERE id = ?", (cid,)).fetchone()
                    is None
                ):
                    raise _Raced()
            door.insert_chunks(conn, chunks)
            file_id = door.put_file(conn, values)
            if plan.status == SAME:
                return latest.n if latest else 0
            if plan.status == APPENDED:
                assert latest is not None
                version_id, n = latest.id, latest.n
                door.grow_version(conn, version_id, plan.size, plan.sha256, now)
            else:
                n = (latest.n if latest else 0) + 1
                version_id = door.new_version(
                    conn, file_id, n, plan.size, plan.sha256, plan.status, now
                )
            dropped = door.drop_parts(conn, version_id, *plan.drop) if plan.drop else []
            door.add_parts(conn, version_id, plan.parts)
            if dropped:
                door.drop_unused_chunks(conn, dropped)
            return n

        n = self.c.rt.write(body)
        stored = sum(len(data) for _, _, _, data, _ in chunks)
        return Kept(spec.path, plan.status, n, plan.size, plan.taken, stored)

    # -- planning ----------------------------------------------------------------
    def _plan(self, fh: IO[bytes], size: int, current: Version | None) -> _Plan:
        """Read the file once (twice if its kept prefix changed) and say what to store."""
        if current is not None and size >= current.size:
            digest = hashlib.sha256()
            tail = b""
            left = current.size
            while left:
                data = _read_exact(fh, min(BLOCK, left))
                digest.update(data)
                left -= len(data)
                tail = data
            if digest.hexdigest() == current.sha256:
                plan = _Plan(APPENDED if size > current.size else SAME, size, "", current)
                keep_tail = tail if current.size % BLOCK else b""
                self._segments(fh, plan, digest, current.size, size, keep_tail)
                plan.sha256 = digest.hexdigest()
                return plan
            reason = REWRITTEN
        else:
            reason = NEW if current is None else TRUNCATED
        fh.seek(0)
        digest = hashlib.sha256()
        plan = _Plan(reason, size, "", current)
        self._segments(fh, plan, digest, 0, size, b"")
        plan.sha256 = digest.hexdigest()
        return plan

    def _segments(
        self, fh: IO[bytes], plan: _Plan, digest: Any, start: int, end: int, tail: bytes
    ) -> None:
        """Read ``[start, end)`` in block-aligned pieces and plan a part for each.

        ``tail``: the kept bytes of the block ``start`` falls in (loose parts),
        needed when this read completes that block.
        """
        offset = start
        while offset < end:
            block_start = offset - offset % BLOCK
            piece_end = min(end, block_start + BLOCK)
            data = _read_exact(fh, piece_end - offset)
            digest.update(data)
            plan.taken += len(data)
            if offset > block_start and piece_end == block_start + BLOCK:
                # This append completes a block held in loose parts: one chunk for it.
                self._part(plan, block_start, tail + data)
                plan.drop = (block_start, offset)
            else:
                self._part(plan, offset, data)
            offset = piece_end

    def _part(self, plan: _Plan, offset: int, data: bytes) -> None:
        cid = codec.chunk_id(data)
        plan.parts.append((offset, len(data), cid))
        if cid in plan.packed or cid in plan.reused:
            return
        if self.c.store.row("SELECT 1 FROM archive_chunks WHERE id = ?", (cid,)) is not None:
            plan.reused.add(cid)
            return
        cdc, payload = codec.pack(data, codec.fernet_of(self.c.rt.sealer))
        plan.packed[cid] = (len(data), cdc, payload)

    # -- reading -----------------------------------------------------------------
    def files_at(self, paths: list[str]) -> dict[str, ArchivedFile]:
        """The archived files at these paths (with their versions), by path."""
        out: dict[str, ArchivedFile] = {}
        for start in range(0, len(paths), 500):
            batch = paths[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self.c.store.rows(
                f"SELECT {_FILE_COLS} FROM archive_files WHERE path IN ({marks})", batch
            )
            out.update({r[1]: ArchivedFile(*r) for r in rows})
        self._attach_versions(list(out.values()))
        return out

    def _attach_versions(self, files: list[ArchivedFile]) -> None:
        by_id = {f.id: f for f in files}
        ids = list(by_id)
        for start in range(0, len(ids), 500):
            batch = ids[start : start + 500]
            marks = ",".join("?" * len(batch))
            for row in self.c.store.rows(
                f"SELECT file_id, {_VERSION_COLS} FROM archive_versions "
                f"WHERE file_id IN ({marks}) ORDER BY file_id, n",
                batch,
            ):
                by_id[row[0]].versions.append(Version(*row[1:]))

    def session_files(self, claude_session: str) -> list[ArchivedFile]:
        """Every archived file of a session, main transcripts first."""
        rows = self.c.store.rows(
            f"SELECT {_FILE_COLS} FROM archive_files WHERE claude_session = ? ORDER BY "
            "CASE role WHEN 'main' THEN 0 ELSE 1 END, rel, path",
            (claude_session,),
        )
        files = [ArchivedFile(*r) for r in rows]
        self._attach_versions(files)
        return files

    def sessions(self) -> list[SessionSummary]:
        """Every archived session (not history.jsonl), newest change first."""
        rows = self.c.store.rows(
            "SELECT f.claude_session, count(DISTINCT f.id), "
            "coalesce(sum(v.size), 0), max(v.updated_at), "
            "max(CASE WHEN f.role = 'main' THEN f.cwd END), "
            "max(CASE WHEN f.role = 'main' THEN f.project END), "
            "group_concat(CASE WHEN f.role = 'main' THEN f.path END, char(31)) "
            "FROM archive_files f LEFT JOIN archive_versions v ON v.file_id = f.id "
            "AND v.n = (SELECT max(n) FROM archive_versions w WHERE w.file_id = f.id) "
            "WHERE f.claude_session != '' GROUP BY f.claude_session "
            "ORDER BY max(v.updated_at) DESC"
        )
        return [
            SessionSummary(
                sid,
                files,
                size,
                updated or 0.0,
                cwd,
                project,
                tuple(p for p in (mains or "").split("\x1f") if p),
            )
            for sid, files, size, updated, cwd, project, mains in rows
        ]

    def resolve(self, text: str) -> str:
        """A session id from what a user typed: the Claude Code id, ``cc_<id>``, or a prefix.

        Raises:
            NotFound: no archived session matches.
            BadInput: a prefix that matches several.
        """
        wanted = text.strip().removeprefix("cc_")
        if not wanted:
            raise BadInput("give a session id (the Claude Code session id, or cc_<id>)")
        if self.c.store.row(
            "SELECT 1 FROM archive_files WHERE claude_session = ? LIMIT 1", (wanted,)
        ):
            return wanted
        found = [
            str(r[0])
            for r in self.c.store.rows(
                "SELECT DISTINCT claude_session FROM archive_files "
                "WHERE claude_session != '' AND substr(claude_session, 1, ?) = ? LIMIT 3",
                (len(wanted), wanted),
            )
        ]
        if not found:
            raise NotFound(
                f"the archive holds no session {text!r}; `claude-tui transcripts list` shows them"
            )
        if len(found) > 1:
            raise BadInput(f"{text!r} matches several archived sessions ({', '.join(found)}…)")
        return found[0]

    def iter_version(self, version: Version) -> Iterator[bytes]:
        """The bytes of a version, part by part, each chunk checked against its digest.

        The whole is checked at the end: a version whose bytes do not hash to its
        SHA-256 raises :class:`codec.ChunkDamaged` (after yielding them, so a
        caller writing them must write to a temporary file first).
        """
        digest = hashlib.sha256()
        expected = 0
        rows = self.c.store.rows(
            "SELECT p.offset, p.size, c.id, c.size, c.codec, c.data FROM archive_parts p "
            "LEFT JOIN archive_chunks c ON c.id = p.chunk_id WHERE p.version_id = ? "
            "ORDER BY p.offset",
            (version.id,),
        )
        for offset, size, cid, csize, cdc, payload in rows:
            if offset != expected or cid is None or csize != size:
                raise codec.ChunkDamaged(
                    f"version {version.n} of an archived file is missing bytes at {expected}"
                )
            plain = codec.unpack(cid, csize, cdc, payload, self.fernet)
            digest.update(plain)
            expected += size
            yield plain
        if expected != version.size or digest.hexdigest() != version.sha256:
            raise codec.ChunkDamaged(
                f"version {version.n} of an archived file does not hash to its sha256"
            )

    def read_version(self, version: Version) -> bytes:
        """The bytes of a version, checked."""
        return b"".join(self.iter_version(version))

    def stats(self) -> dict[str, int]:
        """Totals: files, versions, chunks, bytes kept (latest versions) and bytes stored."""
        files, versions = self.c.store.row(
            "SELECT (SELECT count(*) FROM archive_files), (SELECT count(*) FROM archive_versions)"
        ) or (0, 0)
        chunks, plain, stored = self.c.store.row(
            "SELECT count(*), coalesce(sum(size), 0), coalesce(sum(length(data)), 0) "
            "FROM archive_chunks"
        ) or (0, 0, 0)
        latest = self.c.store.scalar(
            "SELECT coalesce(sum(v.size), 0) FROM archive_versions v WHERE v.n = "
            "(SELECT max(n) FROM archive_versions w WHERE w.file_id = v.file_id)"
        )
        return {
            "files": int(files), "versions": int(versions), "chunks": int(chunks),
            "kept_bytes": int(latest or 0), "chunk_bytes": int(plain), "stored_bytes": int(stored),
        }  # fmt: skip


def _stat(path: str) -> os.stat_result:
    """``os.stat`` of a file to keep, as a one-line BadInput when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise BadInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise BadInput(f"cannot archive {path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise BadInput(f"cannot read {path}: Permission denied")
    return st


def keep_session(c: MemoryCoordinator, claude_session: str, paths: Iterable[Path]) -> None:
    """Keep a session's files (the importer's and the hooks' one call).

    Timed in the debug log; see :meth:`TranscriptArchive.keep_session`.
    """
    started = time.perf_counter()
    kept = TranscriptArchive(c).keep_session(claude_session, paths)
    if log.isEnabledFor(logging.DEBUG):
        changed = [k for k in kept if k.status != UNCHANGED]
        log.debug(
            "archived %s: %d of %d file(s) changed, %d bytes taken in %.1f ms",
            claude_session, len(changed), len(kept), sum(k.taken for k in changed),
            (time.perf_counter() - started) * 1000,
        )  # fmt: skip


def rotate_chunks(
    c: MemoryCoordinator,
    fernet: MultiFernet,
    *,
    batch: int = 200,
    progress: Callable[[str, int], None] | None = None,
) -> int:
    """Seal every chunk again under the primary key (key rotation); how many were."""
    done, last = 0, ""
    while True:
        rows = c.store.rows(
            "SELECT id, data FROM archive_chunks WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
        )
        if not rows:
            return done
        updates = [(codec.rotate(bytes(data), fernet), cid, bytes(data)) for cid, data in rows]
        c.rt.write(lambda conn, u=updates: door.reseal_chunks(conn, u))  # type: ignore[misc]
        done += len(rows)
        last = rows[-1][0]
        if progress is not None:
            progress("archive chunks", done)

"""Importing Claude Code transcripts: discovery, the import driver, and the watch loop.

Claude Code writes one JSONL transcript per session under
``<config>/projects/<project>/<session uuid>.jsonl`` (config: ``$CLAUDE_CONFIG_DIR``,
``~/.claude`` or ``~/.config/claude``), subagents beside it
(``agent-<id>.jsonl``) or under ``<session uuid>/subagents/`` with an optional
``agent-<id>.meta.json``. Each session is imported in one write transaction:
its rows (see :mod:`.mapping`) and the ledger of what was read (see
:mod:`.state`). A session whose files did not change is not even opened.

Every file is read. Files named otherwise (``full.jsonl`` of a checkpoint, a
copy from another machine) belong to the session their records name; when
several claim one session their records are merged by uuid, and the report
says so. A ``.jsonl`` file no record of which names a session is no
transcript: it is reported and skipped.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import BadInput
from claude_tui.core.events import ChangeEvent
from claude_tui.core.importers import state as ledger
from claude_tui.core.importers.mapping import (
    COMPACTION_NS,
    KINDS,
    PROMPTS_NS,
    MemoryRow,
    keep_other_metadata,
    materialize,
    prepare_memory,
    protect_desired,
    session_id_for,
    sync,
)
from claude_tui.core.importers.records import Malformed, read_chunk
from claude_tui.core.importers.transcript import (
    STATE_VERSION,
    Folder,
    new_state,
    upgrade_state,
)
from claude_tui.core.records import memory as memory_door
from claude_tui.core.records import sessions as session_door
from claude_tui.core.store.db import Store

if TYPE_CHECKING:
    import sqlite3

    from claude_tui.core.coordinator import MemoryCoordinator

log = logging.getLogger(__name__)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
WATCH_INTERVAL = 0.5
RESCAN_EVERY = 4  # watch ticks between looks for new files


# -- discovery ----------------------------------------------------------------


def discover_roots(env: Mapping[str, str] | None = None) -> list[Path]:
    """The ``projects`` directories Claude Code writes transcripts to (those that exist)."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    candidates: list[Path] = []
    if env.get("CLAUDE_CONFIG_DIR"):
        candidates.append(Path(env["CLAUDE_CONFIG_DIR"]).expanduser() / "projects")
    candidates.append(home / ".claude" / "projects")
    xdg = env.get("XDG_CONFIG_HOME")
    candidates.append((Path(xdg) if xdg else home / ".config") / "claude" / "projects")
    found: list[Path] = []
    seen: set[Path] = set()
    for path in candidates:
        try:
            real = path.resolve()
        except OSError:
            continue
        if real not in seen and path.is_dir():
            seen.add(real)
            found.append(path)
    return found


def discover_transcripts(env: Mapping[str, str] | None = None) -> list[Path]:
    """Every session transcript (not subagent files) in the discovered directories."""
    return sorted(
        p for root in discover_roots(env) for p in root.rglob("*.jsonl") if _role(p)[0] == "main"
    )


def _role(path: Path) -> tuple[str, str | None]:
    """('main', None) or ('agent', agent key) from a file's name and place."""
    if path.name.startswith("agent-") or path.parent.name == "subagents":
        return "agent", path.stem.removeprefix("agent-")
    return "main", None


def find_session(path: Path) -> str | None:
    """The session the records of a file name (the first record with a type and a
    ``sessionId``, however deep: checkpoints start with many snapshots), or None
    when no record does (not a transcript) or the file cannot be read."""
    try:
        with open(path, "rb") as fh:
            for line in fh:
                if b'"sessionId"' not in line:
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if (
                    isinstance(obj, dict)
                    and isinstance(obj.get("type"), str)
                    and isinstance(obj.get("sessionId"), str)
                    and obj["sessionId"]
                ):
                    return str(obj["sessionId"])
    except OSError:
        return None
    return None


def project_dir(path: Path) -> str:
    """The name of the Claude Code projects folder a transcript file is in."""
    if path.parent.name == "subagents":
        return path.parent.parent.parent.name
    return path.parent.name


@dataclass(frozen=True)
class Skipped:
    """A file the import did not take, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


NOT_A_TRANSCRIPT = "not a Claude Code transcript (no record names a session)"
UNREADABLE = "cannot be read (permission denied)"


@dataclass
class SessionFiles:
    """The files of one Claude Code session: its transcript and its subagents."""

    claude_id: str
    mains: list[Path] = field(default_factory=list)  # the session's own file first
    agents: dict[Path, str] = field(default_factory=dict)  # file -> agent key

    @property
    def main(self) -> Path | None:
        """The main transcript (the one named after the session when several claim it)."""
        return self.mains[0] if self.mains else None

    def add_main(self, path: Path) -> None:
        """Another file of the session's main records (kept in a stable order)."""
        if path in self.mains:
            return
        self.mains.append(path)
        self.mains.sort(key=lambda p: (p.stem != self.claude_id, str(p)))

    def files(self) -> list[tuple[Path, str | None]]:
        """(path, agent key or None for a main transcript), main files first."""
        out: list[tuple[Path, str | None]] = [(p, None) for p in self.mains]
        out.extend(sorted(self.agents.items()))
        return out


def collect(paths: Iterable[Path]) -> list[Path]:
    """Every transcript file under ``paths`` (a .jsonl file brings its subagent files).

    Raises:
        BadInput: a path that does not exist, or a file that is not .jsonl.
    """
    found: dict[str, Path] = {}
    for path in paths:
        if not path.exists():
            raise BadInput(f"no such file or directory: {path}")
        if path.is_dir():
            for p in sorted(path.rglob("*.jsonl")):
                found.setdefault(str(p), p)
            continue
        if path.suffix != ".jsonl":
            raise BadInput(f"not a Claude Code transcript (.jsonl): {path}")
        found.setdefault(str(path), path)
        if _role(path)[0] == "main":
            sub = path.parent / path.stem / "subagents"
            if sub.is_dir():
                for p in sorted(sub.glob("*.jsonl")):
                    found.setdefault(str(p), p)
            for p in sorted(path.parent.glob("agent-*.jsonl")):
                if find_session(p) == path.stem:
                    found.setdefault(str(p), p)
    return list(found.values())


def group(
    files: Iterable[Path],
    known: Callable[[str], str | None] | None = None,
    *,
    skipped: list[Skipped] | None = None,
    finder: Callable[[Path], str | None] = find_session,
) -> dict[str, SessionFiles]:
    """Files by Claude session id (every file kept: several may claim one session).

    ``known``: a path's session from the ledger, if any. A file whose session
    neither its name nor its records tell is left out (and added to ``skipped``).
    """
    sessions: dict[str, SessionFiles] = {}
    for path in files:
        role, agent = _role(path)
        claude_id = known(str(path)) if known else None
        if claude_id is None:
            if role == "agent" and path.parent.name == "subagents":
                claude_id = path.parent.parent.name
            elif role == "main" and _UUID.match(path.stem):
                claude_id = path.stem
            else:
                claude_id = finder(path)
        if claude_id is None:
            if skipped is not None:
                readable = os.access(path, os.R_OK)
                skipped.append(Skipped(str(path), NOT_A_TRANSCRIPT if readable else UNREADABLE))
            continue
        entry = sessions.setdefault(claude_id, SessionFiles(claude_id))
        if role == "main":
            entry.add_main(path)
        else:
            entry.agents[path] = agent or path.stem
    return sessions


# -- reports ----------------------------------------------------------------


@dataclass
class SessionReport:
    """What importing one session did."""

    session_id: str
    status: str  # new | updated | unchanged | reimported
    lines: int = 0
    counts: dict[str, list[int]] = field(default_factory=dict)
    malformed: list[Malformed] = field(default_factory=list)
    coerced: list[Malformed] = field(default_factory=list)  # kept, with a field ignored
    merged: list[str] = field(default_factory=list)  # main files claiming it, when several
    duplicates: int = 0  # records read again in another file (merged by uuid)


@dataclass
class ImportReport:
    """What an import run did, over all sessions."""

    files: int = 0
    files_read: int = 0
    lines: int = 0
    sessions: list[SessionReport] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def malformed(self) -> list[Malformed]:
        return [m for s in self.sessions for m in s.malformed]

    @property
    def coerced(self) -> list[Malformed]:
        """Fields of kept records that were coerced or ignored."""
        return [m for s in self.sessions for m in s.coerced]

    @property
    def merged(self) -> list[SessionReport]:
        """The sessions read from several main files this run."""
        return [s for s in self.sessions if len(s.merged) > 1 and s.status != "unchanged"]

    def totals(self) -> dict[str, list[int]]:
        """Per kind: [added, updated, removed] over every session."""
        out = {k: [0, 0, 0] for k in KINDS}
        for s in self.sessions:
            for kind, values in s.counts.items():
                out[kind] = [a + b for a, b in zip(out[kind], values, strict=True)]
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "files": self.files,
            "files_read": self.files_read,
            "lines": self.lines,
            "sessions": {
                status: sum(1 for s in self.sessions if s.status == status)
                for status in ("new", "updated", "reimported", "unchanged")
            },
            "rows": {
                kind: {"added": v[0], "updated": v[1], "removed": v[2]}
                for kind, v in self.totals().items()
            },
            "malformed": [str(m) for m in self.malformed],
            "coerced": [str(m) for m in self.coerced],
            "skipped": [str(m) for m in self.skipped],
            "merged": [
                {"session": s.session_id, "files": s.merged, "duplicate_records": s.duplicates}
                for s in self.merged
            ],
            "seconds": round(self.seconds, 3),
        }


class _Raced(Exception):
    """Another process imported the same session meanwhile: start over."""


# -- the importer ---------------------------------------------------------------


class ClaudeCodeImporter:
    """Imports Claude Code sessions into a coordinator's data dir."""

    def __init__(self, coordinator: MemoryCoordinator) -> None:
        self.c = coordinator
        # Files found to be no transcript, by (size, mtime): not scanned again unchanged.
        self._not_transcripts: dict[str, tuple[int, float]] = {}

    def _known(self, path: str) -> str | None:
        mark = ledger.mark_of(self.c.store, path)
        if mark is None:
            return None
        return mark.session_id.removeprefix("cc_")

    def _find(self, path: Path) -> str | None:
        try:
            st = path.stat()
        except OSError:
            return None
        sig = (st.st_size, st.st_mtime)
        if self._not_transcripts.get(str(path)) == sig:
            return None
        found = find_session(path)
        if found is None:
            self._not_transcripts[str(path)] = sig
        return found

    def plan(
        self, paths: Iterable[Path], *, skipped: list[Skipped] | None = None
    ) -> dict[str, SessionFiles]:
        """The sessions (and their files) under ``paths``; files that are no
        transcript are added to ``skipped``."""
        return group(collect(paths), self._known, skipped=skipped, finder=self._find)

    def run(
        self,
        paths: Iterable[Path],
        *,
        final: bool = True,
        progress: Callable[[int, int, str], None] | None = None,
    ) -> ImportReport:
        """Import every session under ``paths``; see :meth:`import_session`."""
        started = time.perf_counter()
        report = ImportReport()
        sessions = self.plan(paths, skipped=report.skipped)
        total = len(sessions)
        for i, files in enumerate(sessions.values(), 1):
            if progress is not None:
                progress(i, total, files.claude_id)
            one = self.import_session(files, final=final)
            report.files += len(files.files())
            report.sessions.append(one)
            report.lines += one.lines
            report.files_read += 1 if one.status != "unchanged" else 0
        report.seconds = time.perf_counter() - started
        return report

    def import_session(self, files: SessionFiles, *, final: bool = True) -> SessionReport:
        """Import one session's new lines (all of them when its files were replaced).

        ``final``: a one-off import, not a watch. An incomplete last line is then
        reported (and still left for later); a watch waits for it quietly.
        """
        from claude_tui.core.archive.store import keep_session

        keep_session(self.c, files.claude_id, [p for p, _ in files.files()])  # byte for byte
        from claude_tui.core.durability.encryption import KeysRotated

        for _ in range(5):
            try:
                return self._import_once(files, final=final)
            except (_Raced, KeysRotated):  # KeysRotated: sealed again with the new keys
                continue
        return self._import_once(files, final=final)

    def _import_once(self, files: SessionFiles, *, final: bool) -> SessionReport:
        sid = session_id_for(files.claude_id)
        store = self.c.store
        marks = ledger.marks_for(store, sid)
        saved, saved_time = ledger.load_state(store, self.c.rt.guard, sid)
        refold = False
        if saved is not None and saved.get("v") != STATE_VERSION:
            if all(Path(f).exists() for f in saved.get("files", [])):
                saved, refold = None, True  # folded by another version: fold them again
            else:
                saved = upgrade_state(saved)  # some are gone: keep what was read from them
        plan: list[tuple[Path, str | None, os.stat_result, ledger.FileMark | None]] = []
        reset = saved is None
        for path, agent in files.files():
            try:
                st = path.stat()
            except OSError:
                continue  # deleted meanwhile: what was read stays
            mark = marks.get(str(path))
            if mark is not None and (
                st.st_size < mark.offset or ledger.head_hash(path, mark.offset) != mark.sha256_head
            ):
                reset = True  # a different file at the same path
            plan.append((path, agent, st, mark))
        # Unchanged since the last read, even when that read left an incomplete
        # last line: it is read once the file grows (the line completed).
        if not reset and all(
            m is not None and m.size == st.st_size and m.mtime == st.st_mtime
            for _, _, st, m in plan
        ):
            return SessionReport(sid, "unchanged")
        existed = session_door.exists(store, sid)
        state = new_state(files.claude_id) if reset or saved is None else saved
        if reset:
            state["session"]["fallback_ts"] = min(
                (st.st_mtime for _, _, st, _ in plan), default=0.0
            )
        folder = Folder(state)
        report = SessionReport(
            sid, "new" if not existed else ("reimported" if reset else "updated")
        )
        mains = [str(path) for path, agent, _, _ in plan if agent is None]
        if len(mains) > 1:
            report.merged = mains
        new_marks: list[ledger.FileMark] = []
        now = self.c.rt.clock()
        for path, agent, st, mark in plan:
            offset, lines = (0, 0) if reset or mark is None else (mark.offset, mark.lines)
            if (
                not reset
                and mark is not None
                and mark.size == st.st_size
                and mark.offset == st.st_size
            ):
                if mark.mtime == st.st_mtime:
                    continue
            if agent is not None:
                self._agent_meta(path, agent, state)
            chunk = read_chunk(path, offset, lines + 1, final=final)
            report.duplicates += folder.fold(
                chunk.records, file_agent=agent, project=project_dir(path)
            )
            state["session"]["malformed"] += len(chunk.malformed)
            report.malformed.extend(chunk.malformed)
            report.coerced.extend(chunk.coerced)
            report.lines += chunk.lines
            if final and chunk.tail:
                report.malformed.append(
                    Malformed(
                        str(path), lines + chunk.lines + 1, "incomplete last line (no newline)"
                    )
                )
            if str(path) not in state["files"]:
                state["files"].append(str(path))
            consumed = offset + chunk.consumed
            # A watch leaves a half-written last line for later; marked as read
            # only up to it, so that a one-off import still takes it.
            size = consumed if chunk.tail and not final else max(st.st_size, consumed)
            new_marks.append(
                ledger.FileMark(
                    str(path), sid, size, st.st_mtime, lines + chunk.lines, consumed,
                    ledger.head_hash(path, consumed), now,
                )
            )  # fmt: skip
        if reset and existed and not refold:  # a refold reads the very same files
            self.c.checkpoints.create(sid, reason="before-import")
        memory = [
            MemoryRow(PROMPTS_NS, p["key"], p["value"], p["at"]) for p in folder.emitted.prompts
        ]
        memory += [
            MemoryRow(COMPACTION_NS, p["key"], p["value"], p["at"])
            for p in folder.emitted.compactions
        ]
        rt = self.c.rt
        desired = materialize(state, sid, now, secret=rt.guard.text_sensitive)
        if existed:
            desired = keep_other_metadata(desired, self.c.sessions.get(sid, reveal=True).metadata)
        # Everything is sealed before the write transaction (the first seal of a
        # data dir writes the key check in a transaction of its own).
        prepare_memory(memory, rt.guard, rt.config.max_value_bytes)
        protected = protect_desired(desired, rt.guard)
        sealed_state = ledger.seal(rt.guard, state)

        changed: list[tuple[str, int]] = []

        def body(conn: sqlite3.Connection) -> Any:
            if ledger.saved_at(conn, sid) != saved_time:
                raise _Raced()
            before = Store.last_seq(conn)
            outcome = sync(
                conn, protected, memory, reset=reset, guard=rt.guard, node_id=store.node_id,
                now=now,
            )  # fmt: skip
            ledger.save(conn, sid, sealed_state, new_marks, now)
            changed[:] = memory_door.changed_since(conn, before)
            return outcome

        outcome = rt.write(body)
        report.counts = outcome.counts
        if not reset and report.lines == 0 and not outcome.wrote:
            report.status = "unchanged"  # touched, or a line still being written
        self._after_commit(outcome.events, changed)
        return report

    @staticmethod
    def _agent_meta(path: Path, agent: str, state: dict[str, Any]) -> None:
        meta_path = path.with_name(path.stem + ".meta.json")
        if not meta_path.is_file():
            return
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(meta, dict):
            slot = Folder(state)._agent_state(agent)
            slot["meta"] = {
                k: meta[k] for k in ("agentType", "description", "toolUseId")
                if isinstance(meta.get(k), str)
            }  # fmt: skip

    def _after_commit(self, events: list[ChangeEvent], changed: list[tuple[str, int]]) -> None:
        rt = self.c.rt
        # The entries written reach L1 and L2 as a local write's do (a tombstone for
        # one removed), so no slow reader can put the value they replaced back.
        self.c.memory.recache(changed)
        for event in events:
            if event.table == "neural_patterns":
                rt.l1.invalidate("pattern\x1f" + event.row_id)
        rt.announce(events)

    # -- watching ---------------------------------------------------------------
    def watch(
        self,
        paths: list[Path],
        *,
        stop: threading.Event,
        on_report: Callable[[SessionReport], None],
        interval: float = WATCH_INTERVAL,
    ) -> None:
        """Follow the transcripts under ``paths`` until ``stop`` is set.

        Every ``interval`` seconds the files' sizes and mtimes are compared
        with the last look; a session whose files changed is imported (its new
        complete lines only). New files are looked for every few ticks.
        """
        sessions = self.plan(paths)
        seen: dict[str, tuple[int, float]] = {}
        tick = 0
        while not stop.is_set():
            if tick and tick % RESCAN_EVERY == 0:
                try:
                    sessions = self.plan(paths)
                except BadInput:
                    pass  # a watched path vanished: keep what we had
            for files in sessions.values():
                changed = False
                for path, _ in files.files():
                    try:
                        st = path.stat()
                    except OSError:
                        continue
                    sig = (st.st_size, st.st_mtime)
                    if seen.get(str(path)) != sig:
                        seen[str(path)] = sig
                        changed = True
                if changed:
                    try:
                        one = self.import_session(files, final=False)
                    except OSError as exc:
                        log.warning("could not read %s: %s", files.claude_id, exc)
                        continue
                    if one.status != "unchanged":
                        on_report(one)
            tick += 1
            stop.wait(interval)

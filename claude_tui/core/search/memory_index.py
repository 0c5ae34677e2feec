"""Memory's vector index: a Chroma collection derived from ``memory_entries``, kept in step.

Every entry that is not sensitive has one vector, of its key and its value's
words (:func:`embed_text`: a ``context`` member is left out of the vector, the
word half still finds its words), with its namespace,
session, scope, type and agent as metadata. SQLite stays the source of truth:

- **Off the write path.** A store writes SQLite only (its change-log row comes
  from the triggers, in the same transaction); the indexer follows the change
  log afterwards, from a cursor kept *in the collection's metadata* — so a
  database replaced under it (a backup restore) or a log pruned past it is
  noticed (the cursor names a log row by sequence and time, and that row is
  gone or different) and answered with a full repair. Every path that changes
  entries (store, delete, TTL purge, session delete, checkpoint restore, sync
  apply, re-protection) writes the log, so every path reaches the index.
- **Idempotent.** For each changed entry id the indexer reads the row as it is
  now: present and not sensitive → embedded (skipped when its text hash is
  unchanged), otherwise → removed. Replaying a range twice changes nothing.
- **One indexer per data dir at a time** (a file lease), texts sorted by
  length before they are embedded (padding is what makes long texts slow),
  ``PUT_BATCH`` vectors per Chroma upsert, and a progress callback that
  counts entries as they are done.
- **Bounded memory**: ids are read and synced ``EMBED_SORT_WINDOW`` at a
  time, rows ``READ_BATCH`` at a time; the embedder bounds its own batches.
- **Secrets never embedded**: sensitive rows and any text that looks like a
  credential are left out.
- **Stops between batches**: the background thread checks its stop flag before
  each read and each upsert, so closing a process mid-way through a long first
  pass takes one batch, not the pass (a closed store under a running pass
  crashed the process). The cursor only moves when a pass ends, so the next pass
  starts over from it and skips what is stored already (same text hash).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from claude_tui.core.errors import ClaudeTUIError
from claude_tui.core.events import ChangeEvent
from claude_tui.core.search.text import entry_text
from claude_tui.core.vectors.index import (
    IndexMismatch,
    IndexUnavailable,
    ModelChanged,
    PatternIndex,
)

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

log = logging.getLogger(__name__)

REINDEX_COMMAND = "claude-tui memory reindex"
# A hint in SQLite's meta that the index was built (by which model): one-shot
# commands read it to skip loading chromadb and the model when it never was.
# Only a hint: the cursor in the collection is what says the index is in step.
BUILT_META = "memory_index_model"
READ_BATCH = 512  # rows read from SQLite per step
EMBED_SORT_WINDOW = 2048  # rows sorted by length together (bounded memory, little padding)
PUT_BATCH = 256  # texts per embedding call and vectors per Chroma upsert
CHANGE_BATCH = 5_000  # change-log rows read per step
ID_PAGE = 5_000  # Chroma get() page
BACKGROUND_POLL_SECONDS = 5.0
INDEXER_THREAD = "claude-tui-indexer"  # the background thread's name
STOP_JOIN_SECONDS = 30.0  # a bound only: the thread stops within one batch
# Members of a value left out of its vector: a "context" (the turns around a
# conversation turn) cost 4x the embedding time for +0.004 LoCoMo R@10, and the
# words half indexes it anyway.
UNEMBEDDED_MEMBERS = frozenset({"context"})
_ROW = (
    "id, key, value, namespace, scope, session_id, agent_id, memory_type, ttl, version, sensitive"
)
Progress = Callable[[int, int], None]


def collection_name(db_id: str) -> str:
    """One memory collection per database (a shared Chroma server holds many)."""
    return f"memory-{db_id}"


@dataclass(frozen=True)
class Cursor:
    """How far the index has followed the change log: a sequence and that row's time."""

    seq: int
    ts: str


@dataclass(frozen=True)
class Drained:
    """What one pass of the indexer did."""

    embedded: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    repaired: bool = False
    busy: bool = False  # another process holds the indexer lease
    seconds: float = 0.0

    @property
    def changed(self) -> int:
        return self.embedded + self.updated + self.removed


@dataclass(frozen=True)
class IndexState:
    """Whether memory search by meaning can be used, and how far behind it is."""

    ready: bool
    reason: str | None
    vectors: int = 0
    pending: int = 0


class _Stopped(Exception):
    """The background pass was asked to stop (raised between batches, caught in ``_run``)."""


class MemoryVectors(PatternIndex):
    """The memory collection: ids are entry ids, vectors come with metadata, no documents."""

    def put(
        self,
        ids: Sequence[int],
        vectors: Sequence[Sequence[float]],
        metas: Sequence[dict[str, Any]],
    ) -> None:
        """Upsert vectors (no document text is stored in Chroma)."""
        for vector in vectors:
            if len(vector) != self.dimensions:
                raise IndexMismatch(
                    f"a vector of {len(vector)} dimensions was refused: the memory index holds "
                    f"{self.dimensions}-dimensional {self.model_id} vectors"
                )
        if ids:
            self._call(
                lambda c: c.upsert(
                    ids=[str(i) for i in ids],
                    embeddings=[list(map(float, v)) for v in vectors],
                    metadatas=list(metas),
                )
            )
            self._tighten()

    def set_metadata(self, ids: Sequence[int], metas: Sequence[dict[str, Any]]) -> None:
        """Change the metadata of vectors that stay as they are."""
        if ids:
            self._call(lambda c: c.update(ids=[str(i) for i in ids], metadatas=list(metas)))

    def remove(self, ids: Iterable[int]) -> None:
        """Drop vectors by entry id."""
        self.delete([str(i) for i in ids])

    def metadata_of(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The stored metadata of those ids that are in the index."""
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), ID_PAGE):
            chunk = [str(i) for i in ids[start : start + ID_PAGE]]
            page = self._call(lambda c, ch=chunk: c.get(ids=ch, include=["metadatas"]))
            for i, meta in zip(page["ids"], page["metadatas"] or [], strict=False):
                found[int(i)] = dict(meta or {})
        return found

    def all_hashes(self, between: Callable[[], None] | None = None) -> dict[int, str]:
        """Every entry id in the index with its text hash.

        ``between()`` is called before each page (it may raise to cut the read short).
        """
        found: dict[int, str] = {}
        offset = 0
        while True:
            if between is not None:
                between()
            page = self._call(
                lambda c, o=offset: c.get(include=["metadatas"], limit=ID_PAGE, offset=o)
            )
            for i, meta in zip(page["ids"], page["metadatas"] or [], strict=False):
                found[int(i)] = str((meta or {}).get("th", ""))
            if len(page["ids"]) < ID_PAGE:
                return found
            offset += ID_PAGE

    def nearest(
        self, vector: Sequence[float], n: int, among: Sequence[int] | None = None
    ) -> list[tuple[int, float]]:
        """(entry id, cosine similarity) of the ``n`` nearest vectors (among some ids)."""
        if len(vector) != self.dimensions:
            raise IndexMismatch(
                f"a query vector of {len(vector)} dimensions was refused "
                f"(expected {self.dimensions})"
            )
        kwargs: dict[str, Any] = {}
        if among is not None:
            kwargs["ids"] = [str(i) for i in among]
        result = self._call(
            lambda c: c.query(
                query_embeddings=[list(map(float, vector))],
                n_results=max(1, n),
                include=["distances"],
                **kwargs,
            )
        )
        ids = result["ids"][0] if result["ids"] else []
        distances = result["distances"][0] if result["distances"] else []
        return [(int(i), 1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def exact_among(
        self, vector: Sequence[float], among: Sequence[int], n: int
    ) -> list[tuple[int, float]]:
        """The ``n`` nearest of the given ids, exactly (their vectors fetched, then ranked).

        For a scope that holds few of many vectors; ids without a vector (not
        embedded yet) are left out.
        """
        import numpy as np

        found_ids: list[int] = []
        rows: list[Any] = []
        for start in range(0, len(among), ID_PAGE):
            chunk = [str(i) for i in among[start : start + ID_PAGE]]
            page = self._call(lambda c, ch=chunk: c.get(ids=ch, include=["embeddings"]))
            found_ids += [int(i) for i in page["ids"]]
            rows += list(page["embeddings"] if page["embeddings"] is not None else [])
        if not found_ids:
            return []
        matrix = np.asarray(rows, dtype=np.float32)
        sims = matrix @ np.asarray(vector, dtype=np.float32)
        order = np.argsort(-sims)[:n]
        return [(found_ids[i], float(sims[i])) for i in order]

    # -- the cursor, kept with the vectors it describes ------------------------------
    def cursor(self, max_age: float = 0.0) -> Cursor | None:
        """Where the indexer stopped (None: never built, or built by an older version).

        Read afresh (another process may have moved it), unless a copy read less
        than ``max_age`` seconds ago will do (searches: two Chroma calls saved).
        """
        cached = getattr(self, "_cursor_cache", None)
        if max_age > 0 and cached is not None and time.monotonic() - cached[0] < max_age:
            return cast("Cursor | None", cached[1])
        fresh = self._call(lambda c: self._client.get_collection(self.name).metadata)
        meta = dict(fresh or {})
        found = None
        if "seq" in meta and "seq_ts" in meta:
            found = Cursor(int(meta["seq"]), str(meta["seq_ts"]))
        self._cursor_cache = (time.monotonic(), found)
        return found

    def set_cursor(self, cursor: Cursor) -> None:
        """Record how far the index has followed the log (with the model that built it)."""
        meta = {"model": self.model_id, "dimensions": self.dimensions,
                "seq": int(cursor.seq), "seq_ts": cursor.ts}  # fmt: skip
        self._call(lambda c: c.modify(metadata=meta))
        self._cursor_cache = (time.monotonic(), cursor)

    def clear_cursor(self) -> None:
        """Forget the cursor (a rebuild in progress): a crash mid-way means a repair next."""
        meta = {"model": self.model_id, "dimensions": self.dimensions}
        self._call(lambda c: c.modify(metadata=meta))
        self._cursor_cache = (time.monotonic(), None)


def embed_text(key: str, raw: str) -> str:
    """The text embedded for an entry: :func:`entry_text` without ``UNEMBEDDED_MEMBERS``."""
    try:
        value = json.loads(raw)
    except ValueError:
        return entry_text(key, raw)
    if isinstance(value, dict) and UNEMBEDDED_MEMBERS.intersection(value):
        kept = {k: v for k, v in value.items() if k not in UNEMBEDDED_MEMBERS}
        return entry_text(key, json.dumps(kept))
    return entry_text(key, raw)


def text_hash(model_id: str, text: str) -> str:
    """Which text (and model) a vector was made from."""
    return hashlib.sha256(f"{model_id}\x1f{text}".encode()).hexdigest()[:16]


class MemoryIndexer:
    """Keeps :class:`MemoryVectors` in step with SQLite (see the module docstring)."""

    def __init__(
        self,
        coordinator: MemoryCoordinator,
        *,
        embedder: Any = None,
        vectors: MemoryVectors | None = None,
    ) -> None:
        self.c = coordinator
        self._embedder = embedder
        self._vectors = vectors
        self._lock = threading.Lock()  # one pass at a time in this process
        self._lease: Any = None
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # The thread _check_stop interrupts: kept past stop() (which clears _thread
        # before it joins), and only this one, so a foreground pass runs to its end.
        self._runner: threading.Thread | None = None
        self._stop = threading.Event()
        self._checked = False
        self._unsubscribe: Callable[[], None] | None = None
        self.last_error: str | None = None
        self.last_pass: Drained | None = None
        self._passes = threading.Condition()  # notified after each background pass
        self._pass_count = 0

    # -- parts, made on first use (they load the model and chromadb) -----------------
    @property
    def embedder(self) -> Any:
        """The embedder (the learner's, so one model is loaded per process)."""
        if self._embedder is None:
            self._embedder = self.c.learning.embedder
        return self._embedder

    @property
    def vectors(self) -> MemoryVectors:
        """The memory collection (opened on first use)."""
        if self._vectors is None:
            embedder = self.embedder
            function = embedder.chroma_function() if hasattr(embedder, "chroma_function") else None
            self._vectors = MemoryVectors(
                self.c.config.data_dir,
                self.c.config.chroma_url,
                model_id=getattr(embedder, "model_id", "unknown"),
                dimensions=int(embedder.dimensions),
                function=function,
                name=collection_name(self.c.store.db_id),
                reindex_command=REINDEX_COMMAND,
            )
        return self._vectors

    @property
    def loaded(self) -> bool:
        """Whether the model and the collection are open in this process already."""
        v = self._vectors
        return v is not None and v._collection is not None

    @property
    def model_id(self) -> str:
        return str(getattr(self.embedder, "model_id", "unknown"))

    def _check_stop(self) -> None:
        """Raise :class:`_Stopped` in the background thread once :meth:`stop` was called.

        Called between batches. A foreground pass (``drain``, ``reindex`` from the
        CLI or a test, in another thread) is never interrupted: it was asked for.
        """
        if self._stop.is_set() and threading.current_thread() is self._runner:
            raise _Stopped

    # -- what to index --------------------------------------------------------------
    def _wanted(self, row: Sequence[Any]) -> tuple[str, dict[str, Any]] | None:
        """(text, metadata) of a row that belongs in the index; None for one that does not."""
        _, key, raw, ns, scope, sid, agent, kind, ttl, _, sensitive = row
        if sensitive:
            return None
        text = embed_text(key, raw)
        if self.c.guard.text_sensitive(text):
            return None  # a credential the rules did not flag: still never embedded
        meta = {
            "th": text_hash(self.model_id, text), "ns": ns, "scope": scope,
            "session": sid or "", "agent": agent or "", "type": kind,
            "expires": float(ttl) if ttl is not None else 0.0,
        }  # fmt: skip
        return text, meta

    def _embed_and_put(
        self, items: list[tuple[int, str, dict[str, Any]]], advance: Callable[[int], None]
    ) -> None:
        """Embed texts shortest first and store them, ``PUT_BATCH`` per call.

        Sorting the whole window keeps neighbours of a length together, so each
        model batch pads little; one upsert per ``PUT_BATCH`` saves Chroma round
        trips. ``advance`` is told after each upsert (the progress bar moves).
        """
        items.sort(key=lambda item: len(item[1]))
        for start in range(0, len(items), PUT_BATCH):
            self._check_stop()  # before the embedding: it is the slow half of a batch
            part = items[start : start + PUT_BATCH]
            vectors = self.embedder.embed([text for _, text, _ in part]).vectors
            self.vectors.put([i for i, _, _ in part], vectors, [m for _, _, m in part])
            advance(len(part))

    def _sync_ids(
        self, ids: Sequence[int], advance: Callable[[int], None] | None = None
    ) -> Drained:
        """Bring these entries' vectors in line with their rows (present or gone).

        ``advance(n)`` is told as entries are done (those embedded, after their
        upsert; the others, at once).
        """
        tell = advance or (lambda n: None)
        embedded = updated = removed = unchanged = 0
        to_embed: list[tuple[int, str, dict[str, Any]]] = []
        for start in range(0, len(ids), READ_BATCH):
            self._check_stop()
            chunk = list(ids[start : start + READ_BATCH])
            marks = ",".join("?" * len(chunk))
            rows = self.c.store.rows(
                f"SELECT {_ROW} FROM memory_entries WHERE id IN ({marks})", chunk
            )
            wanted: dict[int, tuple[str, dict[str, Any]]] = {}
            for row in rows:
                found = self._wanted(row)
                if found is not None:
                    wanted[int(row[0])] = found
            stored = self.vectors.metadata_of(chunk)
            gone = [i for i in chunk if i not in wanted and i in stored]
            meta_ids: list[int] = []
            metas: list[dict[str, Any]] = []
            fresh = 0
            for eid, (text, meta) in wanted.items():
                old = stored.get(eid)
                if old is None or old.get("th") != meta["th"]:
                    to_embed.append((eid, text, meta))
                    fresh += 1
                elif old != meta:
                    meta_ids.append(eid)
                    metas.append(meta)
                else:
                    unchanged += 1
            if gone:
                self.vectors.remove(gone)
            if meta_ids:
                self.vectors.set_metadata(meta_ids, metas)
            embedded += fresh
            updated += len(meta_ids)
            removed += len(gone)
            tell(len(chunk) - fresh)
        if to_embed:  # the whole window at once: sorted by length across its reads
            self._embed_and_put(to_embed, tell)
        return Drained(embedded, updated, removed, unchanged)

    # -- the log cursor -----------------------------------------------------------------
    def _log_head(self) -> Cursor:
        row = self.c.store.row("SELECT seq, ts FROM change_log ORDER BY seq DESC LIMIT 1")
        return Cursor(0, "") if row is None else Cursor(int(row[0]), repr(float(row[1])))

    def _cursor_valid(self, cursor: Cursor) -> bool:
        """Whether the log still holds the row the cursor names (same database, not pruned)."""
        if cursor.seq == 0:
            return self.c.store.scalar("SELECT min(seq) FROM change_log") in (None, 1)
        ts = self.c.store.scalar("SELECT ts FROM change_log WHERE seq = ?", (cursor.seq,))
        return ts is not None and repr(float(ts)) == cursor.ts

    def pending(self, max_age: float = 0.0) -> int:
        """Memory changes in the log the index has not followed yet (-1: unknown)."""
        try:
            cursor = self.vectors.cursor(max_age)
        except ClaudeTUIError:
            return -1
        if cursor is None:
            return int(self.c.store.scalar("SELECT count(*) FROM memory_entries"))
        return int(
            self.c.store.scalar(
                "SELECT count(*) FROM change_log WHERE seq > ? AND tbl = 'memory_entries'",
                (cursor.seq,),
            )
        )

    def state(self) -> IndexState:
        """Ready (built, cursor valid), or why not; opens the model and the collection."""
        try:
            cursor = self.vectors.cursor()
            count = self.vectors.count()
        except ClaudeTUIError as exc:
            return IndexState(False, f"the vector index is unavailable: {exc.message}")
        if cursor is None:
            return IndexState(False, "the memory vector index is not built yet", count)
        if not self._cursor_valid(cursor):
            return IndexState(False, "the memory vector index is out of step", count)
        return IndexState(True, None, count, self.pending())

    # -- passes -------------------------------------------------------------------------
    def _take_lease(self) -> bool:
        if self._lease is None:
            from claude_tui.core.durability.lease import Lease

            self._lease = Lease(self.c.config.data_dir / "locks" / "memory-index.lock")
        return bool(self._lease.acquire())

    def _release_lease(self) -> None:
        if self._lease is not None:
            self._lease.release()

    def drain(self, *, progress: Progress | None = None) -> Drained:
        """Follow the change log from the cursor; a full repair when the cursor is lost.

        Raises:
            IndexUnavailable, IndexMismatch: Chroma cannot be used (nothing changed).
        """
        started = time.monotonic()
        with self._lock:
            if not self._take_lease():
                return Drained(busy=True)
            try:
                self._check_stop()  # stop() came while this thread waited for the lock
                try:
                    cursor = self.vectors.cursor()
                except ModelChanged as exc:
                    # Another model's vectors (an upgrade, or the embedder setting): they
                    # cannot be compared with this model's, so the index starts again.
                    log.warning("rebuilding the memory vector index: %s", exc.message)
                    self.vectors.reset()
                    cursor = None
                if cursor is None or not self._cursor_valid(cursor):
                    done = self._repair_locked(progress)
                else:
                    done = self._follow(cursor, progress)
            finally:
                self._release_lease()
        result = Drained(done.embedded, done.updated, done.removed, done.unchanged,
                         done.repaired, False, time.monotonic() - started)  # fmt: skip
        self.last_pass = result
        self.last_error = None
        return result

    def _follow(self, cursor: Cursor, progress: Progress | None) -> Drained:
        head = self._log_head()
        if head.seq <= cursor.seq:
            return Drained()
        changed: dict[int, None] = {}
        seq = cursor.seq
        while True:
            self._check_stop()
            rows = self.c.store.rows(
                "SELECT seq, row_id FROM change_log WHERE seq > ? AND seq <= ? "
                "AND tbl = 'memory_entries' ORDER BY seq LIMIT ?",
                (seq, head.seq, CHANGE_BATCH),
            )
            for _, row_id in rows:
                changed[int(row_id)] = None
            if len(rows) < CHANGE_BATCH:
                break
            seq = int(rows[-1][0])
        ids = list(changed)
        total = Drained()
        advance = _counter(progress, len(ids))
        for start in range(0, len(ids), EMBED_SORT_WINDOW):
            part = self._sync_ids(ids[start : start + EMBED_SORT_WINDOW], advance)
            total = _add(total, part)
        self.vectors.set_cursor(head)
        return total

    def repair(self, *, progress: Progress | None = None) -> Drained:
        """Compare every entry with the index (ids and text hashes) and fix what differs."""
        with self._lock:
            if not self._take_lease():
                return Drained(busy=True)
            try:
                return self._repair_locked(progress)
            finally:
                self._release_lease()

    def _repair_locked(self, progress: Progress | None) -> Drained:
        head = self._log_head()  # taken first: what changes meanwhile is followed next time
        stored = self.vectors.all_hashes(self._check_stop)
        wanted: list[int] = []
        last = 0
        while True:
            self._check_stop()
            rows = self.c.store.rows(
                "SELECT id FROM memory_entries WHERE id > ? ORDER BY id LIMIT ?",
                (last, CHANGE_BATCH),
            )
            wanted += [int(r[0]) for r in rows]
            if len(rows) < CHANGE_BATCH:
                break
            last = int(rows[-1][0])
        present = set(wanted)
        extra = [i for i in stored if i not in present]
        if extra:
            self.vectors.remove(extra)
        total = Drained(removed=len(extra), repaired=True)
        advance = _counter(progress, len(wanted))
        for start in range(0, len(wanted), EMBED_SORT_WINDOW):
            part = self._sync_ids(wanted[start : start + EMBED_SORT_WINDOW], advance)
            total = _add(total, part)
        if progress is not None and not wanted:
            progress(0, 0)
        self.vectors.set_cursor(head)
        if self.c.store.meta(BUILT_META) != self.model_id:
            model = self.model_id
            self.c.rt.write(
                lambda conn: conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (BUILT_META, model)
                )
            )
        return total

    def reindex(self, *, progress: Progress | None = None) -> int:
        """Drop the collection and embed every entry again; return how many vectors it holds.

        Raises:
            IndexUnavailable, IndexMismatch: Chroma or the model cannot be used.
        """
        self.embedder.embed(["dimension probe"])  # a broken embedder fails before the drop
        with self._lock:
            if not self._take_lease():
                raise IndexUnavailable(
                    "another process is indexing memory right now; try again when it is done"
                )
            try:
                self.vectors.reset()
                self.vectors.clear_cursor()
                self._repair_locked(progress)
                return self.vectors.count()
            finally:
                self._release_lease()

    def ensure_synced(self) -> Drained | None:
        """Once per process: follow the log (repairing when needed); None when Chroma is down."""
        if self._checked:
            return None
        try:
            done = self.drain()
        except (IndexUnavailable, IndexMismatch) as exc:
            self.last_error = exc.message
            return None
        self._checked = not done.busy
        return done

    # -- in the background --------------------------------------------------------------
    def start(self) -> None:
        """Index in a background thread: woken by memory changes (local or another process's)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._unsubscribe = self.c.events.subscribe(self._on_changes)
        self._thread = threading.Thread(target=self._run, name=INDEXER_THREAD, daemon=True)
        self._runner = self._thread
        self._thread.start()
        self._wake.set()

    def _on_changes(self, events: list[ChangeEvent]) -> None:
        if any(e.table == "memory_entries" for e in events):
            self._wake.set()

    def _run(self) -> None:
        try:
            if self._take_lease():  # one process rebuilds after an upgrade changed the model
                try:
                    self.c.learning.rebuild_if_model_changed()
                finally:
                    self._release_lease()
        except Exception:  # the patterns' rebuild must not keep memory from being indexed
            log.warning("the pattern index could not be checked", exc_info=True)
        while not self._stop.is_set():
            self._wake.wait(BACKGROUND_POLL_SECONDS)
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                self.drain()
            except _Stopped:  # between batches; the cursor stays where the last pass left it
                return
            except ClaudeTUIError as exc:
                self.last_error = exc.message
                log.info("memory indexing waits: %s", exc.message)
            except Exception as exc:  # a broken pass must not end the thread
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("memory indexing failed", exc_info=True)
            with self._passes:
                self._pass_count += 1
                self._passes.notify_all()

    def wait_for_pass(self, done: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``done()`` holds, checking after each background pass; False on timeout.

        For callers that must see the background thread's work (tests, a
        ``--wait`` flag) without running a pass themselves.
        """
        deadline = time.monotonic() + timeout
        with self._passes:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._passes.wait(left)
        return True

    def stop(self) -> None:
        """Stop the background thread: a pass under way ends at its next batch.

        Returns once the thread has ended (what it stored stays; the next pass
        goes on from the cursor), so the store and Chroma can be closed after it.
        """
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            self._wake.set()
            thread.join(timeout=STOP_JOIN_SECONDS)
            if thread.is_alive():  # one Chroma or model call that hangs; say so, do not wait
                log.warning("the memory indexer did not stop within %.0f s", STOP_JOIN_SECONDS)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Run a pass now in the calling thread (tests and the CLI); True when caught up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.drain()
            if not done.busy and done.changed == 0:
                return True
            if done.busy:
                self._stop.wait(0.05)
        return False


def _add(a: Drained, b: Drained) -> Drained:
    return Drained(a.embedded + b.embedded, a.updated + b.updated, a.removed + b.removed,
                   a.unchanged + b.unchanged, a.repaired or b.repaired)  # fmt: skip


def _counter(progress: Progress | None, total: int) -> Callable[[int], None]:
    """An ``advance(n)`` that reports ``(done, total)`` to ``progress`` as entries are done."""
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None and n:
            progress(min(done, total), total)

    return advance

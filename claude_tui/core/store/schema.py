"""Numbered schema migrations.

Migration 1 is the seed schema exactly as the design gives it (six tables,
seven indexes, two views). Later migrations only add: columns, tables,
triggers, indexes. Nothing the seed defined is ever dropped.

Times are stored as REAL seconds since the Unix epoch; ``memory_entries.ttl``
is the expiry time (NULL = never expires).
"""

from __future__ import annotations

from dataclasses import dataclass

from claude_tui.core.models import ckey_sql

# SQLite's own clock as epoch seconds with sub-second precision.
NOW_SQL = "((julianday('now') - 2440587.5) * 86400.0)"


@dataclass(frozen=True)
class Migration:
    """One schema step: its number, a short name and the SQL script to run."""

    number: int
    name: str
    sql: str


SEED_SQL = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    agent_type TEXT NOT NULL,
    role TEXT,
    status TEXT NOT NULL DEFAULT 'idle',
    capabilities TEXT NOT NULL DEFAULT '[]',
    memory_context TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    agent_id TEXT,
    parent_task_id TEXT REFERENCES tasks(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    priority INTEGER NOT NULL DEFAULT 0,
    payload TEXT,
    result TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    completed_at REAL
);
CREATE TABLE memory_entries (
    id INTEGER PRIMARY KEY,
    session_id TEXT,
    agent_id TEXT,
    memory_type TEXT NOT NULL CHECK (memory_type IN ('working', 'persistent', 'shared')),
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    ttl REAL,
    created_at REAL NOT NULL,
    accessed_at REAL
);
CREATE TABLE neural_patterns (
    id TEXT PRIMARY KEY,
    session_id TEXT,
    pattern_type TEXT NOT NULL,
    input_pattern TEXT NOT NULL,
    output_pattern TEXT,
    confidence REAL NOT NULL DEFAULT 0.5,
    usage_count INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    last_used REAL
);
CREATE TABLE metrics (
    id INTEGER PRIMARY KEY,
    session_id TEXT,
    agent_id TEXT,
    metric_type TEXT NOT NULL,
    value REAL NOT NULL,
    timestamp REAL NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}'
);

CREATE INDEX idx_agents_session ON agents(session_id);
CREATE INDEX idx_tasks_session_status ON tasks(session_id, status);
CREATE INDEX idx_tasks_parent ON tasks(parent_task_id);
CREATE INDEX idx_memory_session_type ON memory_entries(session_id, memory_type);
CREATE INDEX idx_memory_ttl ON memory_entries(ttl) WHERE ttl IS NOT NULL;
CREATE INDEX idx_patterns_type ON neural_patterns(pattern_type, confidence DESC);
CREATE INDEX idx_metrics_type_time ON metrics(metric_type, timestamp);

CREATE VIEW active_sessions AS
SELECT s.*,
       (SELECT COUNT(*) FROM agents a WHERE a.session_id = s.id) AS agent_count,
       (SELECT COUNT(*) FROM tasks t
         WHERE t.session_id = s.id AND t.status IN ('pending', 'in_progress', 'blocked'))
           AS open_tasks
FROM sessions s
WHERE s.status = 'active';

CREATE VIEW hot_memory AS
SELECT * FROM memory_entries
WHERE (ttl IS NULL OR ttl > {now})
  AND accessed_at > {now} - 3600
ORDER BY accessed_at DESC;
""".replace("{now}", NOW_SQL)


def _log_trigger(table: str, op: str, ref: str, row_id: str, extra: dict[str, str]) -> str:
    """A trigger appending one change_log row for each mutation of ``table``."""
    event = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}[op]
    of = ""
    if op == "update" and "of" in extra:
        of = f" OF {extra['of']}"
    session = extra.get("session", f"{ref}.session_id")
    ckey = extra.get("ckey", "NULL")
    clock = extra.get("clock", "NULL")
    origin = extra.get("origin", "(SELECT value FROM meta WHERE key = 'node_id')")
    return f"""
CREATE TRIGGER log_{table}_{op} AFTER {event}{of} ON {table} BEGIN
  INSERT INTO change_log (ts, tbl, row_id, op, session_id, ckey, clock, origin)
  VALUES ({NOW_SQL}, '{table}', {ref}.{row_id}, '{op}', {session}, {ckey}, {clock}, {origin});
END;"""


def _memory_log_extra(ref: str, *, escaped: bool = False) -> dict[str, str]:
    plain = f"{ref}.scope || char(31) || {ref}.namespace || char(31) || {ref}.key"
    return {
        # Migration 2 joined the parts as they were; migration 8 escapes them
        # (models.cache_key), so no two entries share a ckey.
        "ckey": ckey_sql(ref) if escaped else plain,
        "clock": f"{ref}.version",
        "origin": f"coalesce({ref}.origin, (SELECT value FROM meta WHERE key = 'node_id'))",
        # Reads of a value bump accessed_at/access_count; those are not changes.
        "of": "key, value, ttl, memory_type, namespace, scope, session_id, agent_id, "
        "version, sensitive, encrypted",
    }


def _change_log_triggers() -> str:
    parts: list[str] = []
    tables = {
        "sessions": {"session": "{ref}.id"},
        "agents": {},
        "tasks": {},
        "neural_patterns": {},
        "metrics": {},
    }
    for table, extra in tables.items():
        for op in ("insert", "update", "delete"):
            ref = "old" if op == "delete" else "new"
            resolved = {k: v.replace("{ref}", ref) for k, v in extra.items()}
            parts.append(_log_trigger(table, op, ref, "id", resolved))
    for op in ("insert", "update", "delete"):
        ref = "old" if op == "delete" else "new"
        parts.append(_log_trigger("memory_entries", op, ref, "id", _memory_log_extra(ref)))
    return "\n".join(parts)


# Sensitive values are never indexed in clear: they are indexed as ''.
_FTS_VALUE = "CASE WHEN {ref}.sensitive THEN '' ELSE {ref}.value END"

CORE_SQL = f"""
ALTER TABLE sessions ADD COLUMN name TEXT;
ALTER TABLE memory_entries ADD COLUMN namespace TEXT NOT NULL DEFAULT 'default';
ALTER TABLE memory_entries ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE memory_entries ADD COLUMN updated_at REAL;
ALTER TABLE memory_entries ADD COLUMN access_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memory_entries ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memory_entries ADD COLUMN origin TEXT;
ALTER TABLE memory_entries ADD COLUMN sensitive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memory_entries ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE neural_patterns ADD COLUMN context TEXT;
ALTER TABLE neural_patterns ADD COLUMN success_rate REAL;
ALTER TABLE neural_patterns ADD COLUMN last_updated REAL;
ALTER TABLE neural_patterns ADD COLUMN metadata TEXT NOT NULL DEFAULT '{{}}';

CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES
    ('db_id', lower(hex(randomblob(8)))),
    ('node_id', lower(hex(randomblob(6)))),
    ('l2_epoch', '1');

CREATE TABLE change_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    tbl TEXT NOT NULL,
    row_id TEXT NOT NULL,
    op TEXT NOT NULL,
    session_id TEXT,
    ckey TEXT,
    clock INTEGER,
    origin TEXT
);

-- Backfill the new columns of rows written by migration 1.
UPDATE memory_entries SET
    scope = CASE WHEN memory_type = 'shared' THEN 'swarm'
                 ELSE coalesce(session_id, '') || '/' || coalesce(agent_id, '') END,
    updated_at = created_at,
    version = CAST(created_at * 1000000 AS INTEGER);
-- Migration 1 had no uniqueness: the newest row keeps the key, older duplicates
-- are kept under a renamed key rather than lost.
CREATE INDEX tmp_memory_scope_key ON memory_entries(scope, namespace, key);
UPDATE memory_entries SET key = key || '#dup' || id
WHERE EXISTS (
    SELECT 1 FROM memory_entries AS newer
    WHERE newer.scope = memory_entries.scope AND newer.namespace = memory_entries.namespace
      AND newer.key = memory_entries.key
      AND (newer.created_at > memory_entries.created_at
           OR (newer.created_at = memory_entries.created_at AND newer.id > memory_entries.id))
);
DROP INDEX tmp_memory_scope_key;
CREATE UNIQUE INDEX idx_memory_scope_key ON memory_entries(scope, namespace, key);
UPDATE neural_patterns SET last_updated = coalesce(last_used, created_at);

CREATE VIRTUAL TABLE memory_fts USING fts5(
    key, value, content='memory_entries', content_rowid='id'
);
INSERT INTO memory_fts (rowid, key, value)
    SELECT id, key, {_FTS_VALUE.format(ref="memory_entries")} FROM memory_entries;
CREATE TRIGGER memory_fts_insert AFTER INSERT ON memory_entries BEGIN
  INSERT INTO memory_fts (rowid, key, value)
  VALUES (new.id, new.key, {_FTS_VALUE.format(ref="new")});
END;
CREATE TRIGGER memory_fts_delete AFTER DELETE ON memory_entries BEGIN
  INSERT INTO memory_fts (memory_fts, rowid, key, value)
  VALUES ('delete', old.id, old.key, {_FTS_VALUE.format(ref="old")});
END;
CREATE TRIGGER memory_fts_update AFTER UPDATE OF key, value, sensitive ON memory_entries BEGIN
  INSERT INTO memory_fts (memory_fts, rowid, key, value)
  VALUES ('delete', old.id, old.key, {_FTS_VALUE.format(ref="old")});
  INSERT INTO memory_fts (rowid, key, value)
  VALUES (new.id, new.key, {_FTS_VALUE.format(ref="new")});
END;
{_change_log_triggers()}
"""

# Newest-first paging per session and per scope: an index on one column keeps
# its entries in rowid order, so "ORDER BY id DESC LIMIT n" stops after n rows.
PAGING_SQL = """
CREATE INDEX idx_memory_session_recent ON memory_entries(session_id);
CREATE INDEX idx_memory_scope_recent ON memory_entries(scope);
"""

# Pattern writes that could not reach the vector index, replayed when it is back;
# and how many outcomes (success/failure) a pattern's success rate is made of.
INDEX_QUEUE_SQL = """
ALTER TABLE neural_patterns ADD COLUMN outcomes INTEGER NOT NULL DEFAULT 0;
UPDATE neural_patterns SET outcomes = usage_count WHERE success_rate IS NOT NULL;
CREATE TABLE pattern_index_queue (
    pattern_id TEXT PRIMARY KEY,
    op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    queued_at REAL NOT NULL
);
"""

# Session checkpoints (the snapshot is zlib-compressed JSON; sealed secrets stay
# sealed inside it), logged like every other table so backups carry them; and an
# index over secrets: those stored before encryption was on are sealed at open,
# and a key rotation walks the rest.
DURABILITY_SQL = f"""
CREATE TABLE checkpoints (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    label TEXT,
    reason TEXT NOT NULL DEFAULT 'manual',
    created_at REAL NOT NULL,
    seq INTEGER NOT NULL,
    counts TEXT NOT NULL DEFAULT '{{}}',
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX idx_checkpoints_session ON checkpoints(session_id, created_at);
CREATE INDEX idx_memory_secrets ON memory_entries(encrypted, id) WHERE sensitive = 1;
{_log_trigger("checkpoints", "insert", "new", "id", {})}
{_log_trigger("checkpoints", "update", "new", "id", {})}
{_log_trigger("checkpoints", "delete", "old", "id", {})}
"""

# What the Claude Code importer has read: per transcript file how far (bytes and
# complete lines) and a hash of its head (a different file at the same path is
# re-imported from scratch); per imported session the importer's folded state.
IMPORT_SQL = """
CREATE TABLE import_files (
    path TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL NOT NULL,
    lines INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    sha256_head TEXT NOT NULL,
    imported_at REAL NOT NULL
);
CREATE INDEX idx_import_files_session ON import_files(session_id);
CREATE TABLE import_sessions (
    session_id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    state TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""

# Cross-host sync (issue 7). sync_state holds the clocks of every replicated row
# (tombstones included: a delete must beat older writes and lose to newer ones);
# sync_outbox is the durable queue of events not yet on the Redis stream;
# sync_peers the highest origin sequence applied per host (idempotent apply);
# sync_conflicts the losing values of truly concurrent writes; sync_deferred
# events whose parent row has not arrived yet.
SYNC_SQL = """
CREATE TABLE sync_state (
    tbl TEXT NOT NULL,
    rkey TEXT NOT NULL,
    hlc INTEGER NOT NULL,
    origin TEXT NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (tbl, rkey)
) WITHOUT ROWID;
CREATE TABLE sync_outbox (
    oseq INTEGER PRIMARY KEY AUTOINCREMENT,
    level TEXT NOT NULL CHECK (level IN ('immediate', 'batched', 'lazy')),
    tbl TEXT NOT NULL,
    rkey TEXT NOT NULL,
    seq INTEGER,
    hlc INTEGER NOT NULL,
    payload TEXT NOT NULL,
    queued_at REAL NOT NULL
);
CREATE TABLE sync_peers (
    node TEXT PRIMARY KEY,
    last_oseq INTEGER NOT NULL DEFAULT 0,
    last_hlc INTEGER NOT NULL DEFAULT 0,
    last_seen REAL,
    lag_ms REAL,
    events INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE sync_conflicts (
    id INTEGER PRIMARY KEY,
    tbl TEXT NOT NULL,
    rkey TEXT NOT NULL,
    field TEXT,
    winner TEXT,
    loser TEXT,
    winner_origin TEXT NOT NULL,
    loser_origin TEXT NOT NULL,
    winner_hlc INTEGER NOT NULL,
    loser_hlc INTEGER NOT NULL,
    detected_at REAL NOT NULL,
    resolved_at REAL,
    resolution TEXT
);
CREATE UNIQUE INDEX idx_sync_conflicts_pair
    ON sync_conflicts(tbl, rkey, coalesce(field, ''), loser_origin, loser_hlc);
CREATE TABLE sync_deferred (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    event TEXT NOT NULL,
    reason TEXT NOT NULL,
    deferred_at REAL NOT NULL
);
"""


def _secrets_sql() -> str:
    parts = [
        f"ALTER TABLE {table} ADD COLUMN sealed TEXT;"
        for table in ("sessions", "agents", "tasks", "neural_patterns", "metrics", "checkpoints")
    ]
    for op in ("insert", "update", "delete"):
        ref = "old" if op == "delete" else "new"
        parts.append(f"DROP TRIGGER log_memory_entries_{op};")
        parts.append(
            _log_trigger("memory_entries", op, ref, "id", _memory_log_extra(ref, escaped=True))
        )
    # Entries cached under the old key format are abandoned with their epoch.
    parts.append("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'l2_epoch';")
    return "\n".join(parts)


# Issue 14: every guarded column of a row may hold a redacted form whose
# originals are sealed in the row's `sealed` column; memory change-log keys
# escape their parts so no two entries collide.
SECRETS_SQL = _secrets_sql()

# Issue 11: what the Claude Code hooks injected into a session's context, and why
# (each item: kind, reference, score, the reason it was chosen, characters).
RECALL_SQL = """
CREATE TABLE injections (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    hook TEXT NOT NULL,
    created_at REAL NOT NULL,
    mode TEXT NOT NULL,
    chars INTEGER NOT NULL,
    items TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX idx_injections_session ON injections(session_id, created_at);
"""

# Issue 13: Claude Code's transcript files kept byte for byte. A file (by the
# path it was seen at) has versions; a version is a list of parts, each a whole
# chunk; chunks are content-addressed (sha256 of their plain bytes), compressed
# and sealed (Fernet), shared by every part that holds the same bytes. Logged
# like the other tables (no session: archiving is not a change of the session)
# so differential and incremental backups carry it.
_ARCHIVE_TABLES = ("archive_files", "archive_versions", "archive_chunks", "archive_parts")


def _archive_triggers() -> str:
    parts: list[str] = []
    for table in _ARCHIVE_TABLES:
        extra = {"session": "NULL"}
        if table == "archive_files":
            # A file's size, mtime, inode and last look are a cache of its stat: a touched
            # file that did not change is not a change (and no backup needs its new mtime).
            extra["of"] = "path, claude_session, role, rel, project, cwd"
        for op in ("insert", "update", "delete"):
            parts.append(_log_trigger(table, op, "old" if op == "delete" else "new", "id", extra))
    return "\n".join(parts)


ARCHIVE_SQL = """
CREATE TABLE archive_files (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    claude_session TEXT NOT NULL,
    role TEXT NOT NULL,
    rel TEXT NOT NULL,
    project TEXT,
    cwd TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    mtime_ns INTEGER NOT NULL DEFAULT 0,
    inode INTEGER NOT NULL DEFAULT 0,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL
);
CREATE INDEX idx_archive_files_session ON archive_files(claude_session);
CREATE TABLE archive_versions (
    id INTEGER PRIMARY KEY,
    file_id INTEGER NOT NULL REFERENCES archive_files(id),
    n INTEGER NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    reason TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (file_id, n)
);
CREATE TABLE archive_chunks (
    id TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    codec TEXT NOT NULL,
    data BLOB NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE archive_parts (
    id INTEGER PRIMARY KEY,
    version_id INTEGER NOT NULL REFERENCES archive_versions(id),
    offset INTEGER NOT NULL,
    size INTEGER NOT NULL,
    chunk_id TEXT NOT NULL REFERENCES archive_chunks(id),
    UNIQUE (version_id, offset)
);
CREATE INDEX idx_archive_parts_chunk ON archive_parts(chunk_id);
""" + _archive_triggers()

# Issue 12: memory's full-text index stems words (porter: "timed", "timing" and
# "times" meet at "time") and indexes a value as its words, not its JSON: the
# members' names and the leaves' text, without quotes, braces or digests of
# structure. Sensitive values stay out of it (indexed as ''). The expression is
# deterministic, so the external-content 'delete' removes what was indexed.
_FTS_WORDS = (
    "CASE WHEN {ref}.sensitive THEN '' "
    "WHEN json_valid({ref}.value) THEN coalesce((SELECT group_concat("
    "CASE WHEN typeof(key) = 'text' THEN key ELSE '' END || ' ' || "
    "CASE WHEN type IN ('text', 'integer', 'real') THEN atom ELSE '' END, ' ') "
    "FROM json_tree({ref}.value)), '') "
    "ELSE {ref}.value END"
)

# Patterns and task titles get word search too (the search service and the hooks'
# recall rank them by BM25 instead of scanning rows in Python). Their ids are
# text, so each index row carries its record's id (``ref``) rather than leaning
# on a rowid that VACUUM may renumber; it holds the record's guarded columns as
# stored (a sealed record's redacted form, never its originals).
_PATTERN_BODY = (
    "{ref}.pattern_type || ' ' || {ref}.input_pattern || ' ' || "
    "coalesce({ref}.output_pattern, '') || ' ' || coalesce({ref}.context, '')"
)

_PATTERN_COLUMNS = "input_pattern, output_pattern, context, pattern_type"


def _ref_fts(table: str, fts: str, body: str, columns: str) -> str:
    """A stemmed index of one text per row of ``table``, kept by triggers."""
    new, old = body.replace("{ref}", "new"), body.replace("{ref}", "old")
    return f"""
CREATE VIRTUAL TABLE {fts} USING fts5(
    ref UNINDEXED, body, tokenize='porter unicode61 remove_diacritics 2'
);
INSERT INTO {fts} (ref, body) SELECT id, {body.replace("{ref}", table)} FROM {table};
CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN
  INSERT INTO {fts} (ref, body) VALUES (new.id, {new});
END;
CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN
  DELETE FROM {fts} WHERE ref = old.id;
END;
CREATE TRIGGER {fts}_update AFTER UPDATE OF id, {columns} ON {table}
WHEN {old} IS NOT {new} OR old.id IS NOT new.id BEGIN
  DELETE FROM {fts} WHERE ref = old.id;
  INSERT INTO {fts} (ref, body) VALUES (new.id, {new});
END;"""


STEMMED_FTS_SQL = f"""
DROP TRIGGER memory_fts_insert;
DROP TRIGGER memory_fts_delete;
DROP TRIGGER memory_fts_update;
DROP TABLE memory_fts;
CREATE VIRTUAL TABLE memory_fts USING fts5(
    key, value, content='memory_entries', content_rowid='id',
    tokenize='porter unicode61 remove_diacritics 2'
);
INSERT INTO memory_fts (rowid, key, value)
    SELECT id, key, {_FTS_WORDS.format(ref="memory_entries")} FROM memory_entries;
CREATE TRIGGER memory_fts_insert AFTER INSERT ON memory_entries BEGIN
  INSERT INTO memory_fts (rowid, key, value)
  VALUES (new.id, new.key, {_FTS_WORDS.format(ref="new")});
END;
CREATE TRIGGER memory_fts_delete AFTER DELETE ON memory_entries BEGIN
  INSERT INTO memory_fts (memory_fts, rowid, key, value)
  VALUES ('delete', old.id, old.key, {_FTS_WORDS.format(ref="old")});
END;
CREATE TRIGGER memory_fts_update AFTER UPDATE OF key, value, sensitive ON memory_entries BEGIN
  INSERT INTO memory_fts (memory_fts, rowid, key, value)
  VALUES ('delete', old.id, old.key, {_FTS_WORDS.format(ref="old")});
  INSERT INTO memory_fts (rowid, key, value)
  VALUES (new.id, new.key, {_FTS_WORDS.format(ref="new")});
END;
{_ref_fts("neural_patterns", "pattern_fts", _PATTERN_BODY, _PATTERN_COLUMNS)}
{_ref_fts("tasks", "task_fts", "{ref}.title", "title")}
"""

# Issue 12 (LoCoMo): a value's ``context`` member (what surrounds the note: the
# turns before and after it, where it was said) gets a column of its own, so the
# search can weigh it below the note itself (measured on LoCoMo: bm25 weights
# key 8, value 1, context 0.5 beat one value column). The value column holds the
# rest of the value's words, as migration 11 indexed them; sensitive values stay
# out of both (indexed as ''). memory_entries has no context column for an
# external-content index to read, and FTS5 cannot read a view that calls
# json_tree, so the index is contentless: it keeps the words, never the text
# (its columns read as NULL), and the triggers hand 'delete' exactly what they
# indexed (the expressions are deterministic).
_FTS_REST = (
    "CASE WHEN {ref}.sensitive THEN '' "
    "WHEN json_valid({ref}.value) THEN coalesce((SELECT group_concat("
    "CASE WHEN typeof(key) = 'text' THEN key ELSE '' END || ' ' || "
    "CASE WHEN type IN ('text', 'integer', 'real') THEN atom ELSE '' END, ' ') "
    "FROM json_tree({ref}.value) WHERE fullkey != '$.context' "
    "AND substr(fullkey, 1, 10) NOT IN ('$.context.', '$.context[')), '') "
    "ELSE {ref}.value END"
)
_FTS_CONTEXT = (
    "CASE WHEN {ref}.sensitive OR NOT json_valid({ref}.value) THEN '' "
    "ELSE coalesce((SELECT group_concat("
    "CASE WHEN typeof(key) = 'text' AND fullkey != '$.context' THEN key ELSE '' END || ' ' || "
    "CASE WHEN type IN ('text', 'integer', 'real') THEN atom ELSE '' END, ' ') "
    "FROM json_tree({ref}.value, '$.context')), '') END"
)


def _memory_fts_row(ref: str) -> str:
    return f"{ref}.id, {ref}.key, {_FTS_REST.format(ref=ref)}, {_FTS_CONTEXT.format(ref=ref)}"


CONTEXT_FTS_SQL = f"""
DROP TRIGGER memory_fts_insert;
DROP TRIGGER memory_fts_delete;
DROP TRIGGER memory_fts_update;
DROP TABLE memory_fts;
CREATE VIRTUAL TABLE memory_fts USING fts5(
    key, value, context, content='', tokenize='porter unicode61 remove_diacritics 2'
);
INSERT INTO memory_fts (rowid, key, value, context)
    SELECT {_memory_fts_row("memory_entries")} FROM memory_entries;
CREATE TRIGGER memory_fts_insert AFTER INSERT ON memory_entries BEGIN
  INSERT INTO memory_fts (rowid, key, value, context) VALUES ({_memory_fts_row("new")});
END;
CREATE TRIGGER memory_fts_delete AFTER DELETE ON memory_entries BEGIN
  INSERT INTO memory_fts (memory_fts, rowid, key, value, context)
  VALUES ('delete', {_memory_fts_row("old")});
END;
CREATE TRIGGER memory_fts_update AFTER UPDATE OF key, value, sensitive ON memory_entries BEGIN
  INSERT INTO memory_fts (memory_fts, rowid, key, value, context)
  VALUES ('delete', {_memory_fts_row("old")});
  INSERT INTO memory_fts (rowid, key, value, context) VALUES ({_memory_fts_row("new")});
END;
"""

# The Metrics screen's growth plot counts what was created per day in its window
# (metrics.growth_by_day); without these it read every row of both tables.
CREATED_SQL = """
CREATE INDEX idx_memory_created ON memory_entries(created_at);
CREATE INDEX idx_patterns_created ON neural_patterns(created_at);
"""

# Sums kept by triggers for the Metrics screen, so it reads a row per session or
# per quarter hour instead of passing over every entry (on a million entries:
# 0.8-1.5 s to sum the values' lengths, ~50 ms to count a window's creations).
# - memory_storage: each session's entries and bytes of values; the bucket is the
#   session's id, or '' for shared memory (scope 'swarm') and entries with no session.
# - memory_created: entries by the quarter hour they were created in (UTC). Every
#   time zone's midnight falls on a quarter hour, so local days are sums of these.
# Every write path (the store's door, sync apply, restore's replay, session delete)
# fires them, so the sums cannot drift.
QUARTER_SECONDS = 900


def _kept_sum(table: str, key: str, key_type: str, key_expr: str, sums: dict[str, str],
              update_of: str) -> str:  # fmt: skip
    """A table of sums over memory_entries by ``key``, filled now and kept by triggers.

    ``key_expr`` and each of ``sums`` (column: what one row adds) are templates
    of ``{ref}`` (the row: ``new``, ``old`` or the table itself). Every key holds
    ``entries`` too; a key left with none is deleted.
    """
    amounts = {"entries": "1", **sums}
    cols = ", ".join(amounts)

    def key_of(ref: str) -> str:
        return key_expr.format(ref=ref)

    def add(ref: str) -> str:
        values = ", ".join(a.format(ref=ref) for a in amounts.values())
        updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in amounts)
        return (f"INSERT INTO {table} ({key}, {cols}) VALUES ({key_of(ref)}, {values}) "
                f"ON CONFLICT ({key}) DO UPDATE SET {updates};")  # fmt: skip

    def take(ref: str) -> str:
        updates = ", ".join(f"{c} = {c} - {a.format(ref=ref)}" for c, a in amounts.items())
        return (f"UPDATE {table} SET {updates} WHERE {key} = {key_of(ref)};\n"
                f"  DELETE FROM {table} WHERE {key} = {key_of(ref)} AND entries <= 0;")  # fmt: skip

    columns = ",\n".join(f"    {c} INTEGER NOT NULL" for c in amounts)
    totals = ", ".join(
        f"coalesce(sum({a.format(ref='memory_entries')}), 0)" for a in amounts.values()
    )
    return f"""CREATE TABLE {table} (
    {key} {key_type} PRIMARY KEY,
{columns}
) WITHOUT ROWID;
INSERT INTO {table} ({key}, {cols})
    SELECT {key_of("memory_entries")}, {totals} FROM memory_entries GROUP BY 1;
CREATE TRIGGER {table}_insert AFTER INSERT ON memory_entries BEGIN
  {add("new")}
END;
CREATE TRIGGER {table}_delete AFTER DELETE ON memory_entries BEGIN
  {take("old")}
END;
CREATE TRIGGER {table}_update AFTER UPDATE OF {update_of} ON memory_entries BEGIN
  {take("old")}
  {add("new")}
END;
"""


STORAGE_SQL = _kept_sum(
    "memory_storage", "bucket", "TEXT",
    "coalesce(CASE WHEN {ref}.scope = 'swarm' THEN NULL ELSE {ref}.session_id END, '')",
    {"bytes": "coalesce(length({ref}.value), 0)"},
    update_of="scope, session_id, value",
) + _kept_sum(
    "memory_created", "quarter", "INTEGER",
    f"CAST({{ref}}.created_at / {QUARTER_SECONDS} AS INTEGER)", {},
    update_of="created_at",
)  # fmt: skip

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "seed schema", SEED_SQL),
    Migration(2, "namespaces, clocks, change log, full-text search", CORE_SQL),
    Migration(3, "indexes for newest-first paging", PAGING_SQL),
    Migration(4, "pattern outcomes; queue of pattern writes for the vector index", INDEX_QUEUE_SQL),
    Migration(5, "session checkpoints; index of secrets not yet sealed", DURABILITY_SQL),
    Migration(6, "import ledger of Claude Code transcripts", IMPORT_SQL),
    Migration(7, "cross-host sync: row clocks, outbox, peers, conflicts", SYNC_SQL),
    Migration(
        8, "sealed columns for secrets in any record; collision-free memory keys", SECRETS_SQL
    ),
    Migration(9, "what the Claude Code hooks injected, and why", RECALL_SQL),
    Migration(10, "transcript archive: files, versions, parts, sealed chunks", ARCHIVE_SQL),
    Migration(
        11,
        "stemmed full-text indexes: memory (a value's words), patterns, task titles",
        STEMMED_FTS_SQL,
    ),
    Migration(
        12,
        "memory full-text index: a value's context member in a column of its own",
        CONTEXT_FTS_SQL,
    ),
    Migration(13, "indexes on creation time (the Metrics screen's growth per day)", CREATED_SQL),
    Migration(
        14,
        "memory per session (entries, bytes) and per quarter hour created, kept by triggers",
        STORAGE_SQL,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].number

"""What each Claude Code event does to the store (every write through the doors).

Every handler is idempotent on (session id, record id) — a prompt by its
``prompt_id``, a tool event by its ``tool_use_id``, a transcript by the
importer's ledger — so a capture applied twice (a spooled one replayed after
a crash) writes it once.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import BadInput, NotFound
from claude_tui.core.importers.naming import PROMPTS_NS, SOURCE, input_summary, session_id_for
from claude_tui.core.records import sessions as session_door
from claude_tui.core.secrets import safe_cut
from claude_tui.hooks.project import git_branch, project_of

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

LIVE_PROMPTS_NS = "claude-code/live-prompts"
TOOL_METRIC = "hook.tool"
MAX_PROMPT_CHARS = 20_000
_SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_PRIVATE = re.compile(r"<private>.*?(?:</private>|\Z)", re.DOTALL | re.IGNORECASE)
RECALL_OFF_PREFIX = "recall_off:"


@dataclass(frozen=True)
class Event:
    """A hook payload, checked: what every handler may rely on."""

    name: str
    claude_session: str
    session_id: str
    cwd: str
    project: str
    data: dict[str, Any]

    @classmethod
    def parse(cls, name: str, data: Any) -> Event:
        """Check a payload as Claude Code sends it.

        Raises:
            BadInput: not an object, or no usable session id / cwd.
        """
        if not isinstance(data, dict):
            raise BadInput("the hook payload is not a JSON object")
        claude = data.get("session_id")
        if not isinstance(claude, str) or not _SESSION_ID.match(claude):
            raise BadInput("the hook payload has no valid session_id")
        cwd = data.get("cwd")
        if not isinstance(cwd, str) or not cwd or "\x00" in cwd or len(cwd) > 4096:
            raise BadInput("the hook payload has no valid cwd")
        return cls(name, claude, session_id_for(claude), cwd, project_of(cwd), data)

    def text(self, key: str, limit: int = 4096) -> str | None:
        """A string field of the payload (None when absent or not a string)."""
        value = self.data.get(key)
        return value[:limit] if isinstance(value, str) else None


def strip_private(prompt: str) -> str:
    """The prompt without its ``<private>…</private>`` spans (never stored, never searched)."""
    return _PRIVATE.sub("", prompt)


def recall_allowed(c: MemoryCoordinator, project: str) -> bool:
    """Recall is on in the config and not turned off for this project."""
    return c.config.recall_enabled and c.store.meta(RECALL_OFF_PREFIX + project) is None


def set_recall(c: MemoryCoordinator, project: str, *, on: bool) -> None:
    """Turn recall on or off for one project (kept in the database's meta table)."""
    key = RECALL_OFF_PREFIX + project

    def body(conn: Any) -> None:
        if on:
            conn.execute("DELETE FROM meta WHERE key = ?", (key,))
        else:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", (key,))

    c.rt.write(body)


def injections_of(c: MemoryCoordinator, session_id: str) -> list[dict[str, Any]]:
    """Every injection into a session, oldest first, with its items."""
    rows = c.store.rows(
        "SELECT hook, created_at, mode, chars, items FROM injections WHERE session_id = ? "
        "ORDER BY created_at, id",
        (session_id,),
    )
    return [
        {"hook": h, "at": at, "mode": mode, "chars": chars, "items": json.loads(items)}
        for h, at, mode, chars, items in rows
    ]


def ensure_session(c: MemoryCoordinator, ev: Event, now: float) -> str:
    """The claude-tui session of this Claude Code session, created on first sight.

    A session made before the hooks saw it (by the MCP server Claude Code starts
    at the same moment) gets what only the hooks know — transcript, branch — added.
    """
    found = c.store.row("SELECT metadata, sealed FROM sessions WHERE id = ?", (ev.session_id,))
    if found is not None:
        _complete(c, ev, found[0], found[1], now)
        return ev.session_id
    metadata = {
        "source": SOURCE,
        "claude_session_id": ev.claude_session,
        "cwd": ev.cwd,
        "project": ev.project,
        "git_branch": git_branch(ev.project),
        "transcript_path": ev.text("transcript_path"),
        "recorded_by": "hooks",
        "started_at": now,
    }
    row = session_door.protect(
        c.guard,
        {"id": ev.session_id, "name": Path(ev.project).name or ev.project, "user_id": None,
         "status": "active", "created_at": now, "updated_at": now,
         "metadata": json.dumps(metadata)},
    )  # fmt: skip

    def body(conn: Any) -> None:
        if not session_door.exists(conn, ev.session_id):  # another hook may have won the race
            session_door.insert(conn, row)

    c.rt.write(body)
    return ev.session_id


def _complete(c: MemoryCoordinator, ev: Event, stored: str, sealed: str | None, now: float) -> None:
    try:
        metadata = json.loads(stored)
    except ValueError:
        return
    if not isinstance(metadata, dict):
        return
    wanted = {"transcript_path": ev.text("transcript_path"), "git_branch": git_branch(ev.project),
              "project": ev.project, "recorded_by": "hooks"}  # fmt: skip
    missing = {k: v for k, v in wanted.items() if v is not None and metadata.get(k) is None}
    if not missing:
        return
    changes = session_door.protect(
        c.guard, {"metadata": json.dumps({**metadata, **missing}), "updated_at": now}, sealed
    )
    c.rt.write(lambda conn: session_door.update(conn, ev.session_id, changes))


def session_start(c: MemoryCoordinator, ev: Event, now: float) -> dict[str, Any] | None:
    """Register the session; hand back what earlier sessions of the project left."""
    sid = ensure_session(c, ev, now)
    if not recall_allowed(c, ev.project):
        return None
    from claude_tui.hooks.recall import CHARS_PER_TOKEN, make_recall

    injection = make_recall(c).session_start(
        sid, ev.project, c.config.recall_budget_tokens * CHARS_PER_TOKEN
    )
    return _inject(c, ev, sid, injection, now)


def user_prompt(c: MemoryCoordinator, ev: Event, now: float) -> dict[str, Any] | None:
    """Keep the prompt (without its private spans); add what is relevant to it."""
    sid = ensure_session(c, ev, now)  # the prompt may arrive before SessionStart finished
    prompt = strip_private(ev.text("prompt", 1_000_000) or "")
    if not prompt.strip():
        return None
    digest = hashlib.sha256(prompt.encode("utf-8", "replace")).hexdigest()[:16]
    key = ev.text("prompt_id", 200) or digest
    value = {"text": safe_cut(prompt, MAX_PROMPT_CHARS), "at": _iso(now), "sha": digest,
             "prompt_id": ev.text("prompt_id", 200)}  # fmt: skip
    c.memory.store(key, value, session_id=sid, namespace=LIVE_PROMPTS_NS)
    if not recall_allowed(c, ev.project):
        return None
    from claude_tui.hooks.recall import CHARS_PER_TOKEN, make_recall

    injection = make_recall(c).for_prompt(
        sid, ev.project, prompt, c.config.recall_budget_tokens * CHARS_PER_TOKEN,
        c.config.recall_min_score,
    )  # fmt: skip
    return _inject(c, ev, sid, injection, now)


def tool_event(c: MemoryCoordinator, ev: Event, now: float) -> None:
    """Count a tool call with its outcome (input summarised, error kept short)."""
    sid = ensure_session(c, ev, now)
    tool_use_id = ev.text("tool_use_id", 200)
    if tool_use_id and c.store.scalar(
        "SELECT 1 FROM metrics WHERE session_id = ? AND metric_type = ? AND json_valid(metadata) "
        "AND json_extract(metadata, '$.tool_use_id') = ?",
        (sid, TOOL_METRIC, tool_use_id),
    ):
        return  # applied already (a replay)
    failed = ev.name == "PostToolUseFailure"
    error = ev.data.get("error")
    response = ev.data.get("tool_response")
    if not failed and isinstance(response, dict) and response.get("is_error"):
        failed = True
    tool = ev.text("tool_name", 200) or "?"
    metadata = {
        "tool": tool,
        "input": input_summary(tool, ev.data.get("tool_input")),
        "ok": not failed,
        "error": safe_cut(error if isinstance(error, str) else json.dumps(error), 300)
        if failed and error is not None
        else None,
        "tool_use_id": tool_use_id,
        "duration_ms": ev.data.get("duration_ms")
        if isinstance(ev.data.get("duration_ms"), int)
        else None,
    }
    c.metrics.record(TOOL_METRIC, 0.0 if failed else 1.0, session_id=sid, metadata=metadata)


def pre_compact(c: MemoryCoordinator, ev: Event, now: float) -> None:
    """Checkpoint the session before Claude Code summarises it away; archive its transcript."""
    sid = ensure_session(c, ev, now)
    label = f"before compaction {ev.text('prompt_id', 40) or int(now)}"
    if not any(cp.label == label for cp in c.checkpoints.list(sid, limit=50)):  # not a replay
        c.checkpoints.create(sid, label=label, reason="pre-compact")
    path = ev.text("transcript_path")
    if path and path.endswith(".jsonl") and Path(path).is_file():
        from claude_tui.core.archive.store import keep_session  # Stop archives via the importer

        keep_session(c, ev.claude_session, [Path(path)])


def stop(c: MemoryCoordinator, ev: Event, now: float) -> None:
    """Bring in the transcript's new lines (the importer's ledger: nothing twice)."""
    ensure_session(c, ev, now)
    path = ev.text("agent_transcript_path") or ev.text("transcript_path")
    if not path or not path.endswith(".jsonl"):
        return
    transcript = Path(path)
    if not transcript.is_file():
        return
    from claude_tui.core.importers.claude_code import ClaudeCodeImporter

    ClaudeCodeImporter(c).run([transcript])
    _retire_live_prompts(c, ev.session_id)


def _retire_live_prompts(c: MemoryCoordinator, sid: str) -> None:
    """Drop the hooks' copy of prompts the transcript import now holds (one entry each).

    Read straight by the entries' (scope, namespace) index — a Stop runs after
    every turn, and the memory service's visibility walk costs ~13 ms a listing
    at 100k entries. Only entries in clear are compared: a sealed prompt stays
    as it is (a duplicate that holds nothing in clear).
    """
    from claude_tui.core.models import private_scope

    scope = private_scope(sid, None)
    live = c.store.rows(
        "SELECT key, value FROM memory_entries WHERE scope = ? AND namespace = ? "
        "AND sensitive = 0 LIMIT 10000",
        (scope, LIVE_PROMPTS_NS),
    )
    if not live:
        return
    # The prompts this import just brought in are the newest ones (a page of them,
    # not the session's every prompt: a long session holds thousands).
    imported = c.store.rows(
        "SELECT value FROM memory_entries WHERE scope = ? AND namespace = ? "
        "AND sensitive = 0 ORDER BY id DESC LIMIT ?",
        (scope, PROMPTS_NS, min(10_000, 4 * len(live) + 50)),
    )
    texts = set()
    for (raw,) in imported:
        text = _json_field(raw, "text")
        if text is not None:
            texts.add(hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:16])
    for key, raw in live:
        if _json_field(raw, "sha") in texts:
            try:
                c.memory.delete(key, session_id=sid, namespace=LIVE_PROMPTS_NS)
            except (BadInput, NotFound):  # gone already (another hook retired it)
                pass


def _json_field(raw: Any, name: str) -> str | None:
    try:
        value = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    found = value.get(name) if isinstance(value, dict) else None
    return found if isinstance(found, str) else None


def session_end(c: MemoryCoordinator, ev: Event, now: float) -> None:
    """Nothing that could take more than a few milliseconds: the session stays as recorded."""


def _inject(
    c: MemoryCoordinator, ev: Event, sid: str, injection: Any, now: float
) -> dict[str, Any] | None:
    if not injection.items:
        return None
    from claude_tui.core.records import injections

    items = [i.record() for i in injection.items]
    c.rt.write(
        lambda conn: injections.record(
            conn,
            session_id=sid,
            hook=ev.name,
            at=now,
            mode=injection.mode,
            chars=injection.chars,
            items=items,
        )
    )
    return {
        "hookSpecificOutput": {
            "hookEventName": ev.name,
            "additionalContext": injection.text,
        }
    }


def _iso(now: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


HANDLERS = {
    "SessionStart": session_start,
    "UserPromptSubmit": user_prompt,
    "PostToolUse": tool_event,
    "PostToolUseFailure": tool_event,
    "PreCompact": pre_compact,
    "Stop": stop,
    "SubagentStop": stop,
    "SessionEnd": session_end,
}

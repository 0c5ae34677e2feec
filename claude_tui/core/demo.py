"""Load the demo swarm (``data/demo.json``) so a first run has something to look at."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput
from claude_tui.core.events import ChangeEvent
from claude_tui.core.models import SWARM_SCOPE, private_scope
from claude_tui.core.secrets import is_sensitive

DEMO_FILE = Path(__file__).resolve().parent.parent / "data" / "demo.json"


def load_demo(coordinator: MemoryCoordinator, path: Path = DEMO_FILE) -> dict[str, int]:
    """Insert the demo swarm in one transaction; return counts per kind.

    Raises:
        BadInput: the demo is already loaded, or the file is unreadable.
    """
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read the demo data {path}: {exc}") from None
    first = doc["sessions"][0]["id"]
    if coordinator.store.scalar("SELECT 1 FROM sessions WHERE id = ?", (first,)):
        raise BadInput("the demo swarm is already loaded")
    now = coordinator.rt.clock()
    node = coordinator.store.node_id

    def body(conn: sqlite3.Connection) -> None:
        for s in doc["sessions"]:
            conn.execute(
                "INSERT INTO sessions (id, name, user_id, status, created_at, updated_at, "
                "metadata) VALUES (?, ?, ?, ?, ?, ?, '{\"demo\": true}')",
                (s["id"], s["name"], s["user_id"], s["status"], now - s["created"],
                 now - s["updated"]),
            )  # fmt: skip
        for a in doc["agents"]:
            conn.execute(
                "INSERT INTO agents (id, session_id, agent_type, role, status, capabilities, "
                "memory_context, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (a["id"], a["session_id"], a["agent_type"], a["role"], a["status"],
                 json.dumps(a["capabilities"]), json.dumps(a["memory_context"]), now - 86_400,
                 now - 600),
            )  # fmt: skip
        for t in doc["tasks"]:
            done = now - t["created"] / 2 if t["status"] in ("completed", "failed") else None
            conn.execute(
                "INSERT INTO tasks (id, session_id, agent_id, parent_task_id, title, status, "
                "priority, payload, result, created_at, updated_at, completed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (t["id"], t["session_id"], t["agent_id"], t["parent_task_id"], t["title"],
                 t["status"], t["priority"], json.dumps(t["payload"]),
                 json.dumps(t["result"]) if "result" in t else None, now - t["created"],
                 now - t["created"] / 2, done),
            )  # fmt: skip
        for m in doc["memory"]:
            _insert_memory(conn, m, now, node)
        for p in doc["patterns"]:
            conn.execute(
                "INSERT INTO neural_patterns (id, session_id, pattern_type, context, "
                "input_pattern, output_pattern, confidence, usage_count, success_rate, "
                "created_at, last_used, last_updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (p["id"], p["session_id"], p["pattern_type"], p["context"], p["input_pattern"],
                 p["output_pattern"], p["confidence"], p["usage_count"], p["success_rate"],
                 now - p["created"], now - p["created"] / 3, now - p["created"] / 3),
            )  # fmt: skip
        conn.executemany(
            "INSERT INTO metrics (session_id, metric_type, value, timestamp) VALUES (?, ?, ?, ?)",
            [
                (x["session_id"], x["metric_type"], x["value"], now - x["ago"])
                for x in doc["metrics"]
            ],
        )

    coordinator.rt.write(body)
    from claude_tui.core.durability.encryption import seal_plain_secrets

    seal_plain_secrets(coordinator.rt)  # the demo's secret is sealed like any other
    coordinator.rt.l1.clear()
    coordinator.rt.announce(
        [ChangeEvent(None, table, "insert", "demo") for table in ("sessions", "neural_patterns")]
    )
    return {kind: len(doc[kind]) for kind in ("sessions", "agents", "tasks", "memory", "patterns")}


def _insert_memory(conn: sqlite3.Connection, m: dict[str, Any], now: float, node: str) -> None:
    raw = json.dumps(m["value"], separators=(",", ":"))
    shared = m["memory_type"] == "shared"
    scope = SWARM_SCOPE if shared else private_scope(m["session_id"], m["agent_id"])
    updated = now - m["updated"]
    ttl = m.get("ttl")
    conn.execute(
        "INSERT INTO memory_entries (session_id, agent_id, memory_type, key, value, ttl, "
        "created_at, accessed_at, namespace, scope, updated_at, access_count, version, origin, "
        "sensitive) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (m["session_id"], m["agent_id"], m["memory_type"], m["key"], raw,
         None if ttl is None else now + ttl, updated - 3600, updated, m["namespace"], scope,
         updated, m["access_count"], int(updated * 1_000_000), node,
         int(is_sensitive(m["key"], m["namespace"], raw))),
    )  # fmt: skip

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
from claude_tui.core.records import agents as agent_door
from claude_tui.core.records import memory as memory_door
from claude_tui.core.records import metrics as metric_door
from claude_tui.core.records import patterns as pattern_door
from claude_tui.core.records import sessions as session_door
from claude_tui.core.records import tasks as task_door
from claude_tui.core.records.guard import Guard

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
    if session_door.exists(coordinator.store, first):
        raise BadInput("the demo swarm is already loaded")
    now = coordinator.rt.clock()
    node = coordinator.store.node_id
    guard = coordinator.rt.guard
    # Every row goes through its door (protected, secrets sealed) before the transaction.
    sessions = [
        session_door.protect(guard, {
            "id": s["id"], "name": s["name"], "user_id": s["user_id"], "status": s["status"],
            "created_at": now - s["created"], "updated_at": now - s["updated"],
            "metadata": '{"demo": true}'})
        for s in doc["sessions"]
    ]  # fmt: skip
    agents = [
        agent_door.protect(guard, {
            "id": a["id"], "session_id": a["session_id"], "agent_type": a["agent_type"],
            "role": a["role"], "status": a["status"],
            "capabilities": json.dumps(a["capabilities"]),
            "memory_context": json.dumps(a["memory_context"]), "created_at": now - 86_400,
            "updated_at": now - 600})
        for a in doc["agents"]
    ]  # fmt: skip
    tasks = [
        task_door.protect(guard, {
            "id": t["id"], "session_id": t["session_id"], "agent_id": t["agent_id"],
            "parent_task_id": t["parent_task_id"], "title": t["title"], "status": t["status"],
            "priority": t["priority"], "payload": json.dumps(t["payload"]),
            "result": json.dumps(t["result"]) if "result" in t else None,
            "created_at": now - t["created"], "updated_at": now - t["created"] / 2,
            "completed_at": now - t["created"] / 2
            if t["status"] in ("completed", "failed") else None})
        for t in doc["tasks"]
    ]  # fmt: skip
    memory = [_memory(guard, m, now, node) for m in doc["memory"]]
    patterns = [
        pattern_door.protect(guard, {
            "id": p["id"], "session_id": p["session_id"], "pattern_type": p["pattern_type"],
            "context": p["context"], "input_pattern": p["input_pattern"],
            "output_pattern": p["output_pattern"], "confidence": p["confidence"],
            "usage_count": p["usage_count"], "success_rate": p["success_rate"],
            "created_at": now - p["created"], "last_used": now - p["created"] / 3,
            "last_updated": now - p["created"] / 3})
        for p in doc["patterns"]
    ]  # fmt: skip
    metrics = [
        metric_door.protect(guard, {
            "session_id": x["session_id"], "metric_type": x["metric_type"], "value": x["value"],
            "timestamp": now - x["ago"]})
        for x in doc["metrics"]
    ]  # fmt: skip

    def body(conn: sqlite3.Connection) -> None:
        for row in sessions:
            session_door.insert(conn, row)
        for row in agents:
            agent_door.insert(conn, row)
        for row in tasks:
            task_door.insert(conn, row)
        for sealed, columns in memory:
            memory_door.insert_loaded(conn, sealed, columns)
        for row in patterns:
            pattern_door.insert(conn, row)
        for row in metrics:
            metric_door.insert(conn, row)

    coordinator.rt.write(body)
    coordinator.rt.l1.clear()
    coordinator.rt.announce(
        [ChangeEvent(None, table, "insert", "demo") for table in ("sessions", "neural_patterns")]
    )
    return {kind: len(doc[kind]) for kind in ("sessions", "agents", "tasks", "memory", "patterns")}


def _memory(
    guard: Guard, m: dict[str, Any], now: float, node: str
) -> tuple[memory_door.Sealed, dict[str, Any]]:
    raw = json.dumps(m["value"], separators=(",", ":"))
    shared = m["memory_type"] == "shared"
    updated = now - m["updated"]
    ttl = m.get("ttl")
    columns = {
        "session_id": m["session_id"], "agent_id": m["agent_id"],
        "memory_type": m["memory_type"], "key": m["key"],
        "ttl": None if ttl is None else now + ttl, "created_at": updated - 3600,
        "accessed_at": updated, "namespace": m["namespace"],
        "scope": SWARM_SCOPE if shared else private_scope(m["session_id"], m["agent_id"]),
        "updated_at": updated, "access_count": m["access_count"],
        "version": int(updated * 1_000_000), "origin": node,
    }  # fmt: skip
    return memory_door.prepare(guard, m["key"], m["namespace"], raw), columns

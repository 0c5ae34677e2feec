"""Write data/demo.json: a small, deterministic demo swarm (run: python tools/make_demo.py).

Times are offsets in seconds before the moment the demo is loaded, so the demo
always looks recent; ids are fixed so screenshots are stable.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

rng = random.Random(7)
OUT = Path(__file__).resolve().parent.parent / "data" / "demo.json"

SESSIONS = [
    ("ses_demo000001", "payments-refactor", "ana", "active"),
    ("ses_demo000002", "flaky-ci-hunt", "ben", "active"),
    ("ses_demo000003", "docs-overhaul", "ana", "archived"),
]
AGENT_TYPES = [
    ("coordinator", "plans and assigns work", ["planning", "review"]),
    ("coder", "writes the changes", ["python", "sql", "refactoring"]),
    ("tester", "writes and runs tests", ["pytest", "hypothesis"]),
    ("reviewer", "reviews diffs", ["review", "security"]),
]
TOPICS = [
    "retry policy",
    "idempotency keys",
    "ledger schema",
    "webhook signatures",
    "currency rounding",
    "test isolation",
    "fixture cleanup",
    "timeouts",
    "flaky network mocks",
    "parallel workers",
    "API reference",
    "tutorial outline",
    "changelog",
    "style guide",
    "examples",
]
STATUSES = ["completed", "completed", "in_progress", "pending", "blocked", "failed"]


def offset() -> int:
    return rng.randint(60, 6 * 86_400)


def main() -> None:
    sessions, agents, tasks, memory, patterns, metrics = [], [], [], [], [], []
    for s_index, (sid, name, user, status) in enumerate(SESSIONS):
        sessions.append(
            {
                "id": sid,
                "name": name,
                "user_id": user,
                "status": status,
                "created": 7 * 86_400 - s_index * 3600,
                "updated": 300 + s_index * 900,
            }
        )
        session_agents = []
        for a_index, (kind, role, caps) in enumerate(AGENT_TYPES[: 4 - (s_index == 2)]):
            aid = f"agt_demo{s_index}{a_index:05d}"
            session_agents.append(aid)
            agents.append(
                {
                    "id": aid,
                    "session_id": sid,
                    "agent_type": kind,
                    "role": role,
                    "status": ["busy", "idle", "active", "idle"][a_index],
                    "capabilities": caps,
                    "memory_context": {
                        "focus": TOPICS[s_index * 5 + a_index],
                        "files_open": a_index + 1,
                    },
                }
            )
        # A task tree four levels deep.
        counter = 0

        def add_task(parent, depth, title, s_index=s_index, sid=sid, agents_=session_agents):
            nonlocal counter
            counter += 1
            tid = f"tsk_demo{s_index}{counter:05d}"
            status = "completed" if depth == 0 and s_index == 2 else rng.choice(STATUSES)
            task = {
                "id": tid,
                "session_id": sid,
                "parent_task_id": parent,
                "title": title,
                "status": status,
                "priority": rng.randint(0, 3),
                "agent_id": rng.choice(agents_),
                "created": offset(),
                "payload": {
                    "files": [f"src/{TOPICS[s_index * 5 + depth]}.py".replace(" ", "_")],
                    "estimate_h": rng.randint(1, 8),
                },
            }
            if status in ("completed", "failed"):
                task["result"] = {"ok": status == "completed", "tests": rng.randint(3, 40)}
            tasks.append(task)
            return tid

        root = add_task(None, 0, f"Deliver {name}")
        for i in range(3):
            child = add_task(root, 1, f"Milestone {i + 1}: {TOPICS[s_index * 5 + i]}")
            for j in range(2):
                grandchild = add_task(child, 2, f"Implement {TOPICS[(s_index * 5 + i + j) % 15]}")
                for k in range(2):
                    add_task(grandchild, 3, f"Step {k + 1}: {['write', 'test'][k]} code")
        for n in range(90):
            kind = ["working", "persistent", "persistent"][n % 3]
            agent = session_agents[n % len(session_agents)] if n % 2 else None
            topic = TOPICS[(s_index * 5 + n) % 15]
            entry = {
                "session_id": sid,
                "agent_id": agent,
                "memory_type": kind,
                "namespace": ["decisions", "context", "scratch"][n % 3],
                "key": f"{topic.replace(' ', '-')}-{n:03d}",
                "value": {
                    "note": f"{['Decided', 'Observed', 'Todo'][n % 3]}: {topic}",
                    "confidence": round(rng.random(), 2),
                    "refs": [f"#{100 + n}"],
                },
                "updated": offset(),
                "access_count": rng.randint(0, 50),
            }
            if kind == "working":
                entry["ttl"] = rng.choice([None, 900, 3600, 86_400])
            memory.append(entry)
        memory.append(
            {
                "session_id": sid,
                "agent_id": None,
                "memory_type": "persistent",
                "namespace": "api_keys",
                "key": "staging_token",
                "value": "sk-demo-" + "x" * 24,
                "updated": offset(),
                "access_count": 1,
            }
        )
    for n in range(60):
        topic = TOPICS[n % 15]
        memory.append(
            {
                "session_id": None,
                "agent_id": None,
                "memory_type": "shared",
                "namespace": ["conventions", "facts"][n % 2],
                "key": f"swarm-{topic.replace(' ', '-')}-{n:03d}",
                "value": {"fact": f"Team convention about {topic}", "since": "2026-11"},
                "updated": offset(),
                "access_count": rng.randint(0, 200),
            }
        )
    kinds = ["task_completion", "error_fix", "tool_sequence", "decision"]
    for n in range(24):
        topic = TOPICS[n % 15]
        patterns.append(
            {
                "id": f"pat_demo{n:06d}",
                "session_id": SESSIONS[n % 3][0],
                "pattern_type": kinds[n % 4],
                "context": "code_generation",
                "input_pattern": f"When working on {topic}, tests fail with a timeout",
                "output_pattern": f"Isolate {topic} behind a fake clock and retry",
                "confidence": round(0.5 + rng.random() / 2, 2),
                "usage_count": rng.randint(0, 40),
                "success_rate": round(rng.random(), 2),
                "created": offset(),
            }
        )
    for n in range(144):
        for kind in ("tokens", "tool_calls"):
            metrics.append(
                {
                    "session_id": SESSIONS[n % 2][0],
                    "metric_type": kind,
                    "value": rng.randint(100, 5000) if kind == "tokens" else rng.randint(0, 30),
                    "ago": n * 600,
                }
            )
    OUT.write_text(
        json.dumps(
            {
                "sessions": sessions,
                "agents": agents,
                "tasks": tasks,
                "memory": memory,
                "patterns": patterns,
                "metrics": metrics,
            },
            indent=1,
        )
        + "\n"
    )
    print(
        f"wrote {OUT}: {len(sessions)} sessions, {len(agents)} agents, {len(tasks)} tasks, "
        f"{len(memory)} memory entries, {len(patterns)} patterns, {len(metrics)} metrics"
    )


if __name__ == "__main__":
    main()

"""What each subcommand does, given parsed arguments and an open coordinator."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from claude_tui.cli import output as out
from claude_tui.core.coordinator import MemoryCoordinator
from claude_tui.core.errors import BadInput, NotFound
from claude_tui.core.models import MemoryEntry
from claude_tui.core.validation import parse_json

Handler = Callable[[MemoryCoordinator, argparse.Namespace], int]


def session_new(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    print(c.sessions.create(name=a.name, user_id=a.user).id)
    return 0


def _total(page: list[Any], a: argparse.Namespace, count: Callable[[], int]) -> int:
    """How many the listing holds in all: counted only when the page came back full."""
    return count() if len(page) >= a.limit else a.offset + len(page)


def session_list(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    sessions = c.sessions.list(status=a.status, limit=a.limit, offset=a.offset)
    total = _total(sessions, a, lambda: c.sessions.count(a.status))
    if a.json:
        out.emit_json([s.to_dict() for s in sessions])
    else:
        out.table(
            ["ID", "NAME", "STATUS", "USER", "CREATED", "UPDATED"],
            [(s.id, s.name, s.status, s.user_id, out.when(s.created_at), out.when(s.updated_at))
             for s in sessions],
        )  # fmt: skip
    out.cut_note("sessions", a.offset, len(sessions), total, as_json=a.json)
    return 0


def session_show(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    session = c.sessions.get(a.id, reveal=True)  # this host's owner sees sealed fields
    data = {**session.to_dict(), **c.sessions.summary(a.id)}
    if a.json:
        out.emit_json(data)
    else:
        out.fields([(k, out.when(v) if k.endswith("_at") else v) for k, v in data.items()])
    return 0


def session_status(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    print(c.sessions.update(a.id, status=a.status).status)
    return 0


def session_archive(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    print(c.sessions.archive(a.id).status)
    return 0


def session_delete(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    c.sessions.delete(a.id)
    latest = c.checkpoints.list(a.id, limit=1)
    kept = f" (checkpoint {latest[0].id} kept; 'session restore {a.id}' brings it back)"
    print(f"deleted {a.id}{kept if latest else ''}")
    return 0


def session_checkpoint(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    print(c.checkpoints.create(a.id, label=a.label).id)
    return 0


def session_checkpoints(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    if not c.checkpoints.list(a.id, limit=1):
        c.sessions.get(a.id)  # an unknown session is an error; a session without any is not
    found = c.checkpoints.list(a.id, limit=a.limit, offset=a.offset)
    total = _total(found, a, lambda: c.checkpoints.count(a.id))
    if a.json:
        out.emit_json([cp.to_dict() for cp in found])
        out.cut_note("checkpoints", a.offset, len(found), total, as_json=True)
        return 0
    out.table(
        ["ID", "CREATED", "REASON", "LABEL", "AGENTS", "TASKS", "PENDING", "MEMORY", "PATTERNS"],
        [(cp.id, out.when(cp.created_at), cp.reason, cp.label, cp.counts.get("agents"),
          cp.counts.get("tasks"), cp.counts.get("pending_tasks"), cp.counts.get("memory"),
          cp.counts.get("patterns")) for cp in found],
    )  # fmt: skip
    out.cut_note("checkpoints", a.offset, len(found), total, as_json=False)
    return 0


def session_restore(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    if a.dry_run:
        plan = c.checkpoints.preview(a.id, a.checkpoint, keep_new=a.keep_new)
        if a.json:
            out.emit_json(plan.to_dict())
        else:
            print(f"restoring {plan.checkpoint.id} would change: {plan.summary()}")
        return 0
    result = c.checkpoints.restore(a.id, a.checkpoint, keep_new=a.keep_new)
    if a.json:
        out.emit_json({**result.plan.to_dict(), "safety_checkpoint": result.safety_checkpoint})
        return 0
    undo = (
        f" (the state before is checkpoint {result.safety_checkpoint})"
        if result.safety_checkpoint
        else ""
    )
    print(f"restored {a.id} to {result.plan.checkpoint.id}: {result.plan.summary()}{undo}")
    return 0


def keys_rotate(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.core.durability.rotation import rotate_keys

    def progress(what: str, done: int) -> None:
        if done % 5000 == 0:
            err(f"re-encrypted {done:,} {what}")

    report = rotate_keys(c, drop_old=a.drop_old, progress=progress)
    if a.json:
        out.emit_json(report.to_dict())
        return 0
    how = "resumed an interrupted rotation: " if report.resumed else ""
    print(
        f"{how}re-encrypted {report.values:,} secrets and {report.checkpoints:,} checkpoints "
        f"under the new key ({report.source}); sealed {report.sealed_plain:,} stored in clear"
    )
    if report.old_keys_kept:
        err(
            f"{report.old_keys_kept} old key(s) kept so older backups stay readable; "
            "'keys rotate --drop-old' removes them"
        )
    return 0


def agent_register(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    agent = c.agents.register(a.session, a.agent_type, a.role, capabilities=a.capabilities)
    print(agent.id)
    return 0


def agent_list(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    agents = c.agents.list(session_id=a.session)
    if a.json:
        out.emit_json([x.to_dict() for x in agents])
    else:
        out.table(
            ["ID", "SESSION", "TYPE", "ROLE", "STATUS", "CAPABILITIES"],
            [(x.id, x.session_id, x.agent_type, x.role, x.status, ",".join(x.capabilities))
             for x in agents],
        )  # fmt: skip
    return 0


def task_add(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    payload = None if a.payload is None else parse_json(a.payload, "payload")
    task = c.tasks.add(
        a.session, a.title, parent_task_id=a.parent, priority=a.priority, agent_id=a.agent,
        payload=payload,
    )  # fmt: skip
    print(task.id)
    return 0


def task_update(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    result = None if a.result is None else parse_json(a.result, "result")
    task = c.tasks.update(a.id, status=a.status, result=result, priority=a.priority)
    print(task.status)
    return 0


def task_show(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    task = c.tasks.get(a.id, reveal=True)  # this host's owner sees sealed fields
    if a.json:
        out.emit_json(task.to_dict())
    else:
        out.fields([(k, v) for k, v in task.to_dict().items()])
    return 0


def task_list(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    tasks = c.tasks.list(a.session, status=a.status, limit=a.limit, offset=a.offset)
    total = _total(tasks, a, lambda: c.tasks.count(a.session, status=a.status))
    if a.json:
        out.emit_json([t.to_dict() for t in tasks])
    else:
        out.table(
            ["ID", "PARENT", "STATUS", "PRIO", "AGENT", "TITLE"],
            [(t.id, t.parent_task_id or "-", t.status, t.priority, t.agent_id or "-",
              out.short(t.title, 50)) for t in tasks],
        )  # fmt: skip
    out.cut_note("tasks", a.offset, len(tasks), total, as_json=a.json)
    return 0


def _scope_kwargs(a: argparse.Namespace) -> dict[str, object]:
    return {
        "session_id": a.session,
        "agent_id": a.agent,
        "namespace": a.namespace,
        "memory_type": a.memory_type,
    }


def memory_store(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    entry = c.memory.store(a.key, a.parsed_value, ttl=a.ttl, **_scope_kwargs(a))  # type: ignore[arg-type]
    print(entry.id)
    return 0


def memory_get(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    entry = c.memory.get(a.key, **_scope_kwargs(a))  # type: ignore[arg-type]
    if entry is None:
        raise NotFound(f"no entry {a.key!r} visible in that scope")
    if a.json:
        out.emit_json(entry.to_dict())
    elif isinstance(entry.value, str):
        print(entry.value)
    else:
        out.emit_json(entry.value)
    return 0


SECRET_MASK = "<secret: read it with memory get>"


def _entries(entries: list[MemoryEntry], as_json: bool) -> None:
    if as_json:
        # A listing shows secrets masked, as the table does: `memory get` opens one.
        out.emit_json([{**e.to_dict(), "value": SECRET_MASK} if e.sensitive else e.to_dict()
                       for e in entries])  # fmt: skip
        return
    now = time.time()
    out.table(
        ["KEY", "TYPE", "NAMESPACE", "SESSION", "AGENT", "TTL", "VALUE"],
        [(e.key, e.memory_type, e.namespace, e.session_id or "-", e.agent_id or "-",
          "-" if e.expires_at is None else f"{e.ttl_remaining(now):.0f}s",
          "••••••" if e.sensitive else out.short(e.value, 50)) for e in entries],
    )  # fmt: skip


def _filter_kwargs(a: argparse.Namespace) -> dict[str, object]:
    return {
        "session_id": a.session,
        "agent_id": a.agent,
        "namespace": a.namespace,
        "memory_type": a.memory_type,
        "all_sessions": a.all_sessions,
        "limit": a.limit,
    }


def memory_list(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    entries = c.memory.list(**_filter_kwargs(a), offset=a.offset)  # type: ignore[arg-type]
    kwargs = {k: v for k, v in _filter_kwargs(a).items() if k != "limit"}
    total = _total(entries, a, lambda: c.memory.count(**kwargs))  # type: ignore[arg-type]
    _entries(entries, a.json)
    out.cut_note("entries", a.offset, len(entries), total, as_json=a.json)
    return 0


def memory_search(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.cli.search_commands import memory_search as search

    return search(c, a)


def memory_reindex(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.cli.search_commands import memory_reindex as reindex

    return reindex(c, a)


def memory_delete(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    if not c.memory.delete(a.key, **_scope_kwargs(a)):  # type: ignore[arg-type]
        raise NotFound(f"no entry {a.key!r} visible in that scope")
    print("deleted")
    return 0


def memory_purge(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    print(f"purged {c.memory.purge_expired()} expired entries")
    if a.log_days is not None:
        print(f"pruned {c.prune_change_log(a.log_days)} change-log rows")
    return 0


def worker(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.core.durability.scheduler import run_worker
    from claude_tui.core.search.memory_index import BUILT_META

    if not a.once and c.store.meta(BUILT_META) is not None:
        c.search.start_indexer()  # memory's vector index follows the writes of every process
    return run_worker(c, once=a.once)


def doctor(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.cli.backup_commands import backup_status
    from claude_tui.cli.install_commands import claude_code_report
    from claude_tui.core.durability.integrity import full_check

    report = c.doctor()
    report["integrity"] = full_check(c.store.path).to_dict()
    report["backups"] = backup_status(c.config)
    report["claude_code"] = claude_code_report(c.config)
    from claude_tui.hooks.status import summary as hook_summary

    report["hooks"] = hook_summary(c.config.data_dir)
    report["hooks"]["spool_waiting"] = _spool_waiting(c.config)
    from claude_tui.hooks.worker import info as worker_info

    report["hooks"]["worker"] = worker_info(str(c.config.data_dir))
    from claude_tui.cli.transcript_commands import doctor_report as transcripts_report

    report["transcripts"] = transcripts_report(c)
    if a.json:
        out.emit_json(report)
        return 0
    redis = report["backends"]["redis"]
    redis_line = (
        f"up ({redis['url']}{', private' if redis['private'] else ''})"
        if redis["up"]
        else f"DOWN: {redis['reason']} — running on L1 + SQLite"
    )
    out.fields(
        [
            ("claude-tui", report["claude_tui"]),
            ("python", report["python"]),
            ("sqlite", report["sqlite"]),
            ("data dir", report["data_dir"]),
            ("database", report["database"]),
            ("schema", f"{report['schema_version']} (latest {report['schema_latest']})"),
            ("node id", report["node_id"]),
            ("change log", report["change_log_seq"]),
            ("SQLite", "up"),
            ("Redis (L2)", redis_line),
            ("patterns", _vectors_line(report["vectors"])),
            ("sync", _sync_line(report["sync"])),
            ("integrity", _integrity_line(report["integrity"])),
            ("backups", report["backups"]["line"]),
            ("Claude Code", report["claude_code"]["line"]),
            ("hooks", _hooks_line(report["hooks"])),
            ("transcripts", report["transcripts"]["line"]),
        ]
    )
    return 0


def recall_show(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.hooks.handlers import injections_of

    c.sessions.get(a.session)  # an unknown session is an error
    shown = injections_of(c, a.session)
    if a.json:
        out.emit_json(shown)
        return 0
    if not shown:
        print(f"nothing was injected into {a.session}")
        return 0
    for injection in shown:
        print(f"{out.when(injection['at'])}  {injection['hook']}  {injection['chars']} characters "
              f"({injection['mode']} search)")  # fmt: skip
        for item in injection["items"]:
            origin = item.get("session") or "the swarm"
            print(f"  {item['kind']:<8} {item['ref']}  score {item['score']:.2f}  from {origin}: "
                  f"{item['why']}")  # fmt: skip
    return 0


def recall_switch(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    import os

    from claude_tui.hooks.handlers import recall_allowed, set_recall
    from claude_tui.hooks.project import project_of

    folder = a.project or os.getcwd()
    if not os.path.isdir(folder):
        raise BadInput(f"--project {folder}: not a directory")
    project = project_of(folder)
    if a.action in ("on", "off"):
        set_recall(c, project, on=a.action == "on")
    state = "on" if recall_allowed(c, project) else "off"
    why = "" if c.config.recall_enabled else " ([recall] enabled = false in config.toml)"
    print(f"recall is {state} for {project}{why}")
    return 0


def _spool_waiting(config: Any) -> bool:
    from claude_tui.hooks.spool import pending

    return pending(config)


def _hooks_line(r: dict[str, Any]) -> str:
    """When each hook last fired, and how many captures failed."""
    events = r["events"]
    if not events:
        return "never fired (claude-tui install claude-code)"
    now = time.time()
    fired = ", ".join(
        f"{name} {out.ago(now - float(v.get('last_fired', now)))}"
        for name, v in sorted(events.items())
    )
    failed = r["failed"]
    worst = max(
        (v for v in events.values() if v.get("last_failed")),
        key=lambda v: float(v["last_failed"]),
        default=None,
    )
    line = f"last fired: {fired}; {failed} failed"
    if worst is not None:
        line += f" (last: {worst.get('last_error')})"
    if r.get("spool_waiting"):
        line += "; captures waiting in the spool (applied by the next hook)"
    running = r.get("worker")
    if running:
        n = running["served"]
        line += f"; warm worker pid {running['pid']} ({n} hook{'' if n == 1 else 's'} served)"
    else:
        from claude_tui.hooks.client import worker_enabled

        line += (
            "; no warm worker (the next hook starts one)"
            if worker_enabled()
            else "; warm worker off (CLAUDE_TUI_HOOK_WORKER=0): hooks run in-process"
        )
    return line


def _sync_line(r: dict[str, Any]) -> str:
    if not r["enabled"]:
        return "off ([sync] url or CLAUDE_TUI_SYNC_URL to share the swarm across hosts)"
    state = "up" if r["redis_up"] else f"DOWN: {r['last_error'] or 'unreachable'}"
    return (
        f"{state} ({r['url']}, swarm {r['swarm']!r}); {len(r['peers'])} peers, "
        f"{r['queue']['total']} queued, {r['conflicts_open']} open conflicts"
    )


def _integrity_line(r: dict[str, object]) -> str:
    if r["ok"]:
        return f"ok ({r['level']} check, {r['seconds']:.2f} s)"
    return f"DAMAGED: {r['problem']} — run `claude-tui backup restore latest`"


def _vectors_line(v: dict[str, object]) -> str:
    model = "installed" if v["model_installed"] else "MISSING (reinstall claude-tui)"
    index = v["index"] if v["index_exists"] else f"{v['index']} (built on first use)"
    queued = f", {v['queued_for_index']} queued for the index" if v["queued_for_index"] else ""
    return f"{v['patterns']} in SQLite{queued}; embedder {v['embedder']}, model {model}; {index}"


def patterns_learn(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.core.vectors.learning import Experience

    learned = c.learning.learn(
        Experience(
            a.pattern_type, a.input_text, a.output_text, context=a.context, success=a.success,
            session_id=a.session,
        )
    )  # fmt: skip
    if a.json:
        out.emit_json(
            {
                "id": learned.pattern.id,
                "consolidated": learned.consolidated,
                "similarity": learned.similarity,
                "truncated": learned.truncated,
                "indexed": learned.indexed,
            }
        )
    else:
        print(learned.pattern.id)
    if learned.consolidated:
        err(f"consolidated into {learned.pattern.id} (similarity {learned.similarity:.3f})")
    if learned.truncated:
        err("the text was longer than the model's window: only its start was embedded")
    if not learned.indexed:
        err("the vector index is unavailable: the pattern is saved and queued for indexing")
    return 0


def patterns_search(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    from claude_tui.cli.search_commands import patterns_search as search

    return search(c, a)


def patterns_show(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    pattern = c.patterns.reveal(c.patterns.get(a.id))  # this host's owner sees sealed fields
    if a.json:
        out.emit_json(pattern.to_dict())
    else:
        out.fields(
            [(k, out.when(v) if k in ("created_at", "last_used", "last_updated") else v)
             for k, v in pattern.to_dict().items()]
        )  # fmt: skip
    return 0


def patterns_list(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    patterns = c.patterns.list(a.pattern_type, limit=a.limit, offset=a.offset)
    total = _total(patterns, a, lambda: c.patterns.count(a.pattern_type))
    if a.json:
        out.emit_json([p.to_dict() for p in patterns])
    else:
        out.table(
            ["ID", "TYPE", "CONF", "USES", "INPUT"],
            [(p.id, p.pattern_type, f"{p.confidence:.2f}", p.usage_count,
              out.short(p.input_pattern, 60)) for p in patterns],
        )  # fmt: skip
    out.cut_note("patterns", a.offset, len(patterns), total, as_json=a.json)
    return 0


def patterns_reindex(c: MemoryCoordinator, a: argparse.Namespace) -> int:
    def progress(done: int, total: int) -> None:
        err(f"indexed {done:,} of {total:,} patterns")

    print(f"reindexed {c.learning.reindex(progress):,} patterns")
    return 0


HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("session", "new"): session_new,
    ("session", "list"): session_list,
    ("session", "show"): session_show,
    ("session", "status"): session_status,
    ("session", "archive"): session_archive,
    ("session", "delete"): session_delete,
    ("session", "checkpoint"): session_checkpoint,
    ("session", "checkpoints"): session_checkpoints,
    ("session", "restore"): session_restore,
    ("keys", "rotate"): keys_rotate,
    ("agent", "register"): agent_register,
    ("agent", "list"): agent_list,
    ("task", "add"): task_add,
    ("task", "update"): task_update,
    ("task", "list"): task_list,
    ("task", "show"): task_show,
    ("memory", "store"): memory_store,
    ("memory", "get"): memory_get,
    ("memory", "list"): memory_list,
    ("memory", "search"): memory_search,
    ("memory", "reindex"): memory_reindex,
    ("memory", "delete"): memory_delete,
    ("memory", "purge"): memory_purge,
    ("patterns", "learn"): patterns_learn,
    ("patterns", "search"): patterns_search,
    ("patterns", "show"): patterns_show,
    ("patterns", "list"): patterns_list,
    ("patterns", "reindex"): patterns_reindex,
    ("doctor", None): doctor,
    ("recall", "show"): recall_show,
    ("recall", "off"): recall_switch,
    ("recall", "on"): recall_switch,
    ("recall", "status"): recall_switch,
    ("worker", None): worker,
}


def err(message: str) -> None:
    """Write one line to stderr."""
    sys.stderr.write(message.rstrip() + "\n")


def _merge_backup_handlers() -> None:
    from claude_tui.cli.backup_commands import BACKUP_HANDLERS  # imported late: no cycle

    HANDLERS.update(BACKUP_HANDLERS)


_merge_backup_handlers()


def _merge_import_handlers() -> None:
    from claude_tui.cli.import_commands import IMPORT_HANDLERS  # imported late: no cycle

    HANDLERS.update(IMPORT_HANDLERS)


_merge_import_handlers()


def _merge_sync_handlers() -> None:
    from claude_tui.cli.sync_commands import SYNC_HANDLERS  # imported late: no cycle

    HANDLERS.update(SYNC_HANDLERS)


_merge_sync_handlers()


def _merge_transcript_handlers() -> None:
    from claude_tui.cli.transcript_commands import TRANSCRIPT_HANDLERS  # imported late: no cycle

    HANDLERS.update(TRANSCRIPT_HANDLERS)


_merge_transcript_handlers()

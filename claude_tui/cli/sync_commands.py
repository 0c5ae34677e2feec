"""``claude-tui sync status|resync|conflicts|resolve``: the swarm as this host sees it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING

from claude_tui.cli import output as out
from claude_tui.core.errors import BadInput

if TYPE_CHECKING:
    from claude_tui.core.coordinator import MemoryCoordinator

Handler = Callable[["MemoryCoordinator", argparse.Namespace], int]

SYNC_OFF = "sync is off: set [sync] url in config.toml or CLAUDE_TUI_SYNC_URL"


def add_parsers(cmds: argparse._SubParsersAction, parser_class: type) -> None:
    """Add the ``sync`` command and its actions to the root parser."""
    sync = cmds.add_parser(
        "sync", help="cross-host sync of the swarm's memory through Redis"
    ).add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=parser_class)
    p = sync.add_parser("status", help="peers, queue depth, conflicts, the stream")
    p.add_argument("--json", action="store_true")
    sync.add_parser("resync", help="pull the swarm's whole shared state now and merge it")
    p = sync.add_parser("conflicts", help="values that lost to a concurrent write")
    p.add_argument("--all", action="store_true", help="resolved ones too")
    p.add_argument("--json", action="store_true")
    p = sync.add_parser("resolve", help="keep the winner, or write the losing value back")
    p.add_argument("conflict_id", type=int, metavar="ID")
    p.add_argument("--take", choices=["winner", "loser"], required=True)


def sync_status(c: MemoryCoordinator, args: argparse.Namespace) -> int:
    if c.sync is None:
        if args.json:
            out.emit_json({"enabled": False, "reason": SYNC_OFF})
        else:
            print(SYNC_OFF)
        return 0
    report = c.sync.status()
    if args.json:
        out.emit_json(report)
        return 0
    stream = report["stream"] or {}
    out.fields(
        [
            ("node", report["node"]),
            ("swarm", report["swarm"]),
            ("server", f"{report['url']} ({'up' if report['redis_up'] else 'down'})"),
            ("queued to send", f"{report['queue']['total']} "
             f"(immediate {report['queue']['immediate']}, batched {report['queue']['batched']}, "
             f"lazy {report['queue']['lazy']})"),
            ("last applied id", report["last_applied_id"]),
            ("stream", f"{stream.get('length', '-')} entries, last {stream.get('last_id', '-')}"),
            ("open conflicts", report["conflicts_open"]),
            ("waiting for parent", report["deferred"]),
            ("last resync", "-" if not report["last_resync"] else
             f"{out.when(report['last_resync']['at'])}: {report['last_resync']['reason']}"),
        ]
    )  # fmt: skip
    lag = {g["node"]: g for g in stream.get("groups", [])}
    print()
    out.table(
        ["PEER", "LAST EVENT", "LAG MS", "EVENTS", "UNREAD"],
        [
            [
                p["node"],
                out.when(p["last_seen"]),
                "-" if p["lag_ms"] is None else f"{p['lag_ms']:.0f}",
                p["events"],
                lag.get(p["node"], {}).get("lag", "-"),
            ]
            for p in report["peers"]
        ],
    )
    return 0


def sync_resync(c: MemoryCoordinator, args: argparse.Namespace) -> int:
    if c.sync is None:
        raise BadInput(SYNC_OFF)
    changed = c.sync.resync("asked for by 'claude-tui sync resync'")
    c.sync.take_notices()  # said below, once
    print(f"resynced swarm {c.config.sync_swarm!r}: {changed} rows changed")
    return 0


def sync_conflicts(c: MemoryCoordinator, args: argparse.Namespace) -> int:
    from claude_tui.core.sync.conflicts import list_conflicts

    rows = list_conflicts(c, include_resolved=args.all)
    if args.json:
        out.emit_json([r.as_dict() for r in rows])
        return 0
    out.table(
        ["ID", "NAMESPACE", "KEY", "FIELD", "KEPT", "LOST", "FROM", "DETECTED", "RESOLVED"],
        [
            [
                r.id, r.namespace, r.key, r.field or "(whole)",
                out.short("(absent)" if r.winner is None else r.winner, 30),
                out.short("(absent)" if r.loser is None else r.loser, 30),
                r.loser_origin, out.when(r.detected_at), r.resolution or "-",
            ]
            for r in rows
        ],
    )  # fmt: skip
    return 0


def sync_resolve(c: MemoryCoordinator, args: argparse.Namespace) -> int:
    from claude_tui.core.sync.conflicts import resolve

    row = resolve(c, args.conflict_id, take=args.take)
    print(f"conflict {row.id}: {row.resolution}")
    return 0


SYNC_HANDLERS: dict[tuple[str, str | None], Handler] = {
    ("sync", "status"): sync_status,
    ("sync", "resync"): sync_resync,
    ("sync", "conflicts"): sync_conflicts,
    ("sync", "resolve"): sync_resolve,
}

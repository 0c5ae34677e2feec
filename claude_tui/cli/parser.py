"""The argument parser: every subcommand and flag of ``claude-tui``."""

from __future__ import annotations

import argparse
from typing import NoReturn

from claude_tui import __version__
from claude_tui.cli.values import HELP_HINT
from claude_tui.core.errors import BadInput
from claude_tui.core.models import MEMORY_TYPES, SESSION_STATUSES, TASK_STATUSES


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line and exit code 2 (via BadInput)."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(f"{message} (see '{self.prog} --help')")


_MAX_PRIORITY = 2**63 - 1  # SQLite's largest INTEGER


def _priority(text: str) -> int:
    """A task priority: a whole number from 0 up (refused by argparse otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"priority must be a whole number, not {text!r}") from None
    if not 0 <= value <= _MAX_PRIORITY:
        raise argparse.ArgumentTypeError(
            f"priority must be between 0 and {_MAX_PRIORITY}, not {value}"
        )
    return value


def _page_size(text: str) -> int:
    """A ``--limit``: a whole number from 1 to 10,000."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 10000, not {text!r}")
    return value


def _offset(text: str) -> int:
    """An ``--offset``: how many rows to skip, 0 and up."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text!r}")
    return value


def _paging(p: argparse.ArgumentParser, default: int) -> None:
    """``--limit`` and ``--offset`` of a listing (it says when it stops at its limit)."""
    p.add_argument(
        "--limit", type=_page_size, default=default, help=f"at most N (default {default})"
    )
    p.add_argument("--offset", type=_offset, default=0, help="skip the first N")


def _days(text: str) -> float:
    """A positive, finite number of days (``nan``, ``inf``, 0 and below are refused)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of days, not {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of days, not {text!r}")
    return value


def _score(text: str) -> float:
    """A ``--min-score``: a similarity from -1 to 1 (refused before the data dir is opened)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not (math.isfinite(value) and -1 <= value <= 1):
        raise argparse.ArgumentTypeError(f"must be a number between -1 and 1, not {text!r}")
    return value


def _scope(p: argparse.ArgumentParser, *, typed: bool = True) -> None:
    p.add_argument("--session", help="session id (working/persistent memory belong to one)")
    p.add_argument("--agent", help="agent id (must belong to the session)")
    if typed:
        p.add_argument("--namespace", default="default", help="namespace (default: default)")
        p.add_argument("--type", choices=MEMORY_TYPES, dest="memory_type")


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--session", help="only this session's entries (and shared ones)")
    p.add_argument("--agent", help="only this agent's entries (and its session's and shared)")
    p.add_argument("--namespace", help="only this namespace")
    p.add_argument("--type", choices=MEMORY_TYPES, dest="memory_type")
    p.add_argument(
        "--all", action="store_true", dest="all_sessions", help="every session's entries"
    )
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _translate_once() -> None:
    """Make argparse look each of its messages up in gettext once, not once per parser.

    gettext searches the locale directories again on every call that finds no
    catalog: with ~50 subparsers that is ~180 searches (about 20 ms, the largest cost
    of building the parser). The answers cannot change within a process.
    """
    import functools
    import gettext

    if getattr(argparse._, "__wrapped__", None) is not gettext.gettext:  # type: ignore[attr-defined]
        argparse._ = functools.lru_cache(maxsize=None)(gettext.gettext)  # type: ignore[attr-defined]


def build_parser() -> Parser:
    """The full ``claude-tui`` parser."""
    _translate_once()
    root = Parser(
        prog="claude-tui",
        description="Inspect and steer what your coding agents remember. "
        "With no command, starts the terminal app.",
    )
    root.add_argument("--version", action="version", version=f"claude-tui {__version__}")
    root.add_argument(
        "--data-dir", help="data directory (default: CLAUDE_TUI_DATA_DIR or the user data dir)"
    )
    root.add_argument("--session", dest="app_session", help="(app) open this session")
    root.add_argument("--fresh", action="store_true", help="(app) skip restoring the last session")
    cmds = root.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    # (each group below: one subcommand and its actions)

    session = cmds.add_parser("session", help="create, list and show sessions").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=Parser
    )
    p = session.add_parser("new", help="create a session; prints its id")
    p.add_argument("--name", help=f"session name {HELP_HINT}")
    p.add_argument("--user")
    p = session.add_parser("list", help="list sessions")
    p.add_argument("--status")
    _paging(p, 1000)
    p.add_argument("--json", action="store_true")
    p = session.add_parser("show", help="show one session with its counts")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p = session.add_parser("status", help="set a session's status")
    p.add_argument("id")
    p.add_argument("status", choices=SESSION_STATUSES)
    p = session.add_parser("archive", help="archive a session")
    p.add_argument("id")
    p = session.add_parser("delete", help="delete a session (a checkpoint is taken first)")
    p.add_argument("id")
    p = session.add_parser("checkpoint", help="checkpoint a session now; prints the checkpoint id")
    p.add_argument("id")
    p.add_argument("--label", help=f"checkpoint label {HELP_HINT}")
    p = session.add_parser("checkpoints", help="list a session's checkpoints, newest first")
    p.add_argument("id")
    _paging(p, 1000)
    p.add_argument("--json", action="store_true")
    p = session.add_parser(
        "restore", help="bring a session back to a checkpoint (the latest when none is given)"
    )
    p.add_argument("id")
    p.add_argument("checkpoint", nargs="?")
    p.add_argument(
        "--keep-new", action="store_true", help="keep what was added after the checkpoint"
    )
    p.add_argument("--dry-run", action="store_true", help="only show what would change")
    p.add_argument("--json", action="store_true")

    agent = cmds.add_parser("agent", help="register and list agents").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=Parser
    )
    p = agent.add_parser("register", help="register an agent; prints its id")
    p.add_argument("--session", required=True)
    p.add_argument("--type", required=True, dest="agent_type")
    p.add_argument("--role", help=f"what the agent does {HELP_HINT}")
    p.add_argument("--capability", action="append", default=[], dest="capabilities")
    p = agent.add_parser("list", help="list agents")
    p.add_argument("--session")
    p.add_argument("--json", action="store_true")

    task = cmds.add_parser("task", help="add, update and list tasks").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=Parser
    )
    p = task.add_parser("add", help="add a task; prints its id")
    p.add_argument("--session", required=True)
    p.add_argument("title", help=f"task title {HELP_HINT}")
    p.add_argument("--parent")
    p.add_argument("--priority", type=_priority, default=0)
    p.add_argument("--agent")
    p.add_argument("--payload", help=f"JSON payload {HELP_HINT}")
    p = task.add_parser("update", help="change a task's status or result")
    p.add_argument("id")
    p.add_argument("--status", choices=TASK_STATUSES)
    p.add_argument("--result", help=f"JSON result {HELP_HINT}")
    p.add_argument("--priority", type=_priority)
    p = task.add_parser("show", help="show one task (sealed fields in clear, for you)")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p = task.add_parser("list", help="list tasks")
    p.add_argument("--session")
    p.add_argument("--status", choices=TASK_STATUSES)
    _paging(p, 10_000)
    p.add_argument("--json", action="store_true")

    memory = cmds.add_parser(
        "memory", help="store, read, list, search, delete memory"
    ).add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    p = memory.add_parser("store", help="store KEY VALUE (VALUE is JSON; a bare word is a string)")
    p.add_argument("key")
    p.add_argument("value", help=f"JSON, or a bare word as a string {HELP_HINT}")
    _scope(p)
    p.add_argument("--ttl", help="seconds until the entry expires")
    p = memory.add_parser("get", help="print one entry's value (exit code 1 when absent)")
    p.add_argument("key")
    _scope(p)
    p.add_argument("--json", action="store_true")
    p = memory.add_parser("list", help="list entries")
    _filters(p)
    p.add_argument("--offset", type=_offset, default=0, help="skip the first N")
    p = memory.add_parser("delete", help="delete an entry")
    p.add_argument("key")
    _scope(p)
    p = memory.add_parser("search", help="search keys and values by words and by meaning")
    p.add_argument("text", help=f"what to search for {HELP_HINT}")
    _filters(p)
    p.add_argument(
        "--mode", choices=("hybrid", "text", "semantic"), default="hybrid",
        help="hybrid (default): words and meaning fused; text: words only; semantic: meaning only",
    )  # fmt: skip
    p.add_argument(
        "--source", choices=("memory", "transcripts", "all"), default="memory",
        help="memory (default); transcripts: the session's Claude Code conversation (by words; "
        "needs --session or --all); all: both, as one list",
    )  # fmt: skip
    memory.add_parser("reindex", help="rebuild memory's vector index from SQLite")
    p = memory.add_parser("purge", help="delete expired entries now")
    p.add_argument(
        "--log-days", type=_days, help="also drop change-log rows older than this many days"
    )

    patterns = cmds.add_parser(
        "patterns", help="learn, search, list and reindex neural patterns"
    ).add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    p = patterns.add_parser("learn", help="record an experience; prints the pattern id")
    p.add_argument("--type", required=True, dest="pattern_type")
    p.add_argument("--context", help=f"free-text context {HELP_HINT}")
    p.add_argument(
        "--input",
        required=True,
        dest="input_text",
        help=f"what happened (a task, an error) {HELP_HINT}",
    )
    p.add_argument(
        "--output", dest="output_text", help=f"what came of it (a result, a fix) {HELP_HINT}"
    )
    outcome = p.add_mutually_exclusive_group()
    outcome.add_argument("--success", action="store_true", default=None)
    outcome.add_argument("--failure", action="store_false", dest="success")
    p.add_argument("--session")
    p.add_argument("--json", action="store_true")
    p = patterns.add_parser("search", help="find patterns by words and by meaning")
    p.add_argument("text", help=f"what to look for {HELP_HINT}")
    p.add_argument("--type", dest="pattern_type")
    p.add_argument(
        "--mode", choices=("hybrid", "text", "semantic"), default="hybrid",
        help="hybrid (default): words and meaning fused; text: words only; semantic: meaning only",
    )  # fmt: skip
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--min-score", type=_score, dest="min_score")
    p.add_argument("--json", action="store_true")
    p = patterns.add_parser("show", help="show one pattern")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p = patterns.add_parser("list", help="list patterns")
    p.add_argument("--type", dest="pattern_type")
    _paging(p, 1000)
    p.add_argument("--json", action="store_true")
    patterns.add_parser("reindex", help="rebuild the vector index from SQLite")

    p = cmds.add_parser("worker", help="run backups, purge, retention, checkpoints (foreground)")
    p.add_argument("--once", action="store_true", help="run whatever is due once, then exit")

    keys = cmds.add_parser("keys", help="the encryption key of secrets").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=Parser
    )
    p = keys.add_parser("rotate", help="re-encrypt every secret under a new key (resumable)")
    p.add_argument(
        "--drop-old",
        action="store_true",
        help="then remove the old keys (older backups can no longer open their secrets)",
    )
    p.add_argument("--json", action="store_true")

    backup = cmds.add_parser(
        "backup", help="take, list, verify and restore backups of the database"
    ).add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    p = backup.add_parser("run", help="take a backup now and verify it")
    p.add_argument(
        "--kind", choices=["full", "differential", "incremental", "auto"], default="auto",
        help="auto (default): full when there is none yet, else incremental",
    )  # fmt: skip
    p.add_argument("--json", action="store_true")
    p = backup.add_parser("list", help="list backups (from the manifest)")
    p.add_argument("--json", action="store_true")
    p = backup.add_parser("verify", help="re-check backups (all when no ID); exit 1 if any fails")
    p.add_argument("id", nargs="?")
    p.add_argument("--json", action="store_true")
    p = backup.add_parser("restore", help="replace the database with a backup (point in time)")
    p.add_argument("target", nargs="?", default="latest", metavar="ID|latest")
    p.add_argument(
        "--at", help="newest state at or before TIME (2026-11-25T14:00 local time, or epoch)"
    )
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    imports = cmds.add_parser(
        "import", help="import other tools' history (Claude Code transcripts)"
    ).add_subparsers(dest="action", metavar="SOURCE", required=True, parser_class=Parser)
    p = imports.add_parser(
        "claude-code", help="import Claude Code sessions (new lines only on re-import)"
    )
    p.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="a transcript (.jsonl) or a directory (default: ~/.claude/projects and the like)",
    )  # fmt: skip
    p.add_argument("--watch", action="store_true", help="then follow the transcripts (Ctrl-C)")
    p.add_argument("--json", action="store_true")

    p = cmds.add_parser("doctor", help="versions, data dir, schema and which tiers are up")
    p.add_argument("--json", action="store_true")

    recall = cmds.add_parser(
        "recall", help="what the Claude Code hooks inject, and turning it off per project"
    ).add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    p = recall.add_parser("show", help="what was injected into a session's context, and why")
    p.add_argument("session", help="a claude-tui session id (cc_<Claude Code session id>)")
    p.add_argument("--json", action="store_true")
    for verb, text in (("off", "stop injecting for a project"), ("on", "inject again")):
        p = recall.add_parser(verb, help=text)
        p.add_argument("--project", metavar="DIR", help="the project (default: the current dir)")
    p = recall.add_parser("status", help="whether recall is on for a project")
    p.add_argument("--project", metavar="DIR", help="the project (default: the current dir)")

    p = cmds.add_parser(
        "mcp", help="serve the memory layer to agents over MCP (stdio), bound to one session"
    )
    p.add_argument("--session", help="session to act as (default: CLAUDE_TUI_SESSION)")
    p.add_argument(
        "--agent", help="agent to act as; must belong to the session (default: CLAUDE_TUI_AGENT)"
    )
    p.add_argument(
        "--create-session", metavar="NAME",
        help="act as the newest session named NAME, creating it when there is none",
    )  # fmt: skip

    redis = cmds.add_parser("redis", help="the data dir's private redis-server").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=Parser
    )
    redis.add_parser("stop", help="stop the private redis-server of this data dir")

    from claude_tui.cli.sync_commands import add_parsers as add_sync_parsers

    add_sync_parsers(cmds, Parser)
    from claude_tui.cli.install_commands import add_parsers as add_install_parsers

    add_install_parsers(cmds, Parser)
    from claude_tui.cli.transcript_commands import add_parsers as add_transcript_parsers

    add_transcript_parsers(cmds, Parser)
    return root

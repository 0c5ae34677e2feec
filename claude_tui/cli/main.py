"""Entry point: parse, open the data dir, dispatch, and turn errors into exit codes.

Store-only commands never import Textual or chromadb; the app is imported
only when no subcommand is given.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from claude_tui.core.errors import ClaudeTUIError

if TYPE_CHECKING:
    import argparse


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``claude-tui``; return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    from claude_tui.hooks import client

    if client.parse(args) is not None:  # Claude Code waits on every hook: the short path
        return client.main(args, bare=False)
    import logging  # not before: the hook path above never logs

    logging.basicConfig(
        level=logging.DEBUG if os.environ.get("CLAUDE_TUI_DEBUG") else logging.ERROR,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    from claude_tui.core.secrets import install_log_redaction

    install_log_redaction()  # built-in formats now; the configured rules once config is read
    try:
        return _run(args)
    except ClaudeTUIError as exc:
        sys.stderr.write(f"claude-tui: {exc.message}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("claude-tui: interrupted\n")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # last resort: a sentence, not a traceback
        if os.environ.get("CLAUDE_TUI_DEBUG"):
            raise
        said = _os_problem(exc) if isinstance(exc, OSError) else None
        if said is not None:
            sys.stderr.write(f"claude-tui: {said}\n")
            return 2
        sys.stderr.write(
            f"claude-tui: internal error: {type(exc).__name__}: {exc} "
            "(set CLAUDE_TUI_DEBUG=1 for details)\n"
        )
        return 1


def _run(argv: list[str]) -> int:
    from claude_tui.cli.parser import build_parser
    from claude_tui.cli.values import refuse_undecodable, resolve_user_values
    from claude_tui.core.config import Config

    parser = build_parser()
    args = parser.parse_args(argv)
    config = Config.load(args.data_dir)  # reads config.toml only: creates and opens nothing
    from claude_tui.core.secrets import install_log_redaction

    install_log_redaction(config.secret_rules())
    # '-' and '@FILE' values are read before the store is opened (a bad file writes
    # nothing); after Config.load because the configured value size bounds the read
    resolve_user_values(args, max_bytes=config.max_value_bytes)
    refuse_undecodable(args, parser)  # after: a value read from @FILE is checked too
    if args.command is None:
        from claude_tui.app.launch import launch  # the only path that imports Textual

        return launch(config, session_id=args.app_session, fresh=args.fresh)
    if args.command == "redis":
        from claude_tui.core.cache.redis_server import stop_private

        print("stopped" if stop_private(config) else "not running")
        return 0
    if args.command in ("install", "uninstall"):
        from claude_tui.cli.install_commands import run_without_store as run_install

        return run_install(config, args)  # Claude Code's settings files only: no store
    if args.command == "mcp":
        from claude_tui.mcp.command import run as run_mcp  # the only path that imports mcp

        return run_mcp(config, args)
    if args.command == "backup" and args.action in ("restore", "list", "verify"):
        from claude_tui.cli.backup_commands import run_without_store

        return run_without_store(config, args)  # works while the database is damaged
    if args.command == "memory" and args.action == "store":
        from claude_tui.core.validation import parse_cli_value, parse_ttl

        args.parsed_value = parse_cli_value(args.value)  # refuse bad input before opening
        parse_ttl(args.ttl)
    if args.command == "import":
        from claude_tui.cli.import_commands import resolve_paths

        resolve_paths(args)  # a missing path is refused before the data dir is opened
    from claude_tui.cli.commands import HANDLERS
    from claude_tui.core.coordinator import MemoryCoordinator

    handler = HANDLERS[(args.command, getattr(args, "action", None))]
    if not _stays_running(args):
        # A one-shot command checks for other processes' commits on every read (one
        # PRAGMA, microseconds) rather than start, subscribe and join a watcher
        # thread, which costs more than the command (strict is never less coherent).
        from dataclasses import replace

        config = replace(config, strict_coherence=True)
    with MemoryCoordinator.open(config) as coordinator:
        try:
            return handler(coordinator, args)
        finally:
            if coordinator.sync is not None:
                for notice in coordinator.sync.take_notices():  # e.g. a full resync: say so
                    sys.stderr.write(f"claude-tui: {notice}\n")


def _os_problem(exc: OSError) -> str | None:
    """A full disk or a read-only file system met outside the database, as one line."""
    import errno

    where = f": {exc.filename}" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full{where}; nothing more was written (free some space)"
    if exc.errno == errno.EROFS:
        return f"cannot write{where}: the file system is read-only"
    return None


def _stays_running(args: argparse.Namespace) -> bool:
    """Whether the command keeps running (and may want the watcher thread)."""
    if args.command == "worker":
        return not args.once
    return args.command == "import" and bool(getattr(args, "watch", False))

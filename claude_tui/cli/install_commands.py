"""``claude-tui install|uninstall claude-code``: hooks and MCP server in Claude Code's settings.

Runs without opening the data dir (``main`` dispatches it before the store).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from claude_tui.core.config import Config
from claude_tui.core.errors import BadInput


def add_parsers(cmds: argparse._SubParsersAction, parser_class: type) -> None:
    """Add ``install`` and ``uninstall`` with their one target, ``claude-code``."""
    for verb, text in (
        ("install", "hook claude-tui into another tool (Claude Code)"),
        ("uninstall", "remove what 'install' added"),
    ):
        targets = cmds.add_parser(verb, help=text).add_subparsers(
            dest="action", metavar="TARGET", required=True, parser_class=parser_class
        )
        p = targets.add_parser(
            "claude-code",
            help="Claude Code: hooks in settings.json and the claude-tui MCP server"
            if verb == "install"
            else "remove claude-tui's hooks, MCP server and approval from Claude Code",
        )
        p.add_argument(
            "--scope",
            choices=["user", "project"],
            help="user: ~/.claude/settings.json and ~/.claude.json (default); "
            "project: DIR/.claude/settings.json, DIR/.mcp.json, DIR/.claude/settings.local.json",
        )
        p.add_argument("--project", metavar="DIR", help="the project (default: the current dir)")
        p.add_argument(
            "--dry-run", action="store_true", help="print a diff of each file; write nothing"
        )


def run_without_store(config: Config, args: argparse.Namespace) -> int:
    from claude_tui.core.integrations import claude_code_settings as ccs

    scope = args.scope or ("project" if args.project else "user")
    if scope == "user" and args.project:
        raise BadInput("--project goes with --scope project")
    project = None
    if scope == "project":
        project = Path(args.project or os.getcwd()).expanduser().resolve()
        if not project.is_dir():
            raise BadInput(f"--project {args.project}: not a directory")
    env_dir = os.environ.get("CLAUDE_CONFIG_DIR")
    config_dir = Path(env_dir).expanduser().resolve() if env_dir else None
    home = Path.home()
    if args.command == "install":
        if not sys.executable:
            raise BadInput("cannot tell which Python runs claude-tui (sys.executable is empty)")
        # absolute, symlinks kept: a venv's python is a symlink to one without our packages
        python = os.path.abspath(sys.executable)
        data_dir = str(config.data_dir.expanduser().resolve())
        plan = ccs.install(
            scope,
            python=python,
            data_dir=data_dir,
            home=home,
            project=project,
            config_dir=config_dir,
            dry_run=args.dry_run,
        )
    else:
        plan = ccs.uninstall(
            scope, home=home, project=project, config_dir=config_dir, dry_run=args.dry_run
        )
    for note in plan.notes:
        sys.stderr.write(f"claude-tui: note: {note}\n")
    where = f"Claude Code ({scope} scope{f', {project}' if project else ''})"
    if args.dry_run:
        sys.stdout.write(plan.diff() if plan.changed else f"nothing to change in {where}\n")
        return 0
    for change in plan.changes:
        line = f"{change.verb} {change.path}: {'; '.join(change.what)}"
        if change.restored:
            line += " (the original is back, byte for byte)"
        if change.backup_write is not None:
            line += f" (the original is kept in {change.backup_path})"
        print(line)
    if args.command == "install":
        print(
            f"installed claude-tui in {where}; new Claude Code sessions use it"
            if plan.changed
            else f"claude-tui is already installed in {where}: nothing changed"
        )
    else:
        print(
            f"removed claude-tui from {where}"
            if plan.changed
            else f"claude-tui is not installed in {where}: nothing changed"
        )
    return 0


def claude_code_report(config: Config) -> dict[str, object]:
    """For ``doctor``: where claude-tui is installed in Claude Code (reads a few JSON files)."""
    from claude_tui.core.integrations.claude_code_settings import claude_code_status

    env_dir = os.environ.get("CLAUDE_CONFIG_DIR")
    return claude_code_status(
        Path.home(),
        Path.cwd(),
        config_dir=Path(env_dir).expanduser().resolve() if env_dir else None,
        data_dir=config.data_dir.expanduser().resolve(),
    )

"""The real Claude Code CLI for tests: where it is, and an environment that keeps it in a temp HOME.

``make claude-code`` (a dependency of ``make test``) installs the pinned npm
package into ``.cache/claude-code``; ``$CLAUDE_CODE_BIN`` names another copy.
A missing binary fails the test that needs it, never skips it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import ROOT

CACHED_CLAUDE = ROOT / ".cache" / "claude-code" / "node_modules" / ".bin" / "claude"
DEFAULT_CLAUDE = "/tmp/cc-research/node_modules/.bin/claude"


def find_claude() -> Path:
    """The real ``claude``: the Makefile's cached copy, else ``$CLAUDE_CODE_BIN``; never skips."""
    for candidate in (CACHED_CLAUDE, Path(os.environ.get("CLAUDE_CODE_BIN", DEFAULT_CLAUDE))):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        f"the Claude Code CLI is needed: neither {CACHED_CLAUDE} nor CLAUDE_CODE_BIN "
        f"({os.environ.get('CLAUDE_CODE_BIN', DEFAULT_CLAUDE)}) exists; run `make claude-code` "
        "(or `npm install @anthropic-ai/claude-code@2.1.332` and set "
        "CLAUDE_CODE_BIN=node_modules/.bin/claude)"
    )


def claude_env(home: Path) -> dict[str, str]:
    """This process's environment for Claude Code and claude-tui, confined to ``home``.

    No API key (Claude Code then says "Not logged in" at once instead of retrying),
    no settings of an enclosing Claude Code session or of claude-tui, its temp
    files under ``home/tmp`` (else it writes /tmp/claude-0 and /tmp/cc-socks).
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CLAUDE_TUI_", "CLAUDE_CODE", "CLAUDECODE", "ANTHROPIC_", "XDG_"))
        and k != "CLAUDE_CONFIG_DIR"
    }
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), CLAUDE_TUI_REDIS="off", CLAUDE_CODE_TMPDIR=str(home / "tmp"))
    # Hooks run in-process unless a test starts the warm worker itself (and stops it).
    env["CLAUDE_TUI_HOOK_WORKER"] = "0"
    return env

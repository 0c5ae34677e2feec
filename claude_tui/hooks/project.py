"""Which project a Claude Code session works in: its git root, else its directory."""

from __future__ import annotations

from pathlib import Path


def project_of(cwd: str) -> str:
    """The project of a working directory: the nearest enclosing git root, else the dir."""
    try:
        here = Path(cwd).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return cwd
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return str(folder)
    return str(here)


def git_branch(project: str) -> str | None:
    """The checked-out branch, read from ``.git/HEAD`` (no subprocess: a hook must be quick)."""
    head = Path(project) / ".git" / "HEAD"
    try:
        text = head.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    prefix = "ref: refs/heads/"
    return text[len(prefix) :] if text.startswith(prefix) else None

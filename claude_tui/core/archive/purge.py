"""Claude Code's purge of old transcripts, and what the archive holds that it deleted.

At start-up Claude Code deletes transcripts older than ``cleanupPeriodDays``
(``~/.claude/settings.json``; 30 when unset), without a word. The warning
shown by ``doctor``, the import and the app comes from :func:`status`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_tui.core.archive import layout
from claude_tui.core.archive.restore import claude_dir

if TYPE_CHECKING:
    from claude_tui.core.archive.store import TranscriptArchive

DEFAULT_DAYS = 30
WARN_AT_OR_BELOW = 30


@dataclass(frozen=True)
class PurgeStatus:
    """What Claude Code will delete, and what it already did that the archive kept."""

    settings: str
    cleanup_days: float | None  # None: unset (Claude Code uses 30)
    problem: str | None  # the settings file could not be read
    archived_sessions: int
    gone_sessions: int  # archived, but no longer where Claude Code keeps them

    @property
    def days(self) -> float:
        """The period in force."""
        return DEFAULT_DAYS if self.cleanup_days is None else self.cleanup_days

    @property
    def warn(self) -> bool:
        """Whether Claude Code purges within 30 days (so the user should hear about it)."""
        return self.days <= WARN_AT_OR_BELOW

    def line(self) -> str:
        """One line for doctor, the import and the app."""
        kept = (
            f"the archive holds {self.archived_sessions} session(s), "
            f"{self.gone_sessions} of them gone from Claude Code"
        )
        if self.gone_sessions:
            kept += " (`claude-tui transcripts restore` puts one back)"
        if not self.warn:
            return f"Claude Code keeps transcripts {self.days:g} days; {kept}"
        setting = "unset" if self.cleanup_days is None else f"{self.cleanup_days:g}"
        return (
            f"Claude Code deletes transcripts after {self.days:g} days (cleanupPeriodDays "
            f"{setting} in {self.settings}); {kept}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (with the line and whether it warns)."""
        return {**asdict(self), "days": self.days, "warn": self.warn, "line": self.line()}


def cleanup_days(settings: Path) -> tuple[float | None, str | None]:
    """``cleanupPeriodDays`` from a settings file (None when unset), and a problem, if any."""
    try:
        data = json.loads(settings.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return None, f"cannot read {settings}: {exc}"
    value = data.get("cleanupPeriodDays") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, None if value is None else f"cleanupPeriodDays in {settings} is not a number"
    return float(value), None


def gone_sessions(archive: TranscriptArchive, env: Mapping[str, str]) -> tuple[int, int]:
    """(archived sessions, those whose transcript is neither where it was seen nor restored)."""
    projects = claude_dir(env) / "projects"
    total = gone = 0
    for summary in archive.sessions():
        if not summary.main_paths:
            continue  # subagent files only: nothing --resume could open
        total += 1
        if any(os.path.exists(p) for p in summary.main_paths):
            continue
        folder = summary.project or (layout.slug_of(summary.cwd) if summary.cwd else None)
        name = f"{summary.claude_session}.jsonl"
        if folder and layout.safe_name(name) and (projects / folder / name).exists():
            continue
        gone += 1
    return total, gone


def status(archive: TranscriptArchive, env: Mapping[str, str] | None = None) -> PurgeStatus:
    """Claude Code's cleanup period and the archive's sessions it no longer has."""
    env = os.environ if env is None else env
    settings = claude_dir(env) / "settings.json"
    days, problem = cleanup_days(settings)
    total, gone = gone_sessions(archive, env)
    return PurgeStatus(str(settings), days, problem, total, gone)

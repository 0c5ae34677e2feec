"""Sync levels: when an event leaves the host.

immediate: published right after the commit (critical decisions, errors, security).
batched: coalesced and flushed every ``sync_batch_ms`` or ``sync_batch_size`` events.
lazy: not pushed on the stream; kept in the swarm's state hash, pulled on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from claude_tui.core.errors import ConfigError

LEVELS = ("immediate", "batched", "lazy")
KINDS = ("memory", "sessions", "agents", "tasks", "patterns")

# Namespaces the seed names as critical: always immediate unless configured.
CRITICAL_NAMESPACES = {"decisions", "errors", "security", "alerts"}


def check_levels(levels: Mapping[str, Any]) -> None:
    """Validate a ``[sync.levels]`` table.

    Raises:
        ConfigError: an unknown kind or level.
    """
    for name, level in levels.items():
        kind = name.split(":", 1)[0]
        if kind not in KINDS or (":" in name and kind != "memory"):
            raise ConfigError(
                f"sync level {name!r}: expected one of {', '.join(KINDS)} or memory:<namespace>"
            )
        if level not in LEVELS:
            raise ConfigError(f"sync level of {name!r} must be one of {', '.join(LEVELS)}")


def level_for(
    levels: Mapping[str, str], kind: str, *, namespace: str | None = None, status: str | None = None
) -> str:
    """The level of one captured change.

    Args:
        levels: the configured overrides.
        kind: memory, sessions, agents, tasks or patterns.
        namespace: the memory entry's namespace.
        status: the row's status (tasks, agents, sessions), used by the defaults.
    """
    if kind == "memory" and namespace is not None:
        chosen = levels.get(f"memory:{namespace}")
        if chosen:
            return chosen
        if namespace in CRITICAL_NAMESPACES:
            return "immediate"
    chosen = levels.get(kind)
    if chosen:
        return chosen
    if kind == "tasks":
        # Completions and failures are what other hosts wait on; progress is routine.
        return "immediate" if status in ("completed", "failed", "blocked") else "batched"
    if kind == "agents":
        return "immediate"  # a spawn or an error state
    if kind == "sessions":
        return "lazy" if status == "archived" else "immediate"
    if kind == "patterns":
        return "batched"
    return "immediate"

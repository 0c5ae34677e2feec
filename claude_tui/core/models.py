"""Typed records returned by the coordinator. Plain data, no behaviour beyond views."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MemoryType = Literal["working", "persistent", "shared"]
MEMORY_TYPES: tuple[str, ...] = ("working", "persistent", "shared")
SWARM_SCOPE = "swarm"


def private_scope(session_id: str, agent_id: str | None) -> str:
    """The scope string of a session's (or one agent's) private entries."""
    return f"{session_id}/{agent_id or ''}"


def cache_key(scope: str, namespace: str, key: str) -> str:
    """The identity of an entry in every cache tier (matches the change log's ckey)."""
    return f"{scope}\x1f{namespace}\x1f{key}"


@dataclass(frozen=True)
class Session:
    """A working session of a swarm."""

    id: str
    name: str | None
    user_id: str | None
    status: str
    created_at: float
    updated_at: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Agent:
    """An agent registered in a session."""

    id: str
    session_id: str
    agent_type: str
    role: str | None
    status: str
    capabilities: list[str]
    memory_context: dict[str, Any]
    created_at: float
    updated_at: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Task:
    """A node of a session's task tree."""

    id: str
    session_id: str
    agent_id: str | None
    parent_task_id: str | None
    title: str
    status: str
    priority: int
    payload: Any
    result: Any
    created_at: float
    updated_at: float
    completed_at: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class MemoryEntry:
    """One key/value entry as stored, plus the tier that served it.

    ``raw`` is the stored JSON text; ``value`` decodes it. A row written by
    another program may hold text that is not JSON: ``valid_json`` says so and
    ``value`` then returns the raw text instead of failing.
    """

    id: int
    key: str
    raw: str
    memory_type: str
    namespace: str
    scope: str
    session_id: str | None
    agent_id: str | None
    expires_at: float | None
    created_at: float
    updated_at: float
    accessed_at: float | None
    access_count: int
    version: int
    origin: str | None
    sensitive: bool
    encrypted: bool
    tier: str = "sqlite"

    @property
    def valid_json(self) -> bool:
        """Whether ``raw`` parses as JSON."""
        try:
            json.loads(self.raw)
        except ValueError:
            return False
        return True

    @property
    def value(self) -> Any:
        """The decoded value (the raw text when it is not valid JSON)."""
        try:
            return json.loads(self.raw)
        except ValueError:
            return self.raw

    @property
    def cache_key(self) -> str:
        """This entry's identity in the cache tiers."""
        return cache_key(self.scope, self.namespace, self.key)

    def ttl_remaining(self, now: float) -> float | None:
        """Seconds until expiry (None when the entry never expires)."""
        return None if self.expires_at is None else max(0.0, self.expires_at - now)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (value decoded; raw kept out)."""
        data = asdict(self)
        data.pop("raw")
        data["value"] = self.value
        data["valid_json"] = self.valid_json
        return data


@dataclass(frozen=True)
class Pattern:
    """A learned neural pattern row (the vector lives in the index, not here)."""

    id: str
    session_id: str | None
    pattern_type: str
    context: str | None
    input_pattern: str
    output_pattern: str | None
    confidence: float
    usage_count: int
    success_rate: float | None
    created_at: float
    last_used: float | None
    last_updated: float | None
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class Metric:
    """One metric sample."""

    id: int
    session_id: str | None
    agent_id: str | None
    metric_type: str
    value: float
    timestamp: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

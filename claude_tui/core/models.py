"""Typed records returned by the coordinator. Plain data, no behaviour beyond views."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

# Record kinds, statuses and memory types: defined here once; the CLI, the MCP
# schemas, the app and the checkpoints read them from here.
MemoryType = Literal["working", "persistent", "shared"]
MEMORY_TYPES: tuple[str, ...] = get_args(MemoryType)
SessionStatus = Literal["active", "paused", "completed", "archived"]
SESSION_STATUSES: tuple[str, ...] = get_args(SessionStatus)
AgentStatus = Literal["idle", "busy", "active", "blocked", "offline", "terminated"]
AGENT_STATUSES: tuple[str, ...] = get_args(AgentStatus)
TaskStatus = Literal["pending", "in_progress", "blocked", "completed", "failed", "cancelled"]
TASK_STATUSES: tuple[str, ...] = get_args(TaskStatus)
OPEN_TASK_STATUSES: tuple[str, ...] = ("pending", "in_progress", "blocked")
TERMINAL_TASK_STATUSES: tuple[str, ...] = ("completed", "failed", "cancelled")
RecordKind = Literal["sessions", "agents", "tasks", "memory", "patterns", "metrics"]
RECORD_KINDS: tuple[str, ...] = get_args(RecordKind)
SWARM_SCOPE = "swarm"

# Cache keys join (scope, namespace, key) with US (0x1f). Each part is escaped
# first (RS 0x1e -> RS '0', US -> RS '1'), so no two triples share a key whatever
# bytes they hold; parts without RS or US (nearly all) read exactly as before.
_US, _RS = "\x1f", "\x1e"


def private_scope(session_id: str, agent_id: str | None) -> str:
    """The scope string of a session's (or one agent's) private entries."""
    return f"{session_id}/{agent_id or ''}"


def _escape(part: str) -> str:
    if _RS in part or _US in part:
        return part.replace(_RS, _RS + "0").replace(_US, _RS + "1")
    return part


def _unescape(part: str) -> str:
    if _RS in part:
        return part.replace(_RS + "1", _US).replace(_RS + "0", _RS)
    return part


def cache_key(scope: str, namespace: str, key: str) -> str:
    """The identity of an entry in every cache tier (matches the change log's ckey).

    Injective: distinct (scope, namespace, key) triples never share a cache key.
    """
    return f"{_escape(scope)}{_US}{_escape(namespace)}{_US}{_escape(key)}"


def split_cache_key(ckey: str) -> tuple[str, str, str]:
    """(scope, namespace, key) of a cache key made by :func:`cache_key`.

    Raises:
        ValueError: not a cache key.
    """
    scope, namespace, key = ckey.split(_US)
    return _unescape(scope), _unescape(namespace), _unescape(key)


def ckey_sql(ref: str) -> str:
    """The SQL expression of :func:`cache_key` over a memory row (``ref`` = new/old/alias)."""

    def esc(col: str) -> str:
        return (
            f"replace(replace({ref}.{col}, char(30), char(30) || '0'), char(31), char(30) || '1')"
        )

    return f"{esc('scope')} || char(31) || {esc('namespace')} || char(31) || {esc('key')}"


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
    sealed: bool = False  # some field holds a secret: shown redacted until revealed

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
    sealed: bool = False  # some field holds a secret: shown redacted until revealed

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
    sealed: bool = False  # some field holds a secret: shown redacted until revealed

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
    sealed: bool = False  # some field holds a secret: shown redacted until revealed

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

"""Configuration: data dir resolution, ``config.toml`` and ``CLAUDE_TUI_*`` overrides.

Precedence, lowest to highest: built-in defaults, ``<data dir>/config.toml``,
environment variables, explicit arguments (the CLI's ``--data-dir``).
Loading a config never creates files or opens connections.

Every setting is declared once, below, with :func:`~claude_tui.core.settings.setting`:
its section and key, its variable, its bounds and what it does. Reading the file
and the environment, checking values and the README's table all come from those
declarations (``core/settings.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import ConfigError
from claude_tui.core.settings import (
    ENV_PREFIX,
    Setting,
    compile_model,
    nested,
    setting,
    url_check,
)
from claude_tui.core.settings import load as load_settings

if TYPE_CHECKING:
    from claude_tui.core.secrets import SecretRules

APP_NAME = "claude-tui"
MAX_BUSY_TIMEOUT_MS = 3_600_000
YEAR_MINUTES = 366 * 24 * 60
TEN_YEARS_DAYS = 3_660
_REDIS_URL = url_check("redis", "rediss", "unix")
_URL_ALLOWED = "a redis://, rediss:// or unix:// URL"


def _time_of_day(text: str) -> str | None:
    try:
        full_at_hour_minute(text)
    except ConfigError:
        return "must be a time of day HH:MM"
    return None


def _pattern(text: str) -> str | None:
    import re

    try:
        re.compile(text)
    except re.error as exc:
        return f"must be a valid regular expression ({exc})"
    return None


def _embedder(name: str) -> str | None:
    if name in ("minilm-int8", "wordllama-256", "chroma-default"):
        return None
    model = name.partition("sentence-transformers:")[2]
    if name.startswith("sentence-transformers:") and model.strip():
        return None
    return "must be minilm-int8, wordllama-256, chroma-default or sentence-transformers:MODEL"


def _swarm(name: str) -> str | None:
    if name and len(name) <= 200 and all(c.isalnum() or c in "-_." for c in name):
        return None
    return "must be letters, digits, '-', '_' or '.' (at most 200)"


def _sync_kind(name: str) -> str | None:
    from claude_tui.core.sync.levels import KINDS

    kind, colon, namespace = name.partition(":")
    if kind in KINDS and (not colon or (kind == "memory" and namespace)):
        return None
    return "must be one of " + ", ".join(KINDS) + " or memory:<namespace>"


@dataclass(frozen=True)
class CacheConfig:
    """Sizes and lifetimes of the L1 (per process) and L2 (Redis) tiers: ``[cache]``."""

    working_ttl_seconds: float = setting(
        "cache", "working_ttl_seconds", 300.0, "how long working memory stays in the L1 cache",
        gt=0, le=31_622_400,
    )  # fmt: skip
    working_max_entries: int = setting(
        "cache", "working_max_entries", 10_000, "working-memory entries the L1 cache holds",
        ge=1, le=10_000_000,
    )  # fmt: skip
    session_lru_entries: int = setting(
        "cache", "session_lru_entries", 1_000, "session memory entries the L1 cache holds (LRU)",
        ge=1, le=10_000_000,
    )  # fmt: skip
    shared_lru_entries: int = setting(
        "cache", "shared_lru_entries", 1_000, "shared memory entries the L1 cache holds (LRU)",
        ge=1, le=10_000_000,
    )  # fmt: skip
    pattern_lfu_entries: int = setting(
        "cache", "pattern_lfu_entries", 10_000, "patterns the L1 cache holds (LFU)",
        ge=1, le=10_000_000,
    )  # fmt: skip
    metrics_window_seconds: float = setting(
        "cache", "metrics_window_seconds", 86_400.0, "how far back the metrics window reaches",
        gt=0, le=31_622_400,
    )  # fmt: skip
    l2_ttl_seconds: float = setting(
        "cache", "l2_ttl_seconds", 3_600.0, "how long an entry stays in Redis (L2)",
        gt=0, le=31_622_400,
    )  # fmt: skip


@dataclass(frozen=True)
class Config:
    """Everything the core needs to know to open a data dir."""

    data_dir: Path
    redis_url: str | None = setting(
        "redis", "url", None, "an existing Redis server instead of the private one",
        check=_REDIS_URL, allowed=_URL_ALLOWED,
    )  # fmt: skip
    redis_enabled: bool = setting(
        "redis", "enabled", True, "false: no Redis tier (the in-process cache and SQLite only)",
        env="REDIS",
    )  # fmt: skip
    redis_timeout_seconds: float = setting(
        "redis", "timeout_seconds", 0.25, "how long a Redis call may take before Redis is down",
        gt=0, le=60,
    )  # fmt: skip
    redis_retry_seconds: float = setting(
        "redis", "retry_seconds", 1.0, "how long a Redis that failed is left alone before a retry",
        gt=0, le=3_600,
    )  # fmt: skip
    # The private redis-server ends after this long with no client (its keeper).
    redis_idle_seconds: float = setting(
        "redis", "idle_seconds", 600.0, "the private redis-server ends after this long idle",
        env="REDIS_IDLE", gt=0, le=31_622_400,
    )  # fmt: skip
    max_value_bytes: int = setting(
        "memory", "max_value_bytes", 1024 * 1024,
        "the largest value (a memory entry, a `-` or `@FILE` argument), in bytes",
        env="MAX_VALUE_BYTES", ge=1, le=256 * 1024 * 1024,
    )  # fmt: skip
    busy_timeout_ms: int = setting(
        "sqlite", "busy_timeout_ms", 5_000, "how long a write waits for another process's lock",
        env="BUSY_TIMEOUT_MS", ge=0, le=MAX_BUSY_TIMEOUT_MS,
    )  # fmt: skip
    write_patience_seconds: float = setting(
        None, None, 60.0, "how long a write keeps retrying a busy database",
        internal=True, ge=0, le=3_600,
    )  # fmt: skip
    synchronous: str = setting(
        "sqlite", "synchronous", "FULL", "SQLite's fsync level (FULL: every commit is on disk)",
        env="SYNCHRONOUS", choices=("OFF", "NORMAL", "FULL", "EXTRA"), fold_case=True,
    )  # fmt: skip
    strict_coherence: bool = setting(
        "memory", "strict_coherence", True,
        "check for other processes' commits on every read (false: a watcher thread does)",
    )  # fmt: skip
    embedder: str = setting(
        "vectors", "embedder", "minilm-int8",
        "the model that embeds patterns and memory (wordllama-256: static "
        "vectors, ~50x faster to index, finds less by meaning)",
        env="EMBEDDER", check=_embedder,
        allowed="minilm-int8, wordllama-256, chroma-default or sentence-transformers:MODEL",
    )  # fmt: skip
    chroma_url: str | None = setting(
        "vectors", "chroma_url", None, "a Chroma server instead of the embedded index",
        env="CHROMA_URL", check=url_check("http", "https"), allowed="an http:// or https:// URL",
    )  # fmt: skip
    cache: CacheConfig = nested(CacheConfig, CacheConfig)
    # Durability. Backups go to <data dir>/backups unless backup_dir says otherwise;
    # a secondary dir (a mounted drive, a synced folder) gets a copy of each one.
    backup_dir: str | None = setting(
        "backup", "dir", None, "where backups go (unset: `<data dir>/backups`)", path=True,
    )  # fmt: skip
    backup_secondary_dir: str | None = setting(
        "backup", "secondary_dir", None, "a second folder that gets a copy of every backup",
        path=True,
    )  # fmt: skip
    backup_incremental_minutes: float = setting(
        "backup", "incremental_minutes", 5.0, "an incremental backup this often",
        gt=0, le=YEAR_MINUTES,
    )  # fmt: skip
    backup_differential_minutes: float = setting(
        "backup", "differential_minutes", 60.0, "a differential backup this often",
        gt=0, le=YEAR_MINUTES,
    )  # fmt: skip
    backup_full_at: str = setting(
        "backup", "full_at", "02:00", "the daily full backup, local time", check=_time_of_day,
        allowed="a time of day HH:MM",
    )  # fmt: skip
    retention_incremental_hours: float = setting(
        "backup", "keep_incremental_hours", 24.0, "incremental backups are kept this long",
        gt=0, le=TEN_YEARS_DAYS * 24,
    )  # fmt: skip
    retention_differential_days: float = setting(
        "backup", "keep_differential_days", 7.0, "differential backups are kept this long",
        gt=0, le=TEN_YEARS_DAYS,
    )  # fmt: skip
    retention_full_days: float = setting(
        "backup", "keep_full_days", 30.0, "full backups are kept this long",
        gt=0, le=TEN_YEARS_DAYS,
    )  # fmt: skip
    checkpoint_interval_minutes: float = setting(
        "checkpoints", "interval_minutes", 15.0,
        "active sessions that changed are checkpointed this often",
        gt=0, le=YEAR_MINUTES,
    )  # fmt: skip
    checkpoint_keep: int = setting(
        "checkpoints", "keep", 20, "automatic checkpoints kept per session (manual ones always)",
        ge=1, le=100_000,
    )  # fmt: skip
    purge_interval_seconds: float = setting(
        "scheduler", "purge_interval_seconds", 60.0, "expired entries are purged this often",
        gt=0, le=86_400,
    )  # fmt: skip
    change_log_keep_days: float = setting(
        "scheduler", "change_log_keep_days", 7.0, "change-log rows older than this are pruned",
        gt=0, le=TEN_YEARS_DAYS,
    )  # fmt: skip
    encryption_key: str | None = setting(
        None, None, None, "the encryption key (instead of `<data dir>/secret.key`)",
        env="ENCRYPTION_KEY", secret=True, allowed="a Fernet key",
    )  # fmt: skip
    # Sensitive entries beyond the built-in ones (api_keys/passwords/tokens and
    # credential-looking keys and values, which always count).
    secret_namespaces: tuple[str, ...] = setting(
        "secrets", "namespaces", (), "more namespaces whose entries are secrets",
        allowed="a list of names (env: a JSON list)",
    )  # fmt: skip
    secret_key_pattern: str | None = setting(
        "secrets", "key_pattern", None, "keys matching this are secrets (case-insensitive)",
        check=_pattern, allowed="a regular expression",
    )  # fmt: skip
    secret_value_pattern: str | None = setting(
        "secrets", "value_pattern", None, "values with a match of this are secrets",
        check=_pattern, allowed="a regular expression",
    )  # fmt: skip
    # Cross-host sync through Redis Streams: off unless a URL is given. Hosts that
    # share a swarm name and a Redis server share the swarm's memory.
    sync_url: str | None = setting(
        "sync", "url", None, "the Redis every host of the swarm reaches (unset: sync is off)",
        check=_REDIS_URL, allowed=_URL_ALLOWED,
    )  # fmt: skip
    sync_swarm: str = setting(
        "sync", "swarm", "default", "hosts of one swarm share memory", check=_swarm,
        allowed="letters, digits, `-`, `_`, `.`",
    )  # fmt: skip
    sync_batch_ms: float = setting(
        "sync", "batch_ms", 250.0, "batched events are flushed this often (ms) ...",
        gt=0, le=3_600_000,
    )  # fmt: skip
    sync_batch_size: int = setting(
        "sync", "batch_size", 200, "... or at this many", ge=1, le=1_000_000,
    )  # fmt: skip
    sync_stream_max_len: int = setting(
        "sync", "stream_max_len", 100_000, "the stream is trimmed to about this many entries",
        ge=1, le=1_000_000_000,
    )  # fmt: skip
    sync_cluster: bool = setting(
        "sync", "cluster", False, "true for a Redis Cluster URL",
    )  # fmt: skip
    # "memory", "memory:<namespace>", "agents", "tasks", "patterns", "sessions"
    # -> "immediate" | "batched" | "lazy" (see core/sync/levels.py for defaults).
    sync_levels: dict[str, str] = setting(
        "sync", "levels", None,
        "when changes leave the host (`[sync.levels]`), per kind: `memory`, "
        "`memory:<namespace>`, `sessions`, `agents`, `tasks`, `patterns`",
        factory=dict, choices=("immediate", "batched", "lazy"), names=_sync_kind,
        allowed="a table of kind = immediate, batched or lazy (env: a JSON object)",
    )  # fmt: skip
    # Claude Code hooks: what earlier sessions of a project left, injected into
    # the next one's context (never secrets, never another project's memory).
    recall_enabled: bool = setting(
        "recall", "enabled", True, "false: hooks inject nothing, in every project",
    )  # fmt: skip
    recall_budget_tokens: int = setting(
        "recall", "budget_tokens", 2_000, "the most a hook injects, in tokens (about 4 characters)",
        # 2,250 tokens ≈ 9,000 characters: under Claude Code's 10,000 for hook context.
        ge=1, le=2_250,
    )  # fmt: skip
    recall_min_score: float = setting(
        "recall", "min_score", 0.5, "what a prompt recalls must score at least this",
        ge=0, le=1,
    )  # fmt: skip
    # The app's key bindings the user moved: binding id ("memory.search") -> key string
    # ("ctrl+f", "f3,slash"). The app checks the ids against its bindings (the core
    # does not know them: it never imports Textual).
    keys: dict[str, str] = setting(
        "keys", None, None, 'the app\'s keys: binding id = key (`"memory.search" = "ctrl+f"`)',
        factory=dict, dotted=True,
        allowed="a table of binding id = key (env: a JSON object)",
    )  # fmt: skip

    @property
    def backups_path(self) -> Path:
        """Where backups and their manifest are written."""
        if self.backup_dir:
            return Path(self.backup_dir).expanduser()
        return self.data_dir / "backups"

    @property
    def secondary_backups_path(self) -> Path | None:
        """The optional second copy of every backup."""
        return Path(self.backup_secondary_dir).expanduser() if self.backup_secondary_dir else None

    def secret_rules(self) -> SecretRules:
        """What counts as a secret here (built-in rules plus ``[secrets]``).

        Raises:
            ConfigError: a pattern that is not a valid regular expression.
        """
        import re

        from claude_tui.core.secrets import rules_from

        try:
            return rules_from(
                self.secret_namespaces, self.secret_key_pattern, self.secret_value_pattern
            )
        except re.error as exc:
            raise ConfigError(f"secrets pattern is not a valid regular expression: {exc}") from None

    @property
    def key_path(self) -> Path:
        """The encryption key file (mode 0600), created on first use."""
        return self.data_dir / "secret.key"

    @property
    def db_path(self) -> Path:
        """The SQLite file inside the data dir."""
        return self.data_dir / "claude-tui.db"

    @classmethod
    def load(
        cls,
        data_dir: str | os.PathLike[str] | None = None,
        env: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Config:
        """Build a config from defaults, the data dir's ``config.toml`` and the environment.

        Args:
            data_dir: explicit data dir (wins over ``CLAUDE_TUI_DATA_DIR``).
            env: environment to read (defaults to ``os.environ``).
            overrides: field values that win over everything else (checked the same way;
                ``cache`` takes a whole :class:`CacheConfig`).

        Raises:
            ConfigError: an unreadable file, an unknown setting or an invalid value, in
                one line naming the file (or variable), the setting and what is wrong.
        """
        env = os.environ if env is None else env
        chosen = data_dir or env.get(ENV_PREFIX + "DATA_DIR") or default_data_dir()
        root = Path(chosen).expanduser()
        cache_over = overrides.pop("cache", None)
        values = load_settings(model(), root / "config.toml", env, overrides)
        cached = {k.partition(".")[2]: v for k, v in values.items() if k.startswith("cache.")}
        plain = {k: v for k, v in values.items() if not k.startswith("cache.")}
        return cls(data_dir=root, cache=cache_over or CacheConfig(**cached), **plain)


def model() -> tuple[Setting, ...]:
    """Every setting, in declaration order (``[cache]`` ones as ``cache.<name>``)."""
    return compile_model(Config)


def full_at_hour_minute(text: str) -> tuple[int, int]:
    """Parse the daily full-backup time ``HH:MM``.

    Raises:
        ConfigError: not a time of day.
    """
    hour, sep, minute = text.partition(":")
    if sep and hour.isdigit() and minute.isdigit() and len(hour) <= 2 and len(minute) <= 2:
        h, m = int(hour), int(minute)
        if 0 <= h < 24 and 0 <= m < 60:
            return h, m
    raise ConfigError(f"backup full_at must be a time of day HH:MM, not {text!r}")


def default_data_dir() -> Path:
    """The per-user data dir (``platformdirs``), imported lazily to keep start-up light."""
    import platformdirs

    return platformdirs.user_data_path(APP_NAME, appauthor=False)


__all__ = [
    "APP_NAME", "ENV_PREFIX", "MAX_BUSY_TIMEOUT_MS", "CacheConfig", "Config", "default_data_dir",
    "full_at_hour_minute", "model",
]  # fmt: skip

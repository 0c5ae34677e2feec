"""Configuration: data dir resolution, ``config.toml`` and ``CLAUDE_TUI_*`` overrides.

Precedence, lowest to highest: built-in defaults, ``<data dir>/config.toml``,
environment variables, explicit arguments (the CLI's ``--data-dir``).
Loading a config never creates files or opens connections.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_tui.core.errors import ConfigError

if TYPE_CHECKING:
    from claude_tui.core.secrets import SecretRules

APP_NAME = "claude-tui"
ENV_PREFIX = "CLAUDE_TUI_"


@dataclass(frozen=True)
class CacheConfig:
    """Sizes and lifetimes of the L1 (per process) and L2 (Redis) tiers."""

    working_ttl_seconds: float = 300.0
    working_max_entries: int = 10_000
    session_lru_entries: int = 1_000
    shared_lru_entries: int = 1_000
    pattern_lfu_entries: int = 10_000
    metrics_window_seconds: float = 86_400.0
    l2_ttl_seconds: float = 3_600.0


@dataclass(frozen=True)
class Config:
    """Everything the core needs to know to open a data dir."""

    data_dir: Path
    redis_url: str | None = None
    redis_enabled: bool = True
    redis_timeout_seconds: float = 0.25
    redis_retry_seconds: float = 1.0
    # The private redis-server ends after this long with no client (its keeper).
    redis_idle_seconds: float = 600.0
    max_value_bytes: int = 1024 * 1024
    busy_timeout_ms: int = 5_000
    write_patience_seconds: float = 60.0
    synchronous: str = "FULL"
    strict_coherence: bool = True
    embedder: str = "minilm-int8"
    chroma_url: str | None = None
    cache: CacheConfig = field(default_factory=CacheConfig)
    # Durability. Backups go to <data dir>/backups unless backup_dir says otherwise;
    # a secondary dir (a mounted drive, a synced folder) gets a copy of each one.
    backup_dir: str | None = None
    backup_secondary_dir: str | None = None
    backup_incremental_minutes: float = 5.0
    backup_differential_minutes: float = 60.0
    backup_full_at: str = "02:00"
    retention_incremental_hours: float = 24.0
    retention_differential_days: float = 7.0
    retention_full_days: float = 30.0
    checkpoint_interval_minutes: float = 15.0
    checkpoint_keep: int = 20
    purge_interval_seconds: float = 60.0
    change_log_keep_days: float = 7.0
    encryption_key: str | None = None
    # Sensitive entries beyond the built-in ones (api_keys/passwords/tokens and
    # credential-looking keys and values, which always count).
    secret_namespaces: tuple[str, ...] = ()
    secret_key_pattern: str | None = None
    secret_value_pattern: str | None = None
    # Cross-host sync through Redis Streams: off unless a URL is given. Hosts that
    # share a swarm name and a Redis server share the swarm's memory.
    sync_url: str | None = None
    sync_swarm: str = "default"
    sync_batch_ms: float = 250.0
    sync_batch_size: int = 200
    sync_stream_max_len: int = 100_000
    sync_cluster: bool = False
    # "memory", "memory:<namespace>", "agents", "tasks", "patterns", "sessions"
    # -> "immediate" | "batched" | "lazy" (see core/sync/levels.py for defaults).
    sync_levels: dict[str, str] = field(default_factory=dict)
    # Claude Code hooks: what earlier sessions of a project left, injected into
    # the next one's context (never secrets, never another project's memory).
    recall_enabled: bool = True
    recall_budget_tokens: int = 2_000
    recall_min_score: float = 0.5

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
            overrides: field values that win over everything else.

        Raises:
            ConfigError: an unreadable file, unknown setting or invalid value.
        """
        env = os.environ if env is None else env
        chosen = data_dir or env.get(ENV_PREFIX + "DATA_DIR") or default_data_dir()
        root = Path(chosen).expanduser()
        values: dict[str, Any] = {}
        cache_values: dict[str, Any] = {}
        origins: dict[str, str] = {}  # setting -> where it was given, for error messages
        _read_toml(root / "config.toml", values, cache_values, origins)
        _read_env(env, values, origins)
        cache_over = overrides.pop("cache", None)
        values.update(overrides)
        for name in overrides:
            origins.pop(name, None)
        try:
            cache = _build(CacheConfig, cache_values, "cache", origins)
            config = _build(cls, {**values, "data_dir": root, "cache": cache}, "", origins)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"invalid configuration: {exc}") from None
        if cache_over is not None:
            config = replace(config, cache=cache_over)
        config.validate()
        return config

    def validate(self) -> None:
        """Check ranges; raise ConfigError naming the first bad setting."""
        if self.max_value_bytes <= 0:
            raise ConfigError("max_value_bytes must be a positive number of bytes")
        if not 0 <= self.busy_timeout_ms <= MAX_BUSY_TIMEOUT_MS:
            raise ConfigError(
                f"busy_timeout_ms ([sqlite] busy_timeout_ms, {ENV_PREFIX}BUSY_TIMEOUT_MS) must "
                f"be between 0 and {MAX_BUSY_TIMEOUT_MS:,} (an hour), not {self.busy_timeout_ms!r}"
            )
        if self.redis_url is not None and not self.redis_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigError(
                f"redis url ([redis] url, {ENV_PREFIX}REDIS_URL) must start with redis://, "
                f"rediss:// or unix://, not {self.redis_url!r}"
            )
        if not self.redis_idle_seconds > 0:
            raise ConfigError(
                f"redis idle_seconds ([redis] idle_seconds, {ENV_PREFIX}REDIS_IDLE) must be a "
                f"positive number, not {self.redis_idle_seconds!r}"
            )
        if not 0 <= self.write_patience_seconds <= 3600:
            raise ConfigError("write_patience_seconds must be between 0 and 3600")
        if self.synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ConfigError("synchronous must be one of OFF, NORMAL, FULL, EXTRA")
        known = ("minilm-int8", "chroma-default")
        if self.embedder not in known and not self.embedder.startswith("sentence-transformers:"):
            raise ConfigError(
                f"embedder must be minilm-int8, chroma-default or sentence-transformers:MODEL, "
                f"not {self.embedder!r}"
            )
        for name in (
            "backup_incremental_minutes", "backup_differential_minutes",
            "retention_incremental_hours", "retention_differential_days", "retention_full_days",
            "checkpoint_interval_minutes", "checkpoint_keep", "purge_interval_seconds",
            "change_log_keep_days",
        ):  # fmt: skip
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        full_at_hour_minute(self.backup_full_at)
        self.secret_rules()  # patterns must compile
        if not all(isinstance(n, str) and n for n in self.secret_namespaces):
            raise ConfigError("secrets namespaces must be a list of names")
        for name in ("sync_batch_ms", "sync_batch_size", "sync_stream_max_len"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if not self.sync_swarm or not all(c.isalnum() or c in "-_." for c in self.sync_swarm):
            raise ConfigError(
                f"sync swarm must be letters, digits, '-', '_' or '.', not {self.sync_swarm!r}"
            )
        if self.sync_url is not None and not self.sync_url.startswith(
            ("redis://", "rediss://", "unix://")
        ):
            raise ConfigError(
                f"sync url must start with redis://, rediss:// or unix://, not {self.sync_url!r}"
            )
        if not isinstance(self.recall_enabled, bool):
            raise ConfigError("recall enabled must be true or false")
        budget = self.recall_budget_tokens
        if isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= 2_250:
            # 2,250 tokens ≈ 9,000 characters: under Claude Code's 10,000 for hook context.
            raise ConfigError(f"recall budget_tokens must be 1 to 2250, not {budget!r}")
        score = self.recall_min_score
        if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
            raise ConfigError(f"recall min_score must be between 0 and 1, not {score!r}")
        from claude_tui.core.sync.levels import check_levels

        check_levels(self.sync_levels)
        for f in fields(CacheConfig):
            if getattr(self.cache, f.name) <= 0:
                raise ConfigError(f"cache.{f.name} must be positive")


def full_at_hour_minute(text: str) -> tuple[int, int]:
    """Parse the daily full-backup time ``HH:MM``.

    Raises:
        ConfigError: not a time of day.
    """
    hour, sep, minute = text.partition(":")
    if sep and hour.isdigit() and minute.isdigit():
        h, m = int(hour), int(minute)
        if 0 <= h < 24 and 0 <= m < 60:
            return h, m
    raise ConfigError(f"backup full_at must be a time of day HH:MM, not {text!r}")


def default_data_dir() -> Path:
    """The per-user data dir (``platformdirs``), imported lazily to keep start-up light."""
    import platformdirs

    return platformdirs.user_data_path(APP_NAME, appauthor=False)


MAX_BUSY_TIMEOUT_MS = 3_600_000

_ENV_FIELDS: dict[str, tuple[str, type]] = {
    "REDIS_URL": ("redis_url", str),
    "REDIS": ("redis_enabled", bool),
    "REDIS_IDLE": ("redis_idle_seconds", float),
    "MAX_VALUE_BYTES": ("max_value_bytes", int),
    "BUSY_TIMEOUT_MS": ("busy_timeout_ms", int),
    "SYNCHRONOUS": ("synchronous", str),
    "EMBEDDER": ("embedder", str),
    "CHROMA_URL": ("chroma_url", str),
    "ENCRYPTION_KEY": ("encryption_key", str),
    "BACKUP_DIR": ("backup_dir", str),
    "BACKUP_SECONDARY_DIR": ("backup_secondary_dir", str),
    "SYNC_URL": ("sync_url", str),
    "SYNC_SWARM": ("sync_swarm", str),
}

_TRUE = {"1", "true", "yes", "on", "auto"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be on or off, not {text!r}")


def _read_env(
    env: Mapping[str, str], values: dict[str, Any], origins: dict[str, str] | None = None
) -> None:
    for suffix, (name, kind) in _ENV_FIELDS.items():
        raw = env.get(ENV_PREFIX + suffix)
        if raw is None or raw == "":
            continue
        if origins is not None:
            origins[name] = ENV_PREFIX + suffix
        if kind is bool:
            values[name] = _parse_bool(ENV_PREFIX + suffix, raw)
        elif kind is int:
            try:
                values[name] = int(raw)
            except ValueError:
                raise ConfigError(f"{ENV_PREFIX}{suffix} must be an integer, not {raw!r}") from None
        elif kind is float:
            try:
                values[name] = float(raw)
            except ValueError:
                raise ConfigError(f"{ENV_PREFIX}{suffix} must be a number, not {raw!r}") from None
        else:
            values[name] = raw


def _read_toml(
    path: Path,
    values: dict[str, Any],
    cache_values: dict[str, Any],
    origins: dict[str, str] | None = None,
) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    import tomllib  # only when there is a config.toml

    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    for section, body in doc.items():
        if origins is not None and isinstance(body, dict):
            for key in body:
                name = str(key) if section == "cache" else _SECTION_KEYS.get((section, key), key)
                origins[f"cache.{name}" if section == "cache" else str(name)] = (
                    f"{path}: [{section}] {key}"
                )
        if section == "cache" and isinstance(body, dict):
            cache_values.update(body)
        elif section == "sync" and isinstance(body, dict):
            for key, value in body.items():
                if key == "levels" and not isinstance(value, dict):
                    raise ConfigError(f"{path}: [sync] levels must be a table")
                values[_SECTION_KEYS.get((section, key), f"{section}.{key}")] = value
        elif section in _SECTIONS and isinstance(body, dict):
            for key, value in body.items():
                name = _SECTION_KEYS.get((section, key), f"{section}.{key}")
                values[name] = tuple(value) if isinstance(value, list) else value
        else:
            raise ConfigError(f"{path}: unknown section or setting {section!r}")


_SECTION_KEYS = {
    ("redis", "url"): "redis_url",
    ("redis", "enabled"): "redis_enabled",
    ("redis", "timeout_seconds"): "redis_timeout_seconds",
    ("redis", "retry_seconds"): "redis_retry_seconds",
    ("redis", "idle_seconds"): "redis_idle_seconds",
    ("memory", "max_value_bytes"): "max_value_bytes",
    ("memory", "strict_coherence"): "strict_coherence",
    ("sqlite", "busy_timeout_ms"): "busy_timeout_ms",
    ("sqlite", "synchronous"): "synchronous",
    ("vectors", "embedder"): "embedder",
    ("vectors", "chroma_url"): "chroma_url",
    ("backup", "dir"): "backup_dir",
    ("backup", "secondary_dir"): "backup_secondary_dir",
    ("backup", "incremental_minutes"): "backup_incremental_minutes",
    ("backup", "differential_minutes"): "backup_differential_minutes",
    ("backup", "full_at"): "backup_full_at",
    ("backup", "keep_incremental_hours"): "retention_incremental_hours",
    ("backup", "keep_differential_days"): "retention_differential_days",
    ("backup", "keep_full_days"): "retention_full_days",
    ("checkpoints", "interval_minutes"): "checkpoint_interval_minutes",
    ("checkpoints", "keep"): "checkpoint_keep",
    ("scheduler", "purge_interval_seconds"): "purge_interval_seconds",
    ("scheduler", "change_log_keep_days"): "change_log_keep_days",
    ("secrets", "namespaces"): "secret_namespaces",
    ("secrets", "key_pattern"): "secret_key_pattern",
    ("secrets", "value_pattern"): "secret_value_pattern",
    ("sync", "url"): "sync_url",
    ("sync", "swarm"): "sync_swarm",
    ("sync", "batch_ms"): "sync_batch_ms",
    ("sync", "batch_size"): "sync_batch_size",
    ("sync", "stream_max_len"): "sync_stream_max_len",
    ("sync", "cluster"): "sync_cluster",
    ("sync", "levels"): "sync_levels",
    ("recall", "enabled"): "recall_enabled",
    ("recall", "budget_tokens"): "recall_budget_tokens",
    ("recall", "min_score"): "recall_min_score",
}
_SECTIONS = {
    "redis", "memory", "sqlite", "vectors", "backup", "checkpoints", "scheduler", "secrets",
    "recall",
}  # fmt: skip


def _build(
    kind: type, values: dict[str, Any], prefix: str, origins: dict[str, str] | None = None
) -> Any:
    import math

    known = {f.name: f for f in fields(kind)}
    for name, value in values.items():
        where = f"{prefix}.{name}" if prefix else name
        if name not in known:
            raise ConfigError(f"unknown setting {where!r}")
        # "FILE: [section] key" or "CLAUDE_TUI_X" when known, else the setting's name
        said = (origins or {}).get(where) or f"setting {name!r}"
        expected = known[name].type
        if expected in ("int", "float") and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise ConfigError(f"{said} must be a number, not {value!r}")
        if expected in ("int", "float") and isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{said} must be a finite number, not {value!r}")
        if expected == "int" and isinstance(value, float):
            if not value.is_integer():
                raise ConfigError(f"{said} must be a whole number, not {value!r}")
            values[name] = int(value)
        if expected == "bool" and not isinstance(value, bool):
            raise ConfigError(f"{said} must be true or false, not {value!r}")
        if expected in ("str", "str | None") and not isinstance(value, str):
            if value is not None or expected == "str":
                raise ConfigError(f"{said} must be text, not {value!r}")
    return kind(**values)

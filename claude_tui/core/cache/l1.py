"""L1: the per-process cache, one policy per kind of data.

working → TTL (300 s), persistent → LRU (1,000), shared → LRU, pattern → LFU
(10,000), metric → a 24-hour window. A hit moves a key to the hot end of its
policy (promotion); the coldest keys are evicted (demotion: they stay in L2
and SQLite). Known-absent keys are remembered in a small negative LRU so a
lookup across several scopes does not go to SQLite for scopes known empty.
"""

from __future__ import annotations

import threading
from typing import Any

from claude_tui.core.cache.policies import LFUPolicy, LRUPolicy, Policy, TTLPolicy, WindowPolicy
from claude_tui.core.config import CacheConfig

ABSENT = object()  # negative-cache marker: the key is known not to exist

KINDS = ("working", "persistent", "shared", "pattern", "metric")


class L1Cache:
    """Thread-safe per-process cache keyed by cache key, with a policy per kind."""

    def __init__(self, config: CacheConfig) -> None:
        self._lock = threading.Lock()
        self._policies: dict[str, Policy] = {
            "working": TTLPolicy(config.working_max_entries, config.working_ttl_seconds),
            "persistent": LRUPolicy(config.session_lru_entries),
            "shared": LRUPolicy(config.shared_lru_entries),
            "pattern": LFUPolicy(config.pattern_lfu_entries),
            "metric": WindowPolicy(config.metrics_window_seconds),
        }
        self._absent: LRUPolicy[str, object] = LRUPolicy(10_000)

    def get(self, key: str, now: float) -> Any | None:
        """The cached value, ``ABSENT`` if known missing, or None if unknown."""
        with self._lock:
            for policy in self._policies.values():
                value = policy.get(key, now)
                if value is not None:
                    return value
            return self._absent.get(key, now)

    def put(self, kind: str, key: str, value: Any, now: float) -> None:
        """Cache ``value`` under ``key`` with the policy of ``kind``."""
        with self._lock:
            self._discard(key)
            self._policies[kind].put(key, value, now)

    def put_absent(self, key: str, now: float) -> None:
        """Remember that ``key`` does not exist (until invalidated)."""
        with self._lock:
            self._discard(key)
            self._absent.put(key, ABSENT, now)

    def invalidate(self, key: str) -> None:
        """Forget ``key`` everywhere (used on writes and on remote changes)."""
        with self._lock:
            self._discard(key)

    def _discard(self, key: str) -> None:
        for policy in self._policies.values():
            policy.pop(key)
        self._absent.pop(key)

    def clear(self) -> None:
        """Drop everything."""
        with self._lock:
            for policy in self._policies.values():
                policy.clear()
            self._absent.clear()

    def sizes(self) -> dict[str, int]:
        """Items held per kind (and ``absent`` for the negative cache)."""
        with self._lock:
            sizes = {kind: len(policy) for kind, policy in self._policies.items()}
            sizes["absent"] = len(self._absent)
            return sizes

"""The L1 policies the seed gives: TTL for working memory, LRU, LFU for patterns, a time window."""

from __future__ import annotations

from claude_tui.core.cache.l1 import ABSENT, L1Cache
from claude_tui.core.cache.policies import LFUPolicy, LRUPolicy, TTLPolicy, WindowPolicy
from claude_tui.core.config import CacheConfig


def test_lru_promotes_hits_and_evicts_the_coldest():
    lru = LRUPolicy(2)
    lru.put("a", 1, 0)
    lru.put("b", 2, 0)
    assert lru.get("a", 0) == 1  # a is now hot
    lru.put("c", 3, 0)
    assert lru.get("b", 0) is None and lru.get("a", 0) == 1 and lru.get("c", 0) == 3


def test_ttl_policy_drops_items_after_their_lifetime():
    ttl = TTLPolicy(10, ttl=300)
    ttl.put("w", "x", now=1000)
    assert ttl.get("w", now=1299.9) == "x"
    assert ttl.get("w", now=1300.0) is None
    assert len(ttl) == 0


def test_lfu_keeps_the_frequently_used():
    lfu = LFUPolicy(2)
    lfu.put("hot", 1, 0)
    for _ in range(5):
        lfu.get("hot", 0)
    lfu.put("cold", 2, 0)
    lfu.put("new", 3, 0)  # evicts "cold" (frequency 1, oldest), not "hot"
    assert lfu.get("hot", 0) == 1 and lfu.get("cold", 0) is None and lfu.get("new", 0) == 3
    assert lfu.frequency("hot") == 7
    assert lfu.pop("hot") == 1 and len(lfu) == 1
    lfu.put("again", 4, 0)
    lfu.put("more", 5, 0)
    assert len(lfu) == 2


def test_window_policy_keeps_only_the_last_window():
    window = WindowPolicy(window=86_400)
    window.put("m1", 1, now=0)
    window.put("m2", 2, now=50_000)
    assert window.get("m1", now=86_399) == 1
    assert window.get("m1", now=86_401) is None
    assert window.get("m2", now=86_401) == 2


def test_l1_routes_kinds_to_their_policies_and_remembers_absence():
    cache = L1Cache(CacheConfig(session_lru_entries=2, working_ttl_seconds=10))
    cache.put("persistent", "p1", "a", 0)
    cache.put("persistent", "p2", "b", 0)
    cache.put("persistent", "p3", "c", 0)  # session LRU of 2: p1 demoted
    assert cache.get("p1", 0) is None and cache.get("p3", 0) == "c"
    cache.put("working", "w", "x", 0)
    assert cache.get("w", 9) == "x" and cache.get("w", 10.5) is None
    cache.put_absent("gone", 0)
    assert cache.get("gone", 0) is ABSENT
    cache.put("shared", "gone", "back", 0)  # a later write replaces the absence
    assert cache.get("gone", 0) == "back"
    cache.invalidate("gone")
    assert cache.get("gone", 0) is None
    assert cache.sizes()["persistent"] == 2

"""Eviction policies for the L1 cache, one per kind of data (as the seed gives them).

All policies share one small interface: ``get``, ``put``, ``pop``, ``clear``,
``len``. ``now`` is passed in so tests and callers control the clock.
They are not thread-safe on their own; ``L1Cache`` holds the lock.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Generic, Protocol, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Policy(Protocol):
    """What every L1 policy offers."""

    def get(self, key: Any, now: float) -> Any | None: ...
    def put(self, key: Any, value: Any, now: float) -> None: ...
    def pop(self, key: Any) -> Any | None: ...
    def clear(self) -> None: ...
    def __len__(self) -> int: ...


class LRUPolicy(Generic[K, V]):
    """Least recently used: a hit moves the key to the hot end; the cold end is evicted."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, now: float) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V, now: float) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def pop(self, key: K) -> V | None:
        return self._data.pop(key, None)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class TTLPolicy(Generic[K, V]):
    """LRU bounded by size, and every item dropped ``ttl`` seconds after it was cached."""

    def __init__(self, maxsize: int, ttl: float) -> None:
        self.maxsize = maxsize
        self.ttl = ttl
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def get(self, key: K, now: float) -> V | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] <= now:
            del self._data[key]
            return None
        self._data.move_to_end(key)
        return item[1]

    def put(self, key: K, value: V, now: float) -> None:
        self._data[key] = (now + self.ttl, value)
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def pop(self, key: K) -> V | None:
        item = self._data.pop(key, None)
        return None if item is None else item[1]

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class LFUPolicy(Generic[K, V]):
    """Least frequently used, O(1): frequency buckets, LRU order within a bucket."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._values: dict[K, V] = {}
        self._freq: dict[K, int] = {}
        self._buckets: dict[int, OrderedDict[K, None]] = {}
        self._min = 0

    def _touch(self, key: K) -> None:
        count = self._freq[key]
        bucket = self._buckets[count]
        del bucket[key]
        if not bucket:
            del self._buckets[count]
            if self._min == count:
                self._min = count + 1
        self._freq[key] = count + 1
        self._buckets.setdefault(count + 1, OrderedDict())[key] = None

    def get(self, key: K, now: float) -> V | None:
        if key not in self._values:
            return None
        self._touch(key)
        return self._values[key]

    def put(self, key: K, value: V, now: float) -> None:
        if key in self._values:
            self._values[key] = value
            self._touch(key)
            return
        if len(self._values) >= self.maxsize:
            bucket = self._buckets[self._min]
            victim, _ = bucket.popitem(last=False)
            if not bucket:
                del self._buckets[self._min]
            del self._values[victim]
            del self._freq[victim]
        self._values[key] = value
        self._freq[key] = 1
        self._buckets.setdefault(1, OrderedDict())[key] = None
        self._min = 1

    def pop(self, key: K) -> V | None:
        if key not in self._values:
            return None
        count = self._freq.pop(key)
        bucket = self._buckets[count]
        del bucket[key]
        if not bucket:
            del self._buckets[count]
        if not self._buckets:
            self._min = 0
        elif count == self._min and count not in self._buckets:
            self._min = min(self._buckets)
        return self._values.pop(key)

    def frequency(self, key: K) -> int:
        """How many times ``key`` was put or hit (0 when absent)."""
        return self._freq.get(key, 0)

    def clear(self) -> None:
        self._values.clear()
        self._freq.clear()
        self._buckets.clear()
        self._min = 0

    def __len__(self) -> int:
        return len(self._values)


class WindowPolicy(Generic[K, V]):
    """Keep what was cached within the last ``window`` seconds (metrics: 24 hours)."""

    def __init__(self, window: float, maxsize: int = 100_000) -> None:
        self.window = window
        self.maxsize = maxsize
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        while self._data:
            _, (stamp, _) = next(iter(self._data.items()))
            if stamp > horizon and len(self._data) <= self.maxsize:
                break
            self._data.popitem(last=False)

    def get(self, key: K, now: float) -> V | None:
        self._expire(now)
        item = self._data.get(key)
        return None if item is None else item[1]

    def put(self, key: K, value: V, now: float) -> None:
        self._data.pop(key, None)
        self._data[key] = (now, value)
        self._expire(now)

    def pop(self, key: K) -> V | None:
        item = self._data.pop(key, None)
        return None if item is None else item[1]

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

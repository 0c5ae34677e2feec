"""Hybrid logical clocks and vector clocks.

An HLC is one integer: wall-clock milliseconds shifted left by 16 bits, plus a
logical counter in the low bits. It never goes backwards on a host, and a
write that has seen another write always gets a larger clock than it, even
when the hosts' wall clocks disagree. Ties between hosts break on the node id,
so every host orders any two writes the same way.

A vector clock maps node id -> the newest HLC of that node's writes a state
includes. A write (node, hlc) is *covered* by a vector clock when the clock
has seen it; two writes neither of which covers the other are concurrent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

LOGICAL_BITS = 16

VectorClock = dict[str, int]


def hlc_now(last: int, *, remote: int = 0, wall_ms: int | None = None) -> int:
    """The next HLC after ``last`` (and after ``remote``, when a message was received)."""
    wall = int(time.time() * 1000) if wall_ms is None else wall_ms
    physical = wall << LOGICAL_BITS
    seen = max(last, remote)
    return physical if physical > seen else seen + 1


def hlc_wall_ms(hlc: int) -> int:
    """The wall-clock milliseconds part of an HLC."""
    return hlc >> LOGICAL_BITS


def covers(vc: Mapping[str, int], node: str, hlc: int) -> bool:
    """Whether a state with vector clock ``vc`` has seen the write ``(node, hlc)``."""
    return vc.get(node, 0) >= hlc


def merged(a: Mapping[str, int], b: Mapping[str, int]) -> VectorClock:
    """The pointwise maximum of two vector clocks."""
    out = dict(a)
    for node, value in b.items():
        if value > out.get(node, 0):
            out[node] = value
    return out


def compare(a: Mapping[str, int], b: Mapping[str, int]) -> str:
    """``equal``, ``before`` (a < b), ``after`` (a > b) or ``concurrent``."""
    less = any(a.get(n, 0) < v for n, v in b.items())
    more = any(v > b.get(n, 0) for n, v in a.items())
    if less and more:
        return "concurrent"
    if less:
        return "before"
    if more:
        return "after"
    return "equal"

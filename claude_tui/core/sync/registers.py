"""Replicated state of one row, and how two states merge.

A state is a set of last-writer-wins registers, each ``[present, value, hlc,
node]``, plus the vector clock of the writes it includes. Merging takes, per
register, the write with the larger ``(hlc, node)``: that is commutative,
associative and idempotent, so hosts converge whatever order events arrive
in, and applying one twice changes nothing. Because a write that has seen
another always has a larger HLC, the larger write is also the causally later
one whenever the two are ordered; the vector clocks only tell when they are
not (a true conflict, which is recorded).

Shared memory entries keep one register per top-level field of a JSON object
value, so concurrent edits of different fields of one object both survive:

- ``k``: the entry's kind (``object``, ``scalar`` or ``deleted``) and expiry;
- ``w``: the whole value (the JSON text) when it is not an object;
- ``f``: ``{field: register}`` when it is (removed fields stay as tombstones).

Other rows (sessions, agents, tasks, patterns) are one register ``d`` holding
the whole row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from claude_tui.core.sync import clocks

State = dict[str, Any]
Register = list[Any]  # [present (0/1), value, hlc, node]


@dataclass(frozen=True)
class Conflict:
    """Two concurrent writes of the same register whose values differ."""

    field: str | None  # None: the whole value
    winner: Any
    loser: Any
    winner_origin: str
    loser_origin: str
    winner_hlc: int
    loser_hlc: int


def _dot(reg: Register) -> tuple[int, str]:
    return int(reg[2]), str(reg[3])


# -- building states from local writes -------------------------------------
def memory_write(
    prev: State | None, raw: str | None, expires_at: float | None, hlc: int, node: str
) -> State:
    """The state after a local write of a shared entry (``raw`` None: deleted).

    Only fields whose value changed get the new clock, so a concurrent edit of
    another field on another host is not overwritten when the two merge.
    """
    state: State = {
        "w": list((prev or {}).get("w") or [0, None, 0, ""]),
        "f": {name: list(reg) for name, reg in (prev or {}).get("f", {}).items()},
        "vc": dict((prev or {}).get("vc", {})),
    }
    fields: dict[str, Register] = state["f"]
    value: Any = None
    if raw is not None:
        value = json.loads(raw)
    if raw is None:
        kind = "deleted"
    elif isinstance(value, dict):
        kind = "object"
    else:
        kind = "scalar"
    state["k"] = [1, [kind, expires_at], hlc, node]
    if kind == "object":
        for name, item in value.items():
            reg = fields.get(name)
            if reg is None or not reg[0] or reg[1] != item:
                fields[name] = [1, item, hlc, node]
        for name, reg in fields.items():
            if reg[0] and name not in value:
                fields[name] = [0, None, hlc, node]
        if state["w"][0]:
            state["w"] = [0, None, hlc, node]
    else:
        for name, reg in fields.items():
            if reg[0]:
                fields[name] = [0, None, hlc, node]
        state["w"] = [1, raw, hlc, node] if kind == "scalar" else [0, None, hlc, node]
    state["vc"][node] = max(hlc, state["vc"].get(node, 0))
    return state


def row_write(prev: State | None, row: dict[str, Any] | None, hlc: int, node: str) -> State:
    """The state after a local write of a session, agent, task or pattern row."""
    vc = dict((prev or {}).get("vc", {}))
    vc[node] = max(hlc, vc.get(node, 0))
    return {"d": [0 if row is None else 1, row, hlc, node], "vc": vc}


# -- merging ----------------------------------------------------------------
def _pick(
    name: str | None,
    mine: Register | None,
    theirs: Register | None,
    my_vc: dict[str, int],
    their_vc: dict[str, int],
    conflicts: list[Conflict] | None,
) -> Register | None:
    if mine is None:
        return theirs
    if theirs is None:
        return mine
    d_mine, d_theirs = _dot(mine), _dot(theirs)
    if d_mine == d_theirs:
        return mine
    win, lose = (mine, theirs) if d_mine > d_theirs else (theirs, mine)
    if conflicts is not None and (mine[0], mine[1]) != (theirs[0], theirs[1]):
        concurrent = not clocks.covers(their_vc, mine[3], mine[2]) and not clocks.covers(
            my_vc, theirs[3], theirs[2]
        )
        if concurrent:
            conflicts.append(
                Conflict(
                    name,
                    win[1] if win[0] else None,
                    lose[1] if lose[0] else None,
                    str(win[3]),
                    str(lose[3]),
                    int(win[2]),
                    int(lose[2]),
                )
            )
    return win


def merge(mine: State | None, theirs: State) -> tuple[State, list[Conflict]]:
    """Merge a received state into the local one; return it and any true conflicts.

    Conflicts are reported for the whole value of non-object entries and for
    fields of JSON objects; rows other than memory merge whole, by LWW.
    """
    if mine is None:
        return theirs, []
    my_vc, their_vc = mine.get("vc", {}), theirs.get("vc", {})
    conflicts: list[Conflict] = []
    out: State = {"vc": clocks.merged(my_vc, their_vc)}
    if "d" in theirs or "d" in mine:
        out["d"] = _pick(None, mine.get("d"), theirs.get("d"), my_vc, their_vc, None)
        return out, conflicts
    out["k"] = _pick(None, mine.get("k"), theirs.get("k"), my_vc, their_vc, None)
    kind = out["k"][1][0] if out["k"] else "deleted"
    out["w"] = _pick(
        None,
        mine.get("w"),
        theirs.get("w"),
        my_vc,
        their_vc,
        conflicts if kind == "scalar" else None,
    )
    fields: dict[str, Register] = {}
    my_fields, their_fields = mine.get("f", {}), theirs.get("f", {})
    for name in my_fields.keys() | their_fields.keys():
        picked = _pick(
            name,
            my_fields.get(name),
            their_fields.get(name),
            my_vc,
            their_vc,
            conflicts if kind == "object" else None,
        )
        if picked is not None:
            fields[name] = picked
    out["f"] = fields
    return out, conflicts


# -- reading a state back ----------------------------------------------------
def memory_value(state: State) -> tuple[str | None, float | None, str]:
    """(JSON text or None when deleted, expiry time, node of the winning write)."""
    k = state.get("k") or [1, ["deleted", None], 0, ""]
    kind, expires_at = k[1]
    node = str(k[3])
    if kind == "deleted":
        return None, None, node
    if kind == "scalar":
        w = state.get("w") or [0, None, 0, ""]
        return (w[1] if w[0] else "null"), expires_at, node
    live = {name: reg[1] for name, reg in sorted(state.get("f", {}).items()) if reg[0]}
    text = json.dumps(live, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text, expires_at, node


def row_value(state: State) -> dict[str, Any] | None:
    """The row a row state holds, or None when it was deleted."""
    d = state.get("d")
    return d[1] if d and d[0] else None


def state_dot(state: State) -> tuple[int, str]:
    """The newest write a state's main register holds (for status and ordering)."""
    reg = state.get("d") or state.get("k") or [0, None, 0, ""]
    return _dot(reg)

"""What the Metrics screen plots, read cheaply from the store and the data dir.

Every figure is a dataclass the screen only draws:

- tokens in/out (and cache reads/writes) and an estimated cost per day and per
  session, from the totals the Claude Code importer records per session
  (``claude_code.tokens.*``: usage already counted once per message id); a
  hooked session's transcript goes through the same importer, so it is counted
  the same way and once. A session's totals belong to the day of its last
  activity (the importer keeps no per-day split);
- tool calls and errors per day: the importer's per-session totals, or for a
  session never imported the hooks' one row per call (``hook.tool``);
- memory entries and patterns over time (the entries there now, by the day
  they were created, and the running total);
- storage per session; backup health; cache hit rates of every process of
  the data dir (the shared counters file, plus this process's unflushed counts).

Days are local calendar days (SQLite's ``localtime`` and Python's
``fromtimestamp`` both follow ``TZ``) ending at the day of ``now``, which the
caller passes from its (injectable) clock: nothing here reads the wall clock.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from claude_tui.core.records import metrics as metric_door
from claude_tui.core.stats import TIERS
from claude_tui.core.store.schema import QUARTER_SECONDS

if TYPE_CHECKING:
    from claude_tui.core.durability.manifest import BackupRecord
    from claude_tui.core.durability.scheduler import JobStatus

TOKEN_FIELDS = ("input", "output", "cache_read", "cache_creation")
TOKEN_PREFIX = "claude_code.tokens."
TOKEN_METRICS = tuple(TOKEN_PREFIX + name for name in TOKEN_FIELDS)
TOOL_CALLS, TOOL_ERRORS, HOOK_TOOL = (
    "claude_code.tool_calls",
    "claude_code.tool_errors",
    "hook.tool",
)
BACKUP_KINDS = ("full", "differential", "incremental")

# USD per million tokens: input, output, cache write (5 min), cache read. Anthropic's
# list prices; the first matching prefix wins (so Opus 4.1 comes before 4.5). A model not
# listed is not priced: its sessions are counted as unpriced, never guessed.
PRICES_PER_MTOK: tuple[tuple[str, tuple[float, float, float, float]], ...] = (
    ("claude-opus-4-1", (15.0, 75.0, 18.75, 1.50)),
    ("claude-opus-4-2025", (15.0, 75.0, 18.75, 1.50)),  # Opus 4 (claude-opus-4-20250514)
    ("claude-opus-4-", (5.0, 25.0, 6.25, 0.50)),  # Opus 4.5, 4.6
    ("claude-3-opus", (15.0, 75.0, 18.75, 1.50)),
    ("claude-sonnet-4", (3.0, 15.0, 3.75, 0.30)),
    ("claude-3-7-sonnet", (3.0, 15.0, 3.75, 0.30)),
    ("claude-3-5-sonnet", (3.0, 15.0, 3.75, 0.30)),
    ("claude-haiku-4", (1.0, 5.0, 1.25, 0.10)),
    ("claude-3-5-haiku", (0.80, 4.0, 1.0, 0.08)),
    ("claude-3-haiku", (0.25, 1.25, 0.30, 0.03)),
)


class Reader(Protocol):
    """The store's read methods these queries use."""

    def rows(self, sql: str, params: Sequence[Any] = ...) -> list[tuple[Any, ...]]: ...

    def scan_rows(self, sql: str, params: Sequence[Any] = ...) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True)
class Tokens:
    """Token counts of one session or one day."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_creation: int = 0

    def __add__(self, other: Tokens) -> Tokens:
        return Tokens(*(getattr(self, f) + getattr(other, f) for f in TOKEN_FIELDS))

    @property
    def total(self) -> int:
        """All four counts together."""
        return self.input + self.output + self.cache_read + self.cache_creation


def price_of(model: str | None) -> tuple[float, float, float, float] | None:
    """The list price per million tokens of ``model`` (None: not known)."""
    if not model:
        return None
    for prefix, price in PRICES_PER_MTOK:
        if model.startswith(prefix):
            return price
    return None


def cost_of(tokens: Tokens, model: str | None) -> float | None:
    """Estimated USD of ``tokens`` at ``model``'s list price (None: not priced)."""
    price = price_of(model)
    if price is None:
        return None
    p_in, p_out, p_write, p_read = price
    return (
        tokens.input * p_in
        + tokens.output * p_out
        + tokens.cache_creation * p_write
        + tokens.cache_read * p_read
    ) / 1_000_000


@dataclass(frozen=True)
class SessionUsage:
    """One imported (or hooked) Claude Code session's tokens and cost."""

    session_id: str
    name: str | None
    day: str
    tokens: Tokens
    model: str | None
    cost_usd: float | None  # recorded by Claude Code, else estimated; None: unpriced


@dataclass(frozen=True)
class DayUsage:
    """One day's tokens and estimated cost over every session."""

    day: str
    tokens: Tokens = field(default_factory=Tokens)
    cost_usd: float = 0.0
    sessions: int = 0
    unpriced: int = 0  # sessions of a model with no known price (not in cost_usd)


@dataclass(frozen=True)
class DayTools:
    """Tool calls and failed tool calls of one day."""

    day: str
    calls: int = 0
    errors: int = 0


@dataclass(frozen=True)
class DayGrowth:
    """Memory entries and patterns created on one day, and the totals at its end."""

    day: str
    memory_new: int
    patterns_new: int
    memory_total: int
    patterns_total: int


@dataclass(frozen=True)
class CacheRates:
    """Hits and misses per tier of every process of the data dir, today and overall."""

    today: dict[str, tuple[int, int]]
    overall: dict[str, tuple[int, int]]
    days: int  # how many days ``overall`` covers

    @staticmethod
    def rate(pair: tuple[int, int]) -> float | None:
        """The hit rate of a (hits, misses) pair (None: no reads)."""
        hits, misses = pair
        return hits / (hits + misses) if hits + misses else None


@dataclass(frozen=True)
class BackupHealth:
    """How the backups do: the last good one, the failures, the space they take."""

    backups: int
    last_success_at: float | None
    last_success_id: str | None
    last_success_size: int
    total_size: int  # of the backups whose files are kept
    failures: int  # failed records in the manifest
    failures_since_success: int
    last_failure_at: float | None
    last_failure_error: str | None
    latest_failure: str | None  # why the most recent attempt failed (None: it did not)
    manifest_error: str | None = None


def day_of(stamp: float) -> str:
    """The local calendar day of an epoch time, ``YYYY-MM-DD``."""
    return dt.datetime.fromtimestamp(stamp).date().isoformat()


def day_range(now: float, days: int) -> list[str]:
    """The ``days`` local days ending with the day of ``now``, oldest first."""
    last = dt.datetime.fromtimestamp(now).date()
    return [(last - dt.timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]


def day_start(day: str) -> float:
    """The epoch time of ``day``'s local midnight."""
    return dt.datetime.fromisoformat(day).timestamp()


# -- tokens and cost -------------------------------------------------------------


def session_usage(store: Reader) -> list[SessionUsage]:
    """Every imported session's tokens and cost, newest activity first.

    One indexed range read of the metrics table (``idx_metrics_type_time``: four
    rows per session), joined to its session for the name and main model.
    """
    marks = ", ".join("?" * len(TOKEN_METRICS))
    rows = store.rows(
        "SELECT m.session_id, m.metric_type, m.value, m.timestamp, s.name, "
        "CASE WHEN json_valid(s.metadata) THEN json_extract(s.metadata, '$.models[0]') END, "
        "CASE WHEN json_valid(s.metadata) THEN json_extract(s.metadata, '$.cost_usd') END "
        f"FROM metrics m LEFT JOIN sessions s ON s.id = m.session_id "
        f"WHERE m.metric_type IN ({marks}) AND m.agent_id IS NULL "
        "AND m.session_id IS NOT NULL",
        TOKEN_METRICS,
    )
    found: dict[str, dict[str, Any]] = {}
    for sid, kind, value, stamp, name, model, recorded in rows:
        slot = found.setdefault(
            sid, {"name": name, "model": model, "recorded": recorded, "at": stamp, "t": {}}
        )
        slot["at"] = max(slot["at"], stamp)
        slot["t"][kind[len(TOKEN_PREFIX) :]] = int(value)
    out = []
    for sid, slot in found.items():
        t = slot["t"]
        tokens = Tokens(*(int(t.get(f, 0)) for f in TOKEN_FIELDS))
        model = slot["model"] if isinstance(slot["model"], str) else None
        recorded = slot["recorded"]
        cost = (
            float(recorded)
            if isinstance(recorded, int | float) and not isinstance(recorded, bool)
            else cost_of(tokens, model)
        )
        name = slot["name"] if isinstance(slot["name"], str) else None
        out.append(SessionUsage(sid, name, day_of(slot["at"]), tokens, model, cost))
    out.sort(key=lambda u: (u.day, u.session_id), reverse=True)
    return out


def usage_by_day(sessions: Iterable[SessionUsage], days: Sequence[str]) -> list[DayUsage]:
    """``sessions`` summed per day over ``days`` (a day without sessions is zero)."""
    acc: dict[str, list[Any]] = {d: [Tokens(), 0.0, 0, 0] for d in days}
    for s in sessions:
        slot = acc.get(s.day)
        if slot is None:
            continue
        slot[0] = slot[0] + s.tokens
        slot[2] += 1
        if s.cost_usd is None:
            slot[3] += 1
        else:
            slot[1] += s.cost_usd
    return [DayUsage(d, *acc[d]) for d in days]


# -- tool calls ------------------------------------------------------------------


def tools_by_day(store: Reader, days: Sequence[str]) -> list[DayTools]:
    """Tool calls and errors per day: imported totals, else the hooks' rows.

    A session the importer has counted is counted from its transcript (every
    call, once); the hooks' per-call rows count only sessions never imported.
    """
    wanted = set(days)
    calls: dict[str, list[int]] = {d: [0, 0] for d in days}
    imported: set[str] = set()
    for sid, kind, value, stamp in store.rows(
        "SELECT session_id, metric_type, value, timestamp FROM metrics "
        "WHERE metric_type IN (?, ?) AND agent_id IS NULL AND session_id IS NOT NULL",
        (TOOL_CALLS, TOOL_ERRORS),
    ):
        imported.add(sid)
        day = day_of(stamp)
        if day in wanted:
            calls[day][0 if kind == TOOL_CALLS else 1] += int(value)
    since = day_start(days[0]) if days else 0.0
    for sid, day, count, failed in store.rows(
        "SELECT session_id, date(timestamp, 'unixepoch', 'localtime'), count(*), "
        "sum(value = 0) FROM metrics WHERE metric_type = ? AND timestamp >= ? GROUP BY 1, 2",
        (HOOK_TOOL, since),
    ):
        if sid not in imported and day in wanted:
            calls[day][0] += int(count)
            calls[day][1] += int(failed or 0)
    return [DayTools(d, *calls[d]) for d in days]


# -- memory and patterns -----------------------------------------------------------


def growth_by_day(store: Reader, days: Sequence[str]) -> list[DayGrowth]:
    """Memory entries and patterns created per day, with the running totals.

    Memory's from ``memory_created`` (entries per quarter hour, kept by triggers:
    schema migration 14), summed into local days; patterns' as a range count per
    day on the creation-time index (migration 13). The totals at a day's end are
    today's count less what was created after it.
    """
    if not days:
        return []
    bounds = [day_start(d) for d in days]
    bounds.append(day_start((dt.date.fromisoformat(days[-1]) + dt.timedelta(days=1)).isoformat()))
    memory_new = [0] * len(days)
    for quarter, count in store.rows(
        "SELECT quarter, entries FROM memory_created WHERE quarter >= ? AND quarter < ?",
        (int(bounds[0] // QUARTER_SECONDS), int(-(-bounds[-1] // QUARTER_SECONDS))),
    ):
        at = quarter * QUARTER_SECONDS
        d = bisect.bisect_right(bounds, at) - 1
        if 0 <= d < len(days):
            memory_new[d] += int(count)
    patterns_new = []
    for d in range(len(days)):
        [(count,)] = store.scan_rows(
            "SELECT count(*) FROM neural_patterns WHERE created_at >= ? AND created_at < ?",
            (bounds[d], bounds[d + 1]),
        )
        patterns_new.append(int(count))
    [(memory_total,)] = store.rows("SELECT coalesce(sum(entries), 0) FROM memory_created")
    [(patterns_total,)] = store.scan_rows("SELECT count(*) FROM neural_patterns")
    memory_total, patterns_total = int(memory_total), int(patterns_total)
    out = []
    for d in reversed(range(len(days))):  # the newest day's total is today's count
        out.append(DayGrowth(days[d], memory_new[d], patterns_new[d], memory_total, patterns_total))
        memory_total -= memory_new[d]
        patterns_total -= patterns_new[d]
    return list(reversed(out))


# -- cache hit rates -----------------------------------------------------------------


def cache_rates(counters: Path, own: Mapping[str, Mapping[str, int]], today: str) -> CacheRates:
    """Hits and misses per tier of every process: the shared file plus ``own`` (unflushed)."""
    doc = metric_door.read_counters(counters)
    day_counts = doc.setdefault(today, {})
    for tier, pair in own.items():
        have = day_counts.setdefault(tier, {})
        for name in ("hits", "misses"):
            have[name] = have.get(name, 0) + int(pair.get(name, 0))

    def pairs(days: Iterable[dict[str, dict[str, int]]]) -> dict[str, tuple[int, int]]:
        out = {tier: [0, 0] for tier in TIERS}
        for tiers in days:
            for tier, pair in tiers.items():
                if tier in out:
                    out[tier][0] += pair.get("hits", 0)
                    out[tier][1] += pair.get("misses", 0)
        return {tier: (h, m) for tier, (h, m) in out.items()}

    return CacheRates(pairs([doc[today]]), pairs(doc.values()), len(doc))


# -- backups ---------------------------------------------------------------------------


def latest_backup_failure(records: Sequence[BackupRecord], jobs: Sequence[JobStatus]) -> str | None:
    """Why the most recent backup attempt failed, or None when it did not.

    An attempt is the newest record of the manifest or the newest run of a
    backup job (a job can fail before it writes a record), whichever is later.
    """
    attempts: list[tuple[float, str | None]] = []
    if records:
        newest = max(records, key=lambda r: r.created_at)
        failed = newest.status == "failed"
        attempts.append((newest.created_at, (newest.error or "failed") if failed else None))
    for job in jobs:
        if job.name in BACKUP_KINDS and job.last_run is not None:
            failed = job.last_status == "failed"
            attempts.append((job.last_run, (job.last_message or "failed") if failed else None))
    if not attempts:
        return None
    return max(attempts, key=lambda a: a[0])[1]


def backup_health(
    records: Sequence[BackupRecord],
    jobs: Sequence[JobStatus],
    manifest_error: str | None = None,
) -> BackupHealth:
    """Last success, size, failures (and the latest one's reason) of the backups."""
    ordered = sorted(records, key=lambda r: (r.created_at, r.id))
    good = [r for r in ordered if r.status == "ok" and r.file]
    failed = [r for r in ordered if r.status == "failed"]
    last_good = good[-1] if good else None
    since = [r for r in failed if last_good is None or r.created_at > last_good.created_at]
    latest = manifest_error or latest_backup_failure(ordered, jobs)
    return BackupHealth(
        backups=len(ordered),
        last_success_at=last_good.created_at if last_good else None,
        last_success_id=last_good.id if last_good else None,
        last_success_size=last_good.size if last_good else 0,
        total_size=sum(r.size for r in good),
        failures=len(failed),
        failures_since_success=len(since),
        last_failure_at=failed[-1].created_at if failed else None,
        last_failure_error=(failed[-1].error or "failed") if failed else None,
        latest_failure=latest,
        manifest_error=manifest_error,
    )


# -- storage -------------------------------------------------------------------------


def storage_by_session(store: Reader, limit: int = 12) -> list[tuple[str | None, int, int]]:
    """(session id or None for shared, entries, bytes of values), largest first.

    Read from ``memory_storage``, a row per session that triggers keep (schema
    migration 14), not from a pass over every entry.
    """
    rows = store.rows(
        "SELECT bucket, entries, bytes FROM memory_storage WHERE entries > 0 "
        "ORDER BY bytes DESC, bucket LIMIT ?",
        (limit,),
    )
    return [(r[0] or None, int(r[1]), int(r[2])) for r in rows]


__all__ = [
    "BackupHealth", "CacheRates", "DayGrowth", "DayTools", "DayUsage", "SessionUsage", "Tokens",
    "backup_health", "cache_rates", "cost_of", "day_of", "day_range", "day_start", "growth_by_day",
    "latest_backup_failure", "price_of", "session_usage", "storage_by_session", "tools_by_day",
    "usage_by_day",
]  # fmt: skip

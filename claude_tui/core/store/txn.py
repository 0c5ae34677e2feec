"""Short write transactions that survive contention from other processes.

Every write goes through :func:`write`: ``BEGIN IMMEDIATE`` takes the write
lock up front (so a transaction never fails half-way on a lock upgrade), the
busy timeout waits for other writers, and a bounded retry loop with jitter
covers the rare ``SQLITE_BUSY`` the busy handler gives up on.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

RETRY_DEADLINE_SECONDS = 60.0


def _jitter() -> float:
    import random  # imported by the retries only: an uncontended write never needs it

    return random.random()


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def write(
    conn: sqlite3.Connection,
    body: Callable[[sqlite3.Connection], T],
    *,
    patience: float = RETRY_DEADLINE_SECONDS,
) -> T:
    """Run ``body(conn)`` inside one ``BEGIN IMMEDIATE`` transaction and commit.

    ``body`` may be run more than once if the database stays busy, so it must
    only touch the database. Any exception rolls the transaction back.
    ``patience`` bounds the seconds spent retrying on a busy database.
    """
    deadline = time.monotonic() + patience
    delay = 0.005
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if _is_busy(exc) and time.monotonic() < deadline:
                time.sleep(delay * (1 + _jitter()))
                delay = min(delay * 2, 0.25)
                continue
            raise
        try:
            result = body(conn)
            conn.execute("COMMIT")
            return result
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            if _is_busy(exc) and time.monotonic() < deadline:
                time.sleep(delay * (1 + _jitter()))
                delay = min(delay * 2, 0.25)
                continue
            raise
        except BaseException:
            _rollback(conn)
            raise


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        conn.execute("ROLLBACK")

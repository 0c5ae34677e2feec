"""Identifiers and clocks."""

from __future__ import annotations

import os


def new_id(prefix: str) -> str:
    """A short random id such as ``ses_3f9a0c2b71d4`` (48 random bits).

    ``os.urandom`` is what ``secrets.token_hex`` reads; importing ``secrets`` (hmac,
    hashlib, random) would cost a one-shot command a few milliseconds.
    """
    return f"{prefix}_{os.urandom(6).hex()}"


def next_version(now: float, previous: int | None) -> int:
    """A per-key clock in microseconds that always moves forward.

    Microseconds keep the number exact in a double (Redis' Lua compares them).
    """
    stamp = int(now * 1_000_000)
    return stamp if previous is None or stamp > previous else previous + 1

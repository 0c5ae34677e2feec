"""Change events: what changed, published once after commit, for screens and caches."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChangeEvent:
    """One committed mutation, from this process (``local``) or another."""

    seq: int | None
    table: str
    op: str
    row_id: str
    session_id: str | None = None
    ckey: str | None = None
    clock: int | None = None
    origin: str | None = None
    local: bool = True


Listener = Callable[[list[ChangeEvent]], None]


class EventBus:
    """In-process fan-out of change events; a failing listener never breaks a write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` with each batch of events; returns an unsubscribe function."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, events: list[ChangeEvent]) -> None:
        """Deliver ``events`` to every listener (errors are logged, not raised)."""
        if not events:
            return
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(events)
            except Exception:  # a broken screen must not fail the write that notified it
                log.exception("change listener failed")

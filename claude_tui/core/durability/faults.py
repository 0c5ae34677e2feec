"""Kill points for the crash tests: ``CLAUDE_TUI_FAULT=<name>`` makes a process die at ``<name>``.

Multi-step file operations (a restore's swap, a key rotation) call
:func:`point` between their steps. With ``CLAUDE_TUI_FAULT`` set to a point's
name (e.g. ``restore:replace``; several names may be given, comma-separated)
the process sends itself ``SIGKILL`` there: no cleanup, no ``finally``, exactly
what a crash or ``kill -9`` leaves. The variable is read once per process;
unset, a point costs one comparison.
"""

from __future__ import annotations

import os
import signal

ENV = "CLAUDE_TUI_FAULT"

_unread = object()
_wanted: object | frozenset[str] = _unread


def point(name: str) -> None:
    """Die by SIGKILL here when ``CLAUDE_TUI_FAULT`` names ``name``; otherwise do nothing."""
    global _wanted
    if _wanted is _unread:
        raw = os.environ.get(ENV, "")
        _wanted = frozenset(n.strip() for n in raw.split(",") if n.strip())
    if _wanted and name in _wanted:  # type: ignore[operator]
        os.kill(os.getpid(), signal.SIGKILL)

"""What the app restores on launch: last session, last screen, selected rows, theme."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

STATE_FILE = "ui-state.json"
# Older releases saved Textual's theme names; these are the same themes made legible
# (claude_tui/app/palette.py).
RENAMED_THEMES = {"textual-dark": "claude-tui-dark", "textual-light": "claude-tui-light"}
log = logging.getLogger(__name__)


@dataclass
class UIState:
    """The bits of the user's place in the app that survive a restart."""

    session_id: str | None = None
    mode: str = "sessions"
    selected: dict[str, str] = field(default_factory=dict)
    theme: str = "claude-tui-dark"
    demo_offered: bool = False
    import_offered: bool = False

    @classmethod
    def load(cls, data_dir: Path) -> UIState:
        """The saved state, or a fresh one when there is none or it is unreadable."""
        try:
            raw = json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(raw, dict):
            return cls()
        state = cls()
        if isinstance(raw.get("session_id"), str):
            state.session_id = raw["session_id"]
        if isinstance(raw.get("mode"), str):
            state.mode = raw["mode"]
        if isinstance(raw.get("selected"), dict):
            state.selected = {str(k): str(v) for k, v in raw["selected"].items()}
        if isinstance(raw.get("theme"), str):
            theme = str(raw["theme"])
            state.theme = RENAMED_THEMES.get(theme, theme)
        state.demo_offered = bool(raw.get("demo_offered", False))
        state.import_offered = bool(raw.get("import_offered", False))
        return state

    def save(self, data_dir: Path) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        _write(data_dir, asdict(self))


def _write(data_dir: Path, data: dict[str, Any]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".ui-state.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(tmp, data_dir / STATE_FILE)


_SCALARS = frozenset(f.name for f in fields(UIState)) - {"selected"}


class UIStore:
    """The one owner of the :class:`UIState`: changes mark it dirty, :meth:`flush` writes it.

    The UI thread changes it (through :meth:`update` and :meth:`select`) and
    reads :attr:`state`; :meth:`flush` may run on any thread (a worker each
    second, the UI thread at exit). It copies the state under a lock and
    writes the copy, so a write never reads a dict the UI thread is changing,
    and two flushes write in order (the later one last).
    """

    def __init__(self, data_dir: Path, state: UIState | None = None) -> None:
        self.data_dir = data_dir
        self._state = UIState() if state is None else state
        self._dirty = False
        self._lock = threading.Lock()  # the state and the dirty flag
        self._write_lock = threading.Lock()  # one write at a time, in the order of the copies

    @classmethod
    def open(cls, data_dir: Path, *, fresh: bool = False) -> UIStore:
        """The store over the saved state (``fresh``: start from nothing, as if first run)."""
        return cls(data_dir, UIState() if fresh else UIState.load(data_dir))

    @property
    def state(self) -> UIState:
        """The state, to read on the UI thread (change it through this store)."""
        return self._state

    @property
    def dirty(self) -> bool:
        """Whether there are changes :meth:`flush` has not written yet."""
        return self._dirty

    def update(self, **changes: Any) -> None:
        """Set fields of the state (``mode=``, ``session_id=``, ``theme=``, ``demo_offered=``...).

        Raises:
            TypeError: a name that is not one of the state's own fields.
        """
        unknown = set(changes) - _SCALARS
        if unknown:
            raise TypeError(f"UIState has no field(s) {sorted(unknown)} to update")
        with self._lock:
            for name, value in changes.items():
                if getattr(self._state, name) != value:
                    setattr(self._state, name, value)
                    self._dirty = True

    def select(self, mode: str, key: str | None) -> None:
        """Remember the selected row of the screen ``mode`` (None: keep the last one)."""
        if key is None:
            return
        with self._lock:
            if self._state.selected.get(mode) != key:
                self._state.selected[mode] = key
                self._dirty = True

    def flush(self) -> bool:
        """Write the state if it changed; whether it wrote.

        Best effort: a read-only data dir is logged, not raised (the changes
        are dropped until the next one, as the file is only a convenience).
        """
        with self._write_lock:
            with self._lock:
                if not self._dirty:
                    return False
                self._dirty = False
                data = asdict(self._state)
            try:
                _write(self.data_dir, data)
            except OSError as exc:
                log.warning("could not save UI state: %s", exc)
                return False
            return True

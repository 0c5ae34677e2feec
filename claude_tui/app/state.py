"""What the app restores on launch: last session, last screen, selected rows, theme."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE = "ui-state.json"


@dataclass
class UIState:
    """The bits of the user's place in the app that survive a restart."""

    session_id: str | None = None
    mode: str = "sessions"
    selected: dict[str, str] = field(default_factory=dict)
    theme: str = "textual-dark"
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
            state.theme = raw["theme"]
        state.demo_offered = bool(raw.get("demo_offered", False))
        state.import_offered = bool(raw.get("import_offered", False))
        return state

    def save(self, data_dir: Path) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a file."""
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=data_dir, prefix=".ui-state.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(asdict(self), handle)
        os.replace(tmp, data_dir / STATE_FILE)

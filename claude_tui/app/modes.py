"""The app's eight screens (modes), its own keys, and the rows of the help screen.

Kept apart from the app class so that what the app *is* (screens, keys,
themes) reads in one place, and the class itself only wires things up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.screen import Screen

from claude_tui.app.keys import bindings_of, effective, shown_keys
from claude_tui.app.palette import DARK, LIGHT
from claude_tui.app.screens.agents import AgentsScreen
from claude_tui.app.screens.backups import BackupsScreen
from claude_tui.app.screens.memory import MemoryScreen
from claude_tui.app.screens.metrics import MetricsScreen
from claude_tui.app.screens.patterns import PatternsScreen
from claude_tui.app.screens.sessions import SessionsScreen
from claude_tui.app.screens.sync import SyncScreen
from claude_tui.app.screens.tasks import TasksScreen

if TYPE_CHECKING:
    from textual.app import App

MODES: dict[str, str | Callable[[], Screen[Any]]] = {
    "sessions": SessionsScreen,
    "agents": AgentsScreen,
    "tasks": TasksScreen,
    "memory": MemoryScreen,
    "patterns": PatternsScreen,
    "metrics": MetricsScreen,
    "backups": BackupsScreen,
    "swarm": SyncScreen,
}
MODE_KEYS = {
    "sessions": ("1", "Sessions"),
    "agents": ("2", "Agents"),
    "tasks": ("3", "Tasks"),
    "memory": ("4", "Memory"),
    "patterns": ("5", "Patterns"),
    "metrics": ("6", "Metrics"),
    "backups": ("7", "Backups"),
    "swarm": ("8", "Swarm"),
}
SCREENS = Binding.Group("Screens")
THEMES = (DARK.name, LIGHT.name)  # claude_tui/app/palette.py: contrast-checked
# The footer shows a screen's own keys first, then these: help and quit before the
# eight screen switches, which share one compact "Screens" entry (help names each).
APP_BINDINGS: list[Binding | tuple[str, str] | tuple[str, str, str]] = [
    Binding("question_mark", "help", "Keys", id="app.help"),
    Binding("q", "quit", "Quit", id="app.quit"),
    *(
        Binding(key, f"switch_mode('{mode}')", label, id=f"mode.{mode}", group=SCREENS)
        for mode, (key, label) in MODE_KEYS.items()
    ),
    Binding("i", "import", "Import Claude Code history", id="app.import", show=False),
    Binding("ctrl+t", "toggle_theme", "Theme", id="app.theme", show=False),
]


def key_rows(
    app: App[Any], keymap: Mapping[str, str], screen: Screen[Any]
) -> list[tuple[str, str, str, str]]:
    """``(where, keys, what, binding id)`` for every key of ``app`` and of ``screen``.

    The keys are the effective ones: ``[keys]`` in config.toml (``keymap``) moves them.
    """
    rows: list[tuple[str, str, str, str]] = []
    where = MODE_KEYS.get(app.current_mode, ("", app.current_mode))[1].lower()
    for owner, node_class in (("everywhere", type(app)), (where, type(screen))):
        for binding in bindings_of(node_class):
            if binding.id and binding.description:
                keys = shown_keys(effective(binding, keymap))
                rows.append((owner, keys, binding.description, binding.id))
    rows.append(("everywhere", "ctrl+p", "Command palette", ""))
    return rows

"""The command palette and the app-wide actions: screen switches, every screen's actions, keys.

Textual's own provider lists only what the current screen binds; this one
walks the bindings of every mode screen, so ``ctrl+p`` → "Memory: Edit"
works from the sessions screen too (it switches to the memory screen and
runs the action there). The keys shown are the effective ones (``[keys]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.app import App, SystemCommand
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.screen import Screen

from claude_tui.app.keys import bindings_of, effective, shown_keys
from claude_tui.app.modes import THEMES, key_rows
from claude_tui.app.screens.help import HelpScreen

if TYPE_CHECKING:
    from claude_tui.app.app import ClaudeTUIApp
    from claude_tui.app.first_run import FirstRun
    from claude_tui.app.state import UIStore

# Bindings that make no sense picked from a list (leaving a text box).
_NOT_COMMANDS = {"screen.back"}


def screen_commands(app: ClaudeTUIApp) -> Iterator[tuple[str, str, Callable[[], Any]]]:
    """``(name, help, callback)`` for every screen switch and every screen's actions."""
    from claude_tui.app.app import MODE_KEYS

    for mode, (key, label) in MODE_KEYS.items():
        yield (
            f"Go to {label}",
            f"Switch to the {label.lower()} screen ({key})",
            partial(app.run_screen_action, mode, None),
        )
    for mode, screen_class in app.MODES.items():
        label = MODE_KEYS.get(mode, ("", mode.title()))[1]
        for binding in bindings_of(cast(type, screen_class)):
            if not binding.description or binding.id in _NOT_COMMANDS:
                continue
            keys = shown_keys(effective(binding, app.keymap))
            yield (
                f"{label}: {binding.description}",
                f"key {keys} on the {label.lower()} screen",
                partial(app.run_screen_action, mode, binding.action),
            )


class ScreenCommands(Provider):
    """Every screen switch and every action of every screen, for the command palette."""

    def _commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        return list(screen_commands(cast("ClaudeTUIApp", self.app)))

    async def discover(self) -> Hits:
        """All of them, when nothing is typed yet."""
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        """Those whose name matches what is typed (Textual's fuzzy matcher)."""
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)


class AppCommands(App[int]):
    """The app's own actions (keys, help, theme, import) and its palette entries.

    :class:`~claude_tui.app.app.ClaudeTUIApp` is built on this; it sets the
    attributes declared here.
    """

    keymap: dict[str, str]  # the user's [keys], checked
    ui: UIStore
    first_run: FirstRun

    def key_rows(self, screen: Screen[Any] | None = None) -> list[tuple[str, str, str, str]]:
        """``(where, keys, what, binding id)`` for every key of the app and of ``screen``."""
        return key_rows(self, self.keymap, self.screen if screen is None else screen)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.key_rows()))

    def action_import(self) -> None:
        """Import Claude Code transcripts, at any time (not only on the first run)."""
        self.first_run.open_import()

    async def run_screen_action(self, mode: str, action: str | None) -> None:
        """Switch to ``mode`` (when not there) and run ``action`` on its screen (palette)."""
        if self.current_mode != mode:
            await self.switch_mode(mode)
        if action is not None:
            await self.screen.run_action(action)

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]
        self.ui.update(theme=self.theme)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Screen switches and every screen's actions come from ScreenCommands (COMMANDS).
        yield from super().get_system_commands(screen)
        for title, help_text, callback in (
            ("Import Claude Code history", "Import transcripts, with a progress bar (i)",
             self.action_import),
            ("Load the demo swarm", "Add demo sessions, agents, tasks, memory",
             self.first_run.load_demo),
            ("Toggle light/dark theme", "ctrl+t", self.action_toggle_theme),
            ("Show keys", "Every key of this screen (?)", self.action_help),
        ):  # fmt: skip
            yield SystemCommand(title, help_text, callback)

"""The command palette's screen commands: every screen switch and every action of every screen.

Textual's own provider lists only what the current screen binds; this one
walks the bindings of every mode screen, so ``ctrl+p`` → "Memory: Edit"
works from the sessions screen too (it switches to the memory screen and
runs the action there). The keys shown are the effective ones (``[keys]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from claude_tui.app.keys import bindings_of, effective, shown_keys

if TYPE_CHECKING:
    from claude_tui.app.app import ClaudeTUIApp

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

"""The app's two themes and the ANSI colours its status styles map to, checked for contrast.

Textual's own ``textual-dark``/``textual-light`` fail WCAG's 4.5:1 for text in the
places this app colours text: ``$error`` on the dark panel (2.5:1), ``$accent`` and
``$warning`` on the light background (1.5:1), and the ANSI green/yellow that
statuses use (3.2:1 and 2.1:1 on light; red 3.3:1 on the dark panel, where ANSI
magenta is the same red). These are the same themes with those colours moved until
every text colour reads at 4.5:1 on the background, surface and panel of its theme
(``tests/test_contrast.py`` measures what the running app resolves).
"""

from __future__ import annotations

from dataclasses import replace

from rich.terminal_theme import TerminalTheme
from textual.theme import BUILTIN_THEMES

# Textual's themes with only the text colours that failed moved, under names of their
# own (a Textual release that changes its themes changes these: test_contrast then
# says whether they still read).
DARK = replace(BUILTIN_THEMES["textual-dark"], name="claude-tui-dark", error="#ff6b81")
LIGHT = replace(
    BUILTIN_THEMES["textual-light"],
    name="claude-tui-light",
    warning="#7a5200",
    error="#a1151f",
    success="#1a5e0f",
    accent="#7a5200",
    variables={"footer-key-foreground": "#004578"},
)
THEMES = (DARK, LIGHT)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _terminal(background: str, foreground: str, normal: list[str]) -> TerminalTheme:
    colours = [_rgb(c) for c in normal]
    # Bright variants as the normal ones: a "bold red" must read as well as "red".
    return TerminalTheme(_rgb(background), _rgb(foreground), colours, colours)


# ANSI black, red, green, yellow, blue, magenta, cyan, white. Black and white are
# the terminal's own ends (never used for text here); the six colours are statuses.
ANSI_DARK = _terminal(
    "#0c0c0c",
    "#d9d9d9",
    ["#1a1a1a", "#ff6b81", "#98e024", "#fd971f", "#8fa8ff", "#e08cff", "#58d1eb", "#c4c5b5"],
)
ANSI_LIGHT = _terminal(
    "#f7f7f7",
    "#000000",
    ["#000000", "#a1151f", "#1a5e0f", "#704b00", "#1f449a", "#6e2a92", "#005f7f", "#f7f7f7"],
)


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours (1.0 to 21.0)."""

    def luminance(rgb: tuple[int, int, int]) -> float:
        def channel(c: int) -> float:
            s = c / 255
            return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

        r, g, b_ = rgb
        return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b_)

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)

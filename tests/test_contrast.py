"""Both themes pass WCAG's 4.5:1 for every colour the app gives text (issue 16).

Measured on the running app (the demo data, ``App.run_test()``), from what
Textual resolves for each theme: the ``color: $…`` variables of the app's
stylesheets, and the ANSI colours the status styles use (red, green, yellow,
blue, magenta, cyan), against the theme's background, surface and panel. A new
``color: $x`` in a stylesheet is checked without touching this file.
"""

from __future__ import annotations

import re

import pytest
from textual.color import Color

from claude_tui.app.app import STYLES
from claude_tui.app.palette import contrast
from claude_tui.app.state import UIState
from tests.app_helpers import settle

TEXT = 4.5  # WCAG 2 AA, normal text
GROUNDS = ("background", "surface", "panel")
STATUS_ANSI = {1: "red", 2: "green", 3: "yellow", 4: "blue", 5: "magenta", 6: "cyan"}
THEMES = ("claude-tui-dark", "claude-tui-light")


def text_variables() -> set[str]:
    """Every theme variable a stylesheet of the app uses as a text colour."""
    found: set[str] = set()
    for sheet in STYLES.glob("*.tcss"):
        found |= set(re.findall(r"^\s*color:\s*\$([a-z-]+)", sheet.read_text(), re.MULTILINE))
    return found


def rgb(colour: Color) -> tuple[int, int, int]:
    return colour.rgb


def resolve(variables: dict[str, str], name: str, ground: Color) -> Color:
    """A theme variable as the colour it paints over ``ground`` (``auto N%`` included)."""
    value = variables[name]
    if value.startswith("auto"):
        alpha = float(value.split()[1].rstrip("%")) / 100 if " " in value else 1.0
        return ground + ground.get_contrast_text(alpha)
    return ground + Color.parse(value)


@pytest.mark.parametrize("theme", THEMES)
async def test_every_text_colour_reads_at_4_5_to_1(demo_app, data_dir, theme):
    UIState(session_id="ses_demo000001", mode="sessions", theme=theme).save(data_dir)
    app = demo_app(session_id=None)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.theme == theme
        variables = app.theme_variables
        used = text_variables()
        assert {"error", "accent", "text-muted"} <= used  # the parse found the sheets' colours
        failures = []
        for ground_name in GROUNDS:
            ground = Color.parse(variables[ground_name])
            for name in sorted(used):
                ratio = contrast(rgb(resolve(variables, name, ground)), rgb(ground))
                if ratio < TEXT:
                    failures.append(f"${name} on ${ground_name}: {ratio:.2f}")
            for index, colour in STATUS_ANSI.items():
                triplet = app.ansi_theme.ansi_colors[index]
                ratio = contrast((triplet.red, triplet.green, triplet.blue), rgb(ground))
                if ratio < TEXT:
                    failures.append(f"ANSI {colour} on ${ground_name}: {ratio:.2f}")
        assert failures == [], f"{theme}: {failures}"
        # A failed task (red) and a blocked one (magenta) must not share a colour.
        palette = {app.ansi_theme.ansi_colors[i] for i in STATUS_ANSI}
        assert len(palette) == len(STATUS_ANSI)


def test_textuals_own_themes_would_fail_this_check():
    """The check can fail: Textual's light theme paints $accent text at 1.5:1."""
    from textual.theme import BUILTIN_THEMES

    light = BUILTIN_THEMES["textual-light"]
    assert light.accent and light.background
    ratio = contrast(rgb(Color.parse(light.accent)), rgb(Color.parse(light.background)))
    assert ratio < TEXT


def test_a_saved_textual_theme_name_opens_as_its_legible_twin(data_dir):
    UIState(theme="textual-light").save(data_dir)
    assert UIState.load(data_dir).theme == "claude-tui-light"

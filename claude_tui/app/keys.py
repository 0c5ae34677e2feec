"""Key bindings as data: every binding's id, the user's ``[keys]`` overrides, what help shows.

Each binding of the app, its screens, widgets and dialogs has an ``id``
(``memory.search``); ``config.toml``'s ``[keys]`` maps ids to new keys, applied
with Textual's ``App.set_keymap`` (as posting does). This module knows every
binding (so a mistyped id is answered with a suggestion), and gives each
binding's effective keys for the help screen and the command palette.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from textual.binding import Binding
from textual.keys import format_key

from claude_tui.core.errors import ConfigError

# A key string is one or more keys separated by commas: "ctrl+f", "f3,slash", "?".
_KEY_STRING = re.compile(r"[^\s,]+(?:,[^\s,]+)*")


def bindings_of(node_class: type) -> list[Binding]:
    """The bindings a widget, screen or app class has, its base classes' included.

    Ordered base class first (as Textual merges them); a subclass's binding
    replaces a base class's binding with the same id.
    """
    found: dict[str, Binding] = {}
    for base in reversed(node_class.__mro__):
        for binding in base.__dict__.get("BINDINGS", []):
            if isinstance(binding, Binding):
                found[binding.id or f"{binding.key}:{binding.action}"] = binding
    return list(found.values())


def binding_classes() -> list[type]:
    """Every class of the app that has key bindings (the app itself first)."""
    from claude_tui.app.app import ClaudeTUIApp
    from claude_tui.app.dialogs.actions import ActionsDialog
    from claude_tui.app.dialogs.choose import ChooseDialog
    from claude_tui.app.dialogs.confirm import ConfirmDialog
    from claude_tui.app.dialogs.edit_value import EditValueDialog
    from claude_tui.app.dialogs.error import ErrorDialog
    from claude_tui.app.dialogs.import_dialog import ImportDialog
    from claude_tui.app.dialogs.pick import PickDialog
    from claude_tui.app.dialogs.prompt import PromptDialog
    from claude_tui.app.screens.conversation import ConversationScreen
    from claude_tui.app.screens.help import HelpScreen
    from claude_tui.app.widgets.turn import TurnList

    screens = [screen for screen in ClaudeTUIApp.MODES.values() if isinstance(screen, type)]
    return [
        ClaudeTUIApp, *screens, ConversationScreen, TurnList, HelpScreen,
        ConfirmDialog, ChooseDialog, ActionsDialog, EditValueDialog, ErrorDialog, PickDialog,
        PromptDialog, ImportDialog,
    ]  # fmt: skip


def binding_ids(classes: Iterable[type] | None = None) -> set[str]:
    """The ids of every binding of ``classes`` (default: the whole app)."""
    return {
        binding.id
        for node_class in (binding_classes() if classes is None else classes)
        for binding in bindings_of(node_class)
        if binding.id
    }


def check_keymap(
    keymap: Mapping[str, str], known: set[str] | None = None, where: str = "config.toml"
) -> dict[str, str]:
    """The user's ``[keys]`` checked against the app's bindings (``where``: the file, for errors).

    Returns:
        the keymap to hand to ``App.set_keymap``.

    Raises:
        ConfigError: an id no binding has (with the nearest ids as a suggestion),
            or a key string that is not one (``"ctrl+f"``, ``"f3,slash"``).
    """
    known = binding_ids() if known is None else known
    for binding_id, keys in keymap.items():
        if binding_id not in known:
            near = difflib.get_close_matches(binding_id, sorted(known), n=1, cutoff=0.6)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigError(
                f"{where}: [keys] no key binding has the id {binding_id!r}{hint} "
                "(the app's '?' lists every id)"
            )
        if not isinstance(keys, str) or _KEY_STRING.fullmatch(keys) is None:
            raise ConfigError(
                f"{where}: [keys] {binding_id}: {keys!r} is not a key string "
                '(one or more keys separated by commas, e.g. "ctrl+f" or "f3,slash")'
            )
    return dict(keymap)


def keymap_clashes(keymap: Mapping[str, str]) -> list[str]:
    """Keys ``[keys]`` moved onto a key another binding of the same place still has.

    One line per clash, e.g. ``config.toml [keys]: e is both memory.search and
    memory.edit on the memory screen; give one of them another key``. (Textual
    does not report these for bindings that have ids.)
    """
    from claude_tui.app.app import ClaudeTUIApp

    app_bindings = bindings_of(ClaudeTUIApp)
    said: list[str] = []
    for node_class in binding_classes():
        scope = bindings_of(node_class)
        if node_class in ClaudeTUIApp.MODES.values():
            scope = app_bindings + scope  # a mode screen's keys share the app's
        holders: dict[str, list[str]] = {}
        for binding in scope:
            if not binding.id:
                continue
            for key in effective(binding, keymap).key.split(","):
                ids = holders.setdefault(_long_key(key.strip()), [])
                if binding.id not in ids:
                    ids.append(binding.id)
        for key, ids in holders.items():
            if len(ids) > 1 and any(i in keymap for i in ids):
                line = (
                    f"config.toml [keys]: {format_key(key)} is both {' and '.join(ids)}; "
                    "give one of them another key"
                )
                if line not in said:
                    said.append(line)
    return said


def _long_key(key: str) -> str:
    # "?" and "question_mark" are one key (Textual's keymaps use the long names).
    from textual.keys import _character_to_key

    return _character_to_key(key) if len(key) == 1 else key


def effective(binding: Binding, keymap: Mapping[str, str]) -> Binding:
    """``binding`` with the user's keys when ``[keys]`` moved it."""
    keys = keymap.get(binding.id or "")
    return binding if not keys else replace(binding, key=keys)


def shown_keys(binding: Binding) -> str:
    """A binding's keys as a person reads them: ``?``, ``]``, ``delete / x``, ``ctrl+f``."""
    if binding.key_display:
        return binding.key_display
    return " / ".join(format_key(key.strip()) for key in binding.key.split(","))

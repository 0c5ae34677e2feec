"""The settings model: every setting of ``config.toml`` and the environment, declared once.

Each field of :class:`~claude_tui.core.config.Config` is declared with
:func:`setting`: its ``[section] key``, its ``CLAUDE_TUI_*`` variable, its
bounds, choices or check, and one line saying what it does; its type and
default are the field's own. From those declarations alone come reading
``config.toml`` (an unknown section or key is refused with a suggestion),
reading the environment, checking every value (one line naming where it was
given, the key and what is wrong) and the README's table
(``tools/settings_table.py``).

Standard library only, and nothing is compiled before the first load: every
hook that runs in-process loads a config, and pydantic-settings alone takes
150-220 ms to import (pydantic 100 ms), more than the whole hook.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from claude_tui.core.errors import ConfigError

ENV_PREFIX = "CLAUDE_TUI_"
MAX_TEXT = 4096  # characters: a path, a URL or a pattern, never a document

Check = Callable[[Any], str | None]
"""A value of the setting's type -> what is wrong with it ("must ..."), or None."""

_DERIVE = "derive"
# Annotation (as written in the dataclass) -> (kind, may be unset).
_KINDS = {
    "int": ("int", False),
    "float": ("float", False),
    "bool": ("bool", False),
    "str": ("text", False),
    "str | None": ("text", True),
    "tuple[str, ...]": ("list", False),
    "dict[str, str]": ("map", False),
}
_TRUE = frozenset({"1", "true", "yes", "on", "auto"})
_FALSE = frozenset({"0", "false", "no", "off"})


class Setting:
    """One setting: where it is given, what it may be, what it does.

    ``section``/``key`` name it in ``config.toml`` (``key`` None: the whole
    section is a table of names, like ``[keys]``; ``section`` None: not read from
    the file). ``ge``/``gt``/``le`` bound a number; ``choices`` list the allowed
    texts (of a table's values, for a table); ``check`` says what else is wrong;
    ``names`` checks a table's names; ``dotted``: a nested table is read back as
    dotted names (TOML makes ``memory.search = "x"`` a table ``memory`` holding
    ``search``). ``path``: any bytes the OS allows. ``secret``: the value is never
    repeated in a message. ``internal``: set by the program only (validated, not
    documented). ``field``, ``kind``, ``optional`` and ``default`` are filled in
    from the dataclass field by :func:`compile_model`. Read-only once compiled.

    A plain class with slots, not a dataclass: every hook process that loads a
    config would pay about a millisecond to build a 20-field dataclass.
    """

    __slots__ = (
        "allowed", "check", "choices", "default", "doc", "dotted", "env", "field", "fold_case",
        "ge", "gt", "internal", "key", "kind", "le", "names", "optional", "path", "secret",
        "section",
    )  # fmt: skip

    def __init__(
        self,
        section: str | None,
        key: str | None,
        doc: str,
        *,
        env: str | None = None,
        ge: float | None = None,
        gt: float | None = None,
        le: float | None = None,
        choices: tuple[str, ...] = (),
        fold_case: bool = False,
        check: Check | None = None,
        names: Check | None = None,
        dotted: bool = False,
        allowed: str = "",
        path: bool = False,
        secret: bool = False,
        internal: bool = False,
    ) -> None:
        self.section, self.key, self.doc, self.env = section, key, doc, env
        self.ge, self.gt, self.le = ge, gt, le
        self.choices, self.fold_case, self.check, self.names = choices, fold_case, check, names
        self.dotted, self.allowed, self.path = dotted, allowed, path
        self.secret, self.internal = secret, internal
        self.field = self.kind = ""
        self.optional = False
        self.default: Any = None

    def __repr__(self) -> str:
        return f"Setting({self.name}, {self.kind or '?'})"

    @property
    def name(self) -> str:
        """How the file spells it: ``[sqlite] busy_timeout_ms``, ``[keys]``."""
        if self.section is None:
            return self.env or self.field
        return f"[{self.section}] {self.key}" if self.key else f"[{self.section}]"

    def bounds(self) -> str:
        """The allowed range of a number in words ("" when unbounded)."""
        low = self.ge if self.ge is not None else self.gt
        if low is None or self.le is None:
            return ""
        if self.gt is not None:
            return f"more than {_number(low)}, at most {_number(self.le)}"
        return f"between {_number(low)} and {_number(self.le)}"


def setting(
    section: str | None,
    key: str | None,
    default: Any,
    doc: str,
    *,
    env: str | None = _DERIVE,
    factory: Callable[[], Any] | None = None,
    **limits: Any,
) -> Any:
    """Declare a dataclass field as a setting (see :class:`Setting` for ``limits``).

    ``env`` is the variable's name after ``CLAUDE_TUI_``; by default
    ``SECTION_KEY``; None: no variable.
    """
    if env == _DERIVE:
        env = "_".join(p for p in (section, key) if p).upper() if section else None
    declared = Setting(section, key, doc, env=ENV_PREFIX + env if env else None, **limits)
    meta = {"setting": declared}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def nested(kind: type, factory: Callable[[], Any]) -> Any:
    """A field holding another settings dataclass (``[cache]``): its settings are the model's."""
    return dataclasses.field(default_factory=factory, metadata={"nested": kind})


_COMPILED: dict[type, tuple[Setting, ...]] = {}


def compile_model(kind: type) -> tuple[Setting, ...]:
    """Every setting of a settings dataclass, nested ones as ``cache.name``, in order."""
    found = _COMPILED.get(kind)
    if found is None:
        found = _COMPILED[kind] = tuple(_walk(kind, ""))
    return found


def _walk(kind: type, prefix: str) -> list[Setting]:
    out: list[Setting] = []
    for f in dataclasses.fields(kind):
        if "nested" in f.metadata:
            out.extend(_walk(f.metadata["nested"], f"{prefix}{f.name}."))
            continue
        declared = f.metadata.get("setting")
        if declared is None:
            continue
        kind_name, optional = _KINDS[str(f.type)]
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        # Filled in once, in place: the declaration is this field's own.
        declared.field, declared.kind, declared.optional = prefix + f.name, kind_name, optional
        declared.default = default
        out.append(declared)
    return out


# -- loading ------------------------------------------------------------------


def load(
    model: tuple[Setting, ...],
    toml_path: Path,
    env: Mapping[str, str],
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """The checked values given for ``model``: from the file, then the environment, then code.

    Returns:
        field -> value, for the settings given anywhere (the rest keep their defaults).

    Raises:
        ConfigError: one line naming the file or variable, the setting and what is wrong.
    """
    values: dict[str, Any] = {}
    doc = _read_toml(toml_path)
    if doc:
        _from_toml(model, doc, str(toml_path), values)
    for s in model:
        raw = env.get(s.env) if s.env else None
        if raw:  # an empty variable counts as unset, as a shell's VAR= means
            where = f"{s.env} ({s.name})" if s.section else s.env
            values[s.field] = _checked(s, raw, str(where), from_env=True)
    by_field = {s.field: s for s in model}
    for name, value in overrides.items():
        given = by_field.get(name)
        if given is None:
            raise ConfigError(f"unknown setting {name!r}")
        if value is None and given.optional:
            values[name] = None
        else:
            label = f"{name} ({given.name})" if given.section else name
            values[name] = _checked(given, value, label)
    return values


def _read_toml(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    import tomllib  # only when there is a config.toml

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def _from_toml(
    model: tuple[Setting, ...], doc: dict[str, Any], path: str, values: dict[str, Any]
) -> None:
    sections: dict[str, dict[str | None, Setting]] = {}
    for s in model:
        if s.section is not None and not s.internal:
            sections.setdefault(s.section, {})[s.key] = s
    for section, body in doc.items():
        known = sections.get(section)
        if known is None:
            raise ConfigError(f"{path}: {_unknown_section(section, sections)}")
        whole = known.get(None)  # a section that is itself a table of names ([keys])
        if whole is not None:
            values[whole.field] = _checked(whole, body, f"{path}: {whole.name}")
            continue
        if not isinstance(body, dict):
            raise ConfigError(f"{path}: [{section}] must be a section, not {_shown(body)}")
        for key, value in body.items():
            named = known.get(key)
            if named is None:
                raise ConfigError(f"{path}: {_unknown_key(section, key, sections)}")
            values[named.field] = _checked(named, value, f"{path}: {named.name}")


def _unknown_section(name: str, sections: dict[str, dict[str | None, Setting]]) -> str:
    from difflib import get_close_matches

    keys = {k: s for known in sections.values() for k, s in known.items() if k}
    if name in keys:  # a key written above every section
        return f"unknown setting {name!r} outside a section (did you mean {keys[name].name}?)"
    close = get_close_matches(name, list(sections), n=1)
    hint = f"did you mean [{close[0]}]?" if close else "sections: " + ", ".join(sections)
    return f"unknown section or setting {name!r} ({hint})"


def _unknown_key(section: str, key: str, sections: dict[str, dict[str | None, Setting]]) -> str:
    from difflib import get_close_matches

    here = [k for k in sections[section] if k]
    elsewhere = [s.name for known in sections.values() for k, s in known.items() if k == key]
    close = get_close_matches(key, here, n=1)
    if elsewhere:
        hint = f"did you mean {elsewhere[0]}?"
    elif close:
        hint = f"did you mean {close[0]}?"
    else:
        hint = f"[{section}] has " + ", ".join(here)
    return f"unknown setting [{section}] {key} ({hint})"


# -- checking -------------------------------------------------------------------


class _Bad(Exception):
    """What is wrong with a value ("must be ..."), without where it was given."""


def _checked(s: Setting, value: Any, where: str, *, from_env: bool = False) -> Any:
    """The value converted to the setting's type and checked.

    Raises:
        ConfigError: ``where`` and what is wrong, with the value (unless secret).
    """
    try:
        return _convert(s, value, from_env, where)
    except _Bad as bad:
        shown = "" if s.secret else f", not {_shown(value)}"
        raise ConfigError(f"{where} {bad}{shown}") from None


def _convert(s: Setting, value: Any, from_env: bool, where: str) -> Any:
    if s.kind == "bool":
        return _bool(value, from_env)
    if s.kind in ("int", "float"):
        number = _number_of(s.kind, value, from_env)
        _in_bounds(s, number)
        return int(number) if s.kind == "int" else float(number)
    if s.kind == "text":
        if s.optional and value == "":
            return None
        return _text(s, value)
    if s.kind == "list":
        items = _json(value, list, "a JSON list of names") if from_env else value
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            raise _Bad("must be a list of names (text)")
        for item in items:
            _plain_text(item)
        return tuple(items)
    table = _json(value, dict, "a JSON object of names and texts") if from_env else value
    return _table(s, table, where)


def _bool(value: Any, from_env: bool) -> bool:
    if from_env:
        lowered = str(value).strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise _Bad("must be on or off")
    if not isinstance(value, bool):
        raise _Bad("must be true or false")
    return value


def _number_of(kind: str, value: Any, from_env: bool) -> int | float:
    whole = kind == "int"
    if from_env:
        text = str(value).strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                raise _Bad("must be a whole number" if whole else "must be a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad("must be a whole number" if whole else "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Bad("must be a finite number")
    if whole and isinstance(value, float) and not value.is_integer():
        raise _Bad("must be a whole number")
    return value


def _in_bounds(s: Setting, number: int | float) -> None:
    # Compared before any conversion: a TOML integer may be larger than any float.
    low_ok = (s.ge is None or number >= s.ge) and (s.gt is None or number > s.gt)
    if not (low_ok and (s.le is None or number <= s.le)):
        raise _Bad(f"must be {s.bounds()}")


def _text(s: Setting, value: Any) -> str:
    if not isinstance(value, str):
        raise _Bad("must be text")
    if s.path:
        if "\x00" in value:
            raise _Bad("must not contain a NUL character")
        if len(value) > MAX_TEXT:
            raise _Bad(f"must be at most {MAX_TEXT:,} characters")
    else:
        _plain_text(value)
    if s.choices:
        chosen = value.upper() if s.fold_case else value
        if chosen not in s.choices:
            raise _Bad("must be one of " + ", ".join(s.choices))
        value = chosen
    if s.check is not None:
        problem = s.check(value)
        if problem:
            raise _Bad(problem)
    return value


def _plain_text(value: str) -> None:
    if "\x00" in value:
        raise _Bad("must not contain a NUL character")
    if len(value) > MAX_TEXT:
        raise _Bad(f"must be at most {MAX_TEXT:,} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _Bad("must be valid UTF-8 text") from None


def _table(s: Setting, table: Any, where: str) -> dict[str, str]:
    if not isinstance(table, dict):
        raise _Bad("must be a table of names and texts")
    out: dict[str, str] = {}
    pending = list(table.items())
    while pending:  # a loop, not recursion: dotted names may nest deeply
        name, item = pending.pop(0)
        label = f"{where} {name!r}"
        try:
            _plain_text(name)
            if s.names is not None and (problem := s.names(name)):
                raise _Bad(problem)
        except _Bad as bad:
            raise ConfigError(f"{where}: the name {name!r} {bad}") from None
        if isinstance(item, dict):
            if not s.dotted:
                raise ConfigError(f"{label} must be text, not a table")
            pending[:0] = [(f"{name}.{k}", v) for k, v in item.items()]
            continue
        try:
            if not isinstance(item, str) or not item.strip():
                raise _Bad("must be text")
            item = item.strip()
            _plain_text(item)
            if s.choices and item not in s.choices:
                raise _Bad("must be one of " + ", ".join(s.choices))
        except _Bad as bad:
            raise ConfigError(f"{label} {bad}, not {_shown(item)}") from None
        out[name] = item
    return out


def _json(value: Any, kind: type, what: str) -> Any:
    import json

    try:
        parsed = json.loads(str(value))
    except (ValueError, RecursionError):
        raise _Bad(f"must be {what}") from None
    if not isinstance(parsed, kind):
        raise _Bad(f"must be {what}")
    return parsed


def _shown(value: Any) -> str:
    """A value as a message repeats it: short, and a URL's password masked."""
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    if "@" in text:
        import re

        text = re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", text)
    return text if len(text) <= 80 else text[:77] + "..."


def _number(n: float) -> str:
    return f"{int(n):,}" if float(n).is_integer() else f"{n:g}"


# -- checks used by the declarations ------------------------------------------


def url_check(*schemes: str) -> Check:
    """A URL of one of ``schemes`` with a usable host and port (``unix://`` needs a path)."""
    named = [f"{scheme}://" for scheme in schemes]
    listed = f"{', '.join(named[:-1])} or {named[-1]}" if len(named) > 1 else named[0]
    starts = f"must start with {listed}"

    def check(value: str) -> str | None:
        from urllib.parse import urlsplit

        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in schemes or not rest:
            return starts
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port that is no number
        except ValueError:
            return "must have a port number from 0 to 65535"
        if scheme != "unix" and not parts.hostname:
            return "must name a host"
        return None

    return check


# -- documentation ----------------------------------------------------------------


def allowed(s: Setting) -> str:
    """What a setting may be, in words, for the README's table."""
    if s.allowed:
        return s.allowed
    if s.kind == "bool":
        return "true or false" + (" (env: on or off)" if s.env else "")
    if s.kind in ("int", "float"):
        kind = "whole number" if s.kind == "int" else "number"
        return f"a {kind} {s.bounds()}"
    if s.choices:
        return ", ".join(s.choices)
    if s.path:
        return "a folder"
    return "text"


def shown_default(s: Setting) -> str:
    """The default as config.toml would spell it ("unset" when there is none)."""
    value = s.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, int | float):
        return f"`{_number(value).replace(',', '_')}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, tuple | list):
        return "`[]`" if not value else "`" + repr(list(value)) + "`"
    return "`{}`" if not value else f"`{value!r}`"


def table(model: tuple[Setting, ...]) -> str:
    """The README's settings table, generated from the model."""
    rows = [
        "| setting | environment | default | allowed | what it does |",
        "|---|---|---|---|---|",
    ]
    order = {section: n for n, section in enumerate(dict.fromkeys(s.section for s in model))}
    for s in sorted(model, key=lambda s: order[s.section]):  # stable: field order in a section
        if s.internal:
            continue
        env = f"`{s.env}`" if s.env else "—"
        name = f"`{s.name}`" if s.section else "—"
        doc = s.doc.replace("|", "\\|")
        rows.append(
            f"| {name} | {env} | {shown_default(s)} | {allowed(s).replace('|', '/')} | {doc} |"
        )
    return "\n".join(rows) + "\n"

"""Parsing and checking of caller input. Every failure is a one-line BadInput."""

from __future__ import annotations

import json
import math
from typing import Any

from claude_tui.core.errors import BadInput
from claude_tui.core.models import MEMORY_TYPES

_JSON_OPENERS = ("{", "[", '"')


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str, what: str = "value") -> Any:
    """Parse strict JSON (no NaN/Infinity).

    Raises:
        BadInput: naming ``what`` and where the text stops being JSON.
    """
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        raise BadInput(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadInput(f"{what} is nested too deeply to be read as JSON") from None


def parse_cli_value(text: str) -> Any:
    """A CLI VALUE: JSON when it parses; a bare string otherwise.

    Text that starts like JSON (``{``, ``[`` or ``"``) but does not parse is
    refused rather than silently stored as a string.
    """
    stripped = text.strip()
    try:
        return json.loads(stripped, parse_constant=_reject_constant)
    except ValueError as exc:
        if stripped.startswith(_JSON_OPENERS):
            raise BadInput(f"value is not valid JSON: {exc}") from None
        return text
    except RecursionError:
        raise BadInput("value is nested too deeply to be read as JSON") from None


def encode_value(value: Any, max_bytes: int) -> str:
    """Serialise a value to compact JSON and enforce the size limit.

    Raises:
        BadInput: not JSON-serialisable, NaN/Infinity, or over ``max_bytes``.
    """
    try:
        raw = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise BadInput(f"value cannot be stored as JSON: {exc}") from None
    except RecursionError:
        raise BadInput("value is nested too deeply to be stored as JSON") from None
    try:
        size = len(raw.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise BadInput(
            f"value is not valid Unicode text: {unicode_problem(raw[exc.start])}"
        ) from None
    if size > max_bytes:
        raise BadInput(f"value is {size:,} bytes, over the limit of {max_bytes:,} bytes")
    return raw


def parse_ttl(ttl: Any) -> float | None:
    """A TTL in seconds: None for no expiry, otherwise a positive finite number.

    Raises:
        BadInput: negative, zero, not a number, or not finite.
    """
    if ttl is None:
        return None
    given = ttl
    if isinstance(ttl, bool):
        raise BadInput(f"TTL must be a number of seconds, not {ttl!r}")
    if isinstance(ttl, str):
        try:
            ttl = float(ttl.strip())
        except ValueError:
            raise BadInput(f"TTL must be a number of seconds, not {ttl!r}") from None
    if not isinstance(ttl, int | float):
        raise BadInput(f"TTL must be a number of seconds, not {ttl!r}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise BadInput(f"TTL must be a positive number of seconds, not {given!r}")
    return float(ttl)


def check_memory_type(memory_type: str) -> str:
    """Return the type if it is one of working, persistent, shared."""
    if memory_type not in MEMORY_TYPES:
        raise BadInput(f"memory type must be one of {', '.join(MEMORY_TYPES)}, not {memory_type!r}")
    return memory_type


def check_text(value: Any, what: str, *, max_len: int = 1024, allow_empty: bool = False) -> str:
    """A non-empty (unless allowed) string of bounded length without NUL bytes."""
    if not isinstance(value, str):
        raise BadInput(f"{what} must be text, not {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise BadInput(f"{what} must not be empty")
    if len(value) > max_len:
        raise BadInput(f"{what} is {len(value)} characters, over the limit of {max_len}")
    if "\x00" in value:
        raise BadInput(f"{what} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadInput(
            f"{what} is not valid Unicode text: {unicode_problem(value[exc.start])} "
            f"at position {exc.start}"
        ) from None
    return value


def unicode_problem(char: str) -> str:
    """What is wrong with a character UTF-8 cannot encode (only lone surrogates)."""
    return f"a lone surrogate U+{ord(char):04X}"


def decode_json(text: str | None, fallback: Any) -> Any:
    """Decode JSON read back from the database; ``fallback`` when absent or not JSON.

    Rows written by other programs may hold anything: reading them must not fail.
    """
    if text is None:
        return fallback
    try:
        return json.loads(text)
    except ValueError:
        return fallback

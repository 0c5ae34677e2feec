"""Words and texts for search: a checked query, its FTS5 terms, an entry's text to embed."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from claude_tui.core.errors import BadInput

MAX_QUERY_CHARS = 10_000
MAX_TERMS = 32  # words of one query looked for (a pasted page asks for its first 32)
EMBED_CHARS = 2_000  # of an entry's text: the model reads ~256 tokens of it anyway

# English function words: dropped from a query's word half (they match everything
# and rank nothing), kept when a query is made of nothing else.
_STOP_WORDS = """
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves also did get got let
may might must shall us yet whose within without upon via etc
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[^\W_]+")
_ALLOWED_CONTROLS = {"\t", "\n", "\r"}


def check_query(text: Any, what: str = "the search text") -> str:
    """A query fit to search with, or a one-line reason why not.

    Raises:
        BadInput: not text, empty, longer than 10,000 characters, holding a
            control character (other than tab and newline) or invalid Unicode.
    """
    if not isinstance(text, str):
        raise BadInput(f"{what} must be text, not {type(text).__name__}")
    if not text.strip():
        raise BadInput(f"{what} must not be empty")
    if len(text) > MAX_QUERY_CHARS:
        raise BadInput(
            f"{what} is {len(text):,} characters long; at most {MAX_QUERY_CHARS:,} are searched"
        )
    for ch in text:
        if ch not in _ALLOWED_CONTROLS and unicodedata.category(ch) in ("Cc", "Cs"):
            kind = "an unpaired surrogate" if unicodedata.category(ch) == "Cs" else "a control"
            raise BadInput(
                f"{what} holds {kind} character (U+{ord(ch):04X}); remove it and search again"
            )
    return text


def terms(text: str, limit: int = MAX_TERMS) -> list[str]:
    """The query's words, lowercased, each once, stop-words dropped (unless all are)."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        seen.setdefault(word, None)
    words = list(seen)
    content = [w for w in words if w not in STOP_WORDS]
    return (content or words)[:limit]


def match_expression(words: list[str], *, every: bool = False) -> str:
    """An FTS5 MATCH string: each word quoted (so nothing is syntax), OR-ed (or AND-ed).

    Quoted words go through the index's tokenizer, so they are stemmed like the
    text was: "timed" finds "time", "timing", "times". No prefix terms: a
    prefix query builds its whole match list in memory.
    """
    if not words:
        raise BadInput("the search text has no words to look for")
    quoted = ['"' + w.replace('"', '""') + '"' for w in words]
    return (" AND " if every else " OR ").join(quoted)


def flatten(value: Any) -> str:
    """A JSON value as words: members as ``name: value``, lists joined, leaves as text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        parts = []
        for k, v in value.items():
            inner = flatten(v)
            parts.append(f"{k}: {inner}" if inner else str(k))
        return "; ".join(parts)
    if isinstance(value, list):
        return ", ".join(p for p in (flatten(v) for v in value) if p)
    return str(value)


def entry_text(key: str, raw: str, limit: int = EMBED_CHARS) -> str:
    """The text whose vector stands for a memory entry: its key, then its value's words."""
    try:
        body = flatten(json.loads(raw))
    except ValueError:
        body = raw
    name = " ".join(key.replace("_", " ").replace("-", " ").split())
    text = f"{name}: {' '.join(body.split())}" if body.strip() else name
    return text[:limit]

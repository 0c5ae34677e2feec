"""The seam for secrets: spotting sensitive entries, and sealing them at rest.

Sensitive entries are never cached in Redis and never indexed for full-text
search. Encrypting them before they reach SQLite is the job of a ``Sealer``
(``durability/encryption.py``); ``PlainSealer`` stores them as given and says
so (``encrypted`` stays false). What counts as sensitive is configurable
(``[secrets]`` in config.toml): more namespaces, and extra patterns for keys
and values, on top of the built-in ones, which always apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

SENSITIVE_NAMES = ("api_keys", "passwords", "tokens")
_KEY_WORDS = re.compile(
    r"(api[_-]?keys?|passw(or)?ds?|passwd|secrets?|tokens?|credentials?|private[_-]?key)",
    re.IGNORECASE,
)
_CREDENTIAL_VALUES = re.compile(
    r"(sk-(ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic style keys
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})"  # JWTs
)


@dataclass(frozen=True)
class SecretRules:
    """What makes an entry sensitive beyond the built-in names and formats."""

    namespaces: frozenset[str] = frozenset(SENSITIVE_NAMES)
    key_pattern: re.Pattern[str] | None = None
    value_pattern: re.Pattern[str] | None = None


DEFAULT_RULES = SecretRules()


def rules_from(
    namespaces: tuple[str, ...] | list[str], key_pattern: str | None, value_pattern: str | None
) -> SecretRules:
    """Build rules from settings (patterns are case-insensitive regular expressions).

    Raises:
        re.error: a pattern that does not compile (the config reports it).
    """
    return SecretRules(
        frozenset(n.lower() for n in (*SENSITIVE_NAMES, *namespaces)),
        re.compile(key_pattern, re.IGNORECASE) if key_pattern else None,
        re.compile(value_pattern) if value_pattern else None,
    )


def is_sensitive(
    key: str, namespace: str, raw_value: str, rules: SecretRules = DEFAULT_RULES
) -> bool:
    """Whether an entry holds a credential, judged by its name or its value."""
    if namespace.lower() in rules.namespaces or _KEY_WORDS.search(key):
        return True
    if rules.key_pattern is not None and key and rules.key_pattern.search(key):
        return True
    if rules.value_pattern is not None and rules.value_pattern.search(raw_value):
        return True
    return _CREDENTIAL_VALUES.search(raw_value) is not None


class Sealer(Protocol):
    """Turns a sensitive value into what is stored, and back."""

    def seal(self, raw: str) -> tuple[str, bool]:
        """Return (stored text, whether it is encrypted)."""
        ...

    def open(self, stored: str, encrypted: bool) -> str:
        """Return the raw JSON text of a stored value."""
        ...


class PlainSealer:
    """Stores values as given (no key configured yet)."""

    def seal(self, raw: str) -> tuple[str, bool]:
        return raw, False

    def open(self, stored: str, encrypted: bool) -> str:
        return stored

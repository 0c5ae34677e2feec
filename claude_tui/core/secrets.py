"""The seam for secrets: spotting sensitive entries, and sealing them at rest.

Sensitive entries are never cached in Redis and never indexed for full-text
search. Encrypting them before they reach SQLite is the job of a ``Sealer``;
until the encryption layer lands the default sealer stores them as given and
says so (``encrypted`` stays false).
"""

from __future__ import annotations

import re
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


def is_sensitive(key: str, namespace: str, raw_value: str) -> bool:
    """Whether an entry holds a credential, judged by its name or its value."""
    if namespace.lower() in SENSITIVE_NAMES or _KEY_WORDS.search(key):
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

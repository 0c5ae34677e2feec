"""The seam for secrets: spotting sensitive text, redacting it, and sealing it at rest.

Sensitive entries are never cached in Redis and never indexed for full-text
search. Encrypting them before they reach SQLite is the job of a ``Sealer``
(``durability/encryption.py``); ``PlainSealer`` stores them as given and says
so (``encrypted`` stays false). What counts as sensitive is configurable
(``[secrets]`` in config.toml): more namespaces, and extra patterns for keys
and values, on top of the built-in ones, which always apply.

Sensitivity is judged at any depth of a JSON value: a string that looks like
a credential anywhere, or a field whose *name* says it holds one
(``{"db": {"password": ...}}``), makes the whole value sensitive.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Protocol

SENSITIVE_NAMES = ("api_keys", "passwords", "tokens")
# A key naming a credential: the word standing alone ("tokens_left", "db_password"),
# not inside another word ("tokenizer", "secretary").
_KEY_WORDS = re.compile(
    r"(?<![a-z])(api[_-]?keys?|passw(or)?ds?|passwd|secrets?|tokens?|credentials?"
    r"|private[_-]?key)(?![a-z])",
    re.IGNORECASE,
)
_CREDENTIAL_VALUES = re.compile(
    r"(sk-(ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI / Anthropic style keys
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub tokens
    r"|github_pat_[A-Za-z0-9_]{30,}"  # GitHub fine-grained tokens
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"  # Slack tokens
    r"|(AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key ids
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API keys
    r"|-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----"
    r"|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"  # JWTs
    r"|[a-z][a-z0-9+.-]{1,20}://[^/\s:@\"']+:[^/\s@\"']+@"  # URLs with a password
    r"|\bBearer\s+[A-Za-z0-9._~+/=-]{12,})"  # bearer tokens
)
# A credential in free text runs to the next blank or quote: redacting only the
# prefix the pattern needs would leave the rest of the token readable.
_CREDENTIAL_SPAN = re.compile(
    r"(?:sk-(?:ant-)?|gh[pousr]_|github_pat_|xox[abprs]-|AKIA|ASIA|AIza|eyJ)[^\s\"'`<>]*"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----[\s\S]*?"
    r"(?:-----END [A-Z ]*PRIVATE KEY( BLOCK)?-----|$)"
    r"|(?<=://)[^/\s:@\"']+:[^/\s@\"']+(?=@)"
    r"|(?<=Bearer )[^\s\"'`<>]+"
)
# The start of a credential that a cut may have shortened below its full pattern.
_CREDENTIAL_PREFIX = re.compile(
    r"(?:sk-(?:ant-)?[A-Za-z0-9_-]{6,}|gh[pousr]_[A-Za-z0-9]{6,}|github_pat_[A-Za-z0-9_]{6,}"
    r"|xox[abprs]-[A-Za-z0-9-]{4,}|(?:AKIA|ASIA)[0-9A-Z]{6,}|AIza[0-9A-Za-z_-]{6,}"
    r"|eyJ[A-Za-z0-9_-]{6,})$"
)
# NAME=value / NAME: value (env files, INI, shell, YAML): the name decides.
_ASSIGNMENT = re.compile(
    r"""(?<![A-Za-z0-9_])([A-Za-z_][A-Za-z0-9_.-]{0,100})["']?[ \t]*[=:][ \t]*"""
    r"""["']?([^\s"',;]{3,})"""
)
# The last word(s) of a field name that says its value is a credential. "tokens"
# is left out on purpose: input_tokens / max_tokens are counts, not secrets.
_FIELD_WORDS = frozenset(
    {"password", "passwords", "passwd", "pwd", "pw", "pass", "passphrase", "secret", "secrets",
     "token", "credential", "credentials", "authorization", "apikey", "apikeys", "cookie",
     "auth"}
)  # fmt: skip
# Anywhere in a field name (PGPASSWORD, dbpassword, password2, client_secret_id).
_FIELD_PARTS = (
    "password", "passwd", "passphrase", "secret", "credential", "apikey", "privatekey",
    "authorization", "accesstoken", "refreshtoken", "authtoken",
)  # fmt: skip
_FIELD_PAIRS = frozenset({"api", "private", "secret", "access", "signing", "encryption", "client"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# A quoted JSON object key: finding field names by regex avoids parsing every value.
_JSON_KEY = re.compile(r'"((?:[^"\\]|\\.){1,2000})"\s*:')


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


def sensitive_field(name: str) -> bool:
    """Whether a field called ``name`` holds a credential (``password``, ``awsSecretAccessKey``)."""
    words = [w for w in re.split(r"[^a-z0-9]+", _CAMEL.sub("_", name).lower()) if w]
    if not words:
        return False
    squeezed = "".join(words)
    if any(part in squeezed for part in _FIELD_PARTS):
        return True
    # A trailing digit or two (password2, token_1) names the same kind of thing.
    last = words[-1].rstrip("0123456789") or (words[-2] if len(words) > 1 else "")
    if last in _FIELD_WORDS:
        return True
    return last in ("key", "keys") and len(words) > 1 and words[-2] in _FIELD_PAIRS


def _json_name(quoted: str) -> str:
    """A JSON object key as written (escapes and all) decoded to its text."""
    if "\\" not in quoted:
        return quoted
    try:
        decoded = json.loads(f'"{quoted}"')
    except ValueError:
        return quoted
    return decoded if isinstance(decoded, str) else quoted


def looks_like_credential(text: str, rules: SecretRules) -> bool:
    """Whether ``text`` holds something shaped like a credential (built-in or custom formats)."""
    if _CREDENTIAL_VALUES.search(text) is not None:
        return True
    return rules.value_pattern is not None and rules.value_pattern.search(text) is not None


def has_sensitive_field(raw_json: str) -> bool:
    """Whether a JSON text has an object field, at any depth, named like a credential.

    JSON kept as a string inside JSON (escaped quotes) is looked into as well,
    and so are ``NAME=value`` / ``NAME: value`` assignments in free text.
    """
    return _json_field(raw_json) or _assignment(raw_json, "")


def _json_field(raw_json: str) -> bool:
    text = raw_json
    for _ in range(4):  # up to three levels of JSON-in-a-string
        if any(sensitive_field(_json_name(m.group(1))) for m in _JSON_KEY.finditer(text)):
            return True
        if '\\"' not in text:
            break
        text = text.replace("\\\\", "\\").replace('\\"', '"')
    return False


def _assignment(text: str, placeholder: str) -> bool:
    """A credential-named assignment whose value is not the placeholder already."""
    return any(
        sensitive_field(m.group(1)) and not (placeholder and placeholder.startswith(m.group(2)))
        for m in _ASSIGNMENT.finditer(text)
    )


def is_sensitive(
    key: str, namespace: str, raw_value: str, rules: SecretRules = DEFAULT_RULES
) -> bool:
    """Whether an entry holds a credential, judged by its name, its value and its fields."""
    if namespace.lower() in rules.namespaces or _KEY_WORDS.search(key) or sensitive_field(key):
        return True
    if rules.key_pattern is not None and key and rules.key_pattern.search(key):
        return True
    return looks_like_credential(raw_value, rules) or has_sensitive_field(raw_value)


def text_is_sensitive(text: str, rules: SecretRules = DEFAULT_RULES) -> bool:
    """Whether free text (a title, a prompt, a pattern) holds a credential."""
    return looks_like_credential(text, rules) or has_sensitive_field(text)


def redact_text(text: str, rules: SecretRules, placeholder: str) -> str:
    """``text`` with every credential-shaped span replaced by ``placeholder``.

    Values of credential-named assignments (``DB_PASSWORD=x``) go too; text
    that still holds a credential after that (a credential field inside JSON
    kept as text) is replaced whole: better too much than too little.
    """
    out = _ASSIGNMENT.sub(
        lambda m: (
            m.group(0).replace(m.group(2), placeholder)
            if sensitive_field(m.group(1))
            else m.group(0)
        ),
        text,
    )
    out = _CREDENTIAL_SPAN.sub(placeholder, out)
    if _CREDENTIAL_VALUES.search(out) is not None:
        out = _CREDENTIAL_VALUES.sub(placeholder, out)
    if rules.value_pattern is not None:
        out = rules.value_pattern.sub(placeholder, out)
    if looks_like_credential(out, rules) or _json_field(out) or _assignment(out, placeholder):
        return placeholder
    return out


def safe_cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters without leaving part of a credential behind.

    A cut through a token leaves a prefix too short for the value rules to
    recognise, so the cut moves to before the token instead.
    """
    if len(text) <= limit:
        return text
    head = text[:limit]
    found = _CREDENTIAL_PREFIX.search(head)
    if found is not None:
        return head[: found.start()]
    for match in _CREDENTIAL_SPAN.finditer(text, max(0, limit - 400), limit + 400):
        if match.start() < limit < match.end():
            return head[: match.start()]
    return head


def redact_value(value: Any, rules: SecretRules, placeholder: str, *, _depth: int = 0) -> Any:
    """A copy of a JSON value with credential fields and credential-shaped strings replaced."""
    if _depth > 200:
        return placeholder  # deeper than anything legitimate: keep none of it
    if isinstance(value, str):
        return redact_text(value, rules, placeholder) if text_is_sensitive(value, rules) else value
    if isinstance(value, dict):
        return {
            k: (
                placeholder
                if isinstance(k, str) and sensitive_field(k) and v not in (None, "", [], {})
                else redact_value(v, rules, placeholder, _depth=_depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact_value(v, rules, placeholder, _depth=_depth + 1) for v in value]
    return value


def check_identifier(text: str, what: str, rules: SecretRules = DEFAULT_RULES) -> None:
    """Refuse a key or namespace that is itself a credential.

    An identifier is stored in clear (it is how the entry is found again, in
    SQLite, the change log and Redis key names), so it cannot be sealed.

    Raises:
        BadInput: the text looks like a credential.
    """
    if looks_like_credential(text, rules):
        from claude_tui.core.errors import BadInput

        raise BadInput(
            f"the {what} looks like a credential; a {what} is stored in clear so it can be "
            f"looked up: store the credential as the value, under a descriptive {what}"
        )


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


class RedactingFilter(logging.Filter):
    """A log filter that masks credential-shaped text in every record it passes.

    Installed on the product's log handlers, so a message that quotes a value
    (an error about a row, a failed request) never writes a credential out.
    """

    def __init__(self, rules: SecretRules = DEFAULT_RULES) -> None:
        super().__init__()
        self.rules = rules

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's business, not ours
            return True
        if looks_like_credential(message, self.rules):
            record.msg = redact_text(message, self.rules, "[redacted]")
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            if looks_like_credential(str(exc), self.rules):
                # The traceback would quote the value: keep the exception's kind only.
                record.exc_info = None
                record.exc_text = None
                record.msg = f"{record.msg} ({type(exc).__name__}: [redacted])"
        return True


def install_log_redaction(rules: SecretRules = DEFAULT_RULES) -> None:
    """Put :class:`RedactingFilter` (with ``rules``) on every handler of the root logger."""
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(old)
        handler.addFilter(RedactingFilter(rules))


def redact_url(url: str) -> str:
    """A URL with its password masked (for status output and logs)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))

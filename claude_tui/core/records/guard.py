"""Sensitivity and sealing of the text columns of every record kind.

A column that holds a credential is stored in two parts: the column itself
keeps a redacted form (each credential replaced by ``[sealed on host N]``),
and the row's ``sealed`` column keeps a Fernet token of the originals. So the
full-text index, the vector index, Redis, the sync stream and the app only
ever see the redacted form, while the owner reads the original back
(:meth:`Guard.reveal`). Memory entries are sealed whole instead (their value
is one field); see ``records/memory.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from claude_tui.core.errors import SecretUnavailable
from claude_tui.core.secrets import (
    Sealer,
    SecretRules,
    check_identifier,
    is_sensitive,
    redact_text,
    redact_value,
    text_is_sensitive,
)


@dataclass(frozen=True)
class Kind:
    """Which columns of a table carry user text (plain text, or JSON text)."""

    table: str
    text: tuple[str, ...] = ()
    json: tuple[str, ...] = ()

    @property
    def guarded(self) -> tuple[str, ...]:
        """Every column the guard looks at."""
        return (*self.text, *self.json)


@dataclass(frozen=True)
class Protected:
    """A row as a door may write it: guarded columns redacted, originals in ``sealed``."""

    kind: Kind
    values: dict[str, Any]


class Guard:
    """Decides what is sensitive (with the configured rules) and seals it.

    Sealing may write the database's key check the first time, in a
    transaction of its own: protect rows *before* the write transaction.
    """

    def __init__(self, rules: SecretRules, sealer: Sealer, node: str) -> None:
        self.rules = rules
        self.sealer = sealer
        self.node = node
        self.placeholder = f"[sealed on host {node}]"

    def ready(self) -> None:
        """Make sure sealing needs no write of its own (call before a write transaction).

        The first seal of a data dir records the key check in a transaction of
        its own; code that seals inside a transaction (sync apply) calls this first.
        """
        ensure = getattr(self.sealer, "ensure_ready", None)
        if ensure is not None:
            ensure(create=True)

    # -- decisions ------------------------------------------------------------
    def entry_sensitive(self, key: str, namespace: str, raw: str) -> bool:
        """Whether a memory entry is sensitive (its key, namespace or value at any depth)."""
        return is_sensitive(key, namespace, raw, self.rules)

    def text_sensitive(self, text: str) -> bool:
        """Whether free text holds a credential."""
        return text_is_sensitive(text, self.rules)

    def check_identifier(self, text: str, what: str) -> None:
        """Refuse a key or namespace that is itself a credential (BadInput)."""
        check_identifier(text, what, self.rules)

    def seal(self, raw: str) -> tuple[str, bool]:
        """Seal a whole value (a memory entry's)."""
        return self.sealer.seal(raw)

    # -- rows -------------------------------------------------------------
    def _redacted(self, column: str, value: Any, kind: Kind) -> Any:
        if not isinstance(value, str) or not text_is_sensitive(value, self.rules):
            return value
        if column in kind.json:
            try:
                decoded = json.loads(value)
            except ValueError:
                return redact_text(value, self.rules, self.placeholder)
            return json.dumps(
                redact_value(decoded, self.rules, self.placeholder),
                ensure_ascii=False,
                separators=(",", ":"),
            )
        return redact_text(value, self.rules, self.placeholder)

    def protect(
        self, kind: Kind, values: Mapping[str, Any], *, current_sealed: str | None = None
    ) -> Protected:
        """The row with its guarded columns redacted and their originals sealed.

        Args:
            values: a whole row, or the columns an update changes.
            current_sealed: for an update, the row's ``sealed`` token now, so
                the originals of the columns it does not change are kept.

        A row that carries a ``sealed`` token already (one read back from a
        database or a checkpoint) is protected and passes unchanged.
        """
        if values.get("sealed"):
            return Protected(kind, dict(values))
        row = dict(values)
        kept: dict[str, list[Any]] = {}
        if current_sealed and not any(c in values for c in kind.guarded):
            # Nothing guarded changes (a status, a time): the token stays as it is,
            # neither opened nor sealed again.
            return Protected(kind, row)
        if current_sealed:
            try:
                kept = self._open(current_sealed)
            except (SecretUnavailable, ValueError):
                # Writing guarded columns would mean resealing originals we cannot
                # open: refuse rather than lose them.
                raise SecretUnavailable(
                    f"this {kind.table} row holds sealed values and the encryption key "
                    "cannot open them: restore the right key first; nothing was changed"
                ) from None
        originals: dict[str, list[Any]] = {}
        for column in kind.guarded:
            if column not in row:
                if column in kept:
                    originals[column] = kept[column]  # an update that leaves it alone
                continue
            if column in kept and kept[column][0] == row[column]:
                # The redacted form written back unchanged (a peer's copy of the row,
                # a status change): the original stays sealed here.
                originals[column] = kept[column]
                continue
            shown = self._redacted(column, row[column], kind)
            if shown != row[column]:
                originals[column] = [shown, row[column]]
                row[column] = shown
        row["sealed"] = (
            self.sealer.seal(json.dumps(originals, ensure_ascii=False))[0] if originals else None
        )
        return Protected(kind, row)

    def _open(self, token: str) -> dict[str, list[Any]]:
        opened = json.loads(self.sealer.open(token, True))
        return opened if isinstance(opened, dict) else {}

    def reveal(self, values: Mapping[str, Any], token: str | None) -> dict[str, Any]:
        """The row with its sealed originals put back (for the owner's eyes).

        A column that changed since it was sealed (a later write elsewhere)
        shows its current value. Without the key the redacted form stays.
        """
        row = dict(values)
        if not token:
            return row
        try:
            opened = self._open(token)
        except (SecretUnavailable, ValueError):
            return row
        for column, (shown, original) in opened.items():
            if column in row and row[column] == shown:
                row[column] = original
        return row

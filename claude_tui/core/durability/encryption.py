"""Field encryption of secrets with Fernet: the key ring, the sealer, key rotation.

The key lives in ``<data dir>/secret.key`` (mode 0600, created on first use) or
in ``CLAUDE_TUI_ENCRYPTION_KEY``. The file holds one key per line: the first
encrypts, every line decrypts (``MultiFernet``), so values sealed before a
rotation, and the backups holding them, stay readable until the old keys are
dropped on purpose.

A token of a fixed text, sealed with the primary key, is kept in ``meta``
(``key_check``). It tells a missing key ("this database has secrets but no
key was found") from a wrong one, before anything is written with it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claude_tui.core.config import Config
from claude_tui.core.durability.files import fsync_dir, private_dir, write_atomic
from claude_tui.core.errors import BadInput, SecretUnavailable

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

    from claude_tui.core.store.db import Store

log = logging.getLogger(__name__)

_CHECK_TEXT = b"claude-tui key check"
ENV_NAME = "CLAUDE_TUI_ENCRYPTION_KEY"


@dataclass(frozen=True)
class KeyRing:
    """The keys in use: ``keys[0]`` encrypts, all of them decrypt."""

    keys: tuple[bytes, ...]
    source: str  # "file", "env" or "none"
    path: Path

    @property
    def where(self) -> str:
        """Where the keys came from, for messages."""
        return ENV_NAME if self.source == "env" else str(self.path)

    def multi(self) -> MultiFernet:
        """A MultiFernet over every key (primary first)."""
        from cryptography.fernet import Fernet, MultiFernet

        return MultiFernet([Fernet(k) for k in self.keys])


def _check_key(key: bytes, where: str) -> bytes:
    from cryptography.fernet import Fernet

    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise SecretUnavailable(
            f"{where} holds something that is not a Fernet key (32 url-safe base64 bytes)"
        ) from None
    return key


def load_keys(config: Config) -> KeyRing:
    """The configured keys, or an empty ring when none exist yet (nothing is created)."""
    if config.encryption_key:
        keys = tuple(
            _check_key(part.strip().encode(), ENV_NAME)
            for part in config.encryption_key.split(",")
            if part.strip()
        )
        return KeyRing(keys, "env", config.key_path)
    try:
        text = config.key_path.read_text(encoding="ascii")
    except FileNotFoundError:
        return KeyRing((), "none", config.key_path)
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretUnavailable(f"cannot read the key file {config.key_path}: {exc}") from None
    keys = tuple(
        _check_key(line.strip().encode(), str(config.key_path))
        for line in text.splitlines()
        if line.strip()
    )
    if not keys:
        raise SecretUnavailable(f"the key file {config.key_path} is empty")
    return KeyRing(keys, "file", config.key_path)


def write_key_file(path: Path, keys: tuple[bytes, ...]) -> None:
    """Replace the key file atomically; mode 0600 from the first byte."""
    write_atomic(path, b"".join(k + b"\n" for k in keys), mode=0o600)


def _create_key_file(path: Path) -> None:
    """Create the key file unless another process just did (O_EXCL decides)."""
    from cryptography.fernet import Fernet

    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    try:
        os.write(fd, Fernet.generate_key() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(path.parent)


class FernetSealer:
    """Seals sensitive values with the data dir's key; opens them again.

    The key is loaded on first use, so opening a data dir without secrets
    never creates a key file.
    """

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self._lock = threading.Lock()
        self._multi: MultiFernet | None = None
        self._ring: KeyRing | None = None

    # -- the Sealer protocol ------------------------------------------------
    def seal(self, raw: str) -> tuple[str, bool]:
        """Encrypt ``raw``; raise SecretUnavailable (writing nothing) without the right key."""
        return self.ensure_ready(create=True).encrypt(raw.encode()).decode("ascii"), True

    def open(self, stored: str, encrypted: bool) -> str:
        """Decrypt a stored value; raise SecretUnavailable with the missing/wrong key."""
        if not encrypted:
            return stored
        from cryptography.fernet import InvalidToken

        multi = self.ensure_ready(create=False)
        try:
            return multi.decrypt(stored.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SecretUnavailable(
                f"a secret could not be decrypted with the key in {self.ring().where} "
                "(wrong key, or a damaged value); the value was left as it was"
            ) from None

    # -- keys -----------------------------------------------------------------
    def ring(self) -> KeyRing:
        """The key ring as currently loaded."""
        if self._ring is None:
            self._ring = load_keys(self.config)
        return self._ring

    def reload(self) -> None:
        """Forget the loaded keys (after a rotation changed the file)."""
        with self._lock:
            self._ring = None
            self._multi = None

    def ensure_ready(self, *, create: bool) -> MultiFernet:
        """The keys, checked against this database (created on first use if ``create``).

        Raises:
            SecretUnavailable: the database has secrets and the key is missing or wrong.
        """
        with self._lock:
            if self._multi is not None:
                return self._multi
            ring = self.ring()
            check = self.store.meta("key_check")
            if not ring.keys:
                if check is not None or not create:
                    raise SecretUnavailable(
                        "this database holds encrypted secrets but no key was found: restore "
                        f"{self.config.key_path} from where you keep it, or set {ENV_NAME}; "
                        "other data stays readable"
                    )
                _create_key_file(self.config.key_path)
                self._ring = ring = load_keys(self.config)
            multi = ring.multi()
            if check is None:
                self._write_check(multi)
            else:
                self._verify_check(multi, ring, check)
            self._multi = multi
            return multi

    def _verify_check(self, multi: MultiFernet, ring: KeyRing, check: str) -> None:
        from cryptography.fernet import InvalidToken

        try:
            multi.decrypt(check.encode("ascii"))
        except InvalidToken:
            raise SecretUnavailable(
                f"the encryption key in {ring.where} does not open this database's secrets: "
                f"restore the right {self.config.key_path.name} or set {ENV_NAME} to it; "
                "nothing was changed"
            ) from None

    def _write_check(self, multi: MultiFernet) -> None:
        token = multi.encrypt(_CHECK_TEXT).decode("ascii")

        def body(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('key_check', ?)", (token,)
            )

        self.store.write(body)
        stored = self.store.meta("key_check")
        if stored is not None and stored != token:
            # Another process sealed first, maybe with another key: make sure it is ours.
            self._verify_check(multi, self.ring(), stored)


def seal_plain_secrets(rt: Any, *, batch: int = 500) -> int:
    """Encrypt sensitive entries stored before a key existed (demo data, old databases).

    Cheap when there are none (a partial index finds them). Returns how many
    were sealed; leaves them as they are (and says so in the log) when the key
    is missing or wrong.
    """
    store = rt.store
    sealed = 0
    while True:
        rows = store.rows(
            "SELECT id, value FROM memory_entries WHERE sensitive = 1 AND encrypted = 0 "
            "ORDER BY id LIMIT ?",
            (batch,),
        )
        if not rows:
            return sealed
        try:
            updates = [(rt.sealer.seal(value)[0], row_id, value) for row_id, value in rows]
        except SecretUnavailable as exc:
            log.warning("secrets stored in clear were not sealed: %s", exc.message)
            return sealed

        def body(conn: sqlite3.Connection, updates: list[tuple[str, int, str]] = updates) -> int:
            # Only if unchanged since read: a concurrent write wins and is sealed itself.
            from claude_tui.core.records import memory as memory_door

            return memory_door.reseal(conn, updates, was_encrypted=False)

        done = rt.write(body)
        sealed += done
        rt.l1.clear()
        if done == 0:
            return sealed  # every row in this batch changed under us; the rest waits


def check_new_key(text: str) -> bytes:
    """Validate a key given on the command line."""
    try:
        return _check_key(text.strip().encode(), "the given key")
    except SecretUnavailable as exc:
        raise BadInput(exc.message) from None

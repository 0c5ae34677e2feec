"""Field encryption of secrets with Fernet: the key ring, the sealer, key rotation.

The key lives in ``<data dir>/secret.key`` (mode 0600, created on first use) or
in ``CLAUDE_TUI_ENCRYPTION_KEY``. The file holds one key per line: the first
encrypts, every line decrypts (``MultiFernet``), so values sealed before a
rotation, and the backups holding them, stay readable until the old keys are
dropped on purpose.

A token of a fixed text, sealed with the primary key, is kept in ``meta``
(``key_check``). It tells a missing key ("this database has secrets but no
key was found") from a wrong one, before anything is written with it.

Other processes may have the data dir open while ``keys rotate`` runs. A
rotation counts up ``key_generation`` in ``meta`` when it puts a new primary
key in the file and again when it drops the old ones. A sealer reads that
counter before it seals (one point read, only when sealing) and when a value
does not open, and reloads the key file when it moved on; and every write
transaction that carries a value this thread sealed checks, under the write
lock, that the counter is still the one the value was sealed at
(:meth:`FernetSealer.confirm`): a value sealed with a key that a rotation has
since replaced is refused (:class:`KeysRotated`, nothing written) instead of
being committed where the rotation's pass can no longer see it.
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
GENERATION_KEY = "key_generation"  # meta: counts rotations (new primary, old keys dropped)
_GENERATION_SQL = "SELECT value FROM meta WHERE key = 'key_generation'"


class KeysRotated(SecretUnavailable):
    """A value was sealed with keys another process has rotated since: nothing was written.

    Sealing again (the sealer has reloaded the keys by then) and writing again succeeds.
    """


def generation_of(conn: sqlite3.Connection) -> str:
    """The data dir's key generation as committed (``"0"`` before any rotation)."""
    found = conn.execute(_GENERATION_SQL).fetchone()
    return str(found[0]) if found else "0"


def bump_generation(conn: sqlite3.Connection) -> None:
    """Count one more key change (inside a write transaction)."""
    current = generation_of(conn)
    conn.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
        (GENERATION_KEY, str(int(current) + 1 if current.isdigit() else 1)),
    )


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
        # The checked keys and the key generation they belong to, as one value:
        # reload() may clear it from another thread at any moment.
        self._loaded: tuple[MultiFernet, str] | None = None
        self._ring: KeyRing | None = None
        # Per thread: the generation of the last value sealed and not yet written.
        self._sealed = threading.local()

    # -- the Sealer protocol ------------------------------------------------
    def seal(self, raw: str) -> tuple[str, bool]:
        """Encrypt ``raw``; raise SecretUnavailable (writing nothing) without the right key."""
        multi = self.sealing_keys()
        return multi.encrypt(raw.encode()).decode("ascii"), True

    def open(self, stored: str, encrypted: bool) -> str:
        """Decrypt a stored value; raise SecretUnavailable with the missing/wrong key.

        A value that does not open with the loaded keys is tried once more after
        a reload when another process rotated the keys since they were loaded.
        """
        if not encrypted:
            return stored
        from cryptography.fernet import InvalidToken

        token = stored.encode("ascii")
        multi = self.ensure_ready(create=False)
        try:
            return multi.decrypt(token).decode()
        except (InvalidToken, UnicodeError):
            pass
        if self._refresh():
            try:
                return self.ensure_ready(create=False).decrypt(token).decode()
            except (InvalidToken, UnicodeError):
                pass
        raise SecretUnavailable(
            f"a secret could not be decrypted with the key in {self.ring().where} "
            "(wrong key, or a damaged value); the value was left as it was"
        ) from None

    # -- rotation by other processes -----------------------------------------
    def _stored_generation(self) -> str:
        with self.store.lock:
            return generation_of(self.store.conn)

    def _refresh(self) -> bool:
        """Reload the keys if the data dir's key generation moved on; True if it did."""
        loaded = self._loaded
        if loaded is None or self._stored_generation() == loaded[1]:
            return False
        self.reload()
        return True

    def sealing_keys(self) -> MultiFernet:
        """The keys to seal with now: reloaded first if another process rotated them.

        Marks this thread as holding a value sealed at the current generation,
        for :meth:`confirm` in the write transaction that stores it.
        """
        self._refresh()
        multi, generation = self._ready(create=True)
        self._sealed.generation = generation
        return multi

    def reading_keys(self) -> MultiFernet:
        """The keys to open values with (reloaded first if another process rotated them)."""
        self._refresh()
        return self.ensure_ready(create=False)

    def confirm(self, conn: sqlite3.Connection) -> None:
        """Inside a write transaction: refuse it if it stores a value sealed with old keys.

        Costs nothing for a write that stores no value this thread sealed. The
        check runs under the write lock, so no rotation can start between it
        and the commit: a rotation that began after the value was sealed either
        committed its new generation before (refused here) or starts after this
        commit (and then re-encrypts the row).

        Raises:
            KeysRotated: the keys changed since the value was sealed; the
                transaction is rolled back and the keys are reloaded.
        """
        sealed_at = getattr(self._sealed, "generation", None)
        if sealed_at is None:
            return
        if generation_of(conn) != sealed_at:
            self.reload()
            raise KeysRotated(
                "the encryption keys were rotated while this write waited; "
                "nothing was written — write it again"
            )

    def written(self) -> None:
        """The write transaction of this thread's sealed values is over (committed or not)."""
        self._sealed.generation = None

    # -- keys -----------------------------------------------------------------
    def ring(self) -> KeyRing:
        """The key ring as currently loaded."""
        if self._ring is None:
            self._ring = load_keys(self.config)
        return self._ring

    def reload(self) -> None:
        """Forget the loaded keys (after a rotation changed the file)."""
        # No lock: plain assignments, and confirm() calls this under the store's
        # lock, which ensure_ready() takes while holding ours.
        self._loaded = None
        self._ring = None

    def ensure_ready(self, *, create: bool) -> MultiFernet:
        """The keys, checked against this database (created on first use if ``create``).

        Raises:
            SecretUnavailable: the database has secrets and the key is missing or wrong.
        """
        return self._ready(create=create)[0]

    def _ready(self, *, create: bool) -> tuple[MultiFernet, str]:
        """:meth:`ensure_ready`, with the key generation the keys belong to."""
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            loaded = self._loaded
            if loaded is not None:
                return loaded
            # Read before the key file: keys at least as new as the generation they claim.
            generation = self._stored_generation()
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
            self._loaded = (multi, generation)
            return multi, generation

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

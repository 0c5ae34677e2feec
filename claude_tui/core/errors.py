"""The exception hierarchy shared by every interface (CLI, app, MCP).

Each error carries a one-line message meant for a person and the exit code
a command-line front end should use.
"""

from __future__ import annotations


class ClaudeTUIError(Exception):
    """Base class for every error the product reports to a user."""

    exit_code = 1
    title = "Error"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return self.message


class BadInput(ClaudeTUIError):
    """The caller passed something invalid; nothing was written."""

    exit_code = 2
    title = "Invalid input"


class NotFound(ClaudeTUIError):
    """A looked-up object does not exist (or is not visible to the caller)."""

    exit_code = 1
    title = "Not found"


class StoreUnusable(ClaudeTUIError):
    """The data dir or database cannot be used (unreadable, not SQLite, too new)."""

    exit_code = 2
    title = "Unusable data"


class ConfigError(ClaudeTUIError):
    """The configuration file or environment holds an invalid setting."""

    exit_code = 2
    title = "Configuration error"


class StoreCorrupt(ClaudeTUIError):
    """The database file is damaged; the latest verified backup can replace it."""

    exit_code = 2
    title = "Damaged database"


class SecretUnavailable(ClaudeTUIError):
    """An encrypted value cannot be opened (missing or wrong key); nothing was changed."""

    exit_code = 2
    title = "Encryption key"


class BackupFailed(ClaudeTUIError):
    """A backup, its verification or a restore did not complete; nothing was swapped in."""

    exit_code = 1
    title = "Backup failed"


class StoreReplaced(ClaudeTUIError):
    """A restore moved the database file this process still has open; nothing was written."""

    exit_code = 2
    title = "Database replaced"

    def __init__(self, message: str = "", *, title: str | None = None) -> None:
        super().__init__(
            message or "the database was replaced by a restore; restart claude-tui", title=title
        )


class SyncUnavailable(ClaudeTUIError):
    """The swarm's Redis cannot be reached for an operation that needs it now."""

    exit_code = 1
    title = "Sync"


class StoreReadOnly(StoreUnusable):
    """The database cannot be written (immutable file, read-only mount); nothing was written."""

    title = "Read-only database"


class DiskFull(StoreUnusable):
    """A write found the disk full; nothing was written."""

    title = "Disk full"

"""Storage-level errors; the registry translates them to API ``Status`` errors."""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every storage error; ``key`` names the key concerned."""

    def __init__(self, key: str, message: str = "") -> None:
        super().__init__(message or key)
        self.key = key


class KeyExistsError(StorageError):
    """A create found the key already present."""


class KeyNotFoundError(StorageError):
    """The key does not exist."""


class RevisionConflictError(StorageError):
    """The key's mod revision is not the one the write expected."""


class CompactedError(StorageError):
    """The requested revision is older than the compacted history.

    ``requested`` is the revision asked for, ``compacted`` the compaction point.
    """

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__("", f"required revision {requested} has been compacted ({compacted})")
        self.requested = requested
        self.compacted = compacted


class StorageUnavailableError(StorageError):
    """The backend cannot take writes (closed or failed)."""

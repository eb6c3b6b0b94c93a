"""Server-side apply and ``metadata.managedFields`` (upstream's fieldmanager)."""

from apiserver.registry.managedfields.manager import (
    APPLY,
    UPDATE,
    Entry,
    Scope,
    apply,
    decode_entries,
    encode_entries,
    record_update,
)

__all__ = [
    "APPLY",
    "UPDATE",
    "Entry",
    "Scope",
    "apply",
    "decode_entries",
    "encode_entries",
    "record_update",
]

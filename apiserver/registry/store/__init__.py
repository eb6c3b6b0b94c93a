"""The generic registry store: CRUD semantics for any resource.

Like upstream's ``genericregistry.Store``, it handles everything that is the
same for all kinds — keys, optimistic concurrency, metadata, preconditions,
graceful deletion and finalizers, dry runs — and asks the resource's
:class:`~apiserver.registry.strategy.Strategy` for the rest. Storage errors
become API errors here and nowhere else.

Reads come from the watch cache; the object a write returns is decoded from
exactly the bytes its watch event carries.

Every write passes the admission chain (:mod:`apiserver.admission`) as upstream's store
and handlers run it: mutating admission once the object is decoded and defaulted (before
a generated name is chosen), validating admission once the kind's validation passed and
just before storage; deletes pass both with the stored object as the old object.
"""

from __future__ import annotations

from apiserver.registry.store.deletes import (
    FOREGROUND_FINALIZER,
    ORPHAN_FINALIZER,
    DeleteStore,
    deletion_finalizers,
)
from apiserver.registry.store.options import (
    Clock,
    DeleteOptions,
    DeleteResult,
    Finisher,
    ListOptions,
    ListResult,
    decode_continue,
    delete_options,
    encode_continue,
    now_utc,
    order_object,
    write_options,
)
from apiserver.storage.cache import DELETED


class Store(DeleteStore):
    """CRUD for one resource over storage and its watch cache."""


__all__ = [
    "DELETED",
    "FOREGROUND_FINALIZER",
    "ORPHAN_FINALIZER",
    "Clock",
    "DeleteOptions",
    "DeleteResult",
    "Finisher",
    "ListOptions",
    "ListResult",
    "Store",
    "decode_continue",
    "delete_options",
    "deletion_finalizers",
    "encode_continue",
    "now_utc",
    "order_object",
    "write_options",
]

"""Keep the system namespaces in existence, as kube-apiserver's system-namespaces controller.

Upstream checks every minute and creates any of ``default``, ``kube-system``,
``kube-public`` and ``kube-node-lease`` that is missing (``kube-node-lease`` may be
deleted by a client; the other three are protected from deletion). An already-existing
namespace is left alone, whatever its state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from apiserver.api import errors
from apiserver.registry.store import Store
from apiserver.storage.cache import CachedObject

log = logging.getLogger(__name__)

#: Namespaces that exist from boot and are re-created when missing.
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
#: Seconds between checks (upstream: one minute).
DEFAULT_INTERVAL = 60.0


async def ensure_system_namespaces(
    namespaces: Store, lookup: Callable[[str], CachedObject | None]
) -> list[str]:
    """Create every missing system namespace; return the names created.

    ``lookup`` answers from the watch cache; a create that races with another
    writer (AlreadyExists) is not an error.
    """
    created: list[str] = []
    for name in SYSTEM_NAMESPACES:
        if lookup(name) is not None:
            continue
        with contextlib.suppress(errors.ApiError):
            await namespaces.create(
                None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            )
            created.append(name)
    return created


async def keep_system_namespaces(
    namespaces: Store, lookup: Callable[[str], CachedObject | None], interval: float
) -> None:
    """Run :func:`ensure_system_namespaces` every ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        try:
            created = await ensure_system_namespaces(namespaces, lookup)
        except Exception:
            log.exception("re-creating system namespaces failed")
            continue
        for name in created:
            log.info("re-created system namespace %s", name)

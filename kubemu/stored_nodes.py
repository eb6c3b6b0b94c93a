"""Nodes stored by an earlier run that this ``kubemu up`` does not run.

A data directory keeps the Node objects of every earlier run. When ``kubemu up``
now runs fewer (or differently named) node agents, the extra Nodes stay in the
API until someone deletes them (the node lifecycle controller marks them
NotReady once their leases age). :func:`not_run_message` says which, in one log
line, so a user is not surprised by them in ``kubectl get nodes``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import httpx

from controllers.client.config import ConfigError, load_kubeconfig


def stored_node_names(kubeconfig: Path, timeout: float = 5.0) -> list[str]:
    """Names of every Node in the API the kubeconfig points at (sorted).

    Raises ``httpx.HTTPError`` or :class:`ConfigError` when it cannot be asked.
    """
    config = load_kubeconfig(kubeconfig)
    with httpx.Client(base_url=config.server, headers=config.headers(),
                      verify=config.verify(), timeout=timeout) as client:
        resp = client.get("/api/v1/nodes")
        resp.raise_for_status()
        items = resp.json().get("items") or []
    return sorted(str(item["metadata"]["name"]) for item in items)


def not_run(stored: Iterable[str], running: Iterable[str]) -> list[str]:
    """The ``stored`` names not in ``running``, sorted."""
    return sorted(set(stored) - set(running))


def not_run_message(kubeconfig: Path, running: Iterable[str]) -> str | None:
    """One log line naming the stored Nodes that no node agent of this run serves;
    ``None`` when there are none or the API cannot be asked."""
    try:
        names = not_run(stored_node_names(kubeconfig), running)
    except (httpx.HTTPError, ConfigError, OSError, ValueError, KeyError, TypeError):
        return None
    if not names:
        return None
    listed = ", ".join(names)
    return (f"stored nodes of an earlier run that this run does not run: {listed} "
            f"(kubectl delete node {' '.join(names)} removes them)")

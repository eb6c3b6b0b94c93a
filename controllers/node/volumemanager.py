"""The node agent's volumes: written from the API for host processes, kept current.

:class:`VolumeManager` reads the ConfigMaps and Secrets a pod's environment and volumes
name, requests its projected ServiceAccount tokens (the TokenRequest API, bound to the pod)
and, every ``sync_frequency`` seconds (the kubelet's ``--sync-frequency``, one minute by
default), rewrites the updatable volumes of the running pods (:func:`.volumes.refresh`):
an edited ConfigMap reaches the files of a running pod within that period, as on a real
node, and a volume that cannot be refreshed records the kubelet's ``FailedMount`` Event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from controllers.client.errors import ApiError
from controllers.client.rest import RestClient
from controllers.node import volumes
from controllers.node.podenv import TokenFn
from controllers.node.runtime import PodRunner

__all__ = ["DEFAULT_SYNC_FREQUENCY", "VolumeManager"]

log = logging.getLogger("controllers.node")

#: Seconds between volume refreshes (the kubelet's ``--sync-frequency`` default).
DEFAULT_SYNC_FREQUENCY = 60.0

#: The running pods: (runner, current pod object) pairs.
Running = Callable[[], Iterable[tuple[PodRunner, Mapping[str, Any]]]]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class VolumeManager:
    """The volumes of one node's pods under ``pods_dir`` (one directory per pod uid)."""

    def __init__(self, client: RestClient, pods_dir: str,
                 sync_frequency: float = DEFAULT_SYNC_FREQUENCY) -> None:
        self.client = client
        self.pods_dir = pods_dir
        self.sync_frequency = sync_frequency

    async def fetch(self, kind: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        """A ConfigMap or Secret for a pod's environment (None: missing or unreadable)."""
        try:
            return await self.client.request("GET", f"/api/v1/namespaces/{namespace}/{kind}/"
                                             f"{name}")
        except (ApiError, httpx.HTTPError) as exc:
            if not isinstance(exc, ApiError) or exc.code != 404:
                log.warning("reading %s %s/%s: %s", kind, namespace, name, exc)
            return None

    def token_for(self, pod: Mapping[str, Any]) -> TokenFn:
        """Requests tokens bound to ``pod`` (its name and uid)."""
        md = _m(pod.get("metadata"))

        async def token(namespace: str, sa: str, audience: str, expiry: int) -> str:
            body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                    "spec": {"audiences": [audience] if audience else [],
                             "expirationSeconds": expiry,
                             "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                                "name": md.get("name"), "uid": md.get("uid")}}}
            out = await self.client.request(
                "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{sa}/token", body=body)
            return str(_m(out.get("status")).get("token") or "")
        return token

    async def materialise(self, pod: Mapping[str, Any]) -> str:
        """Write ``pod``'s volumes (see :func:`.volumes.materialise`); returns its root."""
        return await volumes.materialise(pod, self.pods_dir, self.fetch, self.token_for(pod),
                                         self.claim_path)

    async def claim_path(self, namespace: str, claim: str) -> str | None:
        """The host directory (``hostPath`` or ``local``) of the PersistentVolume bound to
        ``namespace/claim``, or None."""
        try:
            pvc = await self.client.request(
                "GET", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}")
            name = str(_m(pvc.get("spec")).get("volumeName") or "")
            if not name:
                return None
            pv = await self.client.request("GET", f"/api/v1/persistentvolumes/{name}")
        except (ApiError, httpx.HTTPError):
            return None
        spec = _m(pv.get("spec"))
        path = _m(spec.get("hostPath")).get("path") or _m(spec.get("local")).get("path")
        return str(path) if path else None

    async def mount_error(self, pod: Mapping[str, Any]) -> str | None:
        """The ``FailedMount`` message of ``pod``'s volumes: a missing ConfigMap or Secret
        (:func:`.volumes.mount_error`), or a claim that is missing or not bound yet."""
        found = await volumes.mount_error(pod, self.fetch)
        if found is not None:
            return found
        namespace = str(_m(pod.get("metadata")).get("namespace") or "default")
        for volume, claim in volumes.claims_of(pod):
            why = await self._claim_problem(namespace, claim)
            if why:
                return (f"Unable to attach or mount volumes: unmounted volumes=[{volume}], "
                        f"unattached volumes=[], failed to process volumes=[{volume}]: "
                        f"error processing PVC {namespace}/{claim}: {why}")
        return None

    async def _claim_problem(self, namespace: str, claim: str) -> str:
        try:
            pvc = await self.client.request(
                "GET", f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}")
        except ApiError as exc:
            if exc.code == 404:
                return (f"failed to fetch PVC from API server: persistentvolumeclaims "
                        f'"{claim}" not found')
            return ""
        except httpx.HTTPError:
            return ""
        if not _m(pvc.get("spec")).get("volumeName") or \
                _m(pvc.get("status")).get("phase") != "Bound":
            return "PVC is not bound"
        return ""

    def remove(self, uid: str) -> None:
        """Delete the volumes of the pod ``uid`` (it is gone)."""
        volumes.remove_pod_dir(self.pods_dir, uid)

    async def sync(self, runner: PodRunner, pod: Mapping[str, Any]) -> None:
        """Refresh one pod's volumes; a failure is a ``FailedMount`` Event on the pod."""
        for message in await volumes.refresh(pod, self.pods_dir, self.fetch,
                                             self.token_for(pod)):
            await runner.event("Warning", "FailedMount", message, "")

    async def run(self, running: Running) -> None:
        """Refresh the running pods' volumes every ``sync_frequency`` seconds, forever."""
        while True:
            await asyncio.sleep(self.sync_frequency)
            for runner, pod in list(running()):
                if runner.terminating:
                    continue
                try:
                    await self.sync(runner, pod)
                except (ApiError, httpx.HTTPError, OSError) as exc:
                    log.warning("refreshing the volumes of pod %s/%s: %s", runner.namespace,
                                runner.pod_name, exc)

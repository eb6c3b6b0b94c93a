"""What a pod references: the objects a node may read for it (upstream's Node-graph
populator and ``podutil.VisitPodSecretNames`` / ``VisitPodConfigmapNames``).

:func:`pod_references` returns ``(kind, namespace, name)`` triples with kind one of
``serviceaccount``, ``secret``, ``configmap`` and ``pvc``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: (kind, namespace, name) of an object a pod uses.
Ref = tuple[str, str, str]


def _containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or ():
            if isinstance(container, dict):
                yield container


def pod_references(pod: dict[str, Any]) -> set[Ref]:
    """What a pod uses (upstream's graph populator and ``VisitPod*Names``)."""
    md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    ns, pod_name = str(md.get("namespace") or ""), str(md.get("name") or "")
    refs: set[Ref] = set()

    def add(kind: str, name: Any) -> None:
        if isinstance(name, str) and name:
            refs.add((kind, ns, name))

    add("serviceaccount", spec.get("serviceAccountName") or "default")
    for secret in spec.get("imagePullSecrets") or ():
        add("secret", (secret or {}).get("name"))
    for container in _containers(spec):
        for source in container.get("envFrom") or ():
            add("secret", ((source or {}).get("secretRef") or {}).get("name"))
            add("configmap", ((source or {}).get("configMapRef") or {}).get("name"))
        for env in container.get("env") or ():
            value_from = (env or {}).get("valueFrom") or {}
            add("secret", (value_from.get("secretKeyRef") or {}).get("name"))
            add("configmap", (value_from.get("configMapKeyRef") or {}).get("name"))
    for volume in spec.get("volumes") or ():
        volume = volume or {}
        add("secret", (volume.get("secret") or {}).get("secretName"))
        add("configmap", (volume.get("configMap") or {}).get("name"))
        add("pvc", (volume.get("persistentVolumeClaim") or {}).get("claimName"))
        if volume.get("ephemeral") is not None:
            add("pvc", f"{pod_name}-{volume.get('name', '')}")
        for source in (volume.get("projected") or {}).get("sources") or ():
            add("secret", ((source or {}).get("secret") or {}).get("name"))
            add("configmap", ((source or {}).get("configMap") or {}).get("name"))
        for key in ("csi", "cephfs", "rbd", "iscsi", "azureFile", "flexVolume", "scaleIO",
                    "storageos"):
            found = volume.get(key) or {}
            ref = found.get("nodePublishSecretRef") or found.get("secretRef") or {}
            add("secret", ref.get("name") or found.get("secretName"))
    return refs

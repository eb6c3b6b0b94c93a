"""ServiceAccount (``plugin/pkg/admission/serviceaccount``) for pods, on create.

Mutating phase:

* a pod that names no service account gets ``default`` (``serviceAccountName`` and its
  deprecated mirror ``serviceAccount``, as the v1 encoding shows them);
* the account must exist: otherwise 403 ``error looking up service account ns/name:
  serviceaccount "name" not found``. The ``default`` account is looked up a few times
  over about a second first, since the serviceaccount controller makes it right after
  its namespace (upstream retries the same way);
* unless the pod or the account opts out (``automountServiceAccountToken: false``), the
  projected ``kube-api-access-<suffix>`` volume (a bound token, the cluster CA from the
  ``kube-root-ca.crt`` ConfigMap, the namespace) is added and mounted read-only at
  ``/var/run/secrets/kubernetes.io/serviceaccount`` in every container that has nothing
  mounted there;
* the account's ``imagePullSecrets`` are copied to a pod that has none.

Mirror pods are never changed; they may not name a service account (validating phase).
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from apiserver.admission.attributes import AdmissionAttributes, ObjectSource, Operation, forbidden
from apiserver.api import meta
from apiserver.api.resources import served

SERVICEACCOUNTS = served("", "v1", "serviceaccounts")
DEFAULT_SERVICE_ACCOUNT = "default"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
TOKEN_VOLUME_PREFIX = "kube-api-access-"
TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
#: Upstream's ``WarnOnlyBoundTokenExpirationSeconds`` (1 h + 7 s).
TOKEN_EXPIRATION_SECONDS = 3607
_DEFAULT_ACCOUNT_ATTEMPTS = 10


def token_volume(name: str) -> dict[str, Any]:
    """The projected volume upstream's ``TokenVolumeSource`` describes, named ``name``."""
    return {"name": name, "projected": {
        "sources": [
            {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                                     "path": "token"}},
            {"configMap": {"name": ROOT_CA_CONFIGMAP,
                           "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
        ],
        "defaultMode": 420,
    }}


def _is_mirror(pod: dict[str, Any]) -> bool:
    annotations = (pod.get("metadata") or {}).get("annotations")
    return isinstance(annotations, dict) and MIRROR_POD_ANNOTATION in annotations


def _should_automount(account: dict[str, Any], spec: dict[str, Any]) -> bool:
    if isinstance(spec.get("automountServiceAccountToken"), bool):
        return bool(spec["automountServiceAccountToken"])
    if isinstance(account.get("automountServiceAccountToken"), bool):
        return bool(account["automountServiceAccountToken"])
    return True


def mount_token(spec: dict[str, Any], rng: random.Random | None = None) -> None:
    """Add the token volume to ``spec`` and mount it where containers need it."""
    volumes = spec.get("volumes")
    volumes = volumes if isinstance(volumes, list) else []
    existing = next((v.get("name") for v in volumes if isinstance(v, dict)
                     and str(v.get("name", "")).startswith(TOKEN_VOLUME_PREFIX)), None)
    volume_name = str(existing) if existing else meta.generate_name(TOKEN_VOLUME_PREFIX, rng)
    needed = False
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            if not isinstance(container, dict):
                continue
            mounts = container.get("volumeMounts")
            mounts = mounts if isinstance(mounts, list) else []
            if any(isinstance(m, dict) and m.get("mountPath") == TOKEN_MOUNT_PATH
                   for m in mounts):
                continue
            mounts.append({"name": volume_name, "readOnly": True,
                           "mountPath": TOKEN_MOUNT_PATH})
            container["volumeMounts"] = mounts
            needed = True
    if needed and existing is None:
        volumes.append(token_volume(volume_name))
        spec["volumes"] = volumes


class ServiceAccountAdmission:
    """Defaults, checks and mounts pods' service accounts."""

    name = "ServiceAccount"
    core_resources = frozenset({"pods"})
    #: Pause between lookups of a missing ``default`` account (upstream: 100 to 200 ms).
    retry_interval = 0.1

    def __init__(self, source: ObjectSource, *, mount_tokens: bool = True) -> None:
        self.source = source
        self.mount_tokens = mount_tokens

    def handles(self, operation: Operation) -> bool:
        return operation is Operation.CREATE

    async def _account(self, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.source.cached(SERVICEACCOUNTS, namespace, name)
        if found is not None:
            return found
        attempts = _DEFAULT_ACCOUNT_ATTEMPTS if name == DEFAULT_SERVICE_ACCOUNT else 1
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self.retry_interval)
            found = await self.source.live(SERVICEACCOUNTS, namespace, name)
            if found is not None:
                return found
        return None

    async def admit(self, attrs: AdmissionAttributes) -> None:
        pod = attrs.object
        if not attrs.is_core("pods") or pod is None or _is_mirror(pod):
            return
        spec = pod.get("spec")
        if not isinstance(spec, dict):
            return
        name = spec.get("serviceAccountName") or spec.get("serviceAccount")
        if name in (None, ""):
            name = DEFAULT_SERVICE_ACCOUNT
            spec["serviceAccountName"] = spec["serviceAccount"] = name
        account = await self._account(attrs.namespace, str(name))
        if account is None:
            raise forbidden(attrs, f"error looking up service account {attrs.namespace}/{name}: "
                                   f'serviceaccount "{name}" not found')
        if self.mount_tokens and _should_automount(account, spec):
            mount_token(spec)
        pull = account.get("imagePullSecrets")
        if not spec.get("imagePullSecrets") and isinstance(pull, list) and pull:
            spec["imagePullSecrets"] = [{"name": s.get("name", "")} for s in pull
                                        if isinstance(s, dict)]

    async def validate(self, attrs: AdmissionAttributes) -> None:
        pod = attrs.object
        if not attrs.is_core("pods") or pod is None or not _is_mirror(pod):
            return
        spec = pod.get("spec") or {}
        if spec.get("serviceAccountName") or spec.get("serviceAccount"):
            raise forbidden(attrs, "a mirror pod may not reference service accounts")

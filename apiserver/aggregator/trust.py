"""The ``kube-system/extension-apiserver-authentication`` ConfigMap (upstream's
``ClusterAuthenticationTrustController``): how extension servers learn to trust this
apiserver's client CA and its front proxy.

Contract: :func:`desired_data` renders the keys upstream writes — ``client-ca-file`` (PEM,
from ``--client-ca-file`` when set) and, with ``--requestheader-client-ca-file``,
``requestheader-client-ca-file`` (PEM) and ``requestheader-allowed-names``,
``-username-headers``, ``-group-headers``, ``-extra-headers-prefix`` (and
``-uid-headers`` when set) as JSON arrays. CA bundles already in the ConfigMap are kept
and ours added (several apiservers with different CAs share it, as upstream combines
them). :func:`publish` creates or updates the ConfigMap (at start), writing only on a
change; errors are the caller's to log.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from apiserver.api import errors
from apiserver.api.resources import CONFIGMAPS
from apiserver.auth.config import AuthenticationOptions
from apiserver.registry.registry import Registry

NAMESPACE = "kube-system"
NAME = "extension-apiserver-authentication"
_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def combine_pem(existing: str, ours: bytes) -> str:
    """The certificates of ``existing`` then those of ``ours`` not in it, as PEM."""
    blocks: list[bytes] = []
    for source in (existing.encode("ascii", "replace"), ours):
        for block in _PEM.findall(source):
            if block not in blocks:
                blocks.append(block)
    return "".join(block.decode("ascii") + "\n" for block in blocks)


def _json_list(values: tuple[str, ...]) -> str:
    return json.dumps(list(values), separators=(",", ":"))


def desired_data(options: AuthenticationOptions, existing: Mapping[str, str]) \
        -> dict[str, str]:
    """The ConfigMap's ``data`` (see the module docstring)."""
    data = dict(existing)
    if options.client_ca_file is not None:
        data["client-ca-file"] = combine_pem(existing.get("client-ca-file", ""),
                                             options.client_ca_file.read_bytes())
    front = options.requestheader
    if front.client_ca_file is not None:
        data["requestheader-client-ca-file"] = combine_pem(
            existing.get("requestheader-client-ca-file", ""), front.client_ca_file.read_bytes())
        data["requestheader-allowed-names"] = _json_list(front.allowed_names)
        data["requestheader-username-headers"] = _json_list(front.username_headers)
        data["requestheader-group-headers"] = _json_list(front.group_headers)
        data["requestheader-extra-headers-prefix"] = _json_list(front.extra_headers_prefix)
        if front.uid_headers:
            data["requestheader-uid-headers"] = _json_list(front.uid_headers)
    return data


async def publish(registry: Registry, options: AuthenticationOptions) -> None:
    """Create or update the ConfigMap (nothing to publish: nothing written)."""
    if options.client_ca_file is None and options.requestheader.client_ca_file is None:
        return
    store = registry.store(CONFIGMAPS)
    found = store.cache.get(store.key(NAMESPACE, NAME))
    existing = {str(k): str(v) for k, v in ((found.obj.get("data") or {}) if found else {})
                .items()}
    wanted = desired_data(options, existing)
    if found is not None and wanted == existing:
        return

    def update(obj: dict[str, Any]) -> dict[str, Any]:
        obj["data"] = desired_data(options, obj.get("data") or {})
        return obj

    def create() -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": NAME, "namespace": NAMESPACE}, "data": wanted}

    try:
        await store.guaranteed_update(NAMESPACE, NAME, update, create_if_missing=create)
    except errors.ApiError as exc:
        if exc.code != 409:  # another apiserver created it first: theirs holds ours next start
            raise
        await store.guaranteed_update(NAMESPACE, NAME, update)

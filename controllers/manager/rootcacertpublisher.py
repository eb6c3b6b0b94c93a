"""The root-ca-cert-publisher controller: a ``kube-root-ca.crt`` ConfigMap in every namespace.

As kube-controller-manager's ``root-ca-cert-publisher``
(``pkg/controller/certificates/rootcacertpublisher``): keyed by namespace, it keeps one
ConfigMap ``kube-root-ca.crt`` in each namespace with exactly ``data: {ca.crt: <bundle>}``
and the ``kubernetes.io/description`` annotation. It creates it in a namespace that is
added (or updated while ``Active``), creates it again when it is deleted, and resets its
``data`` and the annotation when someone changes them (other fields, such as labels or
other annotations, are left alone, as upstream does). The projected ``kube-api-access-*``
volume that ServiceAccount admission adds to pods reads ``ca.crt`` from it, so in-cluster
clients can verify the apiserver.

The bundle is ``--root-ca-file`` (PEM certificates, checked at start), or without it the
CA the manager's own kubeconfig trusts (upstream falls back to its client config's CA data
the same way); with neither it is empty, as upstream publishes then.

Only ConfigMaps named ``kube-root-ca.crt`` are listed and watched (a field selector): the
controller never looks at any other.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from cryptography import x509

from apiserver.api.resources import NAMESPACES, served
from controllers.client.config import ClientConfig
from controllers.client.errors import ApiError, is_not_found
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.writer import ObjectWriter

__all__ = ["DESCRIPTION", "DESCRIPTION_ANNOTATION", "ROOT_CA_CERT_PUBLISHER", "ROOT_CA_CONFIGMAP",
           "RootCACertPublisher", "add_root_ca_flag", "root_ca_bundle"]

log = logging.getLogger(__name__)

CONFIGMAPS = served("", "v1", "configmaps")
#: Upstream's ``RootCACertConfigMapName``, ``DescriptionAnnotation`` and ``Description``.
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. "
    "No other usage is guaranteed across distributions of Kubernetes clusters."
)


def _meta(obj: Any) -> dict[str, Any]:
    md = obj.get("metadata") if isinstance(obj, dict) else None
    return md if isinstance(md, dict) else {}


class RootCACertPublisher(KeyedController):
    """Keeps ``kube-root-ca.crt`` in every namespace (keys: namespace names)."""

    name = "root_ca_cert_publisher"

    def __init__(self, configmaps: Store, writer: ObjectWriter, root_ca: bytes) -> None:
        super().__init__()
        self.configmaps = configmaps
        self.writer = writer
        self.data = {"ca.crt": root_ca.decode()}

    def on_namespace_add(self, obj: Any) -> None:
        """Every added namespace is checked (a terminating one refuses the create)."""
        name = _meta(obj).get("name")
        if name:
            self.queue.add(str(name))

    def on_namespace_update(self, _old: Any, new: Any) -> None:
        """Updates of active namespaces only (upstream's ``namespaceUpdated``)."""
        if isinstance(new, dict) and (new.get("status") or {}).get("phase") == "Active":
            self.on_namespace_add(new)

    def on_configmap(self, obj: Any) -> None:
        """A deleted or changed ``kube-root-ca.crt`` sends its namespace to be checked."""
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        md = _meta(obj)
        if md.get("name") == ROOT_CA_CONFIGMAP and md.get("namespace"):
            self.queue.add(str(md["namespace"]))

    def on_configmap_update(self, _old: Any, new: Any) -> None:
        """Handler for ConfigMap updates."""
        self.on_configmap(new)

    async def sync(self, key: str) -> None:
        current = self.configmaps.get(key, ROOT_CA_CONFIGMAP)
        if current is None:
            await self._create(key)
            return
        annotations = dict(_meta(current).get("annotations") or {})
        if current.get("data") == self.data and annotations.get(DESCRIPTION_ANNOTATION):
            return
        annotations[DESCRIPTION_ANNOTATION] = DESCRIPTION
        updated = {**current, "data": dict(self.data),
                   "metadata": {**_meta(current), "annotations": annotations}}
        await self.writer.update(CONFIGMAPS, key, updated)
        self.metrics.writes += 1

    async def _create(self, namespace: str) -> None:
        configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": namespace,
                                  "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                     "data": dict(self.data)}
        try:
            await self.writer.create(CONFIGMAPS, namespace, configmap)
            self.metrics.writes += 1
        except ApiError as exc:
            # As upstream, no retry when the namespace is gone or terminating; any other
            # error (AlreadyExists while the cache lags, too) retries, and the retry then
            # finds the object in the cache and corrects it.
            if is_not_found(exc) or exc.has_cause("NamespaceTerminating"):
                return
            raise


def root_ca_bundle(root_ca_file: str, config: ClientConfig | None) -> bytes:
    """The bundle to publish: ``root_ca_file`` (raises ValueError unless it holds PEM
    certificates), else the CA the client ``config`` trusts, else empty."""
    if root_ca_file:
        bundle = Path(root_ca_file).read_bytes()
        x509.load_pem_x509_certificates(bundle)  # ValueError when it holds none
        return bundle
    if config is not None and config.ca_data:
        return config.ca_data
    if config is not None and config.ca_file:
        return Path(config.ca_file).read_bytes()
    return b""


def add_root_ca_flag(parser: argparse.ArgumentParser) -> None:
    """``--root-ca-file``: the manager-wide flag (upstream's serviceaccount controller
    options), read by this controller and by ``serviceaccount-token``."""
    parser.add_argument("--root-ca-file", default="",
                        help="the cluster's CA bundle (PEM): published as ca.crt of the "
                        "kube-root-ca.crt ConfigMaps and put into ServiceAccount token "
                        "Secrets (default: the CA of the manager's kubeconfig for the "
                        "ConfigMaps, none for the Secrets)")


def _build(ctx: ControllerContext) -> KeyedController:
    bundle = root_ca_bundle(str(ctx.args.root_ca_file or ""), ctx.client.config)
    if not bundle:
        log.warning("root-ca-cert-publisher: no --root-ca-file and no CA in the kubeconfig; "
                    "kube-root-ca.crt ConfigMaps get an empty ca.crt")
    namespaces = ctx.informers.informer_for(NAMESPACES)
    configmaps = ctx.informers.informer_for(
        CONFIGMAPS, field_selector=f"metadata.name={ROOT_CA_CONFIGMAP}")
    controller = RootCACertPublisher(configmaps.store, ctx.writer, bundle)
    namespaces.add_event_handler(controller.on_namespace_add, controller.on_namespace_update)
    configmaps.add_event_handler(on_update=controller.on_configmap_update,
                                 on_delete=controller.on_configmap)
    return controller


#: One worker, as upstream starts it.
ROOT_CA_CERT_PUBLISHER = ControllerSpec("root-ca-cert-publisher", _build, lambda _args: 1)

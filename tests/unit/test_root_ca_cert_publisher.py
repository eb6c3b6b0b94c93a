"""The root-ca-cert-publisher: ``kube-root-ca.crt`` in every namespace, kept as upstream does."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from controllers.client.config import ClientConfig
from controllers.client.errors import ApiError
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.manager.rootcacertpublisher import (
    DESCRIPTION,
    DESCRIPTION_ANNOTATION,
    ROOT_CA_CONFIGMAP,
    RootCACertPublisher,
    root_ca_bundle,
)
from kubemu.pki import Pki

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
WANTED = {"ca.crt": CA.decode()}


class FakeApi:
    """The writer: creates and updates land in the informer's store, as the watch would
    bring them; ``refuse`` answers the next create with an error instead."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.writes: list[tuple[str, dict[str, Any]]] = []
        self.refuse: ApiError | None = None

    async def create(self, _info: Any, namespace: str | None, obj: Any) -> dict[str, Any]:
        if self.refuse is not None:
            raise self.refuse
        self.writes.append(("create", obj))
        self.store.add(obj)
        return dict(obj)

    async def update(self, _info: Any, namespace: str | None, obj: Any) -> dict[str, Any]:
        self.writes.append(("update", obj))
        self.store.add(obj)
        return dict(obj)

    async def delete(self, _info: Any, namespace: str | None, name: str) -> dict[str, Any]:
        raise AssertionError("the publisher never deletes")


def _publisher() -> tuple[RootCACertPublisher, Store, FakeApi]:
    store = Store()
    api = FakeApi(store)
    return RootCACertPublisher(store, api, CA), store, api


def _drain(controller: RootCACertPublisher) -> list[str]:
    """Sync every queued key once; the keys."""
    keys: list[str] = []

    async def run() -> None:
        while len(controller.queue):
            key = await controller.queue.get()
            keys.append(key)
            await controller.sync(key)
            controller.queue.done(key)
    asyncio.run(run())
    return keys


def _namespace(name: str, phase: str = "Active") -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"phase": phase}}


def test_a_new_namespace_gets_the_configmap_with_upstreams_description() -> None:
    controller, store, api = _publisher()
    controller.on_namespace_add(_namespace("shop"))
    assert _drain(controller) == ["shop"]
    created = store.get("shop", ROOT_CA_CONFIGMAP)
    assert created is not None and api.writes[0][0] == "create"
    assert created["data"] == WANTED
    assert created["metadata"]["annotations"] == {DESCRIPTION_ANNOTATION: DESCRIPTION}
    assert DESCRIPTION == (
        "Contains a CA bundle that can be used to verify the kube-apiserver when using "
        "internal endpoints such as the internal service IP or kubernetes.default.svc. No "
        "other usage is guaranteed across distributions of Kubernetes clusters.")
    controller.on_namespace_update(_namespace("shop"), _namespace("shop"))
    _drain(controller)
    assert len(api.writes) == 1  # already right: nothing written


def test_a_deleted_configmap_is_made_again() -> None:
    controller, store, api = _publisher()
    controller.on_namespace_add(_namespace("shop"))
    _drain(controller)
    gone = store.get("shop", ROOT_CA_CONFIGMAP)
    assert gone is not None
    store.delete(gone)
    controller.on_configmap(DeletedFinalStateUnknown("shop/kube-root-ca.crt", gone))
    assert _drain(controller) == ["shop"]
    assert [w[0] for w in api.writes] == ["create", "create"]
    assert store.get("shop", ROOT_CA_CONFIGMAP) is not None


def test_a_changed_configmap_is_reset_keeping_what_else_it_carries() -> None:
    controller, store, api = _publisher()
    changed = {"metadata": {"name": ROOT_CA_CONFIGMAP, "namespace": "shop",
                            "resourceVersion": "7", "labels": {"mine": "yes"},
                            "annotations": {"other": "x"}},
               "data": {"ca.crt": "forged", "extra": "1"}}
    store.add(changed)
    controller.on_configmap_update(changed, changed)
    assert _drain(controller) == ["shop"]
    kind, updated = api.writes[0]
    assert kind == "update"
    assert updated["data"] == WANTED
    assert updated["metadata"]["annotations"] == {"other": "x",
                                                  DESCRIPTION_ANNOTATION: DESCRIPTION}
    assert updated["metadata"]["labels"] == {"mine": "yes"}
    assert updated["metadata"]["resourceVersion"] == "7"  # an optimistic update
    # Only the description annotation gone: it comes back.
    bare = {**updated, "metadata": {**updated["metadata"], "annotations": {}}}
    store.add(bare)
    controller.on_configmap_update(updated, bare)
    _drain(controller)
    assert api.writes[-1][1]["metadata"]["annotations"] == {DESCRIPTION_ANNOTATION: DESCRIPTION}


def test_only_its_own_configmaps_and_active_namespace_updates_count() -> None:
    controller, _store, _api = _publisher()
    other = {"metadata": {"name": "app-config", "namespace": "shop"}}
    controller.on_configmap_update(other, other)
    controller.on_configmap(other)
    controller.on_namespace_update(_namespace("old"), _namespace("old", "Terminating"))
    assert len(controller.queue) == 0


@pytest.mark.parametrize("status", [
    {"reason": "NotFound", "code": 404},
    {"reason": "Forbidden", "code": 403,
     "details": {"causes": [{"reason": "NamespaceTerminating"}]}},
])
def test_no_retry_for_a_namespace_that_is_gone_or_terminating(status: dict[str, Any]) -> None:
    controller, store, api = _publisher()
    api.refuse = ApiError(int(status["code"]), {"kind": "Status", **status})
    controller.on_namespace_add(_namespace("old"))
    _drain(controller)  # no exception: nothing to retry
    assert store.get("old", ROOT_CA_CONFIGMAP) is None


def test_other_create_errors_retry() -> None:
    controller, _store, api = _publisher()
    api.refuse = ApiError(409, {"kind": "Status", "reason": "AlreadyExists", "code": 409})
    controller.on_namespace_add(_namespace("shop"))
    with pytest.raises(ApiError):
        _drain(controller)


def test_the_bundle_is_the_root_ca_file_else_the_kubeconfigs_ca(tmp_path: Path) -> None:
    pki = Pki(tmp_path)
    pki.ensure_serving()
    bundle = pki.ca_cert.read_bytes()
    assert root_ca_bundle(str(pki.ca_cert), None) == bundle
    config = ClientConfig("https://127.0.0.1:6443", ca_data=b"from-kubeconfig")
    assert root_ca_bundle("", config) == b"from-kubeconfig"
    assert root_ca_bundle("", ClientConfig("https://x", ca_file=str(pki.ca_cert))) == bundle
    assert root_ca_bundle("", ClientConfig("http://127.0.0.1:8080")) == b""
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ValueError):
        root_ca_bundle(str(junk), config)

"""CRD conversion webhooks: ConversionReview v1 to a real HTTPS webhook written in the test.

One CRD serves ``v1`` (storage, ``spec.hostPort: "host:port"``) and ``v2`` (``spec.host``
and ``spec.port``), as upstream's conversion e2e test does; the webhook converts both
ways. Objects written in either version are stored as v1 and read, listed (one review per
list) and watched in v2; patches and updates in v2 are converted back; a webhook that is
down fails reads of v2 with upstream's 500.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.apiserver import HOST, ApiServerProcess, free_port, start_apiserver
from tests.support.kubectl import Kubectl
from tests.support.kubemu_up import wait_for
from tests.support.webhook_server import WebhookServer

pytestmark = pytest.mark.integration

GROUP = "stable.example.com"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def _to_v2(obj: dict[str, Any]) -> dict[str, Any]:
    spec = dict(obj.get("spec") or {})
    if "hostPort" in spec:
        host, _, port = spec.pop("hostPort").partition(":")
        spec["host"], spec["port"] = host, port
    return {**obj, "apiVersion": f"{GROUP}/v2", "spec": spec}


def _to_v1(obj: dict[str, Any]) -> dict[str, Any]:
    spec = dict(obj.get("spec") or {})
    if "host" in spec or "port" in spec:
        spec["hostPort"] = f"{spec.pop('host', '')}:{spec.pop('port', '')}"
    return {**obj, "apiVersion": f"{GROUP}/v1", "spec": spec}


def convert(review: dict[str, Any]) -> dict[str, Any]:
    req = review["request"]
    to = _to_v2 if req["desiredAPIVersion"].endswith("/v2") else _to_v1
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
            "response": {"uid": req["uid"], "result": {"status": "Success"},
                         "convertedObjects": [to(o) for o in req["objects"]]}}


def crd(plural: str, client_config: dict[str, Any]) -> dict[str, Any]:
    def version(name: str, props: dict[str, Any], storage: bool) -> dict[str, Any]:
        return {"name": name, "served": True, "storage": storage, "schema": {
            "openAPIV3Schema": {"type": "object", "properties": {
                "spec": {"type": "object", "properties": props}}}}}

    kind = plural.capitalize()[:-1]
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{GROUP}"},
            "spec": {"group": GROUP, "scope": "Namespaced",
                     "names": {"plural": plural, "singular": plural[:-1], "kind": kind},
                     "versions": [
                         version("v1", {"hostPort": {"type": "string"}}, True),
                         {**version("v2", {"host": {"type": "string"},
                                           "port": {"type": "string"}}, False),
                          "additionalPrinterColumns": [
                              {"name": "Host", "type": "string", "jsonPath": ".spec.host"}]}],
                     "conversion": {"strategy": "Webhook", "webhook": {
                         "clientConfig": client_config,
                         "conversionReviewVersions": ["v1", "v1beta1"]}}}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with start_apiserver(tmp_path_factory.mktemp("conversion")) as apiserver:
        yield apiserver


@pytest.fixture(scope="module")
def hook(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebhookServer]:
    with WebhookServer(tmp_path_factory.mktemp("conversion-certs"),
                       dns_names=("converter.conv-system.svc",)) as webhook:
        webhook.route("/convert", convert)
        yield webhook


@pytest.fixture
def api(server: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=40) as client:
        yield client


def establish(api: httpx.Client, body: dict[str, Any]) -> str:
    created = api.post(CRDS, json=body)
    assert created.status_code == 201, created.text
    name = body["metadata"]["name"]

    def ready() -> bool:
        got = api.get(f"{CRDS}/{name}").json()
        established = any(c["type"] == "Established" and c["status"] == "True"
                          for c in got["status"].get("conditions", []))
        served = api.get(f"/apis/{GROUP}/v2").status_code == 200
        return established and served and any(
            r["name"] == body["spec"]["names"]["plural"]
            for r in api.get(f"/apis/{GROUP}/v2").json()["resources"])

    wait_for(f"{name} established", ready, 30)
    return name


def test_conversion_webhook_by_url_on_create_get_list_patch_update_and_watch(
        api: httpx.Client, hook: WebhookServer) -> None:
    plural = f"c{uuid.uuid4().hex[:6]}s"
    establish(api, crd(plural, {"url": hook.url("/convert"), "caBundle": hook.ca_bundle}))
    v1 = f"/apis/{GROUP}/v1/namespaces/default/{plural}"
    v2 = f"/apis/{GROUP}/v2/namespaces/default/{plural}"
    kind = plural.capitalize()[:-1]

    # Created in v1, read in v2 (upstream: "convert from CR v1 to CR v2").
    made = api.post(v1, json={"apiVersion": f"{GROUP}/v1", "kind": kind,
                              "metadata": {"name": "one"}, "spec": {"hostPort": "a.example:80"}})
    assert made.status_code == 201, made.text
    one = api.get(f"{v2}/one").json()
    assert one["apiVersion"] == f"{GROUP}/v2"
    assert one["spec"] == {"host": "a.example", "port": "80"}
    assert one["metadata"]["uid"] == made.json()["metadata"]["uid"]
    review = hook.reviews("/convert")[-1]
    assert (review["apiVersion"], review["kind"]) == ("apiextensions.k8s.io/v1",
                                                      "ConversionReview")
    assert review["request"]["desiredAPIVersion"] == f"{GROUP}/v2"
    assert [o["spec"] for o in review["request"]["objects"]] == [{"hostPort": "a.example:80"}]

    # Created in v2: stored as v1, answered as v2.
    two = api.post(v2, json={"apiVersion": f"{GROUP}/v2", "kind": kind,
                             "metadata": {"name": "two"},
                             "spec": {"host": "b.example", "port": "443"}})
    assert two.status_code == 201, two.text
    assert two.json()["apiVersion"] == f"{GROUP}/v2"
    assert two.json()["spec"] == {"host": "b.example", "port": "443"}
    assert api.get(f"{v1}/two").json()["spec"] == {"hostPort": "b.example:443"}

    # A list of objects written in both versions: one review for the whole list.
    before = len(hook.reviews("/convert"))
    listed = api.get(v2).json()
    assert listed["apiVersion"] == f"{GROUP}/v2"
    assert {i["metadata"]["name"]: i["spec"] for i in listed["items"]} == {
        "one": {"host": "a.example", "port": "80"},
        "two": {"host": "b.example", "port": "443"}}
    assert all(i["apiVersion"] == f"{GROUP}/v2" for i in listed["items"])
    reviews = hook.reviews("/convert")[before:]
    assert len(reviews) == 1 and len(reviews[0]["request"]["objects"]) == 2

    # Patch and update in v2 reach storage converted.
    patched = api.patch(f"{v2}/one", content=json.dumps({"spec": {"port": "8080"}}),
                        headers={"content-type": "application/merge-patch+json"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["spec"] == {"host": "a.example", "port": "8080"}
    assert api.get(f"{v1}/one").json()["spec"] == {"hostPort": "a.example:8080"}
    current = api.get(f"{v2}/two").json()
    current["spec"]["host"] = "c.example"
    updated = api.put(f"{v2}/two", json=current)
    assert updated.status_code == 200, updated.text
    assert updated.json()["spec"] == {"host": "c.example", "port": "443"}
    assert updated.json()["metadata"]["generation"] == 2
    assert api.get(f"{v1}/two").json()["spec"] == {"hostPort": "c.example:443"}

    # Watch in v2: initial events and a later change arrive converted.
    rv = listed["metadata"]["resourceVersion"]
    events: list[dict[str, Any]] = []
    with api.stream("GET", v2, params={"watch": "1", "resourceVersion": rv,
                                       "timeoutSeconds": "20"}) as stream:
        def change() -> None:
            api.patch(f"{v1}/one", content=json.dumps({"spec": {"hostPort": "d.example:1"}}),
                      headers={"content-type": "application/merge-patch+json"})

        threading.Thread(target=change).start()
        for line in stream.iter_lines():
            event = json.loads(line)
            events.append(event)
            if event["object"]["spec"].get("host") == "d.example":
                break
    assert all(e["object"]["apiVersion"] == f"{GROUP}/v2" for e in events)
    assert events[-1]["type"] == "MODIFIED"
    assert events[-1]["object"]["spec"] == {"host": "d.example", "port": "1"}

    # A Table watch (kubectl get -w) shows v2's printer columns of converted objects.
    table = "application/json;as=Table;v=v1;g=meta.k8s.io"
    with api.stream("GET", v2, params={"watch": "1", "timeoutSeconds": "5"},
                    headers={"accept": table}) as stream:
        first = json.loads(next(stream.iter_lines()))
    columns = [c["name"] for c in first["object"]["columnDefinitions"]]
    assert columns[:2] == ["Name", "Host"]
    assert first["object"]["rows"][0]["cells"][:2] in (["one", "d.example"],
                                                        ["two", "c.example"])


def test_conversion_webhook_through_a_service_and_its_failures(
        api: httpx.Client, hook: WebhookServer, server: ApiServerProcess,
        kubectl: Kubectl) -> None:
    ns = "conv-system"
    api.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
    api.post(f"/api/v1/namespaces/{ns}/services", json={
        "metadata": {"name": "converter"},
        "spec": {"ports": [{"port": 443, "targetPort": 9443}]}})
    api.post(f"/api/v1/namespaces/{ns}/endpoints", json={
        "metadata": {"name": "converter"},
        "subsets": [{"addresses": [{"ip": HOST}], "ports": [{"port": hook.port}]}]})
    plural = f"s{uuid.uuid4().hex[:6]}s"
    service = {"service": {"namespace": ns, "name": "converter", "path": "/convert"},
               "caBundle": hook.ca_bundle}
    name = establish(api, crd(plural, service))
    v1 = f"/apis/{GROUP}/v1/namespaces/default/{plural}"
    v2 = f"/apis/{GROUP}/v2/namespaces/default/{plural}"
    kind = plural.capitalize()[:-1]
    made = api.post(v2, json={"apiVersion": f"{GROUP}/v2", "kind": kind,
                              "metadata": {"name": "x"}, "spec": {"host": "h", "port": "1"}})
    assert made.status_code == 201, made.text
    assert api.get(f"{v1}/x").json()["spec"] == {"hostPort": "h:1"}
    shown = kubectl("get", f"{plural}.v2.{GROUP}", "x", "-o", "json", kubeconfig=server,
                    check=True)
    assert json.loads(shown.stdout)["spec"] == {"host": "h", "port": "1"}

    # The webhook goes away: v2 fails as upstream, v1 (the storage version) still works.
    closed = free_port()
    current = api.get(f"{CRDS}/{name}").json()
    current["spec"]["conversion"]["webhook"]["clientConfig"] = {
        "url": f"https://{HOST}:{closed}/convert", "caBundle": hook.ca_bundle}
    assert api.put(f"{CRDS}/{name}", json=current).status_code == 200

    def failing() -> httpx.Response | None:
        got = api.get(f"{v2}/x")
        return got if got.status_code == 500 else None

    failed = wait_for("the v2 store to use the new webhook", failing, 30)
    assert failed.json()["message"] == (
        f"Internal error occurred: conversion webhook for {GROUP}/v1, Kind={kind} failed: "
        f'Post "https://{HOST}:{closed}/convert?timeout=30s": dial tcp {HOST}:{closed}: '
        "connect: connection refused")
    assert api.get(f"{v1}/x").status_code == 200


def test_stored_versions_follow_the_storage_version(api: httpx.Client,
                                                    hook: WebhookServer) -> None:
    plural = f"v{uuid.uuid4().hex[:6]}s"
    name = establish(api, crd(plural, {"url": hook.url("/convert"),
                                       "caBundle": hook.ca_bundle}))
    assert api.get(f"{CRDS}/{name}").json()["status"]["storedVersions"] == ["v1"]
    made = api.post(f"/apis/{GROUP}/v1/namespaces/default/{plural}", json={
        "apiVersion": f"{GROUP}/v1", "kind": plural.capitalize()[:-1],
        "metadata": {"name": "old"}, "spec": {"hostPort": "e.example:5"}})
    assert made.status_code == 201, made.text
    current = api.get(f"{CRDS}/{name}").json()
    current["spec"]["versions"][0]["storage"] = False
    current["spec"]["versions"][1]["storage"] = True
    assert api.put(f"{CRDS}/{name}", json=current).status_code == 200
    wait_for("storedVersions [v1, v2]",
             lambda: api.get(f"{CRDS}/{name}").json()["status"]["storedVersions"]
             == ["v1", "v2"], 30)
    # An object stored as v1 is converted when read through the new storage version.
    old = api.get(f"/apis/{GROUP}/v2/namespaces/default/{plural}/old").json()
    assert (old["apiVersion"], old["spec"]) == (f"{GROUP}/v2",
                                                {"host": "e.example", "port": "5"})

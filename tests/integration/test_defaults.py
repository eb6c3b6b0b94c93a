"""Defaults over HTTP: objects POSTed to a real apiserver read back with upstream's defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.support.apiserver import ApiServerProcess


def post_and_get(client: httpx.Client, collection: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(collection, json=body)
    assert r.status_code == 201, r.text
    got = client.get(f"{collection}/{body['metadata']['name']}")
    assert got.status_code == 200, got.text
    out: dict[str, Any] = got.json()
    return out


def test_deployment_reads_back_defaulted(client: httpx.Client, ns: str) -> None:
    dep = post_and_get(client, f"/apis/apps/v1/namespaces/{ns}/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27",
                                     "readinessProbe": {"httpGet": {"port": 80}}}]}}},
    })
    spec = dep["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate",
                                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert (spec["revisionHistoryLimit"], spec["progressDeadlineSeconds"]) == (10, 600)
    pod_spec = spec["template"]["spec"]
    assert pod_spec["terminationGracePeriodSeconds"] == 30
    assert "tolerations" not in pod_spec and "enableServiceLinks" not in pod_spec
    c = pod_spec["containers"][0]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["readinessProbe"] == {
        "httpGet": {"port": 80, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}


def test_pod_reads_back_defaulted_and_update_keeps_it(
    apiserver_factory: Callable[..., ApiServerProcess],
) -> None:
    # Upstream's default admission plugins (the harness turns ServiceAccount off), and the
    # ``default`` ServiceAccount the serviceaccount controller would make.
    server = apiserver_factory(extra_args=["--disable-admission-plugins="])
    with httpx.Client(base_url=server.url, timeout=10) as client:
        collection = "/api/v1/namespaces/default/pods"
        r = client.post("/api/v1/namespaces/default/serviceaccounts",
                        json={"apiVersion": "v1", "kind": "ServiceAccount",
                              "metadata": {"name": "default"}})
        assert r.status_code == 201, r.text
        pod = post_and_get(client, collection, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
            "spec": {"containers": [{"name": "app", "image": "busybox",
                                     "livenessProbe": {"exec": {"command": ["true"]},
                                                       "periodSeconds": 5}}],
                     "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}]},
        })
        spec = pod["spec"]
        probe = spec["containers"][0]["livenessProbe"]
        assert (probe["timeoutSeconds"], probe["periodSeconds"], probe["successThreshold"],
                probe["failureThreshold"]) == (1, 5, 1, 3)
        assert spec["containers"][0]["imagePullPolicy"] == "Always"
        assert spec["volumes"][0]["configMap"]["defaultMode"] == 420
        assert (spec["serviceAccountName"], spec["serviceAccount"]) == ("default", "default")
        assert spec["enableServiceLinks"] is True
        assert sorted((t["key"], t["tolerationSeconds"]) for t in spec["tolerations"]) == [
            ("node.kubernetes.io/not-ready", 300), ("node.kubernetes.io/unreachable", 300)]
        # An update that sends the object back unchanged is accepted and changes nothing.
        pod["metadata"].setdefault("labels", {})["touched"] = "yes"
        r = client.put(f"{collection}/probe", json=pod)
        assert r.status_code == 200, r.text
        assert r.json()["spec"] == spec

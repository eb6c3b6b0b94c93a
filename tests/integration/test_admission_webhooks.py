"""Admission webhooks against a real apiserver and a real HTTPS webhook server.

The webhook server (:mod:`tests.support.webhook_server`) runs in the test on 127.0.0.1
with a test CA; configurations reach it by URL or through a Service without selector whose
Endpoints point at it (TLS then verifies ``<service>.<namespace>.svc``). Each test works in
its own namespace and scopes its webhooks to it with a ``namespaceSelector``, so the tests
of this module share one private apiserver.
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
from tests.support.webhook_server import WebhookServer, allow, deny, json_patch

pytestmark = pytest.mark.integration

ADM = "/apis/admissionregistration.k8s.io/v1"
SERVICE_NS = "webhook-system"
SERVICE = "hooks"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServerProcess]:
    with start_apiserver(tmp_path_factory.mktemp("webhooks")) as apiserver:
        yield apiserver


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory,
          server: ApiServerProcess) -> Iterator[WebhookServer]:
    with WebhookServer(tmp_path_factory.mktemp("webhook-certs"),
                       dns_names=(f"{SERVICE}.{SERVICE_NS}.svc",)) as webhook, \
            httpx.Client(base_url=server.url, timeout=30) as client:
        client.post("/api/v1/namespaces", json={"metadata": {"name": SERVICE_NS}})
        client.post(f"/api/v1/namespaces/{SERVICE_NS}/services", json={
            "metadata": {"name": SERVICE},
            "spec": {"ports": [{"name": "https", "port": 443, "targetPort": 8443}]}})
        client.post(f"/api/v1/namespaces/{SERVICE_NS}/endpoints", json={
            "metadata": {"name": SERVICE},
            "subsets": [{"addresses": [{"ip": HOST}],
                         "ports": [{"name": "https", "port": webhook.port}]}]})
        yield webhook


@pytest.fixture
def api(server: ApiServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def ns(api: httpx.Client) -> str:
    name = f"wh-{uuid.uuid4().hex[:8]}"
    created = api.post("/api/v1/namespaces",
                       json={"metadata": {"name": name, "labels": {"webhook-test": name}}})
    assert created.status_code == 201, created.text
    return name


def by_url(hooks: WebhookServer, path: str) -> dict[str, Any]:
    return {"url": hooks.url(path), "caBundle": hooks.ca_bundle}


def by_service(hooks: WebhookServer, path: str) -> dict[str, Any]:
    return {"service": {"namespace": SERVICE_NS, "name": SERVICE, "path": path},
            "caBundle": hooks.ca_bundle}


def webhook(name: str, ns: str, client: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A webhook on configmap writes in ``ns``."""
    return {"name": name, "clientConfig": client,
            "rules": [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": [""],
                       "apiVersions": ["v1"], "resources": ["configmaps"]}],
            "namespaceSelector": {"matchLabels": {"webhook-test": ns}},
            "sideEffects": "None", "admissionReviewVersions": ["v1"], **extra}


def configure(api: httpx.Client, kind: str, ns: str, *hooks_: dict[str, Any]) -> str:
    plural = f"{kind.lower()}webhookconfigurations"
    name = f"{ns}-{kind.lower()}"
    created = api.post(f"{ADM}/{plural}", json={"metadata": {"name": name},
                                                 "webhooks": list(hooks_)})
    assert created.status_code == 201, created.text
    return name


def configmap(api: httpx.Client, ns: str, name: str, query: str = "",
              **data: str) -> httpx.Response:
    return api.post(f"/api/v1/namespaces/{ns}/configmaps{query}",
                    json={"metadata": {"name": name}, "data": data})


def failed_call(api: httpx.Client, ns: str, name: str) -> str:
    """The message of a ConfigMap create that a failed webhook call refused (a 500)."""
    refused = configmap(api, ns, name)
    assert refused.status_code == 500, refused.text
    return str(refused.json()["message"])


def test_validating_webhook_gets_an_admission_review_v1_and_its_denial_reaches_kubectl(
        api: httpx.Client, hooks: WebhookServer, server: ApiServerProcess, ns: str,
        kubectl: Kubectl) -> None:
    path = f"/validate/{ns}"
    def review(r: dict[str, Any]) -> dict[str, Any]:
        if "deny" in (r["request"]["object"] or {}).get("data", {}):
            answer = deny(r, "no thanks")
            answer["response"]["warnings"] = ["refused with a warning"]
            return answer
        return allow(r, warnings=["be careful"])

    hooks.route(path, review)
    configure(api, "Validating", ns, webhook("deny.example.com", ns, by_url(hooks, path)))

    made = kubectl("-n", ns, "create", "configmap", "fine", "--from-literal=a=b",
                   kubeconfig=server)
    assert made.returncode == 0, made.stderr
    assert "Warning: be careful" in made.stderr
    (sent,) = hooks.reviews(path)
    assert (sent["apiVersion"], sent["kind"]) == ("admission.k8s.io/v1", "AdmissionReview")
    req = sent["request"]
    assert req["kind"] == req["requestKind"] == {"group": "", "version": "v1",
                                                 "kind": "ConfigMap"}
    assert req["resource"] == req["requestResource"] == {"group": "", "version": "v1",
                                                         "resource": "configmaps"}
    assert (req["name"], req["namespace"], req["operation"]) == ("fine", ns, "CREATE")
    assert "subResource" not in req and req["oldObject"] is None and req["dryRun"] is False
    assert req["userInfo"]["username"] == "system:anonymous"
    assert req["object"]["data"] == {"a": "b"} and req["object"]["metadata"]["uid"]
    assert req["options"] == {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1",
                              "fieldManager": "kubectl-create"}
    uuid.UUID(req["uid"])
    assert hooks.paths_seen[-1].endswith("?timeout=10s")

    refused = kubectl("-n", ns, "create", "configmap", "bad", "--from-literal=deny=1",
                      kubeconfig=server)
    assert refused.returncode != 0
    assert ('error: failed to create configmap: admission webhook "deny.example.com" denied '
            "the request: no thanks") in refused.stderr
    manifest = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "bad"}, "data": {"deny": "1"}})
    refused = kubectl("-n", ns, "apply", "-f", "-", input=manifest, kubeconfig=server)
    assert refused.returncode != 0
    assert ('Error from server: error when creating "STDIN": admission webhook '
            '"deny.example.com" denied the request: no thanks') in refused.stderr
    assert "Warning: refused with a warning" in refused.stderr  # sent with the refusal
    answer = configmap(api, ns, "bad", deny="1")
    assert answer.status_code == 403
    assert answer.headers["warning"] == '299 - "refused with a warning"'
    assert answer.json()["message"] == \
        'admission webhook "deny.example.com" denied the request: no thanks'

    # Update and delete carry the old object and their options.
    updated = api.put(f"/api/v1/namespaces/{ns}/configmaps/fine", json={
        "metadata": {"name": "fine"}, "data": {"a": "c"}})
    assert updated.status_code == 200, updated.text
    deleted = api.delete(f"/api/v1/namespaces/{ns}/configmaps/fine",
                         params={"propagationPolicy": "Background"})
    assert deleted.status_code == 200, deleted.text
    update, delete = (r["request"] for r in hooks.reviews(path)[-2:])
    assert update["operation"] == "UPDATE" and update["oldObject"]["data"] == {"a": "b"}
    assert update["object"]["data"] == {"a": "c"}
    assert update["options"]["kind"] == "UpdateOptions"
    assert delete["operation"] == "DELETE" and delete["object"] is None
    assert delete["oldObject"]["data"] == {"a": "c"}
    assert delete["options"] == {"kind": "DeleteOptions", "apiVersion": "meta.k8s.io/v1",
                                 "propagationPolicy": "Background"}


def test_mutating_webhook_by_service_patches_and_the_patch_is_validated(
        api: httpx.Client, hooks: WebhookServer, ns: str) -> None:
    path = f"/mutate/{ns}"

    def mutate(review: dict[str, Any]) -> dict[str, Any]:
        obj = review["request"]["object"]
        if obj["metadata"]["name"] == "broken":
            return json_patch(review, [{"op": "add", "path": "/metadata/labels",
                                        "value": {"bad key!": "x"}}])
        return json_patch(review, [{"op": "add", "path": "/data/mutation-stage-1",
                                    "value": "yes"}])

    hooks.route(path, mutate)
    configure(api, "Mutating", ns, webhook("mutate.example.com", ns, by_service(hooks, path)))
    created = configmap(api, ns, "cm", a="b")
    assert created.status_code == 201, created.text
    assert created.json()["data"] == {"a": "b", "mutation-stage-1": "yes"}
    stored = api.get(f"/api/v1/namespaces/{ns}/configmaps/cm").json()
    assert stored["data"] == {"a": "b", "mutation-stage-1": "yes"}
    assert hooks.reviews(path)[0]["request"]["object"]["data"] == {"a": "b"}
    # The patched object goes through the kind's validation.
    broken = configmap(api, ns, "broken")
    assert broken.status_code == 422, broken.text
    assert "metadata.labels: Invalid value" in broken.json()["message"]


def test_failure_policy_with_the_webhook_down_and_timing_out(
        api: httpx.Client, hooks: WebhookServer, ns: str) -> None:
    closed = free_port()
    hang = threading.Event()
    slow = f"/slow/{ns}"
    hooks.route(slow, lambda r: (hang.wait(60), allow(r))[1])
    down = {"url": f"https://{HOST}:{closed}/x", "caBundle": hooks.ca_bundle}
    try:
        name = configure(api, "Validating", ns,
                         webhook("down.example.com", ns, down, failurePolicy="Fail"))
        assert failed_call(api, ns, "one") == (
            'Internal error occurred: failed calling webhook "down.example.com": failed to '
            f'call webhook: Post "https://{HOST}:{closed}/x?timeout=10s": dial tcp '
            f"{HOST}:{closed}: connect: connection refused")
        api.delete(f"{ADM}/validatingwebhookconfigurations/{name}")
        name = configure(api, "Validating", ns,
                         webhook("down.example.com", ns, down, failurePolicy="Ignore"))
        assert configmap(api, ns, "one").status_code == 201
        api.delete(f"{ADM}/validatingwebhookconfigurations/{name}")

        name = configure(api, "Validating", ns, webhook(
            "slow.example.com", ns, by_url(hooks, slow), timeoutSeconds=1))
        assert failed_call(api, ns, "two").endswith(
            '?timeout=1s": context deadline exceeded')
        api.delete(f"{ADM}/validatingwebhookconfigurations/{name}")
        configure(api, "Validating", ns, webhook(
            "slow.example.com", ns, by_url(hooks, slow), timeoutSeconds=1,
            failurePolicy="Ignore"))
        assert configmap(api, ns, "two").status_code == 201
    finally:
        hang.set()


def test_fail_closed_webhook_on_a_missing_service_rejects_unconditionally(
        api: httpx.Client, hooks: WebhookServer, ns: str) -> None:
    missing = {"service": {"namespace": ns, "name": "nowhere", "path": "/x"},
               "caBundle": hooks.ca_bundle}
    configure(api, "Validating", ns, webhook("fail-closed.example.com", ns, missing))
    assert failed_call(api, ns, "c") == (
        'Internal error occurred: failed calling webhook "fail-closed.example.com": failed '
        'to call webhook: service "nowhere" not found')


def test_invalid_answers_are_call_failures(api: httpx.Client, hooks: WebhookServer,
                                           ns: str) -> None:
    path = f"/wrong-uid/{ns}"
    hooks.route(path, lambda r: {**allow(r), "response": {"uid": "nope", "allowed": True}})
    configure(api, "Validating", ns, webhook("uid.example.com", ns, by_url(hooks, path)))
    message = failed_call(api, ns, "c")
    uid = hooks.reviews(path)[0]["request"]["uid"]
    assert message == (
        'Internal error occurred: failed calling webhook "uid.example.com": received invalid '
        f'webhook response: expected response.uid="{uid}", got "nope"')


def test_match_conditions_and_selectors(api: httpx.Client, hooks: WebhookServer,
                                        ns: str) -> None:
    path = f"/deny-all/{ns}"
    hooks.route(path, lambda r: deny(r, "denied"))
    configure(api, "Validating", ns, webhook(
        "conditions.example.com", ns, by_url(hooks, path),
        objectSelector={"matchExpressions": [{"key": "skip", "operator": "DoesNotExist"}]},
        matchConditions=[{"name": "checked-only",
                          "expression": "object.metadata.name.startsWith('checked-')"}]))
    assert configmap(api, ns, "unchecked").status_code == 201
    assert configmap(api, ns, "checked-1").status_code == 403
    labelled = api.post(f"/api/v1/namespaces/{ns}/configmaps", json={
        "metadata": {"name": "checked-2", "labels": {"skip": "yes"}}})
    assert labelled.status_code == 201
    # Another namespace is outside the namespaceSelector.
    other = f"{ns}-other"
    api.post("/api/v1/namespaces", json={"metadata": {"name": other}})
    assert configmap(api, other, "checked-3").status_code == 201
    assert [r["request"]["name"] for r in hooks.reviews(path)] == ["checked-1"]


def test_a_match_condition_that_fails_to_evaluate_follows_the_failure_policy(
        api: httpx.Client, hooks: WebhookServer, ns: str) -> None:
    path = f"/allow/{ns}"
    hooks.route(path, allow)
    bad = [{"name": "missing", "expression": "object.metadata.nothere == 'x'"}]
    name = configure(api, "Validating", ns, webhook("cond.example.com", ns,
                                                     by_url(hooks, path),
                                                     matchConditions=bad))
    assert 'failed calling webhook "cond.example.com": failed to evaluate match conditions' \
        in failed_call(api, ns, "c")
    api.delete(f"{ADM}/validatingwebhookconfigurations/{name}")
    configure(api, "Validating", ns, webhook("cond.example.com", ns, by_url(hooks, path),
                                             matchConditions=bad, failurePolicy="Ignore"))
    assert configmap(api, ns, "c").status_code == 201
    assert hooks.reviews(path) == []


def test_dry_run_reaches_side_effect_free_webhooks_only_as_dry_run(
        api: httpx.Client, hooks: WebhookServer, ns: str) -> None:
    path = f"/dry/{ns}"
    hooks.route(path, allow)
    configure(api, "Validating", ns, webhook("dry.example.com", ns, by_url(hooks, path),
                                             sideEffects="NoneOnDryRun"))
    made = configmap(api, ns, "dry", "?dryRun=All")
    assert made.status_code == 201, made.text
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/dry").status_code == 404
    (sent,) = hooks.reviews(path)
    assert sent["request"]["dryRun"] is True
    assert sent["request"]["options"]["dryRun"] == ["All"]


def test_reinvocation_if_needed(api: httpx.Client, hooks: WebhookServer, ns: str) -> None:
    first, second = f"/first/{ns}", f"/second/{ns}"

    def seen(review: dict[str, Any]) -> dict[str, Any]:
        labels = review["request"]["object"]["metadata"].get("labels") or {}
        ops = [{"op": "add", "path": "/data", "value": {"first-saw-second": str(
            "second" in labels).lower()}}]
        return json_patch(review, ops)

    hooks.route(first, seen)
    hooks.route(second, lambda r: json_patch(r, [{"op": "add", "path": "/metadata/labels",
                                                  "value": {"second": "yes"}}]))
    configure(api, "Mutating", ns,
              webhook("first.example.com", ns, by_url(hooks, first),
                      reinvocationPolicy="IfNeeded"),
              webhook("second.example.com", ns, by_url(hooks, second)))
    created = configmap(api, ns, "re")
    assert created.status_code == 201, created.text
    assert created.json()["data"] == {"first-saw-second": "true"}
    assert len(hooks.reviews(first)) == 2 and len(hooks.reviews(second)) == 1


def test_webhook_configurations_are_not_sent_to_webhooks(api: httpx.Client,
                                                         hooks: WebhookServer,
                                                         ns: str) -> None:
    path = f"/deny-config/{ns}"
    hooks.route(path, lambda r: deny(r, "no"))
    rules = [{"operations": ["*"], "apiGroups": ["admissionregistration.k8s.io"],
              "apiVersions": ["*"], "resources": ["*"]}]
    name = configure(api, "Validating", ns, {**webhook("cfg.example.com", ns,
                                                       by_url(hooks, path)),
                                             "rules": rules, "namespaceSelector": {}})
    other = configure(api, "Mutating", f"{ns}-2", webhook("m.example.com", ns,
                                                         by_url(hooks, path)))
    assert api.delete(f"{ADM}/mutatingwebhookconfigurations/{other}").status_code == 200
    assert api.delete(f"{ADM}/validatingwebhookconfigurations/{name}").status_code == 200
    assert hooks.reviews(path) == []


def test_updating_and_deleting_configurations_take_effect(api: httpx.Client,
                                                          hooks: WebhookServer,
                                                          ns: str) -> None:
    path = f"/deny/{ns}"
    hooks.route(path, lambda r: deny(r, "denied"))
    label = f"e2e-list-test-{ns}"
    hook = webhook("upd.example.com", ns, by_url(hooks, path))
    created = api.post(f"{ADM}/validatingwebhookconfigurations", json={
        "metadata": {"name": f"{ns}-upd", "labels": {label: "true"}}, "webhooks": [hook]})
    assert created.status_code == 201
    assert configmap(api, ns, "a").status_code == 403
    patched = api.patch(f"{ADM}/validatingwebhookconfigurations/{ns}-upd", content=json.dumps(
        [{"op": "replace", "path": "/webhooks/0/rules/0/operations", "value": ["UPDATE"]}]),
        headers={"content-type": "application/json-patch+json"})
    assert patched.status_code == 200, patched.text
    assert configmap(api, ns, "a").status_code == 201
    assert api.put(f"/api/v1/namespaces/{ns}/configmaps/a", json={
        "metadata": {"name": "a"}, "data": {"x": "y"}}).status_code == 403
    gone = api.delete(f"{ADM}/validatingwebhookconfigurations",
                      params={"labelSelector": f"{label}=true"})
    assert gone.status_code == 200
    assert api.put(f"/api/v1/namespaces/{ns}/configmaps/a", json={
        "metadata": {"name": "a"}, "data": {"x": "y"}}).status_code == 200


CR_GROUP = "webhook.example.com"


def _crd(api: httpx.Client, plural: str, data: dict[str, Any] | None = None) -> None:
    """A CRD serving v1 (storage) and v2 with the same schema (conversion None); ``data``:
    the schema of the objects' ``data`` (default: any strings)."""
    schema = {"openAPIV3Schema": {"type": "object", "properties": {
        "data": data or {"type": "object", "additionalProperties": {"type": "string"}}}}}
    body = {"metadata": {"name": f"{plural}.{CR_GROUP}"},
            "spec": {"group": CR_GROUP, "scope": "Namespaced",
                     "names": {"plural": plural, "kind": plural.capitalize()[:-1]},
                     "versions": [{"name": "v1", "served": True, "storage": True,
                                   "schema": schema},
                                  {"name": "v2", "served": True, "storage": False,
                                   "schema": schema}]}}
    made = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json=body)
    assert made.status_code == 201, made.text
    wait_for(f"{plural} served", lambda: any(
        r["name"] == plural for r in api.get(f"/apis/{CR_GROUP}/v2").json().get(
            "resources", [])), 30)


def test_webhooks_on_custom_resources_and_equivalent_versions(
        api: httpx.Client, hooks: WebhookServer, ns: str) -> None:
    plural = f"w{uuid.uuid4().hex[:6]}s"
    _crd(api, plural)
    kind = plural.capitalize()[:-1]
    deny_path, mutate_path = f"/deny-cr/{ns}", f"/mutate-cr/{ns}"
    hooks.route(deny_path, lambda r: deny(r, "the custom resource contains unwanted data")
                if (r["request"]["object"] or r["request"]["oldObject"]).get(
                    "data", {}).get("mutation-start") == "no" else allow(r))
    hooks.route(mutate_path, lambda r: json_patch(r, [
        {"op": "add", "path": "/data/mutation-stage-1", "value": "yes"}]))
    rules = [{"operations": ["CREATE", "UPDATE", "DELETE"], "apiGroups": [CR_GROUP],
              "apiVersions": ["v1"], "resources": [plural]}]
    configure(api, "Validating", ns,
              {**webhook("deny-cr.example.com", ns, by_url(hooks, deny_path)), "rules": rules})
    configure(api, "Mutating", ns,
              {**webhook("mutate-cr.example.com", ns, by_url(hooks, mutate_path)),
               "rules": rules},
              {**webhook("exact.example.com", ns, by_url(hooks, mutate_path)),
               "rules": rules, "matchPolicy": "Exact", "name": "exact.example.com"})
    v2 = f"/apis/{CR_GROUP}/v2/namespaces/{ns}/{plural}"

    # A v2 request reaches the v1 webhooks (matchPolicy Equivalent) as v1.
    made = api.post(v2, json={"apiVersion": f"{CR_GROUP}/v2", "kind": kind,
                              "metadata": {"name": "cr"}, "data": {"mutation-start": "yes"}})
    assert made.status_code == 201, made.text
    assert made.json()["apiVersion"] == f"{CR_GROUP}/v2"
    assert made.json()["data"] == {"mutation-start": "yes", "mutation-stage-1": "yes"}
    (sent,) = hooks.reviews(mutate_path)
    req = sent["request"]
    assert req["kind"] == {"group": CR_GROUP, "version": "v1", "kind": kind}
    assert req["requestKind"] == {"group": CR_GROUP, "version": "v2", "kind": kind}
    assert req["resource"]["version"] == "v1" and req["requestResource"]["version"] == "v2"
    assert req["object"]["apiVersion"] == f"{CR_GROUP}/v1"

    # Denied on create, on update and on delete (upstream "deny custom resource ...").
    denied = api.post(v2, json={"apiVersion": f"{CR_GROUP}/v2", "kind": kind,
                                "metadata": {"name": "bad"}, "data": {"mutation-start": "no"}})
    assert denied.status_code == 403
    assert denied.json()["message"] == ('admission webhook "deny-cr.example.com" denied the '
                                        "request: the custom resource contains unwanted data")
    current = api.get(f"{v2}/cr").json()
    current["data"]["mutation-start"] = "no"
    assert api.put(f"{v2}/cr", json=current).status_code == 403
    hooks.route(deny_path, lambda r: deny(r, "the custom resource cannot be deleted")
                if r["request"]["operation"] == "DELETE" else allow(r))
    refused = api.delete(f"{v2}/cr")
    assert refused.status_code == 403
    assert refused.json()["message"].endswith("the custom resource cannot be deleted")
    assert api.get(f"{v2}/cr").status_code == 200


def test_a_webhook_can_deny_crd_creation(api: httpx.Client, hooks: WebhookServer,
                                         ns: str) -> None:
    path = f"/deny-crd/{ns}"
    hooks.route(path, lambda r: deny(r, "the crd contains unwanted label") if (
        r["request"]["object"]["metadata"].get("labels") or {}).get(
        "webhook-e2e-test") == ns else allow(r))
    configure(api, "Validating", ns, {
        **webhook("deny-crd.example.com", ns, by_url(hooks, path)), "namespaceSelector": {},
        "rules": [{"operations": ["CREATE"], "apiGroups": ["apiextensions.k8s.io"],
                   "apiVersions": ["*"], "resources": ["customresourcedefinitions"]}]})
    plural = f"d{uuid.uuid4().hex[:6]}s"
    refused = api.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", json={
        "metadata": {"name": f"{plural}.{CR_GROUP}", "labels": {"webhook-e2e-test": ns}},
        "spec": {"group": CR_GROUP, "scope": "Namespaced",
                 "names": {"plural": plural, "kind": "Denied"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {
                     "openAPIV3Schema": {"type": "object"}}}]}})
    assert refused.status_code == 403
    assert refused.json()["message"] == ('admission webhook "deny-crd.example.com" denied '
                                         "the request: the crd contains unwanted label")


def test_a_patched_object_is_defaulted_and_pruned_again(api: httpx.Client,
                                                        hooks: WebhookServer,
                                                        ns: str) -> None:
    pod_path, cr_path = f"/mutate-pod/{ns}", f"/mutate-pruned/{ns}"
    hooks.route(pod_path, lambda r: json_patch(r, [{
        "op": "add", "path": "/spec/initContainers",
        "value": [{"name": "webhook-added-init-container", "image": "busybox"}]}]))
    hooks.route(cr_path, lambda r: json_patch(r, [
        {"op": "add", "path": "/data/mutation-stage-1", "value": "yes"},
        {"op": "add", "path": "/data/not-in-the-schema", "value": "dropped"}]))
    plural = f"p{uuid.uuid4().hex[:6]}s"
    _crd(api, plural, {"type": "object", "properties": {
        "mutation-start": {"type": "string"}, "mutation-stage-1": {"type": "string"}}})
    configure(api, "Mutating", ns,
              {**webhook("pod.example.com", ns, by_url(hooks, pod_path)),
               "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                          "resources": ["pods"]}]},
              {**webhook("pruned.example.com", ns, by_url(hooks, cr_path)),
               "rules": [{"operations": ["CREATE"], "apiGroups": [CR_GROUP],
                          "apiVersions": ["*"], "resources": [plural]}]})
    pod = api.post(f"/api/v1/namespaces/{ns}/pods", json={
        "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    assert pod.status_code == 201, pod.text
    (init,) = pod.json()["spec"]["initContainers"]
    assert init["name"] == "webhook-added-init-container"
    assert (init["terminationMessagePolicy"], init["imagePullPolicy"]) == ("File", "Always")
    made = api.post(f"/apis/{CR_GROUP}/v1/namespaces/{ns}/{plural}", json={
        "apiVersion": f"{CR_GROUP}/v1", "kind": plural.capitalize()[:-1],
        "metadata": {"name": "cr"}, "data": {"mutation-start": "yes"}})
    assert made.status_code == 201, made.text
    assert made.json()["data"] == {"mutation-start": "yes", "mutation-stage-1": "yes"}


def test_a_service_webhook_must_present_a_certificate_for_its_service_name(
        api: httpx.Client, hooks: WebhookServer, ns: str,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    with WebhookServer(tmp_path_factory.mktemp("ip-only-cert")) as ip_only:
        ip_only.route("/x", allow)
        api.post(f"/api/v1/namespaces/{ns}/services", json={
            "metadata": {"name": "ip-only"}, "spec": {"ports": [{"port": 443}]}})
        api.post(f"/api/v1/namespaces/{ns}/endpoints", json={
            "metadata": {"name": "ip-only"},
            "subsets": [{"addresses": [{"ip": HOST}], "ports": [{"port": ip_only.port}]}]})
        config = {"service": {"namespace": ns, "name": "ip-only", "path": "/x"},
                  "caBundle": ip_only.ca_bundle}
        configure(api, "Validating", ns, webhook("name.example.com", ns, config))
        assert failed_call(api, ns, "c") == (
            'Internal error occurred: failed calling webhook "name.example.com": failed to '
            f'call webhook: Post "https://ip-only.{ns}.svc:443/x?timeout=10s": tls: failed to '
            f"verify certificate: x509: certificate is not valid for ip-only.{ns}.svc")
        assert ip_only.reviews("/x") == []

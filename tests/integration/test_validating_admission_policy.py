"""ValidatingAdmissionPolicy on a real apiserver, through kubectl and the official client's
dynamic client (upstream e2e ``validatingadmissionpolicy.go`` behaviours, reimplemented).

Every policy here is bound to the namespaces labelled with this test's own label, so the
session apiserver's other tests never meet them. A policy takes effect once the watch
cache has it, so each test first waits until its policy answers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl
from tests.support.kubemu_up import wait_for

pytestmark = pytest.mark.integration
kubernetes = pytest.importorskip("kubernetes")
from kubernetes import config, dynamic  # noqa: E402
from kubernetes.dynamic.exceptions import ApiException  # noqa: E402

ADMISSION = "admissionregistration.k8s.io/v1"


@pytest.fixture
def dyn(apiserver: ApiServerProcess) -> Iterator[dynamic.DynamicClient]:
    api_client = config.new_client_from_config(config_file=str(apiserver.kubeconfig))
    with api_client:
        yield dynamic.DynamicClient(api_client)


@pytest.fixture
def scope(kubectl: Kubectl) -> Iterator[tuple[str, dict[str, str]]]:
    """A namespace labelled uniquely, and the label (for the bindings' selectors)."""
    token = uuid.uuid4().hex[:8]
    ns, label = f"vap-{token}", {"vap-test": token}
    kubectl("create", "namespace", ns, check=True)
    kubectl("label", "namespace", ns, f"vap-test={token}", check=True)
    yield ns, label
    kubectl("delete", "namespace", ns, "--wait=false")


def _policy(name: str, validations: list[dict[str, Any]], *, resources: str = "configmaps",
            group: str = "", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": ADMISSION, "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {"matchConstraints": {"resourceRules": [{
                "apiGroups": [group], "apiVersions": ["*"], "operations": ["CREATE", "UPDATE"],
                "resources": [resources]}]},
                "validations": validations, **spec}}


def _binding(name: str, policy: str, label: dict[str, str], actions: list[str],
             **spec: Any) -> dict[str, Any]:
    return {"apiVersion": ADMISSION, "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {"policyName": policy, "validationActions": actions,
                     "matchResources": {"namespaceSelector": {"matchLabels": label}}, **spec}}


def _apply(kubectl: Kubectl, *objects: dict[str, Any]) -> None:
    for obj in objects:
        kubectl("apply", "-f", "-", input=json.dumps(obj), check=True)


def _cleanup(kubectl: Kubectl, *names: str) -> None:
    for name in names:
        kubectl("delete", "validatingadmissionpolicybinding", name, "--ignore-not-found")
        kubectl("delete", "validatingadmissionpolicy", name, "--ignore-not-found")


def _cm(name: str, data: dict[str, str], labels: dict[str, str] | None = None) \
        -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, **({"labels": labels} if labels else {})},
            "data": data}


def _refused(kubectl: Kubectl, *args: str) -> str:
    """kubectl's stderr once ``kubectl ARGS`` is refused (the policy is in the cache)."""
    def attempt() -> str:
        result = kubectl(*args)
        return result.stderr if result.returncode else ""

    return str(wait_for(f"kubectl {' '.join(args)} refused", attempt))


def test_deny_with_cel_message_reaches_kubectl(kubectl: Kubectl,
                                                scope: tuple[str, dict[str, str]]) -> None:
    ns, label = scope
    name = f"small-{label['vap-test']}"
    _apply(kubectl, _policy(name, [{
        "expression": "!has(object.data) || size(object.data) <= 2",
        "messageExpression": "'at most 2 keys, got ' + string(size(object.data))"}]),
        _binding(name, name, label, ["Deny"]))
    try:
        stderr = _refused(kubectl, "-n", ns, "create", "configmap", "big",
                          "--from-literal=a=1", "--from-literal=b=2", "--from-literal=c=3")
        assert (f'configmaps "big" is forbidden: ValidatingAdmissionPolicy \'{name}\' with '
                f"binding '{name}' denied request: at most 2 keys, got 3") in stderr
        kubectl("-n", ns, "create", "configmap", "ok", "--from-literal=a=1", check=True)
        # Other namespaces are not the binding's business.
        kubectl("-n", "default", "create", "configmap", f"big-{name}", "--from-literal=a=1",
                "--from-literal=b=2", "--from-literal=c=3", check=True)
        kubectl("-n", "default", "delete", "configmap", f"big-{name}", check=True)
    finally:
        _cleanup(kubectl, name)


def test_warn_action_is_a_warning_header(kubectl: Kubectl, apiserver: ApiServerProcess,
                                         scope: tuple[str, dict[str, str]]) -> None:
    ns, label = scope
    name = f"warn-{label['vap-test']}"
    _apply(kubectl, _policy(name, [{"expression": "object.metadata.name.startsWith('app-')",
                                    "message": "names start with app-"}]),
           _binding(name, name, label, ["Warn"]))
    try:
        def warned() -> str:
            result = kubectl("-n", ns, "create", "configmap", f"x{uuid.uuid4().hex[:6]}",
                             check=True)
            return result.stderr if "Warning" in result.stderr else ""

        stderr = wait_for("the policy to warn", warned)
        assert (f"Warning: Validation failed for ValidatingAdmissionPolicy '{name}' with "
                f"binding '{name}': names start with app-") in stderr
        with httpx.Client(base_url=apiserver.url, timeout=10) as client:
            answer = client.post(f"/api/v1/namespaces/{ns}/configmaps",
                                 json=_cm("raw", {"a": "1"}))
        assert answer.status_code == 201
        assert answer.headers.get_list("warning") == [
            f"299 - \"Validation failed for ValidatingAdmissionPolicy '{name}' with binding "
            f"'{name}': names start with app-\""]
    finally:
        _cleanup(kubectl, name)


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                         {"name": "c", "image": "registry.k8s.io/pause:3.10"}]}}}}


def _denial(dyn: dynamic.DynamicClient, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    """The Status of a refused create (raises when the create succeeds)."""
    api = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    try:
        api.create(body=body, namespace=ns)
    except ApiException as exc:
        status: dict[str, Any] = json.loads(exc.body)
        status["code"] = exc.status
        return status
    api.delete(name=body["metadata"]["name"], namespace=ns)
    raise AssertionError("created")


def test_param_kind_configmap_limits_replicas(kubectl: Kubectl, dyn: dynamic.DynamicClient,
                                              scope: tuple[str, dict[str, str]]) -> None:
    ns, label = scope
    name = f"replicas-{label['vap-test']}"
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    cms.create(body=_cm("limits", {"maxReplicas": "3"}), namespace=ns)
    _apply(kubectl, _policy(
        name, [{"expression": "object.spec.replicas <= int(params.data.maxReplicas)",
                "messageExpression": "'replicas must be at most ' + params.data.maxReplicas",
                "reason": "Forbidden"}],
        resources="deployments", group="apps",
        paramKind={"apiVersion": "v1", "kind": "ConfigMap"},
        variables=[{"name": "replicas", "expression": "object.spec.replicas"}]),
        _binding(name, name, label, ["Deny"],
                 paramRef={"name": "limits", "parameterNotFoundAction": "Deny"}))
    try:
        status = wait_for("the policy to deny", lambda: _denial(
            dyn, ns, _deployment("big", 5)))
        assert status["code"] == 403 and status["reason"] == "Forbidden"
        message = (f"ValidatingAdmissionPolicy '{name}' with binding '{name}' denied request: "
                   "replicas must be at most 3")
        assert status["message"] == f'deployments.apps "big" is forbidden: {message}'
        assert status["details"]["causes"] == [{"message": message}]
        dyn.resources.get(api_version="apps/v1", kind="Deployment").create(
            body=_deployment("small", 2), namespace=ns)
        # A changed parameter takes effect with no change to the policy.
        cms.patch(name="limits", namespace=ns, body={"data": {"maxReplicas": "1"}},
                  content_type="application/merge-patch+json")
        wait_for("the new limit", lambda: "at most 1" in _denial(
            dyn, ns, _deployment("two", 2))["message"])
        # No parameter: Deny is a configuration error under failurePolicy Fail...
        cms.delete(name="limits", namespace=ns)
        status = wait_for("the missing parameter", lambda: _denial(
            dyn, ns, _deployment("lost", 1)))
        assert status["code"] == 422 and status["reason"] == "Invalid"
        assert status["message"].endswith(
            "denied request: failed to configure binding: no params found for policy binding "
            "with `Deny` parameterNotFoundAction")
        # ...and Allow skips the binding.
        _apply(kubectl, _binding(name, name, label, ["Deny"], paramRef={
            "name": "limits", "parameterNotFoundAction": "Allow"}))
        wait_for("Allow", lambda: dyn.resources.get(
            api_version="apps/v1", kind="Deployment").create(
                body=_deployment("allowed", 9), namespace=ns))
    finally:
        _cleanup(kubectl, name)


def test_param_selector_evaluates_every_selected_param(
        kubectl: Kubectl, dyn: dynamic.DynamicClient,
        scope: tuple[str, dict[str, str]]) -> None:
    ns, label = scope
    name = f"banned-{label['vap-test']}"
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    for word in ("alpha", "beta"):
        cms.create(body=_cm(f"ban-{word}", {"word": word}, {"role": "ban"}), namespace=ns)
    cms.create(body=_cm("ban-other", {"word": "gamma"}, {"role": "other"}), namespace=ns)
    _apply(kubectl, _policy(
        name, [{"expression": "!object.metadata.name.contains(params.data.word)",
                "messageExpression": "'name contains ' + params.data.word"}],
        resources="secrets", paramKind={"apiVersion": "v1", "kind": "ConfigMap"}),
        _binding(name, name, label, ["Deny"], paramRef={
            "selector": {"matchLabels": {"role": "ban"}}, "parameterNotFoundAction": "Deny"}))
    secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret",
                              "metadata": {"name": "x-beta"}, "stringData": {"k": "v"}}
    try:
        status = wait_for("the policy to deny", lambda: _denial(dyn, ns, secret))
        assert status["message"].endswith("denied request: name contains beta")
        secret["metadata"]["name"] = "x-gamma"
        dyn.resources.get(api_version="v1", kind="Secret").create(body=secret, namespace=ns)
    finally:
        _cleanup(kubectl, name)


@pytest.mark.parametrize("failure_policy", ["Fail", "Ignore"])
def test_failure_policy_on_an_evaluation_error(
        kubectl: Kubectl, dyn: dynamic.DynamicClient, scope: tuple[str, dict[str, str]],
        failure_policy: str) -> None:
    ns, label = scope
    name = f"fp-{failure_policy.lower()}-{label['vap-test']}"
    marker = f"marker-{label['vap-test']}"
    _apply(kubectl, _policy(name, [
        {"expression": "object.data.missing == 'x'"},
        {"expression": f"object.metadata.name != '{marker}'"}],
        failurePolicy=failure_policy), _binding(name, name, label, ["Deny"]))
    try:
        # The second validation shows when the policy is in effect, whatever the first does.
        first = wait_for("the policy", lambda: _denial(dyn, ns, _cm(marker, {"a": "1"})))
        status = _denial(dyn, ns, _cm("plain", {"a": "1"})) if failure_policy == "Fail" \
            else None
        if failure_policy == "Fail":
            assert status is not None and status["code"] == 422
            assert status["message"].endswith(
                "denied request: expression 'object.data.missing == 'x'' resulted in error: "
                "no such key: missing")
        else:
            assert first["message"].endswith(
                f"denied request: failed expression: object.metadata.name != '{marker}'")
            dyn.resources.get(api_version="v1", kind="ConfigMap").create(
                body=_cm("plain", {"a": "1"}), namespace=ns)
    finally:
        _cleanup(kubectl, name)


def test_match_conditions_and_excluded_resources(kubectl: Kubectl, dyn: dynamic.DynamicClient,
                                                 scope: tuple[str, dict[str, str]]) -> None:
    ns, label = scope
    name = f"mc-{label['vap-test']}"
    policy = _policy(name, [{"expression": "false", "message": "no"}],
                     matchConditions=[{"name": "labelled",
                                       "expression": "'guarded' in object.metadata.labels"}])
    policy["spec"]["matchConstraints"]["resourceRules"][0]["resources"] = ["*"]
    policy["spec"]["matchConstraints"]["excludeResourceRules"] = [{
        "apiGroups": [""], "apiVersions": ["v1"], "operations": ["*"],
        "resources": ["secrets"]}]
    _apply(kubectl, policy, _binding(name, name, label, ["Deny"]))
    try:
        status = wait_for("the policy", lambda: _denial(
            dyn, ns, _cm("g", {"a": "1"}, {"guarded": "yes"})))
        assert status["message"].endswith("denied request: no")
        dyn.resources.get(api_version="v1", kind="ConfigMap").create(
            body=_cm("free", {"a": "1"}, {"other": "yes"}), namespace=ns)
        dyn.resources.get(api_version="v1", kind="Secret").create(
            body={"apiVersion": "v1", "kind": "Secret",
                  "metadata": {"name": "s", "labels": {"guarded": "yes"}}}, namespace=ns)
    finally:
        _cleanup(kubectl, name)


def test_policy_with_an_expression_that_does_not_compile_is_invalid(kubectl: Kubectl) -> None:
    name = f"bad-{uuid.uuid4().hex[:8]}"
    result = kubectl("apply", "-f", "-", input=json.dumps(_policy(name, [
        {"expression": "object.spec.replicas >"},
        {"expression": "nosuchvar.x == 1"}])))
    assert result.returncode != 0
    assert f'The ValidatingAdmissionPolicy "{name}" is invalid: ' in result.stderr
    assert ('spec.validations[0].expression: Invalid value: "object.spec.replicas >": '
            "compilation failed: ") in result.stderr
    assert ('spec.validations[1].expression: Invalid value: "nosuchvar.x == 1": compilation '
            "failed: ERROR: <input>:1:1: undeclared reference to 'nosuchvar' (in container '')"
            ) in result.stderr


def test_update_and_delete_see_old_object_and_kubectl_1_33_shows_the_denial(
        kubectl: Kubectl, kubectl_announced: Kubectl,
        scope: tuple[str, dict[str, str]]) -> None:
    ns, label = scope
    name = f"old-{label['vap-test']}"
    policy = _policy(name, [
        {"expression": "request.operation != 'UPDATE' || "
                       "object.data.level >= oldObject.data.level",
         "message": "level may not go down"},
        {"expression": "request.operation != 'DELETE' || "
                       "!has(oldObject.metadata.labels) || "
                       "!('keep' in oldObject.metadata.labels)",
         "messageExpression": "'keep ' + oldObject.metadata.name"}])
    policy["spec"]["matchConstraints"]["resourceRules"][0]["operations"] = [
        "CREATE", "UPDATE", "DELETE"]
    _apply(kubectl, policy, _binding(name, name, label, ["Deny"]))
    try:
        kubectl("-n", ns, "create", "configmap", "lvl", "--from-literal=level=5", check=True)
        kubectl("-n", ns, "label", "configmap", "lvl", "keep=yes", check=True)
        stderr = _refused(kubectl_announced, "-n", ns, "patch", "configmap", "lvl",
                          "--type=merge", "-p", '{"data":{"level":"3"}}')
        # kubectl words a 422 with causes as it does against a real cluster.
        assert (f'The configmaps "lvl" is invalid: : ValidatingAdmissionPolicy \'{name}\' '
                f"with binding '{name}' denied request: level may not go down") in stderr
        kubectl("-n", ns, "patch", "configmap", "lvl", "--type=merge",
                "-p", '{"data":{"level":"7"}}', check=True)
        deleted = kubectl("-n", ns, "delete", "configmap", "lvl")
        assert deleted.returncode != 0
        assert "denied request: keep lvl" in deleted.stderr
        kubectl("-n", ns, "label", "configmap", "lvl", "keep-", check=True)
        kubectl("-n", ns, "delete", "configmap", "lvl", check=True)
    finally:
        _cleanup(kubectl, name)

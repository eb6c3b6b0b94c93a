"""CustomResourceDefinitions and their custom resources, through kubectl 1.33 and httpx.

One CRD (upstream's CronTab example, with a status subresource, defaults, bounds, a
pattern and printer columns) goes through its whole life on a private apiserver:
established with its conditions, listed by ``kubectl api-resources``, objects created
with defaults and pruning, invalid ones refused with upstream's field errors, status
and spec kept apart, Table columns, served again after a restart, and finally deleted
together with its objects and its discovery entries.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import yaml

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl
from tests.support.kubemu_up import wait_for

pytestmark = pytest.mark.integration

GROUP = "stable.example.com"
CRD_NAME = f"crontabs.{GROUP}"
CRONTABS = f"/apis/{GROUP}/v1/namespaces/default/crontabs"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": CRD_NAME},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                  "shortNames": ["ct"]},
        "versions": [{
            "name": "v1", "served": True, "storage": True,
            "subresources": {"status": {}, "scale": {
                "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.ready"}},
            "selectableFields": [{"jsonPath": ".spec.image"}],
            "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {
                    "spec": {
                        "type": "object",
                        "description": "The desired state of the cron tab.",
                        "required": ["cronSpec"],
                        "x-kubernetes-validations": [{
                            "rule": "!has(self.image) || self.image.startsWith('my-')",
                            "message": "image must start with my-"}],
                        "properties": {
                            "cronSpec": {"type": "string",
                                         "description": "When to run, in cron syntax.",
                                         "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"},
                            "image": {"type": "string"},
                            "replicas": {"type": "integer", "minimum": 1, "maximum": 10,
                                         "default": 1},
                        },
                    },
                    "status": {"type": "object",
                               "properties": {"ready": {"type": "integer"}}},
                },
            }},
            "additionalPrinterColumns": [
                {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
            ],
        }],
    },
}


def crontab(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": f"{GROUP}/v1", "kind": "CronTab", "metadata": {"name": name},
            "spec": {"cronSpec": "* * * * */5", "image": "my-cron-image", **spec}}


def test_a_crd_lives_its_whole_life(fresh_apiserver: ApiServerProcess,
                                    kubectl_announced: Kubectl) -> None:
    server = fresh_apiserver

    def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> Any:
        return kubectl_announced(*args, kubeconfig=server, input=stdin, check=check)

    client = httpx.Client(base_url=server.url, timeout=10)
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(CRD))
    kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=15s")
    crd = client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}").json()
    conditions = {c["type"]: (c["status"], c["reason"]) for c in crd["status"]["conditions"]}
    assert conditions == {"NamesAccepted": ("True", "NoConflicts"),
                          "Established": ("True", "InitialNamesAccepted")}
    assert crd["status"]["acceptedNames"]["shortNames"] == ["ct"]
    assert crd["status"]["storedVersions"] == ["v1"]
    assert crd["spec"]["names"]["listKind"] == "CronTabList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert "customresourcecleanup.apiextensions.k8s.io" in crd["metadata"]["finalizers"]

    resources = kubectl("api-resources", f"--api-group={GROUP}").stdout
    assert "crontabs" in resources and "ct" in resources and "CronTab" in resources
    # Published in /openapi/v3: kubectl explain knows the kind and its descriptions.
    explained = kubectl("explain", "crontab.spec").stdout
    assert "KIND:       CronTab" in explained and "The desired state of the cron tab." in explained
    assert "cronSpec\t<string> -required-" in explained
    assert "When to run, in cron syntax." in explained
    discovery = client.get(f"/apis/{GROUP}/v1").json()
    (entry,) = discovery["resources"][:1]
    assert (entry["name"], entry["kind"], entry["namespaced"]) == ("crontabs", "CronTab", True)

    # Create: defaults appear; an unknown field is refused by kubectl's strict validation
    # and pruned when the client asks for no validation.
    kubectl("apply", "-f", "-", stdin=json.dumps(crontab("my-cron")))
    stored = client.get(f"{CRONTABS}/my-cron").json()
    assert stored["spec"] == {"cronSpec": "* * * * */5", "image": "my-cron-image", "replicas": 1}
    assert stored["metadata"]["generation"] == 1
    strict = kubectl("apply", "-f", "-", stdin=json.dumps(crontab("extra", bogus=1)),
                     check=False)
    assert strict.returncode != 0 and 'unknown field "spec.bogus"' in strict.stderr
    kubectl("apply", "--validate=false", "-f", "-", stdin=json.dumps(crontab("extra", bogus=1)))
    assert "bogus" not in client.get(f"{CRONTABS}/extra").json()["spec"]

    # Invalid objects: 422 with upstream's field paths and messages.
    bad = client.post(CRONTABS, json=crontab("bad", cronSpec="nope", replicas=20, image=3))
    assert bad.status_code == 422, bad.text
    status = bad.json()
    assert status["reason"] == "Invalid"
    assert status["details"] == {"name": "bad", "group": GROUP, "kind": "CronTab",
                                 "causes": status["details"]["causes"]}
    messages = {c["field"]: c["message"] for c in status["details"]["causes"]}
    assert messages["spec.replicas"] == ("Invalid value: 20: spec.replicas in body should be "
                                         "less than or equal to 10")
    assert messages["spec.image"] == ('Invalid value: "integer": spec.image in body must be of '
                                      'type string: "integer"')
    assert messages["spec.cronSpec"].startswith('Invalid value: "nope": spec.cronSpec in body '
                                                "should match '")
    ruled = client.post(CRONTABS, json=crontab("ruled", image="other"))
    assert ruled.status_code == 422, ruled.text
    assert ruled.json()["details"]["causes"] == [{
        "reason": "FieldValueInvalid", "field": "spec",
        "message": 'Invalid value: "object": image must start with my-'}]
    missing = client.post(CRONTABS, json={"apiVersion": f"{GROUP}/v1", "kind": "CronTab",
                                          "metadata": {"name": "empty"}, "spec": {}})
    assert missing.status_code == 422
    assert missing.json()["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.cronSpec"}]

    # Status is a subresource: the main resource ignores it, /status changes only it.
    kubectl("patch", "ct", "my-cron", "--type=merge", "--subresource=status",
            "-p", '{"status":{"ready":2}}')
    patched = json.loads(kubectl("patch", "ct", "my-cron", "--type=merge", "-o", "json",
                                 "-p", '{"spec":{"replicas":3},"status":{"ready":9}}').stdout)
    assert patched["status"] == {"ready": 2} and patched["spec"]["replicas"] == 3
    assert patched["metadata"]["generation"] == 2
    smp = kubectl("patch", "ct", "my-cron", "-p", '{"spec":{"replicas":4}}', check=False)
    assert smp.returncode != 0 and "application/merge-patch+json" in smp.stderr

    # Scale through the CRD's replica paths; field selectors on selectableFields.
    kubectl("scale", "ct", "my-cron", "--replicas=5")
    scale = client.get(f"{CRONTABS}/my-cron/scale").json()
    assert (scale["kind"], scale["spec"], scale["status"]) == ("Scale", {"replicas": 5},
                                                              {"replicas": 2})
    assert client.get(f"{CRONTABS}/my-cron").json()["spec"]["replicas"] == 5
    selected = kubectl("get", "ct", "--field-selector", "spec.image=my-cron-image",
                       "-o", "name").stdout.split()
    assert "crontab.stable.example.com/my-cron" in selected
    assert kubectl("get", "ct", "--field-selector", "spec.image=other", "-o",
                   "name").stdout.strip() == ""
    kubectl("scale", "ct", "my-cron", "--replicas=3")

    # Table: Name, then the printer columns; kubectl prints them.
    table = client.get(CRONTABS, headers={"accept": TABLE}).json()
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Spec", "Replicas", "Age"]
    cells = {row["cells"][0]: row["cells"][1:3] for row in table["rows"]}
    assert cells["my-cron"] == ["* * * * */5", 3]
    printed = kubectl("get", "ct").stdout.splitlines()
    assert printed[0].split() == ["NAME", "SPEC", "REPLICAS", "AGE"]
    assert any(line.startswith("my-cron") and " 3 " in line for line in printed[1:])

    # A restarted apiserver serves the stored CRD and its objects again.
    server.restart()
    wait_for("the custom resource after a restart",
          lambda: client.get(f"{CRONTABS}/my-cron").status_code == 200)

    # Deleting the CRD deletes its objects, then the CRD and its discovery entries.
    kubectl("delete", "crd", CRD_NAME, "--timeout=30s")
    wait_for("the CRD gone", lambda: client.get(
        f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}").status_code == 404)
    assert client.get(f"{CRONTABS}/my-cron").status_code == 404
    assert client.get(f"/apis/{GROUP}/v1").status_code == 404
    assert GROUP not in kubectl("api-resources").stdout
    assert f"apis/{GROUP}/v1" not in client.get("/openapi/v3").json()["paths"]


def test_crd_validation_and_name_conflicts(apiserver: ApiServerProcess) -> None:
    client = httpx.Client(base_url=apiserver.url, timeout=10)
    crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    bad = json.loads(json.dumps(CRD))
    bad["metadata"]["name"] = "wrong.name.example.com"
    bad["spec"]["group"] = "nodots"
    bad["spec"]["versions"][0]["storage"] = False
    answer = client.post(crds, json=bad)
    assert answer.status_code == 422, answer.text
    fields = {c["field"]: c["message"] for c in answer.json()["details"]["causes"]}
    assert fields["metadata.name"] == ('Invalid value: "wrong.name.example.com": must be '
                                       'spec.names.plural+"."+spec.group')
    assert fields["spec.group"] == ('Invalid value: "nodots": should be a domain with at least '
                                    "one dot")
    assert "must have exactly one version marked as storage version" in fields["spec.versions"]
    uncompilable = json.loads(json.dumps(CRD))
    uncompilable["metadata"]["name"] = "rules.bad.example.com"
    uncompilable["spec"]["group"] = "bad.example.com"
    uncompilable["spec"]["names"] = {"plural": "rules", "kind": "Rule"}
    uncompilable["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "x-kubernetes-validations"] = [{"rule": "self.x >"}]
    answer = client.post(crds, json=uncompilable)
    assert answer.status_code == 422, answer.text
    (cause,) = answer.json()["details"]["causes"]
    assert cause["field"] == ("spec.versions[0].schema.openAPIV3Schema.properties[spec]"
                              ".x-kubernetes-validations[0].rule")
    assert "compilation failed" in cause["message"]

    first = json.loads(json.dumps(CRD))
    first["metadata"]["name"] = "widgets.conflict.example.com"
    first["spec"]["group"] = "conflict.example.com"
    first["spec"]["names"] = {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]}
    second = json.loads(json.dumps(first))
    second["metadata"]["name"] = "gadgets.conflict.example.com"
    second["spec"]["names"] = {"plural": "gadgets", "kind": "Gadget", "shortNames": ["wd"]}
    try:
        assert client.post(crds, json=first).status_code == 201
        wait_for("widgets established", lambda: any(
            c["type"] == "Established" and c["status"] == "True"
            for c in client.get(f"{crds}/widgets.conflict.example.com").json()["status"]
            .get("conditions", [])))
        assert client.post(crds, json=second).status_code == 201
        accepted = wait_for("the conflict reported", lambda: next(
            (c for c in client.get(f"{crds}/gadgets.conflict.example.com").json()["status"]
             .get("conditions", []) if c["type"] == "NamesAccepted"), None))
        assert accepted["status"] == "False" and '"wd" is already in use' in accepted["message"]
        assert client.get("/apis/conflict.example.com/v1/namespaces/default/gadgets") \
            .status_code == 404
    finally:
        client.delete(f"{crds}/widgets.conflict.example.com")
        client.delete(f"{crds}/gadgets.conflict.example.com")


def test_a_crd_serves_every_served_version(fresh_apiserver: ApiServerProcess) -> None:
    """``conversion.strategy: None``: objects are stored as the storage version and every
    served version reads, lists, watches and writes them under its own apiVersion."""
    client = httpx.Client(base_url=fresh_apiserver.url, timeout=10)
    group = "multi.example.com"
    schema = {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}}}}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"widgets.{group}"},
           "spec": {"group": group, "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget"},
                    "versions": [
                        {"name": "v1beta1", "served": True, "storage": False, "schema": schema},
                        {"name": "v1", "served": True, "storage": True, "schema": schema},
                        {"name": "v1alpha1", "served": False, "storage": False,
                         "schema": schema}]}}
    assert client.post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                       json=crd).status_code == 201
    base = "/apis/{}/{}/namespaces/default/widgets"
    wait_for("both versions served", lambda: all(
        client.get(base.format(group, v)).status_code == 200 for v in ("v1", "v1beta1")))
    assert client.get(base.format(group, "v1alpha1")).status_code == 404
    groups = client.get("/apis").json()["groups"]
    entry = next(g for g in groups if g["name"] == group)
    assert [v["version"] for v in entry["versions"]] == ["v1", "v1beta1"]
    assert entry["preferredVersion"]["version"] == "v1"

    watch = client.build_request("GET", base.format(group, "v1beta1"),
                                 params={"watch": "1", "timeoutSeconds": "5"})
    stream = client.send(watch, stream=True)
    created = client.post(base.format(group, "v1beta1"), json={
        "apiVersion": f"{group}/v1beta1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 3}})
    assert created.status_code == 201, created.text
    assert created.json()["apiVersion"] == f"{group}/v1beta1"
    first = json.loads(next(stream.iter_lines()))
    stream.close()
    assert first["type"] == "ADDED" and first["object"]["apiVersion"] == f"{group}/v1beta1"
    assert client.get(base.format(group, "v1") + "/w").json()["apiVersion"] == f"{group}/v1"
    listed = client.get(base.format(group, "v1beta1")).json()
    assert listed["apiVersion"] == f"{group}/v1beta1"
    assert [i["apiVersion"] for i in listed["items"]] == [f"{group}/v1beta1"]
    updated = client.patch(base.format(group, "v1") + "/w", json={"spec": {"size": 5}},
                           headers={"content-type": "application/merge-patch+json"})
    assert updated.status_code == 200 and updated.json()["apiVersion"] == f"{group}/v1"
    assert client.get(base.format(group, "v1beta1") + "/w").json()["spec"] == {"size": 5}
    # A patch through the other version patches the same object.
    again = client.patch(base.format(group, "v1beta1") + "/w", json={"spec": {"size": 6}},
                         headers={"content-type": "application/merge-patch+json"})
    assert again.status_code == 200, again.text
    assert again.json()["apiVersion"] == f"{group}/v1beta1"
    assert client.get(base.format(group, "v1") + "/w").json()["spec"] == {"size": 6}
    stored = client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}")
    assert stored.json()["status"]["storedVersions"] == ["v1"]

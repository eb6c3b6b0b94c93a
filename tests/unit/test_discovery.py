"""Discovery bodies: legacy lists, aggregated discovery and its negotiation."""

from __future__ import annotations

import re

import pytest

from apiserver.api import resources
from apiserver.api.resources import RESOURCES, ResourceInfo
from apiserver.handlers import discovery

V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"

SEMVER = re.compile(
    r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
)


def test_version_info_has_every_field_and_a_semver() -> None:
    info = discovery.version_info()
    for field in (
        "major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate",
        "goVersion", "compiler", "platform",
    ):
        assert isinstance(info[field], str)
    assert info["major"] == "1"
    assert int(info["minor"]) >= 29  # kubectl needs >= 1.29 semantics (openapi v3)
    assert SEMVER.match(info["gitVersion"])
    assert info["gitVersion"].startswith(f"v{info['major']}.{info['minor']}.")
    assert re.match(r"^[a-z0-9]+/[a-z0-9_]+$", info["platform"])
    assert info["buildDate"].endswith("Z")


def test_api_versions() -> None:
    body = discovery.api_versions("127.0.0.1:6443")
    assert body == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}
        ],
    }


def test_api_group_list_has_only_non_core_groups() -> None:
    body = discovery.api_group_list()
    assert body["kind"] == "APIGroupList"
    names = [g["name"] for g in body["groups"]]
    assert names == list(dict.fromkeys(i.group for i in RESOURCES if i.group))
    for group in body["groups"]:
        assert group["preferredVersion"] == group["versions"][0]
        assert discovery.api_group(group["name"]) is not None


def test_api_group_unknown_and_core_are_none() -> None:
    assert discovery.api_group("") is None
    assert discovery.api_group("nope.example.com") is None


def test_api_resource_list_core() -> None:
    body = discovery.api_resource_list("v1")
    assert body is not None
    assert body["kind"] == "APIResourceList"
    assert body["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in body["resources"]}
    names = [r["name"] for r in body["resources"]]
    assert names == sorted(names)
    pods = by_name["pods"]
    assert pods["singularName"] == "pod"
    assert pods["namespaced"] is True
    assert pods["kind"] == "Pod"
    assert pods["shortNames"] == ["po"]
    assert pods["categories"] == ["all"]
    assert "watch" in pods["verbs"]
    assert pods["storageVersionHash"] == "xPOwRZ+Yhw8="  # as kube-apiserver reports it
    assert by_name["services"]["shortNames"] == ["svc"]
    assert by_name["endpoints"]["shortNames"] == ["ep"]
    assert by_name["namespaces"]["namespaced"] is False
    assert by_name["pods/status"] == {
        "name": "pods/status",
        "singularName": "",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get", "patch", "update"],
    }
    assert by_name["namespaces/finalize"]["verbs"] == ["update"]


def test_api_resource_list_unknown() -> None:
    assert discovery.api_resource_list("v2") is None
    assert discovery.api_resource_list("nope.example.com/v1") is None


@pytest.mark.parametrize("version", ["v2", "v2beta1"])
def test_aggregated_core(version: str) -> None:
    body = discovery.aggregated_discovery(core=True, version=version)
    assert body["kind"] == "APIGroupDiscoveryList"
    assert body["apiVersion"] == f"apidiscovery.k8s.io/{version}"
    [item] = body["items"]
    assert item["metadata"].get("name", "") == ""
    [v1] = item["versions"]
    assert v1["version"] == "v1"
    assert v1["freshness"] == "Current"
    resources = {r["resource"]: r for r in v1["resources"]}
    svc = resources["services"]
    assert svc["responseKind"] == {"group": "", "version": "v1", "kind": "Service"}
    assert svc["scope"] == "Namespaced"
    assert svc["singularResource"] == "service"
    assert svc["shortNames"] == ["svc"]
    assert svc["categories"] == ["all"]
    assert svc["subresources"] == [
        {
            "subresource": "proxy",
            "responseKind": {"group": "", "version": "v1", "kind": "ServiceProxyOptions"},
            "verbs": ["create", "delete", "get", "patch", "update"],
        },
        {
            "subresource": "status",
            "responseKind": {"group": "", "version": "v1", "kind": "Service"},
            "verbs": ["get", "patch", "update"],
        }
    ]
    assert resources["namespaces"]["scope"] == "Cluster"
    pod_subresources = {s["subresource"]: (s["responseKind"]["kind"], s["verbs"])
                        for s in resources["pods"]["subresources"]}
    assert pod_subresources["exec"] == ("PodExecOptions", ["create", "get"])
    assert pod_subresources["log"] == ("Pod", ["get"])
    assert pod_subresources["portforward"] == ("PodPortForwardOptions", ["create", "get"])
    # As upstream 1.33's aggregated discovery lists it.
    assert pod_subresources["ephemeralcontainers"] == ("Pod", ["get", "patch", "update"])


def test_aggregated_groups_match_legacy() -> None:
    body = discovery.aggregated_discovery(core=False)
    names = [item["metadata"]["name"] for item in body["items"]]
    assert names == [g["name"] for g in discovery.api_group_list()["groups"]]


def test_aggregated_rejects_unknown_version() -> None:
    with pytest.raises(ValueError):
        discovery.aggregated_discovery(core=True, version="v3")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        # kubectl 1.30+ / client-go
        (f"{V2},{V2BETA1},application/json", V2),
        # kubectl 1.27
        (f"{V2BETA1},application/json", V2BETA1),
        ("application/json", None),
        ("application/json, */*", None),
        ("", None),
        ("*/*", None),
        # parameter order and spacing do not matter
        ("application/json; as=APIGroupDiscoveryList; v=v2; g=apidiscovery.k8s.io", V2),
        # client preference by q
        (f"{V2};q=0.5,{V2BETA1}", V2BETA1),
        (f"{V2};q=0,application/json", None),
        ("application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList", None),
        ("application/yaml;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", None),
        ("application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscovery", None),
    ],
)
def test_negotiate_discovery(accept: str, expected: str | None) -> None:
    assert discovery.negotiate_discovery(accept) == expected


def test_content_types_are_exactly_what_client_go_checks() -> None:
    assert discovery.AGGREGATED_CONTENT_TYPES == {"v2": V2, "v2beta1": V2BETA1}


ENDPOINT_SLICES = ResourceInfo(
    group="discovery.k8s.io",
    version="v1",
    kind="EndpointSlice",
    plural="endpointslices",
    singular="endpointslice",
    namespaced=True,
    schema_ref="io.k8s.api.discovery.v1.EndpointSlice",
    list_kind="EndpointSliceList",
)
LEASES = ResourceInfo(
    group="coordination.k8s.io",
    version="v1",
    kind="Lease",
    plural="leases",
    singular="lease",
    namespaced=True,
    schema_ref="io.k8s.api.coordination.v1.Lease",
    list_kind="LeaseList",
)


@pytest.fixture
def with_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve EndpointSlices and Leases too, as the table will later."""
    table = (*(r for r in RESOURCES if not r.group), ENDPOINT_SLICES, LEASES)
    monkeypatch.setattr(resources, "RESOURCES", table)
    monkeypatch.setattr(discovery, "served_resources", lambda: table)


@pytest.mark.usefixtures("with_groups")
def test_groups_are_discovered_generically() -> None:
    groups = discovery.api_group_list()["groups"]
    assert [g["name"] for g in groups] == ["discovery.k8s.io", "coordination.k8s.io"]
    assert groups[0]["preferredVersion"] == {
        "groupVersion": "discovery.k8s.io/v1", "version": "v1"
    }
    assert discovery.api_group("coordination.k8s.io") == {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": "coordination.k8s.io",
        "versions": [{"groupVersion": "coordination.k8s.io/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "coordination.k8s.io/v1", "version": "v1"},
    }
    body = discovery.api_resource_list("discovery.k8s.io/v1")
    assert body is not None
    assert body["apiVersion"] == "v1"
    assert [r["name"] for r in body["resources"]] == ["endpointslices"]
    aggregated = discovery.aggregated_discovery(core=False)
    assert [i["metadata"]["name"] for i in aggregated["items"]] == [
        "discovery.k8s.io", "coordination.k8s.io"
    ]
    [lease] = aggregated["items"][1]["versions"][0]["resources"]
    assert lease["responseKind"] == {
        "group": "coordination.k8s.io", "version": "v1", "kind": "Lease"
    }
    assert len(discovery.aggregated_discovery(core=True)["items"]) == 1

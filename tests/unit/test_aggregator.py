"""Unit tests of the aggregator's pure parts: routing entries, resolution, headers,
discovery ordering and merging, availability conditions, the trust ConfigMap."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from apiserver.aggregator import discovery as agg
from apiserver.aggregator.availability import (
    LOCAL,
    has_available_endpoint,
    service_condition,
    slices_from_endpoints,
    with_condition,
)
from apiserver.aggregator.index import Entry, entry_of
from apiserver.aggregator.resolve import cluster_address
from apiserver.aggregator.server import split_group_version
from apiserver.aggregator.transport import (
    TransportError,
    UserHeaders,
    escape_extra_key,
    forwarded_headers,
    response_headers,
    ssl_context,
    user_headers,
    wire_headers,
)
from apiserver.aggregator.trust import combine_pem, desired_data
from apiserver.api.user import UserInfo
from apiserver.auth.config import AuthenticationOptions
from apiserver.auth.requestheader import RequestHeaderOptions
from apiserver.handlers import discovery
from kubemu.pki import ensure_pki


def _api_service(name: str = "v1alpha1.wardle.example.com", **spec: Any) -> dict[str, Any]:
    group, version = name.split(".", 1)[1], name.split(".", 1)[0]
    return {"metadata": {"name": name},
            "spec": {"group": group, "version": version, "groupPriorityMinimum": 1000,
                     "versionPriority": 15, **spec}}


def _entry(group: str, version: str, gp: int = 1000, vp: int = 15, **kw: Any) -> Entry:
    return Entry(f"{version}.{group}", group, version, gp, vp, **kw)


# -- index --------------------------------------------------------------------------------

def test_entries_read_the_service_the_ca_bundle_and_availability() -> None:
    obj = _api_service(service={"namespace": "w", "name": "api", "port": 8443},
                       caBundle=base64.b64encode(b"PEM").decode())
    obj["status"] = {"conditions": [{"type": "Available", "status": "True"}]}
    entry = entry_of(obj)
    assert not entry.local and entry.available
    assert (entry.service_namespace, entry.service_name, entry.port) == ("w", "api", 8443)
    assert entry.ca_bundle == b"PEM" and entry.server_name == "api.w.svc"
    assert entry_of(_api_service()).local
    assert entry_of(_api_service(service={"namespace": "w", "name": "a"},
                                 caBundle="!!not base64")).ca_bundle is None


def test_only_apis_group_version_paths_route() -> None:
    assert split_group_version("/apis/wardle.example.com/v1alpha1") == \
        ("wardle.example.com", "v1alpha1")
    assert split_group_version("/apis/g/v/namespaces/x/flunders") == ("g", "v")
    assert split_group_version("/apis/g") is None
    assert split_group_version("/apis/g/") is None
    assert split_group_version("/api/v1/pods") is None


# -- resolution ---------------------------------------------------------------------------

def test_cluster_resolution_uses_the_cluster_ip_and_port() -> None:
    svc = {"spec": {"type": "ClusterIP", "clusterIP": "10.0.0.7", "ports": [{"port": 443}]}}
    assert cluster_address(svc, "api", 443) == ("10.0.0.7", 443)
    with pytest.raises(LookupError, match='service "api" not found'):
        cluster_address(None, "api", 443)
    with pytest.raises(LookupError, match="no service port 8443"):
        cluster_address(svc, "api", 8443)
    with pytest.raises(LookupError, match="ClusterIP None"):
        cluster_address({"spec": {"clusterIP": "None", "ports": [{"port": 443}]}}, "api", 443)
    external = {"spec": {"type": "ExternalName", "externalName": "ext.example.com"}}
    assert cluster_address(external, "api", 443) == ("ext.example.com", 443)


# -- headers ------------------------------------------------------------------------------

def test_forwarded_headers_replace_credentials_with_the_user() -> None:
    user = UserInfo("alice", uid="u1", groups=("devs", "system:authenticated"),
                    extra={"authentication.kubernetes.io/credential-id": ("X509SHA256=ab",)})
    incoming = [("authorization", "Bearer secret"), ("impersonate-user", "bob"),
                ("x-remote-user", "mallory"), ("x-remote-group", "admins"),
                ("x-remote-extra-foo", "bar"), ("accept", "application/json"),
                ("connection", "keep-alive, x-drop"), ("x-drop", "1"), ("host", "kubemu"),
                ("x-forwarded-for", "10.1.1.1")]
    out = forwarded_headers(incoming, user, UserHeaders(), "127.0.0.9")
    assert out == [("accept", "application/json"),
                   ("x-forwarded-for", "10.1.1.1, 127.0.0.9"),
                   ("X-Remote-User", "alice"),
                   ("X-Remote-Group", "devs"), ("X-Remote-Group", "system:authenticated"),
                   ("X-Remote-Extra-authentication.kubernetes.io%2Fcredential-id",
                    "X509SHA256=ab")]


def test_user_headers_follow_the_requestheader_flags() -> None:
    names = UserHeaders.from_options(RequestHeaderOptions(
        username_headers=("X-User",), group_headers=("X-Groups",),
        extra_headers_prefix=("X-Extra-",), uid_headers=("X-Uid",)))
    out = forwarded_headers([("x-user", "mallory"), ("x-remote-user", "eve")],
                            UserInfo("alice", uid="7"), names)
    assert out == [("X-User", "alice"), ("X-Uid", "7")]


def test_extra_keys_are_escaped_as_client_go_does() -> None:
    assert escape_extra_key("scopes") == "scopes"
    assert escape_extra_key("a/b%c d") == "a%2Fb%25c%20d"


def test_hop_by_hop_response_headers_are_dropped() -> None:
    assert response_headers([(b"Content-Type", b"application/json"),
                             (b"Connection", b"close"), (b"Transfer-Encoding", b"chunked"),
                             (b"X-Name", "caf\u00e9 \u20ac".encode())]) == \
        [(b"content-type", b"application/json"), (b"x-name", "caf\u00e9 \u20ac".encode())]


def test_user_headers_travel_as_utf8_bytes() -> None:
    names = UserHeaders.from_options(RequestHeaderOptions())
    user = UserInfo("j\u00fcrgen", groups=("gr\u00fcn",))
    wire = wire_headers(user_headers(user, names))
    assert (b"x-remote-user", "j\u00fcrgen".encode()) in [(k.lower(), v) for k, v in wire]
    assert (b"x-remote-group", "gr\u00fcn".encode()) in [(k.lower(), v) for k, v in wire]


def test_a_garbage_ca_bundle_is_a_transport_error() -> None:
    with pytest.raises(TransportError):
        ssl_context(b"garbage", False, None, None)
    with pytest.raises(TransportError):
        ssl_context(None, False, None, None)
    assert ssl_context(b"", True, None, None).check_hostname is False


# -- discovery ----------------------------------------------------------------------------

def test_groups_sort_by_priority_then_name_and_versions_kube_aware() -> None:
    entries = [_entry("b.example.com", "v1", gp=100), _entry("a.example.com", "v1", gp=100),
               _entry("z.example.com", "v1beta1", gp=2000, vp=10),
               _entry("z.example.com", "v2alpha1", gp=10, vp=10),
               _entry("z.example.com", "v1", gp=10, vp=10),
               _entry("z.example.com", "foo", gp=10, vp=10),
               _entry("z.example.com", "v1beta2", gp=10, vp=10)]
    ordered = agg.sorted_by_group_and_version(entries)
    assert [g[0].group for g in ordered] == ["z.example.com", "a.example.com", "b.example.com"]
    assert [e.version for e in ordered[0]] == ["v1", "v1beta2", "v1beta1", "v2alpha1", "foo"]
    assert [e.version for e in agg.sorted_by_group_and_version(
        [_entry("g", "v1", vp=1), _entry("g", "v1alpha1", vp=20)])[0]] == ["v1alpha1", "v1"]


def test_legacy_discovery_lists_aggregated_groups_after_the_local_ones() -> None:
    extra = agg.legacy_groups([_entry("wardle.example.com", "v1alpha1"),
                               _entry("apps", "v9", gp=1)])
    body = discovery.api_group_list(extra)
    names = [g["name"] for g in body["groups"]]
    assert names[-1] == "wardle.example.com" and names.count("apps") == 1
    apps = next(g for g in body["groups"] if g["name"] == "apps")
    assert apps["versions"][-1] == {"groupVersion": "apps/v9", "version": "v9"}
    assert apps["preferredVersion"]["version"] == "v1"
    assert agg.api_group([_entry("wardle.example.com", "v1alpha1")], "wardle.example.com") == {
        "kind": "APIGroup", "apiVersion": "v1", "name": "wardle.example.com",
        "versions": [{"groupVersion": "wardle.example.com/v1alpha1", "version": "v1alpha1"}],
        "preferredVersion": {"groupVersion": "wardle.example.com/v1alpha1",
                             "version": "v1alpha1"}}
    assert agg.api_group([], "wardle.example.com") is None


RESOURCE_LIST = {"kind": "APIResourceList", "groupVersion": "wardle.example.com/v1alpha1",
                 "resources": [
                     {"name": "flunders", "singularName": "flunder", "namespaced": True,
                      "kind": "Flunder", "verbs": ["get", "list"], "shortNames": ["fl"]},
                     {"name": "flunders/status", "singularName": "", "namespaced": True,
                      "kind": "Flunder", "verbs": ["get", "update"]},
                     {"name": "fischers", "namespaced": False, "kind": "Fischer",
                      "verbs": ["list"]}]}


def test_remote_resources_render_in_the_aggregated_shape() -> None:
    version = agg.aggregated_version("wardle.example.com", "v1alpha1", RESOURCE_LIST,
                                     "Current")
    flunders, fischers = version["resources"]
    assert flunders == {
        "resource": "flunders", "scope": "Namespaced", "singularResource": "flunder",
        "responseKind": {"group": "wardle.example.com", "version": "v1alpha1",
                         "kind": "Flunder"},
        "verbs": ["get", "list"], "shortNames": ["fl"],
        "subresources": [{"subresource": "status", "verbs": ["get", "update"],
                          "responseKind": {"group": "wardle.example.com",
                                           "version": "v1alpha1", "kind": "Flunder"}}]}
    assert fischers["scope"] == "Cluster"
    assert version["freshness"] == "Current"


def test_a_failed_fetch_keeps_the_resources_as_stale() -> None:
    now = [0.0]
    remote = agg.RemoteDiscovery(clock=lambda: now[0])
    entry = _entry("wardle.example.com", "v1alpha1", available=True)
    assert remote.items([entry])[0]["versions"][0] == \
        {"version": "v1alpha1", "resources": [], "freshness": "Stale"}
    remote.record(entry.name, RESOURCE_LIST)
    assert remote.items([entry])[0]["versions"][0]["freshness"] == "Current"
    now[0] = 7.0
    remote.record(entry.name, None)
    stale = remote.items([entry])[0]["versions"][0]
    assert stale["freshness"] == "Stale" and len(stale["resources"]) == 2
    assert remote.age(entry.name) == 0.0
    remote.forget([])
    assert remote.age(entry.name) is None


def test_aggregated_discovery_merges_the_remote_items() -> None:
    items = agg.RemoteDiscovery().items([_entry("wardle.example.com", "v1alpha1")])
    body = discovery.aggregated_discovery(False, "v2", items)
    assert body["items"][-1]["metadata"] == {"name": "wardle.example.com"}
    assert discovery.aggregated_discovery(True, "v2", items)["items"][0]["metadata"] == {}


# -- availability -------------------------------------------------------------------------

REMOTE = _entry("wardle.example.com", "v1alpha1", service_namespace="wardle",
                service_name="api", port=443)
SERVICE = {"spec": {"type": "ClusterIP", "ports": [{"name": "https", "port": 443}]}}
READY = [{"endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}],
          "ports": [{"name": "https", "port": 8443}]}]


@pytest.mark.parametrize(("service", "slices", "expected"), [
    (None, READY, ("ServiceNotFound", 'service/api in "wardle" is not present')),
    ({"spec": {"ports": [{"port": 80}]}}, READY,
     ("ServicePortError", 'service/api in "wardle" is not listening on port 443')),
    (SERVICE, [], ("EndpointsNotFound",
                   'cannot find endpointslices for service/api in "wardle"')),
    (SERVICE, [{"endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": False}}],
                "ports": [{"name": "https", "port": 8443}]}],
     ("MissingEndpoints",
      'endpointslices for service/api in "wardle" have no addresses with port name "https"')),
])
def test_service_checks_fail_with_upstream_texts(
        service: dict[str, Any] | None, slices: list[dict[str, Any]],
        expected: tuple[str, str]) -> None:
    found = service_condition(REMOTE, service, slices)
    assert found is not None
    assert (found["status"], found["reason"], found["message"]) == ("False", *expected)


def test_service_checks_pass_with_a_ready_named_endpoint() -> None:
    assert service_condition(REMOTE, SERVICE, READY) is None
    external = {"spec": {"type": "ExternalName", "externalName": "x"}}
    assert service_condition(REMOTE, external, []) is None
    assert LOCAL["reason"] == "Local"


def test_endpoints_count_as_slices_for_selectorless_services() -> None:
    slices = slices_from_endpoints({"subsets": [
        {"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "https", "port": 9443}]}]})
    assert has_available_endpoint("https", slices)
    assert not has_available_endpoint("http", slices)
    assert not has_available_endpoint("https", slices_from_endpoints({"subsets": [
        {"notReadyAddresses": [{"ip": "127.0.0.1"}],
         "ports": [{"name": "https", "port": 9443}]}]}))


def test_the_transition_time_moves_only_with_the_status() -> None:
    obj: dict[str, Any] = {"status": {"conditions": [
        {"type": "Other", "status": "True"},
        {"type": "Available", "status": "True", "reason": "Passed", "message": "m",
         "lastTransitionTime": "T0"}]}}
    same = with_condition(obj, {"type": "Available", "status": "True", "reason": "Local",
                                "message": "x"}, "T1")
    assert same["status"]["conditions"][1]["lastTransitionTime"] == "T0"
    assert same["status"]["conditions"][0] == {"type": "Other", "status": "True"}
    flipped = with_condition(same, {"type": "Available", "status": "False",
                                    "reason": "FailedDiscoveryCheck", "message": "y"}, "T2")
    assert flipped["status"]["conditions"][1] == {
        "type": "Available", "status": "False", "reason": "FailedDiscoveryCheck",
        "message": "y", "lastTransitionTime": "T2"}
    fresh = with_condition({}, LOCAL, "T3")
    assert fresh["status"]["conditions"] == [{**LOCAL, "lastTransitionTime": "T3"}]


# -- trust --------------------------------------------------------------------------------

PEM_A = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
PEM_B = "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n"


def test_the_trust_configmap_carries_the_flags_as_json_arrays(tmp_path: Path) -> None:
    client_ca, front_ca = tmp_path / "ca.crt", tmp_path / "front.crt"
    client_ca.write_text(PEM_A)
    front_ca.write_text(PEM_B)
    options = AuthenticationOptions(client_ca_file=client_ca, requestheader=RequestHeaderOptions(
        client_ca_file=front_ca, allowed_names=("front-proxy-client",)))
    data = desired_data(options, {"client-ca-file": PEM_B, "other": "kept"})
    assert data == {
        "other": "kept",
        "client-ca-file": PEM_B + PEM_A,
        "requestheader-client-ca-file": PEM_B,
        "requestheader-allowed-names": '["front-proxy-client"]',
        "requestheader-username-headers": '["X-Remote-User"]',
        "requestheader-group-headers": '["X-Remote-Group"]',
        "requestheader-extra-headers-prefix": '["X-Remote-Extra-"]'}
    assert combine_pem(PEM_A, PEM_A.encode()) == PEM_A


def test_a_ca_bundle_is_the_only_root_trusted(tmp_path: Path) -> None:
    bundle = ensure_pki(tmp_path).ca_cert.read_bytes()
    context = ssl_context(bundle, False, None, None)
    assert len(context.get_ca_certs()) == 1
    assert context.check_hostname

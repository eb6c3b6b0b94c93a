"""Request attributes (upstream RequestInfoFactory) and RBAC rule matching and covering."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.api.user import UserInfo
from apiserver.auth.authz_filter import forbidden
from apiserver.auth.authz_union import ModeError, parse_modes
from apiserver.auth.rbac_rules import (
    applies_to_user,
    compact,
    compact_string,
    compile_rule,
    compiled_allows,
    covers,
)
from apiserver.auth.rbac_rules import rule_allows as dict_rule_allows
from apiserver.auth.request_attributes import request_attributes
from apiserver.registry.reviews import Attributes


def rule_allows(attrs: Attributes, rule: dict[str, Any]) -> bool:
    """Both forms of the matcher, which must agree."""
    allowed = dict_rule_allows(attrs, rule)
    assert compiled_allows(attrs, compile_rule(rule)) == allowed
    return allowed


ALICE = UserInfo("alice", groups=("devs", "system:authenticated"))


def _attrs(method: str, path: str, query: str = "") -> Attributes:
    scope = {"type": "http", "method": method, "path": path,
             "query_string": query.encode()}
    return request_attributes(scope, ALICE)


@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    ("GET", "/api/v1/namespaces/ns/pods", "", ("list", "", "v1", "ns", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods", "watch=1", ("watch", "", "v1", "ns", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods", "watch=false",
     ("list", "", "v1", "ns", "pods", "", "")),
    ("GET", "/api/v1/watch/namespaces/ns/pods/p", "",
     ("watch", "", "v1", "ns", "pods", "p", "")),
    ("GET", "/api/v1/namespaces/ns/pods", "fieldSelector=metadata.name%3Dp",
     ("list", "", "v1", "ns", "pods", "p", "")),
    ("GET", "/api/v1/namespaces/ns/pods/p/log", "", ("get", "", "v1", "ns", "pods", "p", "log")),
    ("POST", "/api/v1/namespaces/ns/pods/p/eviction", "",
     ("create", "", "v1", "ns", "pods", "p", "eviction")),
    ("PUT", "/apis/apps/v1/namespaces/ns/deployments/d/scale", "",
     ("update", "apps", "v1", "ns", "deployments", "d", "scale")),
    ("PATCH", "/api/v1/nodes/n1/status", "", ("patch", "", "v1", "", "nodes", "n1", "status")),
    ("DELETE", "/api/v1/namespaces/ns/configmaps", "",
     ("deletecollection", "", "v1", "ns", "configmaps", "", "")),
    ("DELETE", "/api/v1/namespaces/ns", "", ("delete", "", "v1", "ns", "namespaces", "ns", "")),
    ("PUT", "/api/v1/namespaces/ns/finalize", "",
     ("update", "", "v1", "ns", "namespaces", "ns", "finalize")),
    ("GET", "/api/v1/namespaces", "", ("list", "", "v1", "", "namespaces", "", "")),
    ("GET", "/api/v1/proxy/namespaces/ns/pods/p/a/b", "",
     ("proxy", "", "v1", "ns", "pods", "p", "")),
    ("HEAD", "/apis/example.com/v1/widgets", "", ("list", "example.com", "v1", "", "widgets",
                                                  "", "")),
])
def test_resource_requests(method: str, path: str, query: str,
                           expected: tuple[str, ...]) -> None:
    a = _attrs(method, path, query)
    assert a.resource_request
    assert (a.verb, a.api_group, a.api_version, a.namespace, a.resource, a.name,
            a.subresource) == expected
    assert a.path == path and a.user is ALICE


def test_field_selector_requirements() -> None:
    a = _attrs("GET", "/api/v1/pods", "watch=true&fieldSelector=spec.nodeName%3D%3Dn1,"
                                      "status.phase!%3DFailed")
    assert a.verb == "watch" and a.name == ""
    assert a.field_selector == (("spec.nodeName", "=", "n1"), ("status.phase", "!=", "Failed"))


@pytest.mark.parametrize(("method", "path", "verb"), [
    ("GET", "/api", "get"), ("GET", "/api/v1", "get"), ("GET", "/apis/apps", "get"),
    ("GET", "/apis/apps/v1", "get"), ("GET", "/healthz", "get"), ("POST", "/foo", "post"),
    ("HEAD", "/version", "head"), ("GET", "/openapi/v3/apis/apps/v1", "get"),
])
def test_non_resource_requests(method: str, path: str, verb: str) -> None:
    a = _attrs(method, path)
    assert not a.resource_request
    assert (a.verb, a.path, a.resource) == (verb, path, "")


def _rule(**fields: Any) -> dict[str, Any]:
    return fields


def _res(verb: str, resource: str, group: str = "", sub: str = "", name: str = "",
         namespace: str = "ns") -> Attributes:
    return Attributes(ALICE, verb=verb, api_group=group, resource=resource, subresource=sub,
                      name=name, namespace=namespace)


def test_rule_matching_verbs_groups_resources_and_names() -> None:
    pods = _rule(verbs=["get", "list"], apiGroups=[""], resources=["pods"])
    assert rule_allows(_res("get", "pods"), pods)
    assert not rule_allows(_res("create", "pods"), pods)
    assert not rule_allows(_res("get", "pods", group="apps"), pods)
    # a resource rule does not cover its subresources
    assert not rule_allows(_res("get", "pods", sub="log", name="p"), pods)
    logs = _rule(verbs=["get"], apiGroups=[""], resources=["pods/log"])
    assert rule_allows(_res("get", "pods", sub="log", name="p"), logs)
    star_sub = _rule(verbs=["*"], apiGroups=["*"], resources=["*/status"])
    assert rule_allows(_res("update", "deployments", group="apps", sub="status"), star_sub)
    assert not rule_allows(_res("update", "deployments", group="apps", sub="scale"), star_sub)
    assert not rule_allows(_res("update", "deployments", group="apps"), star_sub)
    everything = _rule(verbs=["*"], apiGroups=["*"], resources=["*"])
    assert rule_allows(_res("delete", "pods", sub="exec"), everything)
    named = _rule(verbs=["get", "list"], apiGroups=[""], resources=["configmaps"],
                  resourceNames=["a"])
    assert rule_allows(_res("get", "configmaps", name="a"), named)
    assert not rule_allows(_res("get", "configmaps", name="b"), named)
    assert not rule_allows(_res("list", "configmaps"), named)


def test_non_resource_url_matching() -> None:
    rule = _rule(verbs=["get"], nonResourceURLs=["/healthz", "/apis/*", "/version/"])
    ok = Attributes(ALICE, verb="get", resource_request=False, path="/apis/apps/v1")
    assert rule_allows(ok, rule)
    assert rule_allows(Attributes(ALICE, verb="get", resource_request=False, path="/apis/"),
                       rule)
    for path in ("/apis", "/healthz/etcd", "/version"):
        assert not rule_allows(Attributes(ALICE, verb="get", resource_request=False,
                                          path=path), rule)
    assert not rule_allows(Attributes(ALICE, verb="post", resource_request=False,
                                      path="/healthz"), rule)
    # a resource rule never matches a non-resource request
    assert not rule_allows(ok, _rule(verbs=["*"], apiGroups=["*"], resources=["*"]))


def test_subjects() -> None:
    sa = UserInfo("system:serviceaccount:ns:robot",
                  groups=("system:serviceaccounts", "system:serviceaccounts:ns"))
    assert applies_to_user(sa, {"kind": "ServiceAccount", "name": "robot"}, "ns")
    assert not applies_to_user(sa, {"kind": "ServiceAccount", "name": "robot"}, "other")
    assert not applies_to_user(sa, {"kind": "ServiceAccount", "name": "robot"}, "")
    assert applies_to_user(sa, {"kind": "ServiceAccount", "name": "robot",
                                "namespace": "ns"}, "")
    assert applies_to_user(sa, {"kind": "Group", "name": "system:serviceaccounts:ns"}, "x")
    assert applies_to_user(ALICE, {"kind": "User", "name": "alice"}, "")
    assert not applies_to_user(ALICE, {"kind": "User", "name": "devs"}, "")
    assert applies_to_user(ALICE, {"kind": "Group", "name": "devs"}, "")


def test_covers_breaks_rules_down_and_honours_stars() -> None:
    owner = [_rule(verbs=["get", "list"], apiGroups=[""], resources=["pods", "*/status"]),
             _rule(verbs=["get"], nonResourceURLs=["/logs/*"])]
    assert covers(owner, [_rule(verbs=["get"], apiGroups=[""], resources=["pods/status"])]) == []
    assert covers(owner, [_rule(verbs=["get"], nonResourceURLs=["/logs/a"])]) == []
    missing = covers(owner, [_rule(verbs=["get", "create"], apiGroups=[""],
                                   resources=["pods", "secrets"])])
    assert missing == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
    ]
    assert sorted(compact_string(r) for r in compact(missing)) == [
        '{APIGroups:[""], Resources:["pods"], Verbs:["create"]}',
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "create"]}',
    ]
    # resourceNames: an unnamed owner covers named requests, not the other way round
    named = [_rule(verbs=["get"], apiGroups=[""], resources=["configmaps"],
                   resourceNames=["a"])]
    assert covers(named, [_rule(verbs=["get"], apiGroups=[""], resources=["configmaps"])])
    assert not covers([_rule(verbs=["get"], apiGroups=[""], resources=["configmaps"])],
                      named)


def test_forbidden_status_shapes() -> None:
    err = forbidden(_res("list", "pods", namespace="y"), "")
    assert err.status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'pods is forbidden: User "alice" cannot list resource "pods" in API group '
                   '"" in the namespace "y"',
        "reason": "Forbidden", "details": {"kind": "pods"}, "code": 403}
    err = forbidden(_res("get", "deployments", group="apps", sub="scale", name="d",
                         namespace=""), "RBAC: clusterrole.rbac.authorization.k8s.io \"x\" "
                                        "not found")
    assert err.message == (
        'deployments.apps "d" is forbidden: User "alice" cannot get resource '
        '"deployments/scale" in API group "apps" at the cluster scope: RBAC: '
        'clusterrole.rbac.authorization.k8s.io "x" not found')
    assert err.details == {"name": "d", "group": "apps", "kind": "deployments"}
    err = forbidden(Attributes(UserInfo("<b>&"), verb="get", resource_request=False,
                               path="/x"), "")
    assert err.message == 'forbidden: User "&lt;b&gt;&amp;" cannot get path "/x"'
    assert err.details == {}


def test_modes() -> None:
    assert parse_modes("Node,RBAC") == ("Node", "RBAC")
    with pytest.raises(ModeError, match='authorization-mode "ABAC" is not a valid mode'):
        parse_modes("ABAC")
    with pytest.raises(ModeError, match="specified more than once"):
        parse_modes("RBAC,RBAC")
    with pytest.raises(ModeError, match="at least one"):
        parse_modes(" ")

"""Hypothesis strategies for fuzzing the core/v1 REST API over HTTP.

:data:`OPERATIONS` lists every operation the apiserver serves on a core/v1 resource or
subresource (from the served-resource table, so a new kind is fuzzed without edits),
plus the legacy ``/watch/`` paths. :func:`requests` draws one :class:`FuzzRequest` for
an operation: a path (names and namespaces that often exist, sometimes hostile text,
percent-encoded once or twice), query parameters the API reads (valid, malformed and
out-of-range values), headers (every patch and object media type, Table and protobuf
accepts, odd user agents) and a body (the kind's example manifest, mutated or not;
random JSON; deep nesting around the decoder's bound; YAML with anchors, aliases,
tags and huge integers; JSON patches with copy/move chains; raw bytes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import yaml
from hypothesis import strategies as st

from apiserver.api.resources import ResourceInfo, by_group_version
from tests.support.examples import EXAMPLES
from tests.support.examples_base import render

NAMESPACE = "fuzz"
NAMES = ("a", "b")

_JSON = "application/json"
_YAML = "application/yaml"
_PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
)
_MEDIA = (_JSON, _YAML, *_PATCH_TYPES, "application/vnd.kubernetes.protobuf", "text/plain",
          "", "application/json; charset=utf-8", "*/*", "application/x-www-form-urlencoded")
_ACCEPT = ("", _JSON, "*/*", _YAML, "application/vnd.kubernetes.protobuf",
           "application/json;as=Table;v=v1;g=meta.k8s.io",
           "application/json;as=Table;v=v1;g=meta.k8s.io, application/json",
           "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
           "text/html", "application/json;stream=watch")


@dataclass(frozen=True)
class Operation:
    """One served operation: ``verb`` on ``info`` (``subresource`` or the resource)."""

    method: str
    verb: str
    info: ResourceInfo
    subresource: str | None = None
    legacy_watch: bool = False

    @property
    def label(self) -> str:
        what = self.info.plural + (f"/{self.subresource}" if self.subresource else "")
        return f"{self.verb} {what}" + (" (legacy watch path)" if self.legacy_watch else "")


_METHOD = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT",
           "patch": "PATCH", "delete": "DELETE", "deletecollection": "DELETE"}


def _operations() -> tuple[Operation, ...]:
    ops: list[Operation] = []
    for info in by_group_version()["v1"]:
        for verb in info.verbs:
            ops.append(Operation(_METHOD[verb], verb, info))
            if verb == "watch":
                ops.append(Operation("GET", verb, info, legacy_watch=True))
        for sub in info.subresources:
            for verb in sub.verbs:
                ops.append(Operation(_METHOD[verb], verb, info, sub.name))
    return tuple(ops)


OPERATIONS: tuple[Operation, ...] = _operations()


@dataclass
class FuzzRequest:
    """A request ready for httpx; ``watch`` requests are answered as a stream."""

    method: str
    path: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    watch: bool = False

    def describe(self) -> str:
        body = self.content[:300]
        return (f"{self.method} {self.path} params={self.params} headers={self.headers} "
                f"body[{len(self.content)}]={body!r}")


# -- values -------------------------------------------------------------------------

_hostile_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", ".", "..", "%", "%2F", "%252F", "a/b", "a b", "\x00", "\x01x",
                     "é", "\u2028", "\ud7ff", "A" * 300, "default%2Fconfigmaps%2Fa",
                     "kube-system", "x" * 64]),
)
_numbers = st.one_of(
    st.integers(), st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.sampled_from([-1, 0, 1, 2**64 - 1, 2**64, 10**30, -(2**63) - 1]),
)
_query_value = st.one_of(
    _hostile_text,
    _numbers.map(str),
    st.sampled_from(["true", "false", "1", "0", "All", "Strict", "Warn", "Ignore",
                     "Exact", "NotOlderThan", "Orphan", "Background", "Foreground",
                     "a=b", "a in (x,y)", "!a", "metadata.name=a", "spec.nodeName=",
                     "status.phase!=Running", "99999999999999999999999", "1e3", "0x10",
                     "+1", " 1", "1_0", "-0"]),
)
_QUERY_KEYS = ("resourceVersion", "resourceVersionMatch", "fieldValidation", "dryRun",
               "labelSelector", "fieldSelector", "limit", "continue", "timeoutSeconds",
               "watch", "allowWatchBookmarks", "sendInitialEvents", "gracePeriodSeconds",
               "propagationPolicy", "orphanDependents", "fieldManager", "force", "pretty",
               "includeObject", "container", "follow", "tailLines")
#: resourceVersions: malformed, beyond uint64, or at most the server's revision at start.
#: A well-formed one above the current revision is a valid request to wait for it
#: (upstream: 504 ``ResourceVersionTooLarge`` after 3 s), not bad input.
_resource_versions = st.one_of(
    st.integers(0, 3).map(str), st.integers(2**64, 2**70).map(str),
    st.sampled_from(["", "abc", "-1", "+1", " 1", "1_0", "0x10", "1e3", "\u0661", "00",
                     "18446744073709551616", "99999999999999999999999"]),
)
_params = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(_QUERY_KEYS), _query_value).filter(
            lambda pair: pair[0] != "resourceVersion"),
        st.tuples(st.just("resourceVersion"), _resource_versions),
    ),
    max_size=4,
)

_scalars = st.one_of(
    st.none(), st.booleans(), _numbers,
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=20,
)


def _nested_text(depth: int) -> str:
    """JSON (and YAML flow) text of objects and arrays nested ``depth`` levels."""
    opening = "".join("[" if level % 2 else '{"n":' for level in range(depth))
    closing = "".join("]" if level % 2 else "}" for level in reversed(range(depth)))
    return opening + "1" + closing


#: Deep values stand in as placeholders until the body is text: Python's encoders
#: recurse, and the point is to send what they cannot build.
_deep = st.sampled_from([150, 190, 199, 200, 201, 255, 1000, 1025, 10001]).map(
    lambda depth: f"@@DEEP{depth}@@")
_DEEP_PLACEHOLDER = re.compile(r"""(["']?)@@DEEP(\d+)@@\1""")


def _expand_deep(text: str) -> str:
    return _DEEP_PLACEHOLDER.sub(lambda m: _nested_text(int(m.group(2))), text)


def _with_value_at(obj: Any, path: list[str], value: Any) -> Any:
    """``obj`` (a dict) with ``value`` set at ``path`` (dicts created as needed)."""
    node = obj
    for key in path[:-1]:
        child = node.get(key) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    if path:
        node[path[-1]] = value
    return obj


_FIELD_PATHS = (["metadata", "name"], ["metadata", "namespace"], ["metadata", "labels"],
                ["metadata", "annotations"], ["metadata", "resourceVersion"],
                ["metadata", "generation"], ["metadata", "finalizers"],
                ["metadata", "ownerReferences"], ["metadata", "managedFields"], ["spec"],
                ["status"], ["data"], ["spec", "containers"], ["spec", "ports"],
                ["spec", "type"], ["spec", "selector"], ["kind"], ["apiVersion"],
                ["foo\x01bar"], ["spec", "f\u00e9\u2028"], ["spec", "a\"b\\c"])


def _manifest(info: ResourceInfo, name: str, namespace: str) -> dict[str, Any]:
    for example in EXAMPLES:
        if example.api_version == "v1" and example.plural == info.plural:
            obj = render(example.manifest, {"NAME": name, "NS": namespace, "UID": "u1"})
            break
    else:
        obj = {}
    return {"apiVersion": "v1", "kind": info.kind, **obj,
            "metadata": {**obj.get("metadata", {}), "name": name}}


#: Field names of no known field: any text, control characters included (they end up in
#: ``Warning`` headers).
_unknown_field = st.one_of(st.text(min_size=1, max_size=8),
                           st.sampled_from(["f\x01", "\x7f", "a\nb", "\t", "\x00", "\u0085"]))


@st.composite
def _object(draw: st.DrawFn, info: ResourceInfo, name: str, namespace: str) -> Any:
    obj = _manifest(info, name, namespace)
    for _ in range(draw(st.integers(0, 3))):
        path = list(draw(st.one_of(
            st.sampled_from(_FIELD_PATHS),
            st.tuples(st.sampled_from(["", "metadata", "spec"]), _unknown_field).map(
                lambda pair: [part for part in pair if part]),
        )))
        value = draw(st.one_of(_json_values, _deep, _numbers, _hostile_text))
        obj = _with_value_at(obj, path, value)
    return obj


_YAML_BODIES = (
    "a: &a [x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, generation: 99999999999999999999}\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\nbogus: 99999999999999999999\n",
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ctl}\n\"f\\x01\": 1\n",
    "metadata: &m {name: a}\nspec: *m\nstatus: *m\n",
    "a: &a [*a]\n", "a: !!binary aGVsbG8=\nb: !!set {x, y}\nc: !!float 1\nd: !!int x\n",
    "metadata:\n  name: a\n  labels: {y: n, on: off, 1: 2, .inf: .nan}\n",
    "? [complex]\n: key\n", "---\na: 1\n---\nb: 2\n", "{", "a: b: c", "\t", "a: .inf\n",
    "metadata: {<<: {name: a}}\n", "x: 2001-12-14t21:59:43.10-05:00\n",
)


def _yaml_text(value: Any) -> bytes:
    text = yaml.safe_dump(value, allow_unicode=True, width=10**9)
    return _expand_deep(text).encode("utf-8", "surrogatepass")


def _json_text(value: Any) -> bytes:
    return _expand_deep(json.dumps(value, ensure_ascii=False)).encode("utf-8", "surrogatepass")


_patch_ops = st.lists(
    st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test", "bogus"]),
         "path": st.sampled_from(["/metadata/labels", "/metadata/annotations/x", "/spec",
                                  "/data/a", "/metadata/labels/-", "/", "", "/spec/ports/0",
                                  "/spec/containers/-", "/metadata/finalizers/0", "/x/y/z"])},
        optional={"value": _json_values,
                  "from": st.sampled_from(["/metadata", "/spec", "/data", "/metadata/name",
                                           "/nope", ""])},
    ),
    max_size=25,
)
_copy_chain = st.integers(1, 30).map(lambda n: [
    {"op": "add", "path": "/metadata/annotations", "value": {"k": "v" * 100}},
    *({"op": "copy", "from": "/metadata/annotations", "path": f"/metadata/annotations/c{i}"}
      for i in range(n)),
])
_smp_directives = st.sampled_from([
    {"$patch": "bogus"}, {"$patch": "replace"}, {"$patch": "delete"},
    {"spec": {"ports": [{"$patch": "delete", "name": "x"}]}},
    {"spec": {"ports": [{"$patch": "merge", "port": 80}]}},
    {"spec": {"ports": [1, {"port": 2}]}}, {"spec": {"ports": [[1]]}},
    {"$retainKeys": "x"}, {"metadata": {"$retainKeys": ["name"], "labels": {"a": "b"}}},
    {"$setElementOrder/finalizers": "x"}, {"metadata": {"$deleteFromPrimitiveList/finalizers": 1}},
    {"spec": {"containers": [{"name": "c", "$patch": "delete"}]}},
])


@st.composite
def _body(draw: st.DrawFn, op: Operation, media: str, name: str, namespace: str) -> bytes:
    kind = draw(st.sampled_from(
        ["object", "object", "object", "json", "deep", "yaml", "patch", "bytes", "empty"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64))
    if kind == "empty":
        return b""
    if kind == "yaml":
        return draw(st.sampled_from(_YAML_BODIES)).encode()
    if kind == "deep":
        value: Any = draw(_deep)
        if media == "application/json-patch+json":
            value = [{"op": "add", "path": "/metadata/labels", "value": value}]
    elif kind == "patch" or (kind == "object" and media == "application/json-patch+json"):
        value = draw(st.one_of(_patch_ops, _copy_chain, _smp_directives))
    elif kind == "json":
        value = draw(_json_values)
    else:
        value = draw(_object(op.info, name, namespace))
    if media in (_YAML, "application/apply-patch+yaml") and draw(st.booleans()):
        return _yaml_text(value)
    return _json_text(value)


def _segment(draw: st.DrawFn, value: str) -> str:
    encoding = draw(st.sampled_from(["once", "once", "once", "twice", "raw-safe"]))
    if encoding == "twice":
        return quote(quote(value, safe=""), safe="")
    if encoding == "raw-safe":
        return quote(value, safe="/")
    return quote(value, safe="")


def _path(draw: st.DrawFn, op: Operation, name: str, namespace: str) -> str:
    info = op.info
    prefix = "/api/v1/watch" if op.legacy_watch else "/api/v1"
    path = prefix
    if info.namespaced and draw(st.integers(0, 9)) > 0:
        path += f"/namespaces/{_segment(draw, namespace)}"
    path += f"/{info.plural}"
    collection = op.verb in ("list", "watch", "deletecollection") or (
        op.verb == "create" and op.subresource is None)
    if not collection or draw(st.integers(0, 9)) == 0:  # sometimes the other shape
        path += f"/{_segment(draw, name)}"
    if op.subresource:
        path += f"/{op.subresource}"
    return path


@st.composite
def requests(draw: st.DrawFn, op: Operation) -> FuzzRequest:
    """One fuzzed request for ``op`` (see the module docstring)."""
    name = draw(st.one_of(st.sampled_from(NAMES), _hostile_text,
                          st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True)))
    namespace = draw(st.one_of(st.just(NAMESPACE), st.just("default"), _hostile_text))
    method = op.method if draw(st.integers(0, 19)) else draw(
        st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]))
    if op.verb == "patch":
        media = draw(st.sampled_from(_PATCH_TYPES + _MEDIA[:3]))
    else:
        media = draw(st.sampled_from(_MEDIA))
    params = draw(_params)
    if op.verb == "watch" and not op.legacy_watch:
        params.append(("watch", "true"))
    if op.verb == "watch" or any(k == "watch" for k, _ in params):
        params.append(("timeoutSeconds", "1"))
    headers = {"content-type": media, "accept": draw(st.sampled_from(_ACCEPT)),
               # HTTP allows no leading or trailing space in a header value.
               "user-agent": draw(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e),
                                          max_size=40)).strip()}
    content = b""
    if method in ("POST", "PUT", "PATCH", "DELETE") and (method != "DELETE" or draw(st.booleans())):
        content = draw(_body(op, media, name, namespace))
    watch = op.verb == "watch" or any(k == "watch" for k, _ in params)
    return FuzzRequest(method, _path(draw, op, name, namespace), params, headers, content, watch)

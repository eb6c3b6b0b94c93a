"""Upstream-shaped examples of every creatable built-in kind, for the API-surface tests.

One :class:`Example` per served resource that supports ``create`` (the review kinds and
``bindings``, which are create-only, are tested elsewhere). Each carries:

* ``manifest``: a valid object in the shape of the Kubernetes documentation's examples,
  with placeholders ``$NAME``, ``$NS`` and ``$UID`` (see :func:`render`);
* ``defaults``: what kube-apiserver 1.33 fills in, as ``path → value`` (see :func:`lookup`;
  ``a.b[0].c`` walks lists, ``labels[kubernetes.io/x]`` reads a key with dots);
* ``header``: the columns ``kubectl get`` prints by default (upstream's
  ``pkg/printers/internalversion/printers.go``; kinds without a printer get the default
  ``NAME, CREATED AT``);
* ``invalid``: edits (``path → value``, :data:`DELETE` removes) making the manifest fail
  validation, and ``invalid_field``: the ``details.causes[].field`` of the upstream 422.

The examples themselves live in :mod:`tests.support.examples_core` (``/api/v1``) and
:mod:`tests.support.examples_apis` (the API groups); :mod:`tests.support.examples` joins
them into ``EXAMPLES``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Marks a path to remove in :attr:`Example.invalid`.
DELETE: Any = object()

Json = dict[str, Any]


def default_name(uid: str) -> str:
    """The usual unique name: a DNS label."""
    return f"ex-{uid}"


@dataclass(frozen=True)
class Example:
    """One creatable kind: a valid manifest, its defaults, its table header, one invalid edit."""

    key: str
    api_version: str
    kind: str
    plural: str
    namespaced: bool
    manifest: Json
    defaults: Mapping[str, Any]
    header: tuple[str, ...]
    invalid: Mapping[str, Any]
    invalid_field: str
    #: Builds ``metadata.name`` from a random hex id (APIService and IPAddress names
    #: have a fixed shape).
    name: Callable[[str], str] = default_name
    #: Extra placeholders the test fills in (``$CSR``: a PEM certificate request, base64).
    needs: frozenset[str] = field(default_factory=frozenset)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def kubectl_resource(self) -> str:
        """``plural.version.group`` (fully qualified, so ``events`` and the two HPA versions
        are not ambiguous); plain ``plural`` for the core group."""
        if not self.group:
            return self.plural
        return f"{self.plural}.{self.version}.{self.group}"

    def collection_path(self, namespace: str) -> str:
        """The REST path of the collection (namespaced kinds in ``namespace``)."""
        prefix = f"/apis/{self.api_version}" if self.group else "/api/v1"
        if self.namespaced:
            return f"{prefix}/namespaces/{namespace}/{self.plural}"
        return f"{prefix}/{self.plural}"


def render(value: Any, values: Mapping[str, str]) -> Any:
    """A deep copy of ``value`` with every ``$KEY`` in its strings replaced from ``values``."""
    if isinstance(value, dict):
        return {render(k, values): render(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [render(item, values) for item in value]
    if isinstance(value, str):
        for key, replacement in values.items():
            value = value.replace(f"${key}", replacement)
        return value
    return copy.deepcopy(value)


_TOKEN = re.compile(r"\[([^\]]*)\]|\.?([^.\[\]]+)")


def parse_path(path: str) -> list[str | int]:
    """``a.b[0][x.y/z]`` → ``["a", "b", 0, "x.y/z"]``."""
    steps: list[str | int] = []
    for match in _TOKEN.finditer(path):
        bracket, plain = match.group(1), match.group(2)
        if bracket is not None:
            steps.append(int(bracket) if bracket.isdigit() else bracket)
        else:
            steps.append(plain)
    return steps


class Missing(LookupError):
    """A path step that does not exist."""


def lookup(obj: Any, path: str) -> Any:
    """The value at ``path`` in ``obj``; :class:`Missing` if any step is absent."""
    current = obj
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                raise Missing(path)
            current = current[step]
        else:
            if not isinstance(current, dict) or step not in current:
                raise Missing(path)
            current = current[step]
    return current


def edited(obj: Json, edits: Mapping[str, Any]) -> Json:
    """A copy of ``obj`` with each ``path → value`` set (``DELETE`` removes the key)."""
    result = copy.deepcopy(obj)
    for path, value in edits.items():
        *parents, last = parse_path(path)
        current: Any = result
        for step in parents:
            current = current[step] if isinstance(step, int) else current.setdefault(step, {})
        if value is DELETE:
            del current[last]
        else:
            current[last] = copy.deepcopy(value)
    return result


def is_subset(expected: Any, actual: Any) -> bool:
    """True when every key of ``expected`` is in ``actual`` with a matching value
    (recursively; lists must have the same length, element by element)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and is_subset(value, actual[key]) for key, value in expected.items()
        )
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(is_subset(e, a) for e, a in zip(expected, actual, strict=True)))
    return bool(expected == actual)


# -- shared pieces of the manifests -----------------------------------------------------

#: The pod spec of the docs' nginx examples.
NGINX_POD_SPEC: Json = {
    "containers": [{"name": "nginx", "image": "nginx:1.14.2",
                    "ports": [{"containerPort": 80}]}],
}

#: Defaults upstream gives every container and pod spec (prefix them with the spec path).
POD_SPEC_DEFAULTS: dict[str, Any] = {
    "restartPolicy": "Always",
    "dnsPolicy": "ClusterFirst",
    "schedulerName": "default-scheduler",
    "terminationGracePeriodSeconds": 30,
    "securityContext": {},
    "containers[0].terminationMessagePath": "/dev/termination-log",
    "containers[0].terminationMessagePolicy": "File",
    "containers[0].imagePullPolicy": "IfNotPresent",
    "containers[0].ports[0].protocol": "TCP",
}


def pod_spec_defaults(prefix: str) -> dict[str, Any]:
    """:data:`POD_SPEC_DEFAULTS` under ``prefix`` (e.g. ``spec.template.spec``)."""
    return {f"{prefix}.{path}": value for path, value in POD_SPEC_DEFAULTS.items()}


#: A Name column, then Created At: the default table of kinds without a printer.
DEFAULT_HEADER = ("NAME", "CREATED AT")

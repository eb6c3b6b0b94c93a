"""Protobuf field tables of every served kind, and the lookup by ``(apiVersion, kind)``.

Schema facts only: for every protobuf message reachable from the kinds in
:data:`apiserver.api.resources.RESOURCES`, from the subresource bodies (``Scale``,
``Eviction``, ``TokenRequest``, ``Binding``) and from ``DeleteOptions``, its field
numbers, the JSON names those fields carry in the OpenAPI schema, and the Go shape
that decides how a decoded value maps to JSON. Tabulated from the upstream
``generated.proto`` files and Go struct tags of Kubernetes v1.37 (the version of the
pinned kubectl) and kube-aggregator; upstream field numbers never change once
released, so new releases only append entries. The data lives in the modules of
:mod:`apiserver.schema.proto`, keyed by protobuf package.

Messages are named ``<package>.<Message>``: ``core.v1.Pod``, ``apps.v1.Deployment``,
``meta.v1.ObjectMeta``, ``resource.Quantity``, ``intstr.IntOrString``,
``runtime.RawExtension``. The package of an API group version is the group's first
DNS label and the version (``rbac.authorization.k8s.io/v1`` → ``rbac.v1``; the core
group is ``core``).

Each entry is ``"<number>:<jsonName>:<type>[:<flags>]"``; ``type`` is a scalar
(``string``, ``bytes``, ``bool``, ``int32``, ``int64``) or a message: a bare name is
in the entry's own package, a dotted name is qualified. Flags:

* ``r`` repeated (a JSON array); ``m`` a map with string keys and ``type`` values
  (wire entries ``{key=1, value=2}``);
* ``p`` a Go pointer: presence is meaningful, so zero values are kept;
* ``k`` zero values are kept in JSON: the Go field has no ``omitempty``, or (Scale's
  ``spec.replicas``) a zero the client sends is a request rather than an unset value;
* ``i`` an embedded struct inlined in JSON (its fields join the parent's object;
  its JSON name is empty).

A scalar without ``p``/``k`` is dropped when zero, as Go's JSON encoder omits it.
The messages of :data:`JSON_FORMS` are messages on the wire with a custom JSON form;
the decoder converts them.

This module and its data modules are pure data and import nothing else from the server.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from apiserver.schema.proto import (
    auth,
    cluster,
    core,
    core_pods,
    core_volumes,
    extensions,
    meta,
    workloads,
)

SCALAR_TYPES = frozenset({"string", "bytes", "bool", "int32", "int64"})

#: Messages whose JSON form is not an object, and that form: ``time`` (RFC 3339,
#: seconds), ``microtime`` (RFC 3339, microseconds), ``intorstring``, ``quantity``
#: (its string), ``fieldsv1`` and ``rawextension`` (the JSON held in their bytes),
#: ``items`` (a Go named string slice: the list of its ``items`` field).
JSON_FORMS: dict[str, str] = {
    "meta.v1.Time": "time",
    "meta.v1.MicroTime": "microtime",
    "intstr.IntOrString": "intorstring",
    "resource.Quantity": "quantity",
    "meta.v1.FieldsV1": "fieldsv1",
    "runtime.RawExtension": "rawextension",
    "authentication.v1.ExtraValue": "items",
    "authentication.v1.AttestationValue": "items",
    "authorization.v1.ExtraValue": "items",
    "certificates.v1.ExtraValue": "items",
}

#: Kinds of ``meta.k8s.io/v1`` that every group version accepts as a body.
META_KINDS = frozenset({"DeleteOptions"})

_OBJECT_META = "meta.v1.ObjectMeta"


@dataclass(frozen=True, slots=True)
class ProtoField:
    """One field of a protobuf message and its JSON rendering (``type`` qualified)."""

    number: int
    name: str
    type: str
    repeated: bool = False
    map: bool = False
    pointer: bool = False
    keep_zero: bool = False
    inline: bool = False

    @property
    def is_message(self) -> bool:
        """Whether values of this field (or its map values/items) are messages."""
        return self.type not in SCALAR_TYPES


def _collect() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for module in (meta, core_pods, core_volumes, core, workloads, auth, cluster, extensions):
        for package, messages in module.TABLES.items():
            for name, spec in messages.items():
                qualified = f"{package}.{name}"
                if qualified in table:
                    raise ValueError(f"message {qualified} is tabulated twice")
                table[qualified] = (package, spec)
    return table


#: Qualified message name → (package, entry string).
_TABLE: dict[str, tuple[str, str]] = _collect()


def _parse(message: str, package: str, spec: str) -> dict[int, ProtoField]:
    fields: dict[int, ProtoField] = {}
    for entry in spec.split():
        number, name, type_, *rest = entry.split(":")
        flags = rest[0] if rest else ""
        if type_ not in SCALAR_TYPES and "." not in type_:
            type_ = f"{package}.{type_}"
        if type_ not in SCALAR_TYPES and type_ not in _TABLE:
            raise ValueError(f"{message}: field {name} has unknown type {type_}")
        fields[int(number)] = ProtoField(
            number=int(number),
            name=name,
            type=type_,
            repeated="r" in flags,
            map="m" in flags,
            pointer="p" in flags,
            keep_zero="k" in flags,
            inline="i" in flags,
        )
    return fields


@functools.cache
def message(name: str) -> dict[int, ProtoField]:
    """The fields of qualified message ``name`` by number; ``KeyError`` if not tabulated."""
    package, spec = _TABLE[name]
    return _parse(name, package, spec)


def message_names() -> frozenset[str]:
    """Every tabulated (qualified) message name."""
    return frozenset(_TABLE)


def short_name(name: str) -> str:
    """The message name without its package (``apps.v1.Deployment`` → ``Deployment``)."""
    return name.rsplit(".", 1)[-1]


def package_of(api_version: str) -> str:
    """The protobuf package of an ``apiVersion`` (``apps/v1`` → ``apps.v1``, ``v1`` →
    ``core.v1``)."""
    group, _, version = api_version.rpartition("/")
    return f"{group.split('.', 1)[0] if group else 'core'}.{version}"


def kind_message(api_version: str, kind: str) -> str | None:
    """The message of ``kind`` in ``api_version``, or ``None`` when it is not tabulated.

    The meta kinds (:data:`META_KINDS`) are found under every ``apiVersion``.
    """
    if kind in META_KINDS:
        return f"meta.v1.{kind}"
    name = f"{package_of(api_version)}.{kind}"
    return name if name in _TABLE else None


@functools.cache
def kind_candidates(kind: str) -> tuple[str, ...]:
    """The messages ``kind`` may name when no ``apiVersion`` is known: the meta kind,
    or every tabulated object message (one with ``metadata`` as field 1) of that name."""
    if kind in META_KINDS:
        return (f"meta.v1.{kind}",)
    return tuple(sorted(
        name for name, (_, spec) in _TABLE.items()
        if short_name(name) == kind and spec.startswith(f"1:metadata:{_OBJECT_META}")
    ))

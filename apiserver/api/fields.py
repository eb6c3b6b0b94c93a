"""Field selectors, as apimachinery ``fields`` and the core/v1 field-label rules.

* :func:`parse_field_selector` parses ``?fieldSelector=`` (``=``, ``==``, ``!=``,
  comma = AND, backslash escapes ``\\\\``, ``\\,``, ``\\=`` in values).
* :func:`validate_field_selector` applies a resource's field-label conversion:
  aliases are rewritten (``spec.host`` → ``spec.nodeName``) and unsupported
  labels are rejected with the upstream message.
* :func:`object_fields` computes the selectable field set of a stored object,
  as the registries' ``GetAttrs`` / ``ToSelectableFields`` do.

All errors are :class:`~apiserver.api.labels.SelectorError`; the HTTP layer
turns them into 400 ``BadRequest`` with the message unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from apiserver.api.labels import SelectorError
from apiserver.api.resources import ResourceInfo

__all__ = [
    "FieldRequirement",
    "FieldSelector",
    "SelectorError",
    "escape_value",
    "named_object_selector",
    "object_fields",
    "parse_field_selector",
    "primary_pod_ip",
    "validate_field_selector",
]

#: Operators recognized in a term, longest first so ``==`` is not read as ``=``.
_TERM_OPERATORS = ("!=", "==", "=")


class FieldRequirement(NamedTuple):
    """One term: ``field op value`` with ``op`` either ``"="`` or ``"!="``."""

    field: str
    operator: str
    value: str

    def matches(self, fields: Mapping[str, str]) -> bool:
        """A missing field compares as the empty string, as upstream ``Set.Get``."""
        have = fields.get(self.field, "")
        return have == self.value if self.operator == "=" else have != self.value

    def __str__(self) -> str:
        return f"{self.field}{self.operator}{escape_value(self.value)}"


@dataclass(frozen=True)
class FieldSelector:
    """An AND of field requirements, in the order upstream parsing yields them."""

    requirements: tuple[FieldRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the selector selects everything."""
        return not self.requirements

    def matches(self, fields: Mapping[str, str]) -> bool:
        """Whether an object with this field set is selected."""
        return all(r.matches(fields) for r in self.requirements)

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must equal, if some ``=`` term pins it (else ``None``)."""
        for r in self.requirements:
            if r.field == field and r.operator == "=":
                return r.value
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def escape_value(value: str) -> str:
    """Escape ``\\``, ``,`` and ``=`` for use as a selector value (``fields.EscapeValue``)."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def _unescape_value(value: str) -> str:
    r"""Undo :func:`escape_value`; unknown escapes and bare ``,``/``=`` are errors."""
    if not any(c in value for c in "\\,="):
        return value
    out: list[str] = []
    in_slash = False
    for c in value:
        if in_slash:
            if c not in "\\,=":
                raise SelectorError(f"invalid field selector: invalid escape sequence: \\{c}")
            out.append(c)
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c in ",=":
            # Go prints the rune with %v, i.e. as its code point.
            raise SelectorError(f"invalid field selector: unescaped character in value: {ord(c)}")
        else:
            out.append(c)
    if in_slash:
        raise SelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    """Split on commas not escaped by a backslash (escapes are kept)."""
    if not text:
        return []
    terms: list[str] = []
    start, in_slash = 0, False
    for i, c in enumerate(text):
        if in_slash:
            in_slash = False
        elif c == "\\":
            in_slash = True
        elif c == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    """Split at the first operator occurrence; the field part has no escaping."""
    for i in range(len(term)):
        for op in _TERM_OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def parse_field_selector(text: str) -> FieldSelector:
    """Parse a ``fieldSelector`` query value (upstream ``fields.ParseSelector``).

    Terms are sorted by their raw text (as upstream); empty terms are skipped;
    the empty string selects everything. ``==`` is stored as ``=``. Raises
    :class:`SelectorError` (``invalid selector: '<text>'; can't understand '<term>'``
    or an escape error) on invalid input. Field names are not checked here; see
    :func:`validate_field_selector`.
    """
    reqs: list[FieldRequirement] = []
    for part in sorted(_split_terms(text)):
        if not part:
            continue
        split = _split_term(part)
        if split is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        lhs, op, rhs = split
        reqs.append(FieldRequirement(lhs, "!=" if op == "!=" else "=", _unescape_value(rhs)))
    return FieldSelector(tuple(reqs))


def named_object_selector(name: str) -> FieldSelector:
    """``metadata.name=<name>``: what a watch on a named path selects."""
    return FieldSelector((FieldRequirement("metadata.name", "=", name),))


def _unsupported(info: ResourceInfo, label: str) -> SelectorError:
    if info.field_labels:
        # Kinds that register their own conversion function (Pod, Service, ...).
        return SelectorError(f"field label not supported: {label}")
    # Kinds without one use runtime.DefaultMetaV1FieldSelectorConversion.
    return SelectorError(
        f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


def validate_field_selector(sel: FieldSelector, info: ResourceInfo) -> FieldSelector:
    """Apply ``info``'s field-label conversion to every term.

    Aliases from ``info.field_label_aliases`` are rewritten (to the field names of the
    stored objects: ``regarding.name`` of ``events.k8s.io`` is the core Event's
    ``involvedObject.name``); a label neither an alias nor in
    ``info.all_field_labels()`` raises :class:`SelectorError` with the upstream
    message: ``field label not supported: X`` for kinds with selectable fields of
    their own, otherwise ``"X" is not a known field selector: only
    "metadata.name", "metadata.namespace"``. Returns a new selector.
    """
    aliases = dict(info.field_label_aliases)
    allowed = set(info.all_field_labels())
    out: list[FieldRequirement] = []
    for r in sel.requirements:
        if r.field not in allowed and r.field not in aliases:
            raise _unsupported(info, r.field)
        out.append(r._replace(field=aliases.get(r.field, r.field)))
    return FieldSelector(tuple(out))


# --- field sets of objects -------------------------------------------------------


def _dig(obj: Mapping[str, Any], *path: str) -> Any:
    cur: Any = obj
    for key in path:
        # (a plain dict first: an ABC check costs a microsecond, and this runs per
        # field on every write)
        if type(cur) is not dict and not isinstance(cur, Mapping):
            return None
        cur = cur.get(key)
    return cur


def _s(value: Any) -> str:
    return value if isinstance(value, str) else ""


def primary_pod_ip(pod: Mapping[str, Any]) -> str:
    """``status.podIPs[0].ip``, else ``status.podIP``, else ``""``.

    This is the internal ``PodIPs[0]`` that printers and field selectors use.
    """
    ips = _dig(pod, "status", "podIPs")
    if isinstance(ips, list) and ips and isinstance(ips[0], dict | Mapping):
        return _s(ips[0].get("ip"))
    return _s(_dig(pod, "status", "podIP"))


def _pod_fields(pod: Mapping[str, Any]) -> dict[str, str]:
    spec: Mapping[str, Any] = pod.get("spec") or {}
    return {
        "spec.nodeName": _s(spec.get("nodeName")),
        "spec.restartPolicy": _s(spec.get("restartPolicy")),
        "spec.schedulerName": _s(spec.get("schedulerName")),
        "spec.serviceAccountName": _s(spec.get("serviceAccountName")),
        "spec.hostNetwork": "true" if spec.get("hostNetwork") is True else "false",
        "status.phase": _s(_dig(pod, "status", "phase")),
        # Upstream exposes only the primary IP; status.podIPs is accepted as a
        # label but never present in the set, so it compares as "".
        "status.podIP": primary_pod_ip(pod),
        "status.nominatedNodeName": _s(_dig(pod, "status", "nominatedNodeName")),
    }


def _event_fields(ev: Mapping[str, Any]) -> dict[str, str]:
    inv: Mapping[str, Any] = ev.get("involvedObject") or {}
    source = _s(_dig(ev, "source", "component")) or _s(ev.get("reportingComponent"))
    out = {f"involvedObject.{k}": _s(inv.get(k)) for k in _INVOLVED_KEYS}
    out.update(
        {
            "reason": _s(ev.get("reason")),
            "reportingComponent": _s(ev.get("reportingComponent")),
            "source": source,
            "type": _s(ev.get("type")),
        }
    )
    return out


_INVOLVED_KEYS = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")


def object_fields(info: ResourceInfo, obj: Mapping[str, Any]) -> dict[str, str]:
    """The selectable fields of ``obj`` (a stored object of resource ``info``).

    Always ``metadata.name`` (plus ``metadata.namespace`` for namespaced kinds),
    and per core kind what upstream ``ToSelectableFields`` adds. Missing values
    are ``""``; booleans are ``"true"``/``"false"``.
    """
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    fields = {"metadata.name": _s(meta.get("name"))}
    if info.namespaced:
        fields["metadata.namespace"] = _s(meta.get("namespace"))
    if info.custom:
        # A CRD's selectableFields: the value at each path, as a string (upstream allows
        # only string, integer and boolean fields there).
        for label in info.field_labels:
            value = _dig(obj, *label.split("."))
            if isinstance(value, bool):
                fields[label] = "true" if value else "false"
            elif isinstance(value, (int, str)):
                fields[label] = str(value)
            else:
                fields[label] = ""
        return fields
    if info.group:
        return fields
    if info.kind == "Pod":
        fields.update(_pod_fields(obj))
    elif info.kind == "Service":
        fields["spec.clusterIP"] = _s(_dig(obj, "spec", "clusterIP"))
        fields["spec.type"] = _s(_dig(obj, "spec", "type"))
    elif info.kind == "Namespace":
        fields["status.phase"] = _s(_dig(obj, "status", "phase"))
        fields["name"] = _s(meta.get("name"))  # legacy, kept as upstream does
    elif info.kind == "Event":
        fields.update(_event_fields(obj))
    elif info.kind == "Node":
        unschedulable = _dig(obj, "spec", "unschedulable") is True
        fields["spec.unschedulable"] = "true" if unschedulable else "false"
    return fields

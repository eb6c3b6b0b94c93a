"""Table specs as data: one :class:`KindTable` per printed kind.

A kind's table is its column list plus a cell function. A column is a
:class:`Col` whose description is either a literal (where upstream
``printers.go`` writes one) or a :class:`Doc`, the description of a field in
the upstream OpenAPI schema (where upstream uses a type's ``SwaggerDoc()``;
both come from the same Go doc comments). Docs are resolved lazily, once, from
:func:`apiserver.schema.loader.definitions`.

Upstream reads some docs from API versions that Kubernetes 1.33 no longer
ships (``extensions/v1beta1``, ``apps/v1beta1``, ``batch/v1beta1``,
``rbac/v1beta1``, ``autoscaling/v2beta1``, ``certificates/v1beta1``,
``discovery/v1beta1``); their specs name the served successor type, whose text
is the same comment or its later revision.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from apiserver.printing.pod import PrintedRow
from apiserver.schema.loader import definitions

__all__ = [
    "AGE",
    "CONTAINERS",
    "IMAGES",
    "NAME",
    "Cells",
    "Col",
    "Doc",
    "KindTable",
    "column_dict",
    "resolve_doc",
]

_API = "io.k8s.api."
_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_AGGREGATOR = "io.k8s.kube-aggregator.pkg.apis."

#: A cell function: the object and the clock in, the row's cells (and, for Pods,
#: row conditions: a :class:`PrintedRow`) out.
Cells = Callable[[Mapping[str, Any], datetime], list[Any] | PrintedRow]


class Doc(NamedTuple):
    """The schema description of ``field`` of ``type_``.

    ``type_`` is a definition name without the ``io.k8s.api.`` prefix
    (``"apps.v1.DeploymentStatus"``), or ``"meta.ObjectMeta"`` for
    apimachinery's meta/v1 types, or ``"apiregistration.v1.APIService"``.
    """

    type_: str
    field: str


def _definition_name(type_: str) -> str:
    if type_.startswith("meta."):
        return _META + type_.removeprefix("meta.")
    if type_.startswith("apiregistration."):
        return _AGGREGATOR + type_
    return _API + type_


@functools.cache
def resolve_doc(doc: Doc) -> str:
    """The description text of ``doc``; ``""`` when the schema lacks the field.

    (An absent field is what upstream's ``SwaggerDoc()[key]`` yields too.)
    """
    definition = definitions().get(_definition_name(doc.type_)) or {}
    prop = (definition.get("properties") or {}).get(doc.field) or {}
    text = prop.get("description")
    return text if isinstance(text, str) else ""


class Col(NamedTuple):
    """One column: name, description (literal or :class:`Doc`), type, format, priority.

    ``priority=1`` marks a "wide" column (kubectl shows it only with ``-o wide``).
    """

    name: str
    description: str | Doc
    type_: str = "string"
    fmt: str = ""
    priority: int = 0


def column_dict(col: Col | Mapping[str, Any]) -> dict[str, Any]:
    """The ``TableColumnDefinition`` JSON of ``col`` (a fresh dict, every field present)."""
    if not isinstance(col, Col):
        return dict(col)
    desc = col.description
    return {
        "name": col.name,
        "type": col.type_,
        "format": col.fmt,
        "description": resolve_doc(desc) if isinstance(desc, Doc) else desc,
        "priority": col.priority,
    }


#: The leading Name column of (almost) every table.
NAME = Col("Name", Doc("meta.ObjectMeta", "name"), fmt="name")
#: The Age column (rendered as a human duration since creation).
AGE = Col("Age", Doc("meta.ObjectMeta", "creationTimestamp"))
#: The three wide columns of workload templates (Selector's doc varies by kind).
CONTAINERS = Col("Containers", "Names of each container in the template.", priority=1)
IMAGES = Col("Images", "Images referenced by each container in the template.", priority=1)


@dataclass(frozen=True)
class KindTable:
    """The Table of one kind: ``columns`` and the ``cells`` printing one object.

    ``version`` narrows the entry to one API version of the kind (``""``: every
    version). ``order``, when set, is the sort key upstream's list printer
    applies to the rows of a list (FlowSchemas); single objects and watch events
    are not reordered.
    """

    group: str
    kind: str
    columns: tuple[Col | Mapping[str, Any], ...]
    cells: Cells
    version: str = ""
    order: Callable[[Mapping[str, Any]], Any] | None = field(default=None)

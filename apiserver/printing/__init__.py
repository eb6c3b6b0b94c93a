"""Server-side Table printing of the served kinds (``meta.k8s.io/v1`` Table).

Public API: :func:`column_definitions`, :func:`table_row`, :func:`build_table`
and :func:`human_duration`; see :mod:`apiserver.printing.table`.
"""

from apiserver.printing.duration import human_duration, translate_timestamp_since
from apiserver.printing.table import (
    INCLUDE_OBJECT_VALUES,
    InvalidIncludeObject,
    build_table,
    column_definitions,
    table_row,
)

__all__ = [
    "INCLUDE_OBJECT_VALUES",
    "InvalidIncludeObject",
    "build_table",
    "column_definitions",
    "human_duration",
    "table_row",
    "translate_timestamp_since",
]

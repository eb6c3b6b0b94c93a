"""Upstream Kubernetes JSON schemas: loading, navigation, patch metadata, strict fields.

The schemas come from the ``kubernetes-validate`` package (see :mod:`.loader`); nothing
is copied into this repository.  This package imports nothing above it.
"""

from apiserver.schema.fieldcheck import (
    FieldIssue,
    find_duplicate_fields,
    strict_decoding_error_message,
    strict_field_issues,
    strict_field_messages,
    unknown_field_messages,
    unknown_fields,
)
from apiserver.schema.loader import (
    KUBERNETES_SCHEMA_VERSION,
    definition,
    definitions,
    has_definition,
    ref_name,
)
from apiserver.schema.node import ANY, NodeKind, SchemaNode, navigate, root_node
from apiserver.schema.patchmeta import NO_META, PatchMeta, meta_of, patch_meta

__all__ = [
    "ANY",
    "KUBERNETES_SCHEMA_VERSION",
    "NO_META",
    "FieldIssue",
    "NodeKind",
    "PatchMeta",
    "SchemaNode",
    "definition",
    "definitions",
    "find_duplicate_fields",
    "has_definition",
    "meta_of",
    "navigate",
    "patch_meta",
    "ref_name",
    "root_node",
    "strict_decoding_error_message",
    "strict_field_issues",
    "strict_field_messages",
    "unknown_field_messages",
    "unknown_fields",
]

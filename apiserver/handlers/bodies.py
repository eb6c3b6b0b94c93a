"""Request bodies of create and update, field validation and DeleteOptions (patch bodies:
:mod:`apiserver.handlers.patches`).

Decoding follows upstream's order: media type (415), size (413), syntax (400),
apiVersion/kind against the URL (400), then ``fieldValidation`` (Strict: 400
``strict decoding error``; Warn: ``Warning`` headers; Ignore: silence).
Unknown fields are dropped unless Strict rejects them, as a typed decoder
would drop them.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from apiserver.api import errors
from apiserver.api.resources import ResourceInfo
from apiserver.handlers import protobuf
from apiserver.handlers.decodeerrors import (
    GO_KIND_STRUCT,
    parse_body,
    unrecognized,
)
from apiserver.handlers.http import Request
from apiserver.handlers.nesting import json_depth_error
from apiserver.registry.store import DeleteOptions
from apiserver.schema.fieldcheck import (
    FieldIssue,
    strict_decoding_error_message,
    strict_field_issues,
)
from apiserver.schema.typecheck import TypeIssue, check_body, first_type_issue

APPLY_MEDIA = "application/apply-patch+yaml"
_OBJECT_MEDIA = frozenset({"application/json", "application/yaml", "*/*", ""})
_FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
_DELETE_OPTIONS = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def dry_run(req: Request) -> bool:
    """``dryRun=All`` (400 for any other value, as upstream)."""
    value = req.query.get("dryRun")
    if value is None or value == "":
        return False
    if value == "All":
        return True
    raise errors.bad_request(f"Invalid dryRun value: {value}; supported values: All")


def field_validation(req: Request) -> str:
    """The ``fieldValidation`` directive (default Warn, as upstream since 1.27)."""
    value = req.query.get("fieldValidation") or "Warn"
    if value not in _FIELD_VALIDATION:
        raise errors.bad_request(
            f"fieldValidation: Unsupported value: \"{value}\": supported values: "
            '"Ignore", "Strict", "Warn"'
        )
    return value


async def decode_object(req: Request, info: ResourceInfo) -> dict[str, Any]:
    """The body of a create or update as an object of ``info``'s kind."""
    media = req.content_type
    if info.custom and media not in _OBJECT_MEDIA:
        raise errors.ApiError(
            415,
            "UnsupportedMediaType",
            'the body of the request was in an unknown format - accepted media types include: '
            'application/json, application/yaml',
        )
    if media not in _OBJECT_MEDIA and media != protobuf.MEDIA_TYPE:
        raise errors.ApiError(
            415,
            "UnsupportedMediaType",
            'the body of the request was in an unknown format - accepted media types include: '
            'application/json, application/yaml, application/vnd.kubernetes.protobuf',
        )
    body = await req.read_body()
    if not body.strip():
        raise errors.bad_request("the body of the request was empty")
    if media == protobuf.MEDIA_TYPE:
        try:
            obj = protobuf.decode(body, info.kind, info.api_version)
        except protobuf.ProtobufError as exc:
            raise errors.bad_request(f"unable to decode protobuf body: {exc}") from None
        body = orjson.dumps(obj)
        unique = True
    else:
        obj = parse_body(body, media, info)
        unique = media == "application/yaml" or no_duplicate_fields(body, obj)
    if not isinstance(obj, dict):
        raise unrecognized(
            info,
            "couldn't get version/kind; json parse error: json: cannot unmarshal "
            f"{go_type(obj)} into Go value of type {GO_KIND_STRUCT}",
            body,
        )
    for key in ("apiVersion", "kind"):
        if obj.get(key) is not None and not isinstance(obj[key], str):
            raise unrecognized(
                info,
                "couldn't get version/kind; json parse error: json: cannot unmarshal "
                f"{go_type(obj[key])} into Go struct field .{key} of type string",
                body,
            )
    check_kind(obj, info)
    issue, unknown = body_issues(info, obj)
    if issue is not None:
        raise errors.bad_request(
            f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
            f"{issue.message}"
        )
    directive = field_validation(req)
    if directive == "Ignore" or unique:
        issues = [FieldIssue("unknown", path) for path in unknown]
    else:
        # A key repeated in the body: the strict decoder's full account, in document order.
        issues = _strict_issues(info, body)
    _apply_field_validation(req, directive, obj, issues)
    return obj


def body_issues(info: ResourceInfo, obj: dict[str, Any]) -> tuple[TypeIssue | None, list[str]]:
    """One walk of a decoded body: its first value of a wrong JSON type (None for a custom
    resource, which is unstructured: its wrong types are validation errors, 422) and the
    paths of its unknown fields (none without a schema)."""
    try:
        return check_body(info.schema_ref, obj, types=not info.custom)
    except KeyError:
        return None, []


def no_duplicate_fields(raw: bytes, obj: Any) -> bool:
    """Whether the JSON text ``raw``, decoded as ``obj``, repeats no key within an object
    (False: it may; the strict decoder's walk tells).

    Outside strings a colon only ends a key, and re-encoding ``obj`` keeps every colon
    inside its strings; a key given twice keeps one of its values, so the text has more
    colons than its re-encoding unless a string escapes a colon (``\\u003a``), which is
    counted as "may"."""
    if b"\\u003a" in raw or b"\\u003A" in raw:
        return False
    try:
        return raw.count(b":") == orjson.dumps(obj).count(b":")
    except TypeError:  # beyond what orjson encodes (e.g. an integer over 64 bits)
        return False


def check_kind(obj: dict[str, Any], info: ResourceInfo) -> None:
    api_version = obj.get("apiVersion") or info.api_version
    kind = obj.get("kind") or info.kind
    if not isinstance(api_version, str) or not isinstance(kind, str):
        raise errors.bad_request("couldn't get version/kind; json parse error: apiVersion and "
                                 "kind must be strings")
    if api_version != info.api_version:
        raise errors.bad_request(
            f"the API version in the data ({api_version}) does not match the expected API "
            f"version ({info.api_version})"
        )
    if kind != info.kind:
        raise errors.bad_request(
            f'{kind} in version "{info.version}" cannot be handled as a {info.kind}: '
            f'the kind in the data ({kind}) does not match the expected kind ({info.kind})'
        )
    obj["apiVersion"] = api_version
    obj["kind"] = kind
    if obj.get("metadata") is None:
        obj["metadata"] = {}
    elif not isinstance(obj["metadata"], dict):
        raise errors.bad_request(
            f"{info.kind} in version \"{info.version}\" cannot be handled as a {info.kind}: "
            "json: cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta"
        )


def _strict_issues(info: ResourceInfo, raw: bytes) -> list[FieldIssue]:
    try:
        return strict_field_issues(info.schema_ref, raw)
    except (ValueError, KeyError):
        return []


def _apply_field_validation(req: Request, directive: str, obj: dict[str, Any],
                            issues: list[FieldIssue]) -> None:
    """Strict: 400 for any issue; Warn: one warning each; every directive drops the
    unknown fields, as a typed decoder would."""
    if issues and directive == "Strict":
        raise errors.bad_request(strict_decoding_error_message([i.message for i in issues]))
    if directive == "Warn":
        req.warnings.extend(i.message for i in issues)
    for issue in issues:
        if issue.kind == "unknown":
            drop_field(obj, issue.path)


def drop_field(obj: Any, path: str) -> None:
    """Remove the field at ``spec.ports[0].bar`` from ``obj`` (if present)."""
    parts: list[str | int] = []
    for name, index in _PATH_PART.findall(path):
        parts.append(int(index) if index else name)
    node = obj
    for part in parts[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    last = parts[-1] if parts else None
    if isinstance(node, dict) and isinstance(last, str):
        node.pop(last, None)


def go_type(value: Any) -> str:
    """The JSON type name Go's decoder uses in its errors."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "null"


def _parse_bool(text: str) -> bool:
    """A query boolean as Go's ``strconv.ParseBool`` reads it; 400 otherwise."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    raise errors.bad_request(f'strconv.ParseBool: parsing "{text}": invalid syntax')


async def delete_options(req: Request) -> DeleteOptions:
    """DeleteOptions from the body and/or the query (query wins, as upstream)."""
    body = await req.read_body()
    opts: dict[str, Any] = {}
    if body.strip() and req.content_type == protobuf.MEDIA_TYPE:
        try:
            opts = protobuf.decode(body, "DeleteOptions")
        except protobuf.ProtobufError as exc:
            raise errors.bad_request(f"unable to decode protobuf body: {exc}") from None
    elif body.strip():
        too_deep = json_depth_error(body)
        if too_deep is not None:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {too_deep}")
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {exc}") \
                from None
        if not isinstance(parsed, dict):
            raise errors.bad_request("DeleteOptions must be an object")
        issue = first_type_issue(_DELETE_OPTIONS, parsed)
        if issue is not None:
            raise errors.bad_request(issue.message)
        opts = parsed
    grace = opts.get("gracePeriodSeconds")
    query_grace = req.integer("gracePeriodSeconds")
    if query_grace is not None:
        grace = query_grace
    if grace is not None and not isinstance(grace, int):
        raise errors.bad_request("gracePeriodSeconds must be an integer")
    policy = req.query.get("propagationPolicy") or opts.get("propagationPolicy")
    orphan = opts.get("orphanDependents")
    query_orphan = req.query.get("orphanDependents")
    if query_orphan is not None:
        orphan = _parse_bool(query_orphan)
    if orphan is not None and not isinstance(orphan, bool):
        raise errors.bad_request("orphanDependents must be a boolean")
    if orphan is not None and policy is not None:
        raise errors.unprocessable(
            f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: '
            f'"{policy}": orphanDependents and deletionPropagation cannot be both set'
        )
    if policy is not None and policy not in ("Orphan", "Background", "Foreground"):
        raise errors.unprocessable(
            f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
            f'"{policy}": supported values: "Foreground", "Background", "Orphan", "nil"'
        )
    pre = opts.get("preconditions") or {}
    dry = dry_run(req) or opts.get("dryRun") == ["All"]
    return DeleteOptions(
        grace_period_seconds=grace,
        precondition_uid=pre.get("uid"),
        precondition_resource_version=pre.get("resourceVersion"),
        propagation_policy=policy,
        orphan_dependents=orphan,
        dry_run=dry,
    )

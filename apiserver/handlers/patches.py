"""Patch bodies: JSON patch, merge patch, strategic merge patch and server-side apply.

Each body is bounded before it is parsed (size by :meth:`Request.read_body`, nesting by
:mod:`apiserver.handlers.nesting`, YAML aliases by :mod:`apiserver.handlers.yamlbody`);
the patched object is checked like a decoded body (kind, JSON types, fields) and its
nesting once more, since JSON patch ``move``/``copy`` can deepen a document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import yaml

from apiserver.api import errors
from apiserver.api.gostrings import go_quote
from apiserver.api.resources import ResourceInfo
from apiserver.handlers.bodies import (
    APPLY_MEDIA,
    body_issues,
    check_kind,
    drop_field,
    field_validation,
    go_type,
)
from apiserver.handlers.http import Request
from apiserver.handlers.nesting import json_depth_error, too_deep
from apiserver.handlers.yamlbody import YamlBodyError, load_yaml
from apiserver.patch import (
    GENERIC_INVALID_MESSAGE,
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from apiserver.patch.gofmt import conversion_error, go_value
from apiserver.registry import managedfields
from apiserver.schema.fieldcheck import (
    FieldIssue,
    strict_decoding_error_message,
)

_PATCH_MEDIA = frozenset({
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    APPLY_MEDIA,
})


async def patcher(
    req: Request, info: ResourceInfo
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A function applying the request's patch to the current object."""
    media = req.content_type
    if info.custom and media == "application/strategic-merge-patch+json":
        raise errors.ApiError(
            415, "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: "
            "application/json-patch+json, application/merge-patch+json, "
            "application/apply-patch+yaml")
    if media not in _PATCH_MEDIA or media == APPLY_MEDIA:
        raise errors.unsupported_media_type(media)
    if "force" in req.query:
        raise _patch_options_invalid(
            "FieldValueForbidden", "force", "Forbidden: may not be specified for non-apply patch"
        )
    body = await req.read_body()
    if not body.strip():
        raise errors.bad_request("the body of the request was empty")
    directive = field_validation(req)
    if media == "application/json-patch+json":
        too_deep_error = json_depth_error(body)
        if too_deep_error is not None:
            raise errors.bad_request(too_deep_error)
    else:
        patch_map = _parse_patch(body)

    def mutate(current: dict[str, Any]) -> dict[str, Any]:
        if info.storage_api_version:
            current["apiVersion"] = info.api_version  # the version the client patches
        try:
            if media == "application/json-patch+json":
                # Decoded on each attempt: the patch's values move into the result.
                patched = apply_json_patch(current, body)
            elif media == "application/merge-patch+json":
                patched = apply_merge_patch(current, patch_map)
            else:
                patched = apply_strategic_merge_patch(current, patch_map, info.schema_ref)
                return check_patched(req, info, patched, directive, patch_map)
        except PatchError as exc:
            raise errors.ApiError(exc.code, exc.reason, exc.message) from None
        return check_patched(req, info, patched, directive)

    return mutate


_NO_PATCH_MAP = object()


def check_patched(
    req: Request, info: ResourceInfo, patched: Any, directive: str,
    smp_patch: Any = _NO_PATCH_MAP,
) -> dict[str, Any]:
    """Kind, JSON types and fields of a patched object, as upstream checks them.

    ``smp_patch`` is the patch map of a strategic merge patch: upstream converts that
    patch's result from unstructured, so a value of the wrong type is reported with
    the converter's error and the patch map (Go ``%+v``) as the invalid value.
    """
    if not isinstance(patched, dict):
        raise errors.bad_request("the patched object is not an object")
    if too_deep(patched):
        raise errors.ApiError(422, "Invalid", GENERIC_INVALID_MESSAGE)
    check_kind(patched, info)
    type_issue, unknown = body_issues(info, patched)
    if type_issue is not None:
        if smp_patch is not _NO_PATCH_MAP:
            detail = (conversion_error(type_issue.json_type, type_issue.go_type)
                      or type_issue.message)
            cause = f"Invalid value: {go_quote(go_value(smp_patch))}: {detail}"
        else:
            cause = f'Invalid value: "{_short(patched)}": {type_issue.message}'
        raise errors.ApiError(
            422, "Invalid", f'"" is invalid: patch: {cause}',
            {"causes": [errors.field_cause("FieldValueInvalid", "patch", cause)]},
        )
    if directive != "Ignore":
        # The patched object is re-encoded by upstream before its strict decoding, so it
        # repeats no key: its issues are the unknown fields.
        messages = [FieldIssue("unknown", path).message for path in unknown]
        if messages and directive == "Strict":
            raise errors.bad_request(strict_decoding_error_message(messages))
        if directive == "Warn":
            req.warnings[:] = messages
        for path in unknown:
            drop_field(patched, path)
    return patched


def field_manager(req: Request) -> str:
    """The request's ``fieldManager``, or upstream's default: the User-Agent's prefix."""
    manager = req.query.get("fieldManager") or ""
    if not manager:
        manager = req.headers.get("user-agent", "").split("/", 1)[0]
    if len(manager) > 128:
        raise _patch_options_invalid(
            "FieldValueTooLong", "fieldManager", "Too long: may not be more than 128 bytes"
        )
    return manager


def _patch_options_invalid(reason: str, field: str, detail: str) -> errors.ApiError:
    return errors.ApiError(
        422, "Invalid", f'PatchOptions.meta.k8s.io "" is invalid: {field}: {detail}',
        {"group": "meta.k8s.io", "kind": "PatchOptions",
         "causes": [errors.field_cause(reason, field, detail)]},
    )


async def applier(
    req: Request, info: ResourceInfo, name: str, scope: managedfields.Scope
) -> tuple[Callable[[dict[str, Any]], dict[str, Any]], Callable[[], dict[str, Any]]]:
    """Server-side apply: (apply to the live object, create from nothing)."""
    manager = req.query.get("fieldManager") or ""
    if not manager:
        raise _patch_options_invalid(
            "FieldValueRequired", "fieldManager", "Required value: is required for apply patch"
        )
    field_manager(req)
    force = req.flag("force")
    body = await req.read_body()
    if not body.strip():
        raise errors.bad_request("the body of the request was empty")
    try:
        config = load_yaml(body)
    except YamlBodyError as exc:
        raise errors.bad_request(
            f"error decoding YAML: error converting YAML to JSON: yaml: {exc}"
        ) from None
    except yaml.YAMLError as exc:
        raise errors.bad_request(f"error decoding YAML: {exc}") from None
    if not isinstance(config, dict):
        raise errors.bad_request(
            f"error decoding YAML: json: cannot unmarshal {go_type(config)} into Go value "
            "of type map[string]interface {}"
        )
    for key, missing in (("kind", "Kind"), ("apiVersion", "Version")):
        if not config.get(key):
            raise errors.bad_request(
                f"Object '{missing}' is missing in '{_short(config)}'"
            )
    check_kind(config, info)
    config_md = config["metadata"]
    if config_md.get("name") not in (None, name):
        raise errors.bad_request(
            f"the name of the object ({config_md.get('name')}) does not match the name on the "
            f"URL ({name})"
        )
    if config_md.get("managedFields"):
        raise errors.bad_request("metadata.managedFields must be nil")
    config_md["name"] = name
    directive = field_validation(req)

    def mutate(current: dict[str, Any]) -> dict[str, Any]:
        if info.storage_api_version:
            current["apiVersion"] = info.api_version  # the version the client applies
        applied = managedfields.apply(current, config, manager, scope, force)
        return check_patched(req, info, applied, directive)

    def create() -> dict[str, Any]:
        applied = managedfields.apply(None, config, manager, scope, force)
        return check_patched(req, info, applied, directive)

    return mutate, create


def _short(obj: Any, limit: int = 256) -> str:
    text = orjson.dumps(obj).decode()
    return text if len(text) <= limit else text[:limit] + "..."


def _parse_patch(body: bytes) -> Any:
    """A merge or strategic merge patch body, its nesting bounded before it is parsed."""
    too_deep_error = json_depth_error(body)
    if too_deep_error is not None:
        raise errors.bad_request(f"error decoding patch: {too_deep_error}")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"error decoding patch: {exc}") from None

"""Pre-encoded OpenAPI documents with their hashes, computed once per process.

The documents of the built-in resources derive from what is fixed for the life of the
process (the resource table and the shipped schemas), so each is built and encoded once
and the same bytes are served to every request. Custom resources come and go with their
CustomResourceDefinitions: ``/openapi/v2`` is built again (and gets a new ETag) when the
served custom resources or their definitions change, and the v3 documents of custom
group versions are built when asked for.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from apiserver.api.resources import ResourceInfo, served_resources
from apiserver.openapi.operations import doc_key
from apiserver.openapi.protobuf_v2 import encode_document
from apiserver.openapi.v2 import openapi_v2, with_operations
from apiserver.openapi.v2_custom import custom_v2_parts
from apiserver.openapi.v3 import (
    custom_document,
    document_keys,
    openapi_v3_group_version,
    openapi_v3_root,
)
from apiserver.schema.loader import on_definitions_change


@dataclass(frozen=True)
class EncodedDocument:
    """Encoded bytes of a document (compact JSON, or protobuf) and their upper-case hex SHA-512.

    ``etag`` is the quoted hash, for the ``ETag`` header (and comparison with
    ``If-None-Match``); ``hash`` is what ``/openapi/v3`` URLs carry.
    """

    data: bytes
    hash: str

    @property
    def etag(self) -> str:
        """The strong entity tag of the document."""
        return f'"{self.hash}"'


def encode(document: Any) -> EncodedDocument:
    """Encode ``document`` as compact JSON with sorted keys, and hash it."""
    data = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return EncodedDocument(data=data, hash=hashlib.sha512(data).hexdigest().upper())


@functools.cache
def _static_v2() -> dict[str, Any]:
    return openapi_v2()


@functools.cache
def _static_v2_encoded() -> EncodedDocument:
    return encode(_static_v2())


@functools.cache
def _static_v2_protobuf() -> EncodedDocument:
    data = encode_document(_static_v2())
    return EncodedDocument(data=data, hash=hashlib.sha512(data).hexdigest().upper())


#: The v2 documents with custom resources: the key of the served custom resources and
#: their definitions, the JSON form, and the protobuf form once asked for.
_CUSTOM_V2: dict[str, Any] = {}
_DEFINITIONS_GENERATION = [0]


def _definitions_changed() -> None:
    _DEFINITIONS_GENERATION[0] += 1


on_definitions_change(_definitions_changed)


def _custom_v2() -> tuple[dict[str, Any], EncodedDocument] | None:
    """The v2 document with the custom resources served now (None when there are none),
    built again only when they or their definitions changed."""
    infos = tuple(info for info in served_resources() if info.custom)
    if not infos:
        return None
    key = (infos, _DEFINITIONS_GENERATION[0])
    if _CUSTOM_V2.get("key") != key:
        ops, definitions = custom_v2_parts(infos)
        document = with_operations(_static_v2(), ops, definitions)
        _CUSTOM_V2.clear()
        _CUSTOM_V2.update(key=key, document=document, json=encode(document))
    return _CUSTOM_V2["document"], _CUSTOM_V2["json"]


def openapi_v2_encoded() -> EncodedDocument:
    """The encoded ``/openapi/v2`` document (with the custom resources served now)."""
    custom = _custom_v2()
    return _static_v2_encoded() if custom is None else custom[1]


def openapi_v2_protobuf_encoded() -> EncodedDocument:
    """The ``/openapi/v2`` document as a gnostic ``openapi.v2.Document`` protobuf message."""
    custom = _custom_v2()
    if custom is None:
        return _static_v2_protobuf()
    if "protobuf" not in _CUSTOM_V2:
        data = encode_document(custom[0])
        _CUSTOM_V2["protobuf"] = EncodedDocument(
            data=data, hash=hashlib.sha512(data).hexdigest().upper())
    found: EncodedDocument = _CUSTOM_V2["protobuf"]
    return found


@functools.cache
def _v3_documents() -> dict[str, EncodedDocument]:
    documents: dict[str, EncodedDocument] = {}
    for key in document_keys():
        document = openapi_v3_group_version(key)
        if document is not None:
            documents[key] = encode(document)
    return documents


def _custom_documents() -> dict[str, EncodedDocument]:
    """The documents of the custom group versions served now (built on each call: they
    are small, and a CRD may change at any time)."""
    grouped: dict[str, list[ResourceInfo]] = {}
    for info in served_resources():
        if info.custom:
            grouped.setdefault(doc_key(info.group, info.version), []).append(info)
    return {key: encode(custom_document(key, infos)) for key, infos in grouped.items()}


def openapi_v3_encoded(gv: str) -> EncodedDocument | None:
    """The encoded v3 document ``gv`` (``api/v1``, ``apis/<g>/<v>`` ...), if it exists."""
    found = _v3_documents().get(gv)
    if found is None and gv.startswith("apis/"):
        found = _custom_documents().get(gv)
    return found


@functools.cache
def _static_root() -> EncodedDocument:
    return encode(openapi_v3_root({key: doc.hash for key, doc in _v3_documents().items()}))


def openapi_v3_root_encoded() -> EncodedDocument:
    """The encoded ``/openapi/v3`` index, with the hashes of the encoded documents."""
    custom = _custom_documents()
    if not custom:
        return _static_root()
    hashes = {key: doc.hash for key, doc in _v3_documents().items()}
    hashes.update({key: doc.hash for key, doc in custom.items()})
    return encode(openapi_v3_root(hashes))

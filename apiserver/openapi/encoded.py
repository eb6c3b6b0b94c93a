"""Pre-encoded OpenAPI documents with their hashes, computed once per process.

Everything the documents derive from (the resource table and the shipped
schemas) is fixed for the life of the process, so each document is built and
encoded once and the same bytes are served to every request.
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
from apiserver.openapi.v2 import openapi_v2
from apiserver.openapi.v3 import (
    custom_document,
    document_keys,
    openapi_v3_group_version,
    openapi_v3_root,
)


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
def openapi_v2_encoded() -> EncodedDocument:
    """The encoded ``/openapi/v2`` document."""
    return encode(openapi_v2())


@functools.cache
def openapi_v2_protobuf_encoded() -> EncodedDocument:
    """The ``/openapi/v2`` document as a gnostic ``openapi.v2.Document`` protobuf message."""
    data = encode_document(openapi_v2())
    return EncodedDocument(data=data, hash=hashlib.sha512(data).hexdigest().upper())


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

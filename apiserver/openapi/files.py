"""The committed copies of the OpenAPI documents under ``openapi/``.

They let reviewers see what the server publishes; ``scripts/gen-openapi``
writes them and a unit test fails when they are stale.
"""

from __future__ import annotations

from typing import Any

import orjson

from apiserver.openapi.v2 import openapi_v2
from apiserver.openapi.v3 import document_keys, openapi_v3_group_version


def v3_file_name(key: str) -> str:
    """File name of the v3 document ``key``: ``api/v1`` → ``api__v1_openapi.json``."""
    return key.replace("/", "__") + "_openapi.json"


def _pretty(document: Any) -> bytes:
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def render_files() -> dict[str, bytes]:
    """Paths (relative to the project root) and contents of every committed document.

    ``openapi/v2.json`` and one ``openapi/v3/<key>_openapi.json`` per v3
    document; indented, with sorted keys and a trailing newline.
    """
    files = {"openapi/v2.json": _pretty(openapi_v2())}
    for key in document_keys():
        document = openapi_v3_group_version(key)
        if document is not None:
            files["openapi/v3/" + v3_file_name(key)] = _pretty(document)
    return files

"""OpenAPI v2 and v3 documents of the served resources.

Generated from the resource table (:mod:`apiserver.api.resources`) and the
upstream schemas shipped by ``kubernetes-validate``. Handlers serve the
pre-encoded bytes from :mod:`apiserver.openapi.encoded`.
"""

from apiserver.openapi._schemas import KUBE_VERSION
from apiserver.openapi.encoded import (
    EncodedDocument,
    openapi_v2_encoded,
    openapi_v2_protobuf_encoded,
    openapi_v3_encoded,
    openapi_v3_root_encoded,
)
from apiserver.openapi.protobuf_v2 import PROTOBUF_MEDIA_TYPE, PROTOBUF_MEDIA_TYPE_V2
from apiserver.openapi.v2 import openapi_v2
from apiserver.openapi.v3 import document_keys, openapi_v3_group_version, openapi_v3_root

__all__ = [
    "KUBE_VERSION",
    "PROTOBUF_MEDIA_TYPE",
    "PROTOBUF_MEDIA_TYPE_V2",
    "EncodedDocument",
    "document_keys",
    "openapi_v2",
    "openapi_v2_encoded",
    "openapi_v2_protobuf_encoded",
    "openapi_v3_encoded",
    "openapi_v3_group_version",
    "openapi_v3_root",
    "openapi_v3_root_encoded",
]

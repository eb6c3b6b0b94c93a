"""Protobuf field tables of the meta types (``k8s.io/apimachinery``: ``meta/v1``,
``resource``, ``intstr``, ``runtime``).

Schema data only, in the entry format described in
:mod:`apiserver.schema.proto_messages`; keyed by protobuf package, then message.
"""

from __future__ import annotations

TABLES: dict[str, dict[str, str]] = {
    "meta.v1": {
        "Condition": (
            "1:type:string:k 2:status:string:k 3:observedGeneration:int64 "
            "4:lastTransitionTime:Time:k 5:reason:string:k 6:message:string:k"
        ),
        "DeleteOptions": (
            "1:gracePeriodSeconds:int64:p 2:preconditions:Preconditions:p "
            "3:orphanDependents:bool:p 4:propagationPolicy:string:p 5:dryRun:string:r "
            "6:ignoreStoreReadErrorWithClusterBreakingPotential:bool:p"
        ),
        "FieldSelectorRequirement": "1:key:string:k 2:operator:string:k 3:values:string:r",
        "FieldsV1": "1:raw:bytes:k",
        "LabelSelector": "1:matchLabels:string:m 2:matchExpressions:LabelSelectorRequirement:r",
        "LabelSelectorRequirement": "1:key:string:k 2:operator:string:k 3:values:string:r",
        "ManagedFieldsEntry": (
            "1:manager:string 2:operation:string 3:apiVersion:string 4:time:Time:p "
            "6:fieldsType:string 7:fieldsV1:FieldsV1:p 8:subresource:string"
        ),
        "MicroTime": "1:seconds:int64:k 2:nanos:int32:k",
        "ObjectMeta": (
            "1:name:string 2:generateName:string 3:namespace:string 4:selfLink:string "
            "5:uid:string 6:resourceVersion:string 7:generation:int64 8:creationTimestamp:Time "
            "9:deletionTimestamp:Time:p 10:deletionGracePeriodSeconds:int64:p 11:labels:string:m "
            "12:annotations:string:m 13:ownerReferences:OwnerReference:r 14:finalizers:string:r "
            "17:managedFields:ManagedFieldsEntry:r"
        ),
        "OwnerReference": (
            "1:kind:string:k 3:name:string:k 4:uid:string:k 5:apiVersion:string:k "
            "6:controller:bool:p 7:blockOwnerDeletion:bool:p"
        ),
        "Preconditions": "1:uid:string:p 2:resourceVersion:string:p",
        "Time": "1:seconds:int64:k 2:nanos:int32:k",
    },
    "resource": {
        "Quantity": "1:string:string:k",
    },
    "intstr": {
        "IntOrString": "1:type:int64:k 2:intVal:int32:k 3:strVal:string:k",
    },
    "runtime": {
        "RawExtension": "1:raw:bytes:k",
    },
}

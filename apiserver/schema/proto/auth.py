"""Protobuf field tables of ``rbac.authorization.k8s.io/v1``, ``authentication.k8s.io/v1``,
``authorization.k8s.io/v1`` and ``certificates.k8s.io/v1``.

Schema data only, in the entry format described in
:mod:`apiserver.schema.proto_messages`; keyed by protobuf package, then message.
"""

from __future__ import annotations

TABLES: dict[str, dict[str, str]] = {
    "rbac.v1": {
        "AggregationRule": "1:clusterRoleSelectors:meta.v1.LabelSelector:r",
        "ClusterRole": (
            "1:metadata:meta.v1.ObjectMeta 2:rules:PolicyRule:r "
            "3:aggregationRule:AggregationRule:p"
        ),
        "ClusterRoleBinding": (
            "1:metadata:meta.v1.ObjectMeta 2:subjects:Subject:r 3:roleRef:RoleRef:k"
        ),
        "PolicyRule": (
            "1:verbs:string:r 2:apiGroups:string:r 3:resources:string:r 4:resourceNames:string:r "
            "5:nonResourceURLs:string:r"
        ),
        "Role": "1:metadata:meta.v1.ObjectMeta 2:rules:PolicyRule:r",
        "RoleBinding": "1:metadata:meta.v1.ObjectMeta 2:subjects:Subject:r 3:roleRef:RoleRef:k",
        "RoleRef": "1:apiGroup:string:k 2:kind:string:k 3:name:string:k",
        "Subject": "1:kind:string:k 2:apiGroup:string 3:name:string:k 4:namespace:string",
    },
    "authentication.v1": {
        "AttestationValue": "1:items:string:r",
        "BoundObjectReference": "1:kind:string 2:apiVersion:string 3:name:string 4:uid:string",
        "ExtraValue": "1:items:string:r",
        "SelfSubjectReview": "1:metadata:meta.v1.ObjectMeta 2:status:SelfSubjectReviewStatus",
        "SelfSubjectReviewStatus": "1:userInfo:UserInfo",
        "TokenRequest": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:TokenRequestSpec:k 3:status:TokenRequestStatus"
        ),
        "TokenRequestSpec": (
            "1:audiences:string:r 3:boundObjectRef:BoundObjectReference:p "
            "4:expirationSeconds:int64:p 5:attestations:AttestationValue:m"
        ),
        "TokenRequestStatus": "1:token:string:k 2:expirationTimestamp:meta.v1.Time:k",
        "TokenReview": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:TokenReviewSpec:k 3:status:TokenReviewStatus"
        ),
        "TokenReviewSpec": "1:token:string 2:audiences:string:r",
        "TokenReviewStatus": (
            "1:authenticated:bool 2:user:UserInfo 3:error:string 4:audiences:string:r"
        ),
        "UserInfo": "1:username:string 2:uid:string 3:groups:string:r 4:extra:ExtraValue:m",
    },
    "authorization.v1": {
        "ExtraValue": "1:items:string:r",
        "FieldSelectorAttributes": (
            "1:rawSelector:string 2:requirements:meta.v1.FieldSelectorRequirement:r"
        ),
        "LabelSelectorAttributes": (
            "1:rawSelector:string 2:requirements:meta.v1.LabelSelectorRequirement:r"
        ),
        "LocalSubjectAccessReview": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:SubjectAccessReviewSpec:k "
            "3:status:SubjectAccessReviewStatus"
        ),
        "NonResourceAttributes": "1:path:string 2:verb:string",
        "NonResourceRule": "1:verbs:string:r 2:nonResourceURLs:string:r",
        "ResourceAttributes": (
            "1:namespace:string 2:verb:string 3:group:string 4:version:string 5:resource:string "
            "6:subresource:string 7:name:string 8:fieldSelector:FieldSelectorAttributes:p "
            "9:labelSelector:LabelSelectorAttributes:p"
        ),
        "ResourceRule": (
            "1:verbs:string:r 2:apiGroups:string:r 3:resources:string:r 4:resourceNames:string:r"
        ),
        "SelfSubjectAccessReview": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:SelfSubjectAccessReviewSpec:k "
            "3:status:SubjectAccessReviewStatus"
        ),
        "SelfSubjectAccessReviewSpec": (
            "1:resourceAttributes:ResourceAttributes:p "
            "2:nonResourceAttributes:NonResourceAttributes:p"
        ),
        "SelfSubjectRulesReview": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:SelfSubjectRulesReviewSpec:k "
            "3:status:SubjectRulesReviewStatus"
        ),
        "SelfSubjectRulesReviewSpec": "1:namespace:string",
        "SubjectAccessReview": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:SubjectAccessReviewSpec:k "
            "3:status:SubjectAccessReviewStatus"
        ),
        "SubjectAccessReviewSpec": (
            "1:resourceAttributes:ResourceAttributes:p "
            "2:nonResourceAttributes:NonResourceAttributes:p 3:user:string 4:groups:string:r "
            "5:extra:ExtraValue:m 6:uid:string"
        ),
        "SubjectAccessReviewStatus": (
            "1:allowed:bool:k 2:reason:string 3:evaluationError:string 4:denied:bool"
        ),
        "SubjectRulesReviewStatus": (
            "1:resourceRules:ResourceRule:r 2:nonResourceRules:NonResourceRule:r "
            "3:incomplete:bool:k 4:evaluationError:string"
        ),
    },
    "certificates.v1": {
        "CertificateSigningRequest": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:CertificateSigningRequestSpec:k "
            "3:status:CertificateSigningRequestStatus"
        ),
        "CertificateSigningRequestCondition": (
            "1:type:string:k 2:reason:string 3:message:string 4:lastUpdateTime:meta.v1.Time "
            "5:lastTransitionTime:meta.v1.Time 6:status:string:k"
        ),
        "CertificateSigningRequestSpec": (
            "1:request:bytes:k 2:username:string 3:uid:string 4:groups:string:r 5:usages:string:r "
            "6:extra:ExtraValue:m 7:signerName:string:k 8:expirationSeconds:int32:p"
        ),
        "CertificateSigningRequestStatus": (
            "1:conditions:CertificateSigningRequestCondition:r 2:certificate:bytes"
        ),
        "ExtraValue": "1:items:string:r",
    },
}

"""Protobuf field tables of ``admissionregistration.k8s.io/v1``,
``apiregistration.k8s.io/v1`` (kube-aggregator) and ``flowcontrol.apiserver.k8s.io/v1``.

Schema data only, in the entry format described in
:mod:`apiserver.schema.proto_messages`; keyed by protobuf package, then message.
"""

from __future__ import annotations

TABLES: dict[str, dict[str, str]] = {
    "admissionregistration.v1": {
        "AuditAnnotation": "1:key:string:k 2:valueExpression:string:k",
        "ExpressionWarning": "2:fieldRef:string:k 3:warning:string:k",
        "MatchCondition": "1:name:string:k 2:expression:string:k",
        "MatchResources": (
            "1:namespaceSelector:meta.v1.LabelSelector:p 2:objectSelector:meta.v1.LabelSelector:p "
            "3:resourceRules:NamedRuleWithOperations:r "
            "4:excludeResourceRules:NamedRuleWithOperations:r 7:matchPolicy:string:p"
        ),
        "MutatingWebhook": (
            "1:name:string:k 2:clientConfig:WebhookClientConfig:k 3:rules:RuleWithOperations:r "
            "4:failurePolicy:string:p 5:namespaceSelector:meta.v1.LabelSelector:p "
            "6:sideEffects:string:p 7:timeoutSeconds:int32:p 8:admissionReviewVersions:string:r "
            "9:matchPolicy:string:p 10:reinvocationPolicy:string:p "
            "11:objectSelector:meta.v1.LabelSelector:p 12:matchConditions:MatchCondition:r"
        ),
        "MutatingWebhookConfiguration": (
            "1:metadata:meta.v1.ObjectMeta 2:webhooks:MutatingWebhook:r"
        ),
        "NamedRuleWithOperations": "1:resourceNames:string:r 2::RuleWithOperations:i",
        "ParamKind": "1:apiVersion:string 2:kind:string",
        "ParamRef": (
            "1:name:string 2:namespace:string 3:selector:meta.v1.LabelSelector:p "
            "4:parameterNotFoundAction:string:p"
        ),
        "Rule": "1:apiGroups:string:r 2:apiVersions:string:r 3:resources:string:r 4:scope:string:p",
        "RuleWithOperations": "1:operations:string:r 2::Rule:i",
        "ServiceReference": "1:namespace:string:k 2:name:string:k 3:path:string:p 4:port:int32:p",
        "TypeChecking": "1:expressionWarnings:ExpressionWarning:r",
        "ValidatingAdmissionPolicy": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:ValidatingAdmissionPolicySpec "
            "3:status:ValidatingAdmissionPolicyStatus"
        ),
        "ValidatingAdmissionPolicyBinding": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:ValidatingAdmissionPolicyBindingSpec"
        ),
        "ValidatingAdmissionPolicyBindingSpec": (
            "1:policyName:string 2:paramRef:ParamRef:p 3:matchResources:MatchResources:p "
            "4:validationActions:string:r"
        ),
        "ValidatingAdmissionPolicySpec": (
            "1:paramKind:ParamKind:p 2:matchConstraints:MatchResources:p "
            "3:validations:Validation:r 4:failurePolicy:string:p "
            "5:auditAnnotations:AuditAnnotation:r 6:matchConditions:MatchCondition:r "
            "7:variables:Variable:r"
        ),
        "ValidatingAdmissionPolicyStatus": (
            "1:observedGeneration:int64 2:typeChecking:TypeChecking:p "
            "3:conditions:meta.v1.Condition:r"
        ),
        "ValidatingWebhook": (
            "1:name:string:k 2:clientConfig:WebhookClientConfig:k 3:rules:RuleWithOperations:r "
            "4:failurePolicy:string:p 5:namespaceSelector:meta.v1.LabelSelector:p "
            "6:sideEffects:string:p 7:timeoutSeconds:int32:p 8:admissionReviewVersions:string:r "
            "9:matchPolicy:string:p 10:objectSelector:meta.v1.LabelSelector:p "
            "11:matchConditions:MatchCondition:r"
        ),
        "ValidatingWebhookConfiguration": (
            "1:metadata:meta.v1.ObjectMeta 2:webhooks:ValidatingWebhook:r"
        ),
        "Validation": (
            "1:expression:string:k 2:message:string 3:reason:string:p 4:messageExpression:string"
        ),
        "Variable": "1:name:string:k 2:expression:string:k",
        "WebhookClientConfig": "1:service:ServiceReference:p 2:caBundle:bytes 3:url:string:p",
    },
    "apiregistration.v1": {
        "APIService": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:APIServiceSpec 3:status:APIServiceStatus"
        ),
        "APIServiceCondition": (
            "1:type:string:k 2:status:string:k 3:lastTransitionTime:meta.v1.Time 4:reason:string "
            "5:message:string"
        ),
        "APIServiceSpec": (
            "1:service:ServiceReference:p 2:group:string 3:version:string "
            "4:insecureSkipTLSVerify:bool 5:caBundle:bytes 7:groupPriorityMinimum:int32:k "
            "8:versionPriority:int32:k"
        ),
        "APIServiceStatus": "1:conditions:APIServiceCondition:r",
        "ServiceReference": "1:namespace:string 2:name:string 3:port:int32:p",
    },
    "flowcontrol.v1": {
        "ExemptPriorityLevelConfiguration": (
            "1:nominalConcurrencyShares:int32:p 2:lendablePercent:int32:p"
        ),
        "FlowDistinguisherMethod": "1:type:string:k",
        "FlowSchema": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:FlowSchemaSpec 3:status:FlowSchemaStatus"
        ),
        "FlowSchemaCondition": (
            "1:type:string 2:status:string 3:lastTransitionTime:meta.v1.Time 4:reason:string "
            "5:message:string"
        ),
        "FlowSchemaSpec": (
            "1:priorityLevelConfiguration:PriorityLevelConfigurationReference:k "
            "2:matchingPrecedence:int32:k 3:distinguisherMethod:FlowDistinguisherMethod:p "
            "4:rules:PolicyRulesWithSubjects:r"
        ),
        "FlowSchemaStatus": "1:conditions:FlowSchemaCondition:r",
        "GroupSubject": "1:name:string:k",
        "LimitResponse": "1:type:string:k 2:queuing:QueuingConfiguration:p",
        "LimitedPriorityLevelConfiguration": (
            "1:nominalConcurrencyShares:int32:p 2:limitResponse:LimitResponse "
            "3:lendablePercent:int32:p 4:borrowingLimitPercent:int32:p"
        ),
        "NonResourcePolicyRule": "1:verbs:string:r 6:nonResourceURLs:string:r",
        "PolicyRulesWithSubjects": (
            "1:subjects:Subject:r 2:resourceRules:ResourcePolicyRule:r "
            "3:nonResourceRules:NonResourcePolicyRule:r"
        ),
        "PriorityLevelConfiguration": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:PriorityLevelConfigurationSpec "
            "3:status:PriorityLevelConfigurationStatus"
        ),
        "PriorityLevelConfigurationCondition": (
            "1:type:string 2:status:string 3:lastTransitionTime:meta.v1.Time 4:reason:string "
            "5:message:string"
        ),
        "PriorityLevelConfigurationReference": "1:name:string:k",
        "PriorityLevelConfigurationSpec": (
            "1:type:string:k 2:limited:LimitedPriorityLevelConfiguration:p "
            "3:exempt:ExemptPriorityLevelConfiguration:p"
        ),
        "PriorityLevelConfigurationStatus": "1:conditions:PriorityLevelConfigurationCondition:r",
        "QueuingConfiguration": "1:queues:int32:k 2:handSize:int32:k 3:queueLengthLimit:int32:k",
        "ResourcePolicyRule": (
            "1:verbs:string:r 2:apiGroups:string:r 3:resources:string:r 4:clusterScope:bool "
            "5:namespaces:string:r"
        ),
        "ServiceAccountSubject": "1:namespace:string:k 2:name:string:k",
        "Subject": (
            "1:kind:string:k 2:user:UserSubject:p 3:group:GroupSubject:p "
            "4:serviceAccount:ServiceAccountSubject:p"
        ),
        "UserSubject": "1:name:string:k",
    },
}

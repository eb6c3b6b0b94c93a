"""Protobuf field tables of ``networking.k8s.io/v1``, ``discovery.k8s.io/v1``,
``storage.k8s.io/v1``, ``node.k8s.io/v1``, ``scheduling.k8s.io/v1``,
``coordination.k8s.io/v1`` and ``events.k8s.io/v1``.

Schema data only, in the entry format described in
:mod:`apiserver.schema.proto_messages`; keyed by protobuf package, then message.
"""

from __future__ import annotations

TABLES: dict[str, dict[str, str]] = {
    "networking.v1": {
        "HTTPIngressPath": "1:path:string 2:backend:IngressBackend:k 3:pathType:string:p",
        "HTTPIngressRuleValue": "1:paths:HTTPIngressPath:r",
        "IPAddress": "1:metadata:meta.v1.ObjectMeta 2:spec:IPAddressSpec",
        "IPAddressSpec": "1:parentRef:ParentReference:p",
        "IPBlock": "1:cidr:string:k 2:except:string:r",
        "Ingress": "1:metadata:meta.v1.ObjectMeta 2:spec:IngressSpec 3:status:IngressStatus",
        "IngressBackend": (
            "3:resource:core.v1.TypedLocalObjectReference:p 4:service:IngressServiceBackend:p"
        ),
        "IngressClass": "1:metadata:meta.v1.ObjectMeta 2:spec:IngressClassSpec",
        "IngressClassParametersReference": (
            "1:apiGroup:string:p 2:kind:string:k 3:name:string:k 4:scope:string:p "
            "5:namespace:string:p"
        ),
        "IngressClassSpec": "1:controller:string 2:parameters:IngressClassParametersReference:p",
        "IngressLoadBalancerIngress": "1:ip:string 2:hostname:string 4:ports:IngressPortStatus:r",
        "IngressLoadBalancerStatus": "1:ingress:IngressLoadBalancerIngress:r",
        "IngressPortStatus": "1:port:int32:k 2:protocol:string:k 3:error:string:p",
        "IngressRule": "1:host:string 2::IngressRuleValue:i",
        "IngressRuleValue": "1:http:HTTPIngressRuleValue:p",
        "IngressServiceBackend": "1:name:string:k 2:port:ServiceBackendPort",
        "IngressSpec": (
            "1:defaultBackend:IngressBackend:p 2:tls:IngressTLS:r 3:rules:IngressRule:r "
            "4:ingressClassName:string:p"
        ),
        "IngressStatus": "1:loadBalancer:IngressLoadBalancerStatus",
        "IngressTLS": "1:hosts:string:r 2:secretName:string",
        "NetworkPolicy": "1:metadata:meta.v1.ObjectMeta 2:spec:NetworkPolicySpec",
        "NetworkPolicyEgressRule": "1:ports:NetworkPolicyPort:r 2:to:NetworkPolicyPeer:r",
        "NetworkPolicyIngressRule": "1:ports:NetworkPolicyPort:r 2:from:NetworkPolicyPeer:r",
        "NetworkPolicyPeer": (
            "1:podSelector:meta.v1.LabelSelector:p 2:namespaceSelector:meta.v1.LabelSelector:p "
            "3:ipBlock:IPBlock:p"
        ),
        "NetworkPolicyPort": "1:protocol:string:p 2:port:intstr.IntOrString:p 3:endPort:int32:p",
        "NetworkPolicySpec": (
            "1:podSelector:meta.v1.LabelSelector:k 2:ingress:NetworkPolicyIngressRule:r "
            "3:egress:NetworkPolicyEgressRule:r 4:policyTypes:string:r"
        ),
        "ParentReference": "1:group:string 2:resource:string 3:namespace:string 4:name:string",
        "ServiceBackendPort": "1:name:string 2:number:int32",
        "ServiceCIDR": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:ServiceCIDRSpec 3:status:ServiceCIDRStatus"
        ),
        "ServiceCIDRSpec": "1:cidrs:string:r",
        "ServiceCIDRStatus": "1:conditions:meta.v1.Condition:r",
    },
    "discovery.v1": {
        "Endpoint": (
            "1:addresses:string:r 2:conditions:EndpointConditions 3:hostname:string:p "
            "4:targetRef:core.v1.ObjectReference:p 5:deprecatedTopology:string:m "
            "6:nodeName:string:p 7:zone:string:p 8:hints:EndpointHints:p"
        ),
        "EndpointConditions": "1:ready:bool:p 2:serving:bool:p 3:terminating:bool:p",
        "EndpointHints": "1:forZones:ForZone:r 2:forNodes:ForNode:r",
        "EndpointPort": "1:name:string:p 2:protocol:string:p 3:port:int32:p 4:appProtocol:string:p",
        "EndpointSlice": (
            "1:metadata:meta.v1.ObjectMeta 2:endpoints:Endpoint:r 3:ports:EndpointPort:r "
            "4:addressType:string:k"
        ),
        "ForNode": "1:name:string:k",
        "ForZone": "1:name:string:k",
    },
    "storage.v1": {
        "CSIDriver": "1:metadata:meta.v1.ObjectMeta 2:spec:CSIDriverSpec:k",
        "CSIDriverSpec": (
            "1:attachRequired:bool:p 2:podInfoOnMount:bool:p 3:volumeLifecycleModes:string:r "
            "4:storageCapacity:bool:p 5:fsGroupPolicy:string:p 6:tokenRequests:TokenRequest:r "
            "7:requiresRepublish:bool:p 8:seLinuxMount:bool:p "
            "9:nodeAllocatableUpdatePeriodSeconds:int64:p 10:serviceAccountTokenInSecrets:bool:p "
            "11:preventPodSchedulingIfMissing:bool:p"
        ),
        "CSINode": "1:metadata:meta.v1.ObjectMeta 2:spec:CSINodeSpec:k 3:status:CSINodeStatus",
        "CSINodeDriver": (
            "1:name:string:k 2:nodeID:string:k 3:topologyKeys:string:r "
            "4:allocatable:VolumeNodeResources:p"
        ),
        "CSINodeSpec": "1:drivers:CSINodeDriver:r",
        "CSINodeStatus": "1:storageHealth:StorageHealth:r",
        "CSIStorageCapacity": (
            "1:metadata:meta.v1.ObjectMeta 2:nodeTopology:meta.v1.LabelSelector:p "
            "3:storageClassName:string:k 4:capacity:resource.Quantity:p "
            "5:maximumVolumeSize:resource.Quantity:p"
        ),
        "StorageClass": (
            "1:metadata:meta.v1.ObjectMeta 2:provisioner:string:k 3:parameters:string:m "
            "4:reclaimPolicy:string:p 5:mountOptions:string:r 6:allowVolumeExpansion:bool:p "
            "7:volumeBindingMode:string:p 8:allowedTopologies:core.v1.TopologySelectorTerm:r"
        ),
        "StorageHealth": "1:name:string:k 2:healthConditions:StorageHealthCondition:r",
        "StorageHealthCondition": (
            "1:status:string:k 2:reason:string:k 3:message:string 4:accessMode:string:p "
            "5:volumeMode:string:p 6:lastTransitionTime:meta.v1.Time"
        ),
        "TokenRequest": "1:audience:string:k 2:expirationSeconds:int64:p",
        "VolumeAttachment": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:VolumeAttachmentSpec:k "
            "3:status:VolumeAttachmentStatus"
        ),
        "VolumeAttachmentSource": (
            "1:persistentVolumeName:string:p 2:inlineVolumeSpec:core.v1.PersistentVolumeSpec:p"
        ),
        "VolumeAttachmentSpec": (
            "1:attacher:string:k 2:source:VolumeAttachmentSource:k 3:nodeName:string:k"
        ),
        "VolumeAttachmentStatus": (
            "1:attached:bool:k 2:attachmentMetadata:string:m 3:attachError:VolumeError:p "
            "4:detachError:VolumeError:p"
        ),
        "VolumeError": "1:time:meta.v1.Time 2:message:string 3:errorCode:int32:p",
        "VolumeNodeResources": "1:count:int32:p",
    },
    "node.v1": {
        "Overhead": "1:podFixed:resource.Quantity:m",
        "RuntimeClass": (
            "1:metadata:meta.v1.ObjectMeta 2:handler:string:k 3:overhead:Overhead:p "
            "4:scheduling:Scheduling:p"
        ),
        "Scheduling": "1:nodeSelector:string:m 2:tolerations:core.v1.Toleration:r",
    },
    "scheduling.v1": {
        "PriorityClass": (
            "1:metadata:meta.v1.ObjectMeta 2:value:int32:k 3:globalDefault:bool "
            "4:description:string 5:preemptionPolicy:string:p"
        ),
    },
    "coordination.v1": {
        "Lease": "1:metadata:meta.v1.ObjectMeta 2:spec:LeaseSpec",
        "LeaseSpec": (
            "1:holderIdentity:string:p 2:leaseDurationSeconds:int32:p "
            "3:acquireTime:meta.v1.MicroTime:p 4:renewTime:meta.v1.MicroTime:p "
            "5:leaseTransitions:int32:p 6:strategy:string:p 7:preferredHolder:string:p"
        ),
    },
    "events.v1": {
        "Event": (
            "1:metadata:meta.v1.ObjectMeta:k 2:eventTime:meta.v1.MicroTime:k "
            "3:series:EventSeries:p 4:reportingController:string 5:reportingInstance:string "
            "6:action:string 7:reason:string 8:regarding:core.v1.ObjectReference "
            "9:related:core.v1.ObjectReference:p 10:note:string 11:type:string "
            "12:deprecatedSource:core.v1.EventSource 13:deprecatedFirstTimestamp:meta.v1.Time "
            "14:deprecatedLastTimestamp:meta.v1.Time 15:deprecatedCount:int32"
        ),
        "EventSeries": "1:count:int32:k 2:lastObservedTime:meta.v1.MicroTime:k",
    },
}

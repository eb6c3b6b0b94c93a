"""Protobuf field tables of ``core/v1``: the other kinds (Node, Secret, ServiceAccount,
ReplicationController, ResourceQuota, LimitRange, Event…).

Schema data only, in the entry format described in
:mod:`apiserver.schema.proto_messages`; keyed by protobuf package, then message.
"""

from __future__ import annotations

TABLES: dict[str, dict[str, str]] = {
    "core.v1": {
        "AttachedVolume": "1:name:string:k 2:devicePath:string:k",
        "Binding": "1:metadata:meta.v1.ObjectMeta 2:target:ObjectReference:k",
        "ClientIPConfig": "1:timeoutSeconds:int32:p",
        "ComponentCondition": "1:type:string:k 2:status:string:k 3:message:string 4:error:string",
        "ComponentStatus": "1:metadata:meta.v1.ObjectMeta 2:conditions:ComponentCondition:r",
        "ConfigMap": (
            "1:metadata:meta.v1.ObjectMeta 2:data:string:m 3:binaryData:bytes:m "
            "4:immutable:bool:p"
        ),
        "ConfigMapNodeConfigSource": (
            "1:namespace:string:k 2:name:string:k 3:uid:string 4:resourceVersion:string "
            "5:kubeletConfigKey:string:k"
        ),
        "ContainerImage": "1:names:string:r 2:sizeBytes:int64",
        "DaemonEndpoint": "1:Port:int32:k",
        "EndpointAddress": (
            "1:ip:string:k 2:targetRef:ObjectReference:p 3:hostname:string 4:nodeName:string:p"
        ),
        "EndpointPort": "1:name:string 2:port:int32:k 3:protocol:string 4:appProtocol:string:p",
        "EndpointSubset": (
            "1:addresses:EndpointAddress:r 2:notReadyAddresses:EndpointAddress:r "
            "3:ports:EndpointPort:r"
        ),
        "Endpoints": "1:metadata:meta.v1.ObjectMeta 2:subsets:EndpointSubset:r",
        "Event": (
            "1:metadata:meta.v1.ObjectMeta:k 2:involvedObject:ObjectReference:k 3:reason:string "
            "4:message:string 5:source:EventSource 6:firstTimestamp:meta.v1.Time "
            "7:lastTimestamp:meta.v1.Time 8:count:int32 9:type:string "
            "10:eventTime:meta.v1.MicroTime 11:series:EventSeries:p 12:action:string "
            "13:related:ObjectReference:p 14:reportingComponent:string:k "
            "15:reportingInstance:string:k"
        ),
        "EventSeries": "1:count:int32 2:lastObservedTime:meta.v1.MicroTime",
        "EventSource": "1:component:string 2:host:string",
        "LimitRange": "1:metadata:meta.v1.ObjectMeta 2:spec:LimitRangeSpec",
        "LimitRangeItem": (
            "1:type:string:k 2:max:resource.Quantity:m 3:min:resource.Quantity:m "
            "4:default:resource.Quantity:m 5:defaultRequest:resource.Quantity:m "
            "6:maxLimitRequestRatio:resource.Quantity:m"
        ),
        "LimitRangeSpec": "1:limits:LimitRangeItem:r",
        "LoadBalancerIngress": (
            "1:ip:string 2:hostname:string 3:ipMode:string:p 4:ports:PortStatus:r"
        ),
        "LoadBalancerStatus": "1:ingress:LoadBalancerIngress:r",
        "Namespace": "1:metadata:meta.v1.ObjectMeta 2:spec:NamespaceSpec 3:status:NamespaceStatus",
        "NamespaceCondition": (
            "1:type:string:k 2:status:string:k 4:lastTransitionTime:meta.v1.Time 5:reason:string "
            "6:message:string"
        ),
        "NamespaceSpec": "1:finalizers:string:r",
        "NamespaceStatus": "1:phase:string 2:conditions:NamespaceCondition:r",
        "Node": "1:metadata:meta.v1.ObjectMeta 2:spec:NodeSpec 3:status:NodeStatus",
        "NodeAddress": "1:type:string:k 2:address:string:k",
        "NodeCondition": (
            "1:type:string:k 2:status:string:k 3:lastHeartbeatTime:meta.v1.Time "
            "4:lastTransitionTime:meta.v1.Time 5:reason:string 6:message:string"
        ),
        "NodeConfigSource": "2:configMap:ConfigMapNodeConfigSource:p",
        "NodeConfigStatus": (
            "1:assigned:NodeConfigSource:p 2:active:NodeConfigSource:p "
            "3:lastKnownGood:NodeConfigSource:p 4:error:string"
        ),
        "NodeDaemonEndpoints": "1:kubeletEndpoint:DaemonEndpoint",
        "NodeFeatures": "1:supplementalGroupsPolicy:bool:p",
        "NodePodPreemptionPolicy": "1:disableResizePreemption:string:r",
        "NodeRuntimeHandler": "1:name:string:k 2:features:NodeRuntimeHandlerFeatures:p",
        "NodeRuntimeHandlerFeatures": "1:recursiveReadOnlyMounts:bool:p 2:userNamespaces:bool:p",
        "NodeSpec": (
            "1:podCIDR:string 2:externalID:string 3:providerID:string 4:unschedulable:bool "
            "5:taints:Taint:r 6:configSource:NodeConfigSource:p 7:podCIDRs:string:r "
            "8:podPreemptionPolicy:NodePodPreemptionPolicy:p"
        ),
        "NodeStatus": (
            "1:capacity:resource.Quantity:m 2:allocatable:resource.Quantity:m 3:phase:string "
            "4:conditions:NodeCondition:r 5:addresses:NodeAddress:r "
            "6:daemonEndpoints:NodeDaemonEndpoints 7:nodeInfo:NodeSystemInfo "
            "8:images:ContainerImage:r 9:volumesInUse:string:r "
            "10:volumesAttached:AttachedVolume:r 11:config:NodeConfigStatus:p "
            "12:runtimeHandlers:NodeRuntimeHandler:r 13:features:NodeFeatures:p "
            "14:declaredFeatures:string:r"
        ),
        "NodeSwapStatus": "1:capacity:int64:p",
        "NodeSystemInfo": (
            "1:machineID:string:k 2:systemUUID:string:k 3:bootID:string:k "
            "4:kernelVersion:string:k 5:osImage:string:k 6:containerRuntimeVersion:string:k "
            "7:kubeletVersion:string:k 8:kubeProxyVersion:string:k 9:operatingSystem:string:k "
            "10:architecture:string:k 11:swap:NodeSwapStatus:p"
        ),
        "PersistentVolume": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:PersistentVolumeSpec "
            "3:status:PersistentVolumeStatus"
        ),
        "PersistentVolumeStatus": (
            "1:phase:string 2:message:string 3:reason:string "
            "4:lastPhaseTransitionTime:meta.v1.Time:p"
        ),
        "PortStatus": "1:port:int32:k 2:protocol:string:k 3:error:string:p",
        "ReplicationController": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:ReplicationControllerSpec "
            "3:status:ReplicationControllerStatus"
        ),
        "ReplicationControllerCondition": (
            "1:type:string:k 2:status:string:k 3:lastTransitionTime:meta.v1.Time 4:reason:string "
            "5:message:string"
        ),
        "ReplicationControllerSpec": (
            "1:replicas:int32:p 2:selector:string:m 3:template:PodTemplateSpec:p "
            "4:minReadySeconds:int32"
        ),
        "ReplicationControllerStatus": (
            "1:replicas:int32:k 2:fullyLabeledReplicas:int32 3:observedGeneration:int64 "
            "4:readyReplicas:int32 5:availableReplicas:int32 "
            "6:conditions:ReplicationControllerCondition:r"
        ),
        "ResourceQuota": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:ResourceQuotaSpec 3:status:ResourceQuotaStatus"
        ),
        "ResourceQuotaSpec": (
            "1:hard:resource.Quantity:m 2:scopes:string:r 3:scopeSelector:ScopeSelector:p"
        ),
        "ResourceQuotaStatus": "1:hard:resource.Quantity:m 2:used:resource.Quantity:m",
        "ScopeSelector": "1:matchExpressions:ScopedResourceSelectorRequirement:r",
        "ScopedResourceSelectorRequirement": (
            "1:scopeName:string:k 2:operator:string:k 3:values:string:r"
        ),
        "Secret": (
            "1:metadata:meta.v1.ObjectMeta 2:data:bytes:m 3:type:string 4:stringData:string:m "
            "5:immutable:bool:p"
        ),
        "Service": "1:metadata:meta.v1.ObjectMeta 2:spec:ServiceSpec 3:status:ServiceStatus",
        "ServiceAccount": (
            "1:metadata:meta.v1.ObjectMeta 2:secrets:ObjectReference:r "
            "3:imagePullSecrets:LocalObjectReference:r 4:automountServiceAccountToken:bool:p"
        ),
        "ServicePort": (
            "1:name:string 2:protocol:string 3:port:int32:k 4:targetPort:intstr.IntOrString "
            "5:nodePort:int32 6:appProtocol:string:p"
        ),
        "ServiceSpec": (
            "1:ports:ServicePort:r 2:selector:string:m 3:clusterIP:string 4:type:string "
            "5:externalIPs:string:r 7:sessionAffinity:string 8:loadBalancerIP:string "
            "9:loadBalancerSourceRanges:string:r 10:externalName:string "
            "11:externalTrafficPolicy:string 12:healthCheckNodePort:int32 "
            "13:publishNotReadyAddresses:bool 14:sessionAffinityConfig:SessionAffinityConfig:p "
            "17:ipFamilyPolicy:string:p 18:clusterIPs:string:r 19:ipFamilies:string:r "
            "20:allocateLoadBalancerNodePorts:bool:p 21:loadBalancerClass:string:p "
            "22:internalTrafficPolicy:string:p 23:trafficDistribution:string:p"
        ),
        "ServiceStatus": "1:loadBalancer:LoadBalancerStatus 2:conditions:meta.v1.Condition:r",
        "SessionAffinityConfig": "1:clientIP:ClientIPConfig:p",
        "Taint": "1:key:string:k 2:value:string 3:effect:string:k 4:timeAdded:meta.v1.Time:p",
        "TopologySelectorLabelRequirement": "1:key:string:k 2:values:string:r",
        "TopologySelectorTerm": "1:matchLabelExpressions:TopologySelectorLabelRequirement:r",
    },
}

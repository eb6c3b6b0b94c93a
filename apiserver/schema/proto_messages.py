"""Protobuf field tables of the served kinds (``k8s.io/api/core/v1`` and the meta types).

Schema facts only: for every protobuf message reachable from the kinds in
:data:`apiserver.api.resources.RESOURCES` (Namespace, Pod, Service, Endpoints,
ConfigMap, Event) and from DeleteOptions, its field numbers, the JSON names those
fields carry in the OpenAPI schema, and the Go shape that decides how a decoded
value maps to JSON. Tabulated from the upstream ``generated.proto`` files and Go
struct tags of Kubernetes v1.37 (the version of the pinned kubectl); upstream field
numbers never change once released, so new releases only append entries.

Each entry is ``"<number>:<jsonName>:<type>[:<flags>]"``; ``type`` is a scalar
(``string``, ``bytes``, ``bool``, ``int32``, ``int64``) or a message name of this
table. Flags:

* ``r`` repeated (a JSON array); ``m`` a map with string keys and ``type`` values
  (wire entries ``{key=1, value=2}``);
* ``p`` a Go pointer: presence is meaningful, so zero values are kept;
* ``k`` the Go field has no ``omitempty``: zero values are kept in JSON;
* ``i`` an embedded struct inlined in JSON (its fields join the parent's object).

A scalar without ``p``/``k`` is dropped when zero, as Go's JSON encoder omits it.
``Time``, ``MicroTime``, ``IntOrString``, ``Quantity`` and ``FieldsV1`` are messages
on the wire with a custom JSON form; the decoder converts them.

This module is pure data and imports nothing from the server.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

SCALAR_TYPES = frozenset({"string", "bytes", "bool", "int32", "int64"})

#: Kinds whose top-level message is tabulated (message name == kind).
KIND_MESSAGES = frozenset(
    {"Namespace", "Pod", "Service", "Endpoints", "ConfigMap", "Event", "DeleteOptions"}
)


@dataclass(frozen=True, slots=True)
class ProtoField:
    """One field of a protobuf message and its JSON rendering."""

    number: int
    name: str
    type: str
    repeated: bool = False
    map: bool = False
    pointer: bool = False
    keep_zero: bool = False
    inline: bool = False

    @property
    def is_message(self) -> bool:
        """Whether values of this field (or its map values/items) are messages."""
        return self.type not in SCALAR_TYPES


_TABLE: dict[str, str] = {
    "AWSElasticBlockStoreVolumeSource": (
        "1:volumeID:string:k 2:fsType:string 3:partition:int32 4:readOnly:bool"
    ),
    "Affinity": (
        "1:nodeAffinity:NodeAffinity:p 2:podAffinity:PodAffinity:p "
        "3:podAntiAffinity:PodAntiAffinity:p"
    ),
    "AppArmorProfile": "1:type:string:k 2:localhostProfile:string:p",
    "AzureDiskVolumeSource": (
        "1:diskName:string:k 2:diskURI:string:k 3:cachingMode:string:p 4:fsType:string:p "
        "5:readOnly:bool:p 6:kind:string:p"
    ),
    "AzureFileVolumeSource": "1:secretName:string:k 2:shareName:string:k 3:readOnly:bool",
    "CSIVolumeSource": (
        "1:driver:string:k 2:readOnly:bool:p 3:fsType:string:p 4:volumeAttributes:string:m "
        "5:nodePublishSecretRef:LocalObjectReference:p"
    ),
    "Capabilities": "1:add:string:r 2:drop:string:r",
    "CephFSVolumeSource": (
        "1:monitors:string:r 2:path:string 3:user:string 4:secretFile:string "
        "5:secretRef:LocalObjectReference:p 6:readOnly:bool"
    ),
    "CinderVolumeSource": (
        "1:volumeID:string:k 2:fsType:string 3:readOnly:bool 4:secretRef:LocalObjectReference:p"
    ),
    "ClientIPConfig": "1:timeoutSeconds:int32:p",
    "ClusterTrustBundleProjection": (
        "1:name:string:p 2:signerName:string:p 3:labelSelector:LabelSelector:p 4:path:string:k "
        "5:optional:bool:p 6:user:int64:p"
    ),
    "Condition": (
        "1:type:string:k 2:status:string:k 3:observedGeneration:int64 "
        "4:lastTransitionTime:Time:k 5:reason:string:k 6:message:string:k"
    ),
    "ConfigMap": "1:metadata:ObjectMeta 2:data:string:m 3:binaryData:bytes:m 4:immutable:bool:p",
    "ConfigMapEnvSource": "1::LocalObjectReference:i 2:optional:bool:p",
    "ConfigMapKeySelector": "1::LocalObjectReference:i 2:key:string:k 3:optional:bool:p",
    "ConfigMapProjection": "1::LocalObjectReference:i 2:items:KeyToPath:r 4:optional:bool:p",
    "ConfigMapVolumeSource": (
        "1::LocalObjectReference:i 2:items:KeyToPath:r 3:defaultMode:int32:p 4:optional:bool:p "
        "5:defaultUser:int64:p"
    ),
    "Container": (
        "1:name:string:k 2:image:string 3:command:string:r 4:args:string:r 5:workingDir:string "
        "6:ports:ContainerPort:r 7:env:EnvVar:r 8:resources:ResourceRequirements "
        "9:volumeMounts:VolumeMount:r 10:livenessProbe:Probe:p 11:readinessProbe:Probe:p "
        "12:lifecycle:Lifecycle:p 13:terminationMessagePath:string 14:imagePullPolicy:string "
        "15:securityContext:SecurityContext:p 16:stdin:bool 17:stdinOnce:bool 18:tty:bool "
        "19:envFrom:EnvFromSource:r 20:terminationMessagePolicy:string "
        "21:volumeDevices:VolumeDevice:r 22:startupProbe:Probe:p "
        "23:resizePolicy:ContainerResizePolicy:r 24:restartPolicy:string:p "
        "25:restartPolicyRules:ContainerRestartRule:r"
    ),
    "ContainerExtendedResourceRequest": (
        "1:containerName:string:k 2:resourceName:string:k 3:requestName:string:k"
    ),
    "ContainerPort": (
        "1:name:string 2:hostPort:int32 3:containerPort:int32:k 4:protocol:string "
        "5:hostIP:string"
    ),
    "ContainerResizePolicy": "1:resourceName:string:k 2:restartPolicy:string:k",
    "ContainerRestartRule": "1:action:string 2:exitCodes:ContainerRestartRuleOnExitCodes:p",
    "ContainerRestartRuleOnExitCodes": "1:operator:string 2:values:int32:r",
    "ContainerState": (
        "1:waiting:ContainerStateWaiting:p 2:running:ContainerStateRunning:p "
        "3:terminated:ContainerStateTerminated:p"
    ),
    "ContainerStateRunning": "1:startedAt:Time",
    "ContainerStateTerminated": (
        "1:exitCode:int32:k 2:signal:int32 3:reason:string 4:message:string 5:startedAt:Time "
        "6:finishedAt:Time 7:containerID:string"
    ),
    "ContainerStateWaiting": "1:reason:string 2:message:string",
    "ContainerStatus": (
        "1:name:string:k 2:state:ContainerState 3:lastState:ContainerState 4:ready:bool:k "
        "5:restartCount:int32:k 6:image:string:k 7:imageID:string:k 8:containerID:string "
        "9:started:bool:p 10:allocatedResources:Quantity:m 11:resources:ResourceRequirements:p "
        "12:volumeMounts:VolumeMountStatus:r 13:user:ContainerUser:p "
        "14:allocatedResourcesStatus:ResourceStatus:r 15:stopSignal:string:p"
    ),
    "ContainerUser": "1:linux:LinuxContainerUser:p",
    "DeleteOptions": (
        "1:gracePeriodSeconds:int64:p 2:preconditions:Preconditions:p "
        "3:orphanDependents:bool:p 4:propagationPolicy:string:p 5:dryRun:string:r "
        "6:ignoreStoreReadErrorWithClusterBreakingPotential:bool:p"
    ),
    "DownwardAPIProjection": "1:items:DownwardAPIVolumeFile:r",
    "DownwardAPIVolumeFile": (
        "1:path:string:k 2:fieldRef:ObjectFieldSelector:p "
        "3:resourceFieldRef:ResourceFieldSelector:p 4:mode:int32:p 5:user:int64:p"
    ),
    "DownwardAPIVolumeSource": (
        "1:items:DownwardAPIVolumeFile:r 2:defaultMode:int32:p 3:defaultUser:int64:p"
    ),
    "EmptyDirVolumeSource": "1:medium:string 2:sizeLimit:Quantity:p 3:mode:int32:p",
    "EndpointAddress": (
        "1:ip:string:k 2:targetRef:ObjectReference:p 3:hostname:string 4:nodeName:string:p"
    ),
    "EndpointPort": "1:name:string 2:port:int32:k 3:protocol:string 4:appProtocol:string:p",
    "EndpointSubset": (
        "1:addresses:EndpointAddress:r 2:notReadyAddresses:EndpointAddress:r "
        "3:ports:EndpointPort:r"
    ),
    "Endpoints": "1:metadata:ObjectMeta 2:subsets:EndpointSubset:r",
    "EnvFromSource": (
        "1:prefix:string 2:configMapRef:ConfigMapEnvSource:p 3:secretRef:SecretEnvSource:p"
    ),
    "EnvVar": "1:name:string:k 2:value:string 3:valueFrom:EnvVarSource:p",
    "EnvVarSource": (
        "1:fieldRef:ObjectFieldSelector:p 2:resourceFieldRef:ResourceFieldSelector:p "
        "3:configMapKeyRef:ConfigMapKeySelector:p 4:secretKeyRef:SecretKeySelector:p "
        "5:fileKeyRef:FileKeySelector:p"
    ),
    "EphemeralContainer": "1::EphemeralContainerCommon:i 2:targetContainerName:string",
    "EphemeralContainerCommon": (
        "1:name:string:k 2:image:string 3:command:string:r 4:args:string:r 5:workingDir:string "
        "6:ports:ContainerPort:r 7:env:EnvVar:r 8:resources:ResourceRequirements "
        "9:volumeMounts:VolumeMount:r 10:livenessProbe:Probe:p 11:readinessProbe:Probe:p "
        "12:lifecycle:Lifecycle:p 13:terminationMessagePath:string 14:imagePullPolicy:string "
        "15:securityContext:SecurityContext:p 16:stdin:bool 17:stdinOnce:bool 18:tty:bool "
        "19:envFrom:EnvFromSource:r 20:terminationMessagePolicy:string "
        "21:volumeDevices:VolumeDevice:r 22:startupProbe:Probe:p "
        "23:resizePolicy:ContainerResizePolicy:r 24:restartPolicy:string:p "
        "25:restartPolicyRules:ContainerRestartRule:r"
    ),
    "EphemeralVolumeSource": "1:volumeClaimTemplate:PersistentVolumeClaimTemplate:p",
    "Event": (
        "1:metadata:ObjectMeta:k 2:involvedObject:ObjectReference:k 3:reason:string "
        "4:message:string 5:source:EventSource 6:firstTimestamp:Time 7:lastTimestamp:Time "
        "8:count:int32 9:type:string 10:eventTime:MicroTime 11:series:EventSeries:p "
        "12:action:string 13:related:ObjectReference:p 14:reportingComponent:string:k "
        "15:reportingInstance:string:k"
    ),
    "EventSeries": "1:count:int32 2:lastObservedTime:MicroTime",
    "EventSource": "1:component:string 2:host:string",
    "EvictionResponder": "1:name:string:k 2:priority:int32:p",
    "ExecAction": "1:command:string:r",
    "FCVolumeSource": (
        "1:targetWWNs:string:r 2:lun:int32:p 3:fsType:string 4:readOnly:bool 5:wwids:string:r"
    ),
    "FieldsV1": "1:raw:bytes:k",
    "FileKeySelector": "1:volumeName:string:k 2:path:string:k 3:key:string:k 4:optional:bool:p",
    "FlexVolumeSource": (
        "1:driver:string:k 2:fsType:string 3:secretRef:LocalObjectReference:p 4:readOnly:bool "
        "5:options:string:m"
    ),
    "FlockerVolumeSource": "1:datasetName:string 2:datasetUUID:string",
    "GCEPersistentDiskVolumeSource": (
        "1:pdName:string:k 2:fsType:string 3:partition:int32 4:readOnly:bool"
    ),
    "GRPCAction": "1:port:int32:k 2:service:string:p 3:mode:string:p",
    "GitRepoVolumeSource": "1:repository:string:k 2:revision:string 3:directory:string",
    "GlusterfsVolumeSource": "1:endpoints:string:k 2:path:string:k 3:readOnly:bool",
    "HTTPGetAction": (
        "1:path:string 2:port:IntOrString:k 3:host:string 4:scheme:string "
        "5:httpHeaders:HTTPHeader:r 6:protocol:string:p"
    ),
    "HTTPHeader": "1:name:string:k 2:value:string:k",
    "HostAlias": "1:ip:string:k 2:hostnames:string:r",
    "HostIP": "1:ip:string:k",
    "HostPathVolumeSource": "1:path:string:k 2:type:string:p",
    "ISCSIVolumeSource": (
        "1:targetPortal:string:k 2:iqn:string:k 3:lun:int32:k 4:iscsiInterface:string "
        "5:fsType:string 6:readOnly:bool 7:portals:string:r 8:chapAuthDiscovery:bool "
        "10:secretRef:LocalObjectReference:p 11:chapAuthSession:bool 12:initiatorName:string:p"
    ),
    "ImageVolumeSource": "1:reference:string 2:pullPolicy:string",
    "ImageVolumeStatus": "1:imageRef:string",
    "IntOrString": "1:type:int64:k 2:intVal:int32:k 3:strVal:string:k",
    "KeyToPath": "1:key:string:k 2:path:string:k 3:mode:int32:p 4:user:int64:p",
    "LabelSelector": "1:matchLabels:string:m 2:matchExpressions:LabelSelectorRequirement:r",
    "LabelSelectorRequirement": "1:key:string:k 2:operator:string:k 3:values:string:r",
    "Lifecycle": (
        "1:postStart:LifecycleHandler:p 2:preStop:LifecycleHandler:p 3:stopSignal:string:p"
    ),
    "LifecycleHandler": (
        "1:exec:ExecAction:p 2:httpGet:HTTPGetAction:p 3:tcpSocket:TCPSocketAction:p "
        "4:sleep:SleepAction:p"
    ),
    "LinuxContainerUser": "1:uid:int64:k 2:gid:int64:k 3:supplementalGroups:int64:r",
    "LoadBalancerIngress": "1:ip:string 2:hostname:string 3:ipMode:string:p 4:ports:PortStatus:r",
    "LoadBalancerStatus": "1:ingress:LoadBalancerIngress:r",
    "LocalObjectReference": "1:name:string",
    "ManagedFieldsEntry": (
        "1:manager:string 2:operation:string 3:apiVersion:string 4:time:Time:p "
        "6:fieldsType:string 7:fieldsV1:FieldsV1:p 8:subresource:string"
    ),
    "MicroTime": "1:seconds:int64:k 2:nanos:int32:k",
    "NFSVolumeSource": "1:server:string:k 2:path:string:k 3:readOnly:bool",
    "Namespace": "1:metadata:ObjectMeta 2:spec:NamespaceSpec 3:status:NamespaceStatus",
    "NamespaceCondition": (
        "1:type:string:k 2:status:string:k 4:lastTransitionTime:Time 5:reason:string "
        "6:message:string"
    ),
    "NamespaceSpec": "1:finalizers:string:r",
    "NamespaceStatus": "1:phase:string 2:conditions:NamespaceCondition:r",
    "NodeAffinity": (
        "1:requiredDuringSchedulingIgnoredDuringExecution:NodeSelector:p "
        "2:preferredDuringSchedulingIgnoredDuringExecution:PreferredSchedulingTerm:r"
    ),
    "NodeAllocatableMappedResources": "1:name:string:k 2:quantity:Quantity:p",
    "NodeAllocatableOverheadResources": (
        "1:name:string:k 2:perPod:Quantity:p 3:perContainer:Quantity:p"
    ),
    "NodeAllocatableResourceClaimStatus": (
        "1:resourceClaimName:string:k 2:containers:string:r "
        "4:mapping:NodeAllocatableMappedResources:r "
        "5:overhead:NodeAllocatableOverheadResources:r"
    ),
    "NodeSelector": "1:nodeSelectorTerms:NodeSelectorTerm:r",
    "NodeSelectorRequirement": "1:key:string:k 2:operator:string:k 3:values:string:r",
    "NodeSelectorTerm": (
        "1:matchExpressions:NodeSelectorRequirement:r 2:matchFields:NodeSelectorRequirement:r"
    ),
    "ObjectFieldSelector": "1:apiVersion:string 2:fieldPath:string:k",
    "ObjectMeta": (
        "1:name:string 2:generateName:string 3:namespace:string 4:selfLink:string 5:uid:string "
        "6:resourceVersion:string 7:generation:int64 8:creationTimestamp:Time "
        "9:deletionTimestamp:Time:p 10:deletionGracePeriodSeconds:int64:p 11:labels:string:m "
        "12:annotations:string:m 13:ownerReferences:OwnerReference:r 14:finalizers:string:r "
        "17:managedFields:ManagedFieldsEntry:r"
    ),
    "ObjectReference": (
        "1:kind:string 2:namespace:string 3:name:string 4:uid:string 5:apiVersion:string "
        "6:resourceVersion:string 7:fieldPath:string"
    ),
    "OwnerReference": (
        "1:kind:string:k 3:name:string:k 4:uid:string:k 5:apiVersion:string:k "
        "6:controller:bool:p 7:blockOwnerDeletion:bool:p"
    ),
    "PersistentVolumeClaimSpec": (
        "1:accessModes:string:r 2:resources:VolumeResourceRequirements 3:volumeName:string "
        "4:selector:LabelSelector:p 5:storageClassName:string:p 6:volumeMode:string:p "
        "7:dataSource:TypedLocalObjectReference:p 8:dataSourceRef:TypedObjectReference:p "
        "9:volumeAttributesClassName:string:p"
    ),
    "PersistentVolumeClaimTemplate": "1:metadata:ObjectMeta 2:spec:PersistentVolumeClaimSpec:k",
    "PersistentVolumeClaimVolumeSource": "1:claimName:string:k 2:readOnly:bool",
    "PhotonPersistentDiskVolumeSource": "1:pdID:string:k 2:fsType:string",
    "Pod": "1:metadata:ObjectMeta 2:spec:PodSpec 3:status:PodStatus",
    "PodAffinity": (
        "1:requiredDuringSchedulingIgnoredDuringExecution:PodAffinityTerm:r "
        "2:preferredDuringSchedulingIgnoredDuringExecution:WeightedPodAffinityTerm:r"
    ),
    "PodAffinityTerm": (
        "1:labelSelector:LabelSelector:p 2:namespaces:string:r 3:topologyKey:string:k "
        "4:namespaceSelector:LabelSelector:p 5:matchLabelKeys:string:r "
        "6:mismatchLabelKeys:string:r"
    ),
    "PodAntiAffinity": (
        "1:requiredDuringSchedulingIgnoredDuringExecution:PodAffinityTerm:r "
        "2:preferredDuringSchedulingIgnoredDuringExecution:WeightedPodAffinityTerm:r"
    ),
    "PodCertificateProjection": (
        "1:signerName:string 2:keyType:string 3:maxExpirationSeconds:int32:p "
        "4:credentialBundlePath:string 5:keyPath:string 6:certificateChainPath:string "
        "7:userAnnotations:string:m 8:user:int64:p"
    ),
    "PodCondition": (
        "1:type:string:k 2:status:string:k 3:lastProbeTime:Time 4:lastTransitionTime:Time "
        "5:reason:string 6:message:string 7:observedGeneration:int64"
    ),
    "PodDNSConfig": "1:nameservers:string:r 2:searches:string:r 3:options:PodDNSConfigOption:r",
    "PodDNSConfigOption": "1:name:string 2:value:string:p",
    "PodExtendedResourceClaimStatus": (
        "1:requestMappings:ContainerExtendedResourceRequest:r 2:resourceClaimName:string:k"
    ),
    "PodIP": "1:ip:string:k",
    "PodOS": "1:name:string:k",
    "PodReadinessGate": "1:conditionType:string:k",
    "PodResourceClaim": (
        "1:name:string:k 3:resourceClaimName:string:p 4:resourceClaimTemplateName:string:p"
    ),
    "PodResourceClaimStatus": "1:name:string:k 2:resourceClaimName:string:p",
    "PodSchedulingGate": "1:name:string:k",
    "PodSchedulingGroup": "1:podGroupName:string:p",
    "PodSecurityContext": (
        "1:seLinuxOptions:SELinuxOptions:p 2:runAsUser:int64:p 3:runAsNonRoot:bool:p "
        "4:supplementalGroups:int64:r 5:fsGroup:int64:p 6:runAsGroup:int64:p 7:sysctls:Sysctl:r "
        "8:windowsOptions:WindowsSecurityContextOptions:p 9:fsGroupChangePolicy:string:p "
        "10:seccompProfile:SeccompProfile:p 11:appArmorProfile:AppArmorProfile:p "
        "12:supplementalGroupsPolicy:string:p 13:seLinuxChangePolicy:string:p"
    ),
    "PodSpec": (
        "1:volumes:Volume:r 2:containers:Container:r 3:restartPolicy:string "
        "4:terminationGracePeriodSeconds:int64:p 5:activeDeadlineSeconds:int64:p "
        "6:dnsPolicy:string 7:nodeSelector:string:m 8:serviceAccountName:string "
        "9:serviceAccount:string 10:nodeName:string 11:hostNetwork:bool 12:hostPID:bool "
        "13:hostIPC:bool 14:securityContext:PodSecurityContext:p "
        "15:imagePullSecrets:LocalObjectReference:r 16:hostname:string 17:subdomain:string "
        "18:affinity:Affinity:p 19:schedulerName:string 20:initContainers:Container:r "
        "21:automountServiceAccountToken:bool:p 22:tolerations:Toleration:r "
        "23:hostAliases:HostAlias:r 24:priorityClassName:string 25:priority:int32:p "
        "26:dnsConfig:PodDNSConfig:p 27:shareProcessNamespace:bool:p "
        "28:readinessGates:PodReadinessGate:r 29:runtimeClassName:string:p "
        "30:enableServiceLinks:bool:p 31:preemptionPolicy:string:p 32:overhead:Quantity:m "
        "33:topologySpreadConstraints:TopologySpreadConstraint:r "
        "34:ephemeralContainers:EphemeralContainer:r 35:setHostnameAsFQDN:bool:p 36:os:PodOS:p "
        "37:hostUsers:bool:p 38:schedulingGates:PodSchedulingGate:r "
        "39:resourceClaims:PodResourceClaim:r 40:resources:ResourceRequirements:p "
        "41:hostnameOverride:string:p 43:schedulingGroup:PodSchedulingGroup:p "
        "44:evictionResponders:EvictionResponder:r"
    ),
    "PodStatus": (
        "1:phase:string 2:conditions:PodCondition:r 3:message:string 4:reason:string "
        "5:hostIP:string 6:podIP:string 7:startTime:Time:p "
        "8:containerStatuses:ContainerStatus:r 9:qosClass:string "
        "10:initContainerStatuses:ContainerStatus:r 11:nominatedNodeName:string "
        "12:podIPs:PodIP:r 13:ephemeralContainerStatuses:ContainerStatus:r 14:resize:string "
        "15:resourceClaimStatuses:PodResourceClaimStatus:r 16:hostIPs:HostIP:r "
        "17:observedGeneration:int64 "
        "18:extendedResourceClaimStatus:PodExtendedResourceClaimStatus:p "
        "19:allocatedResources:Quantity:m 20:resources:ResourceRequirements:p "
        "21:nodeAllocatableResourceClaimStatuses:NodeAllocatableResourceClaimStatus:r "
        "22:volumeHealth:PodVolumeHealth:r"
    ),
    "PodVolumeHealth": (
        "1:name:string:k 2:healthConditions:VolumeHealthCondition:r 3:lastTransitionTime:Time"
    ),
    "PortStatus": "1:port:int32:k 2:protocol:string:k 3:error:string:p",
    "PortworxVolumeSource": "1:volumeID:string:k 2:fsType:string 3:readOnly:bool",
    "Preconditions": "1:uid:string:p 2:resourceVersion:string:p",
    "PreferredSchedulingTerm": "1:weight:int32:k 2:preference:NodeSelectorTerm:k",
    "Probe": (
        "1::ProbeHandler:i 2:initialDelaySeconds:int32 3:timeoutSeconds:int32 "
        "4:periodSeconds:int32 5:successThreshold:int32 6:failureThreshold:int32 "
        "7:terminationGracePeriodSeconds:int64:p"
    ),
    "ProbeHandler": (
        "1:exec:ExecAction:p 2:httpGet:HTTPGetAction:p 3:tcpSocket:TCPSocketAction:p "
        "4:grpc:GRPCAction:p"
    ),
    "ProjectedVolumeSource": (
        "1:sources:VolumeProjection:r 2:defaultMode:int32:p 3:defaultUser:int64:p"
    ),
    "Quantity": "1:string:string:k",
    "QuobyteVolumeSource": (
        "1:registry:string:k 2:volume:string:k 3:readOnly:bool 4:user:string 5:group:string "
        "6:tenant:string"
    ),
    "RBDVolumeSource": (
        "1:monitors:string:r 2:image:string:k 3:fsType:string 4:pool:string 5:user:string "
        "6:keyring:string 7:secretRef:LocalObjectReference:p 8:readOnly:bool"
    ),
    "ResourceClaim": "1:name:string:k 2:request:string",
    "ResourceFieldSelector": "1:containerName:string 2:resource:string:k 3:divisor:Quantity",
    "ResourceHealth": "1:resourceID:string:k 2:health:string 6:message:string:p",
    "ResourceRequirements": "1:limits:Quantity:m 2:requests:Quantity:m 3:claims:ResourceClaim:r",
    "ResourceStatus": "1:name:string:k 2:resources:ResourceHealth:r",
    "SELinuxOptions": "1:user:string 2:role:string 3:type:string 4:level:string",
    "ScaleIOVolumeSource": (
        "1:gateway:string:k 2:system:string:k 3:secretRef:LocalObjectReference:p "
        "4:sslEnabled:bool 5:protectionDomain:string 6:storagePool:string 7:storageMode:string "
        "8:volumeName:string 9:fsType:string 10:readOnly:bool"
    ),
    "SeccompProfile": "1:type:string:k 2:localhostProfile:string:p",
    "SecretEnvSource": "1::LocalObjectReference:i 2:optional:bool:p",
    "SecretKeySelector": "1::LocalObjectReference:i 2:key:string:k 3:optional:bool:p",
    "SecretProjection": "1::LocalObjectReference:i 2:items:KeyToPath:r 4:optional:bool:p",
    "SecretVolumeSource": (
        "1:secretName:string 2:items:KeyToPath:r 3:defaultMode:int32:p 4:optional:bool:p "
        "5:defaultUser:int64:p"
    ),
    "SecurityContext": (
        "1:capabilities:Capabilities:p 2:privileged:bool:p 3:seLinuxOptions:SELinuxOptions:p "
        "4:runAsUser:int64:p 5:runAsNonRoot:bool:p 6:readOnlyRootFilesystem:bool:p "
        "7:allowPrivilegeEscalation:bool:p 8:runAsGroup:int64:p 9:procMount:string:p "
        "10:windowsOptions:WindowsSecurityContextOptions:p 11:seccompProfile:SeccompProfile:p "
        "12:appArmorProfile:AppArmorProfile:p"
    ),
    "Service": "1:metadata:ObjectMeta 2:spec:ServiceSpec 3:status:ServiceStatus",
    "ServiceAccountTokenProjection": (
        "1:audience:string 2:expirationSeconds:int64:p 3:path:string:k 4:user:int64:p"
    ),
    "ServicePort": (
        "1:name:string 2:protocol:string 3:port:int32:k 4:targetPort:IntOrString "
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
    "ServiceStatus": "1:loadBalancer:LoadBalancerStatus 2:conditions:Condition:r",
    "SessionAffinityConfig": "1:clientIP:ClientIPConfig:p",
    "SleepAction": "1:seconds:int64:k",
    "StorageOSVolumeSource": (
        "1:volumeName:string 2:volumeNamespace:string 3:fsType:string 4:readOnly:bool "
        "5:secretRef:LocalObjectReference:p"
    ),
    "Sysctl": "1:name:string:k 2:value:string:k",
    "TCPSocketAction": "1:port:IntOrString:k 2:host:string",
    "Time": "1:seconds:int64:k 2:nanos:int32:k",
    "Toleration": (
        "1:key:string 2:operator:string 3:value:string 4:effect:string "
        "5:tolerationSeconds:int64:p"
    ),
    "TopologySpreadConstraint": (
        "1:maxSkew:int32:k 2:topologyKey:string:k 3:whenUnsatisfiable:string:k "
        "4:labelSelector:LabelSelector:p 5:minDomains:int32:p 6:nodeAffinityPolicy:string:p "
        "7:nodeTaintsPolicy:string:p 8:matchLabelKeys:string:r"
    ),
    "TypedLocalObjectReference": "1:apiGroup:string:p 2:kind:string:k 3:name:string:k",
    "TypedObjectReference": (
        "1:apiGroup:string:p 2:kind:string:k 3:name:string:k 4:namespace:string:p"
    ),
    "Volume": "1:name:string:k 2::VolumeSource:i",
    "VolumeDevice": "1:name:string:k 2:devicePath:string:k",
    "VolumeHealthCondition": "1:status:string:k 2:reason:string:k 3:message:string",
    "VolumeMount": (
        "1:name:string:k 2:readOnly:bool 3:mountPath:string:k 4:subPath:string "
        "5:mountPropagation:string:p 6:subPathExpr:string 7:recursiveReadOnly:string:p "
        "8:bindMountOptions:string:r"
    ),
    "VolumeMountStatus": (
        "1:name:string:k 2:mountPath:string:k 3:readOnly:bool 4:recursiveReadOnly:string:p "
        "5:volumeStatus:VolumeStatus:p"
    ),
    "VolumeProjection": (
        "1:secret:SecretProjection:p 2:downwardAPI:DownwardAPIProjection:p "
        "3:configMap:ConfigMapProjection:p "
        "4:serviceAccountToken:ServiceAccountTokenProjection:p "
        "5:clusterTrustBundle:ClusterTrustBundleProjection:p "
        "6:podCertificate:PodCertificateProjection:p"
    ),
    "VolumeResourceRequirements": "1:limits:Quantity:m 2:requests:Quantity:m",
    "VolumeSource": (
        "1:hostPath:HostPathVolumeSource:p 2:emptyDir:EmptyDirVolumeSource:p "
        "3:gcePersistentDisk:GCEPersistentDiskVolumeSource:p "
        "4:awsElasticBlockStore:AWSElasticBlockStoreVolumeSource:p "
        "5:gitRepo:GitRepoVolumeSource:p 6:secret:SecretVolumeSource:p 7:nfs:NFSVolumeSource:p "
        "8:iscsi:ISCSIVolumeSource:p 9:glusterfs:GlusterfsVolumeSource:p "
        "10:persistentVolumeClaim:PersistentVolumeClaimVolumeSource:p 11:rbd:RBDVolumeSource:p "
        "12:flexVolume:FlexVolumeSource:p 13:cinder:CinderVolumeSource:p "
        "14:cephfs:CephFSVolumeSource:p 15:flocker:FlockerVolumeSource:p "
        "16:downwardAPI:DownwardAPIVolumeSource:p 17:fc:FCVolumeSource:p "
        "18:azureFile:AzureFileVolumeSource:p 19:configMap:ConfigMapVolumeSource:p "
        "20:vsphereVolume:VsphereVirtualDiskVolumeSource:p 21:quobyte:QuobyteVolumeSource:p "
        "22:azureDisk:AzureDiskVolumeSource:p "
        "23:photonPersistentDisk:PhotonPersistentDiskVolumeSource:p "
        "24:portworxVolume:PortworxVolumeSource:p 25:scaleIO:ScaleIOVolumeSource:p "
        "26:projected:ProjectedVolumeSource:p 27:storageos:StorageOSVolumeSource:p "
        "28:csi:CSIVolumeSource:p 29:ephemeral:EphemeralVolumeSource:p "
        "30:image:ImageVolumeSource:p"
    ),
    "VolumeStatus": "1:image:ImageVolumeStatus:p",
    "VsphereVirtualDiskVolumeSource": (
        "1:volumePath:string:k 2:fsType:string 3:storagePolicyName:string "
        "4:storagePolicyID:string"
    ),
    "WeightedPodAffinityTerm": "1:weight:int32:k 2:podAffinityTerm:PodAffinityTerm:k",
    "WindowsSecurityContextOptions": (
        "1:gmsaCredentialSpecName:string:p 2:gmsaCredentialSpec:string:p "
        "3:runAsUserName:string:p 4:hostProcess:bool:p"
    ),
}


def _parse(message: str, spec: str) -> dict[int, ProtoField]:
    fields: dict[int, ProtoField] = {}
    for entry in spec.split():
        number, name, type_, *rest = entry.split(":")
        flags = rest[0] if rest else ""
        if type_ not in SCALAR_TYPES and type_ not in _TABLE:
            raise ValueError(f"{message}: field {name} has unknown type {type_}")
        fields[int(number)] = ProtoField(
            number=int(number),
            name=name,
            type=type_,
            repeated="r" in flags,
            map="m" in flags,
            pointer="p" in flags,
            keep_zero="k" in flags,
            inline="i" in flags,
        )
    return fields


@functools.cache
def message(name: str) -> dict[int, ProtoField]:
    """The fields of message ``name`` by number; ``KeyError`` if it is not tabulated."""
    return _parse(name, _TABLE[name])


def message_names() -> frozenset[str]:
    """Every tabulated message name."""
    return frozenset(_TABLE)

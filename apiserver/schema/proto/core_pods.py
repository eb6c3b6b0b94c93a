"""Protobuf field tables of ``core/v1``: Pod, PodTemplate and the types they reference
(volume sources excepted).

Schema data only, in the entry format described in
:mod:`apiserver.schema.proto_messages`; keyed by protobuf package, then message.
"""

from __future__ import annotations

TABLES: dict[str, dict[str, str]] = {
    "core.v1": {
        "Affinity": (
            "1:nodeAffinity:NodeAffinity:p 2:podAffinity:PodAffinity:p "
            "3:podAntiAffinity:PodAntiAffinity:p"
        ),
        "AppArmorProfile": "1:type:string:k 2:localhostProfile:string:p",
        "Capabilities": "1:add:string:r 2:drop:string:r",
        "ConfigMapEnvSource": "1::LocalObjectReference:i 2:optional:bool:p",
        "ConfigMapKeySelector": "1::LocalObjectReference:i 2:key:string:k 3:optional:bool:p",
        "Container": (
            "1:name:string:k 2:image:string 3:command:string:r 4:args:string:r "
            "5:workingDir:string 6:ports:ContainerPort:r 7:env:EnvVar:r "
            "8:resources:ResourceRequirements 9:volumeMounts:VolumeMount:r "
            "10:livenessProbe:Probe:p 11:readinessProbe:Probe:p 12:lifecycle:Lifecycle:p "
            "13:terminationMessagePath:string 14:imagePullPolicy:string "
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
        "ContainerStateRunning": "1:startedAt:meta.v1.Time",
        "ContainerStateTerminated": (
            "1:exitCode:int32:k 2:signal:int32 3:reason:string 4:message:string "
            "5:startedAt:meta.v1.Time 6:finishedAt:meta.v1.Time 7:containerID:string"
        ),
        "ContainerStateWaiting": "1:reason:string 2:message:string",
        "ContainerStatus": (
            "1:name:string:k 2:state:ContainerState 3:lastState:ContainerState 4:ready:bool:k "
            "5:restartCount:int32:k 6:image:string:k 7:imageID:string:k 8:containerID:string "
            "9:started:bool:p 10:allocatedResources:resource.Quantity:m "
            "11:resources:ResourceRequirements:p 12:volumeMounts:VolumeMountStatus:r "
            "13:user:ContainerUser:p 14:allocatedResourcesStatus:ResourceStatus:r "
            "15:stopSignal:string:p"
        ),
        "ContainerUser": "1:linux:LinuxContainerUser:p",
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
            "1:name:string:k 2:image:string 3:command:string:r 4:args:string:r "
            "5:workingDir:string 6:ports:ContainerPort:r 7:env:EnvVar:r "
            "8:resources:ResourceRequirements 9:volumeMounts:VolumeMount:r "
            "10:livenessProbe:Probe:p 11:readinessProbe:Probe:p 12:lifecycle:Lifecycle:p "
            "13:terminationMessagePath:string 14:imagePullPolicy:string "
            "15:securityContext:SecurityContext:p 16:stdin:bool 17:stdinOnce:bool 18:tty:bool "
            "19:envFrom:EnvFromSource:r 20:terminationMessagePolicy:string "
            "21:volumeDevices:VolumeDevice:r 22:startupProbe:Probe:p "
            "23:resizePolicy:ContainerResizePolicy:r 24:restartPolicy:string:p "
            "25:restartPolicyRules:ContainerRestartRule:r"
        ),
        "EvictionResponder": "1:name:string:k 2:priority:int32:p",
        "ExecAction": "1:command:string:r",
        "FileKeySelector": "1:volumeName:string:k 2:path:string:k 3:key:string:k 4:optional:bool:p",
        "GRPCAction": "1:port:int32:k 2:service:string:p 3:mode:string:p",
        "HTTPGetAction": (
            "1:path:string 2:port:intstr.IntOrString:k 3:host:string 4:scheme:string "
            "5:httpHeaders:HTTPHeader:r 6:protocol:string:p"
        ),
        "HTTPHeader": "1:name:string:k 2:value:string:k",
        "HostAlias": "1:ip:string:k 2:hostnames:string:r",
        "HostIP": "1:ip:string:k",
        "ImageVolumeStatus": "1:imageRef:string",
        "Lifecycle": (
            "1:postStart:LifecycleHandler:p 2:preStop:LifecycleHandler:p 3:stopSignal:string:p"
        ),
        "LifecycleHandler": (
            "1:exec:ExecAction:p 2:httpGet:HTTPGetAction:p 3:tcpSocket:TCPSocketAction:p "
            "4:sleep:SleepAction:p"
        ),
        "LinuxContainerUser": "1:uid:int64:k 2:gid:int64:k 3:supplementalGroups:int64:r",
        "NodeAffinity": (
            "1:requiredDuringSchedulingIgnoredDuringExecution:NodeSelector:p "
            "2:preferredDuringSchedulingIgnoredDuringExecution:PreferredSchedulingTerm:r"
        ),
        "NodeAllocatableMappedResources": "1:name:string:k 2:quantity:resource.Quantity:p",
        "NodeAllocatableOverheadResources": (
            "1:name:string:k 2:perPod:resource.Quantity:p 3:perContainer:resource.Quantity:p"
        ),
        "NodeAllocatableResourceClaimStatus": (
            "1:resourceClaimName:string:k 2:containers:string:r "
            "4:mapping:NodeAllocatableMappedResources:r "
            "5:overhead:NodeAllocatableOverheadResources:r"
        ),
        "Pod": "1:metadata:meta.v1.ObjectMeta 2:spec:PodSpec 3:status:PodStatus",
        "PodAffinity": (
            "1:requiredDuringSchedulingIgnoredDuringExecution:PodAffinityTerm:r "
            "2:preferredDuringSchedulingIgnoredDuringExecution:WeightedPodAffinityTerm:r"
        ),
        "PodAffinityTerm": (
            "1:labelSelector:meta.v1.LabelSelector:p 2:namespaces:string:r 3:topologyKey:string:k "
            "4:namespaceSelector:meta.v1.LabelSelector:p 5:matchLabelKeys:string:r "
            "6:mismatchLabelKeys:string:r"
        ),
        "PodAntiAffinity": (
            "1:requiredDuringSchedulingIgnoredDuringExecution:PodAffinityTerm:r "
            "2:preferredDuringSchedulingIgnoredDuringExecution:WeightedPodAffinityTerm:r"
        ),
        "PodCondition": (
            "1:type:string:k 2:status:string:k 3:lastProbeTime:meta.v1.Time "
            "4:lastTransitionTime:meta.v1.Time 5:reason:string 6:message:string "
            "7:observedGeneration:int64"
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
            "4:supplementalGroups:int64:r 5:fsGroup:int64:p 6:runAsGroup:int64:p "
            "7:sysctls:Sysctl:r 8:windowsOptions:WindowsSecurityContextOptions:p "
            "9:fsGroupChangePolicy:string:p 10:seccompProfile:SeccompProfile:p "
            "11:appArmorProfile:AppArmorProfile:p 12:supplementalGroupsPolicy:string:p "
            "13:seLinuxChangePolicy:string:p"
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
            "30:enableServiceLinks:bool:p 31:preemptionPolicy:string:p "
            "32:overhead:resource.Quantity:m "
            "33:topologySpreadConstraints:TopologySpreadConstraint:r "
            "34:ephemeralContainers:EphemeralContainer:r 35:setHostnameAsFQDN:bool:p "
            "36:os:PodOS:p 37:hostUsers:bool:p 38:schedulingGates:PodSchedulingGate:r "
            "39:resourceClaims:PodResourceClaim:r 40:resources:ResourceRequirements:p "
            "41:hostnameOverride:string:p 43:schedulingGroup:PodSchedulingGroup:p "
            "44:evictionResponders:EvictionResponder:r"
        ),
        "PodStatus": (
            "1:phase:string 2:conditions:PodCondition:r 3:message:string 4:reason:string "
            "5:hostIP:string 6:podIP:string 7:startTime:meta.v1.Time:p "
            "8:containerStatuses:ContainerStatus:r 9:qosClass:string "
            "10:initContainerStatuses:ContainerStatus:r 11:nominatedNodeName:string "
            "12:podIPs:PodIP:r 13:ephemeralContainerStatuses:ContainerStatus:r 14:resize:string "
            "15:resourceClaimStatuses:PodResourceClaimStatus:r 16:hostIPs:HostIP:r "
            "17:observedGeneration:int64 "
            "18:extendedResourceClaimStatus:PodExtendedResourceClaimStatus:p "
            "19:allocatedResources:resource.Quantity:m 20:resources:ResourceRequirements:p "
            "21:nodeAllocatableResourceClaimStatuses:NodeAllocatableResourceClaimStatus:r "
            "22:volumeHealth:PodVolumeHealth:r"
        ),
        "PodTemplate": "1:metadata:meta.v1.ObjectMeta 2:template:PodTemplateSpec",
        "PodTemplateSpec": "1:metadata:meta.v1.ObjectMeta 2:spec:PodSpec",
        "PodVolumeHealth": (
            "1:name:string:k 2:healthConditions:VolumeHealthCondition:r "
            "3:lastTransitionTime:meta.v1.Time"
        ),
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
        "ResourceClaim": "1:name:string:k 2:request:string",
        "ResourceHealth": "1:resourceID:string:k 2:health:string 6:message:string:p",
        "ResourceRequirements": (
            "1:limits:resource.Quantity:m 2:requests:resource.Quantity:m 3:claims:ResourceClaim:r"
        ),
        "ResourceStatus": "1:name:string:k 2:resources:ResourceHealth:r",
        "SELinuxOptions": "1:user:string 2:role:string 3:type:string 4:level:string",
        "SeccompProfile": "1:type:string:k 2:localhostProfile:string:p",
        "SecretEnvSource": "1::LocalObjectReference:i 2:optional:bool:p",
        "SecretKeySelector": "1::LocalObjectReference:i 2:key:string:k 3:optional:bool:p",
        "SecurityContext": (
            "1:capabilities:Capabilities:p 2:privileged:bool:p 3:seLinuxOptions:SELinuxOptions:p "
            "4:runAsUser:int64:p 5:runAsNonRoot:bool:p 6:readOnlyRootFilesystem:bool:p "
            "7:allowPrivilegeEscalation:bool:p 8:runAsGroup:int64:p 9:procMount:string:p "
            "10:windowsOptions:WindowsSecurityContextOptions:p 11:seccompProfile:SeccompProfile:p "
            "12:appArmorProfile:AppArmorProfile:p"
        ),
        "SleepAction": "1:seconds:int64:k",
        "Sysctl": "1:name:string:k 2:value:string:k",
        "TCPSocketAction": "1:port:intstr.IntOrString:k 2:host:string",
        "Toleration": (
            "1:key:string 2:operator:string 3:value:string 4:effect:string "
            "5:tolerationSeconds:int64:p"
        ),
        "TopologySpreadConstraint": (
            "1:maxSkew:int32:k 2:topologyKey:string:k 3:whenUnsatisfiable:string:k "
            "4:labelSelector:meta.v1.LabelSelector:p 5:minDomains:int32:p "
            "6:nodeAffinityPolicy:string:p 7:nodeTaintsPolicy:string:p 8:matchLabelKeys:string:r"
        ),
        "Volume": "1:name:string:k 2::VolumeSource:i",
        "VolumeDevice": "1:name:string:k 2:devicePath:string:k",
        "VolumeMount": (
            "1:name:string:k 2:readOnly:bool 3:mountPath:string:k 4:subPath:string "
            "5:mountPropagation:string:p 6:subPathExpr:string 7:recursiveReadOnly:string:p "
            "8:bindMountOptions:string:r"
        ),
        "VolumeMountStatus": (
            "1:name:string:k 2:mountPath:string:k 3:readOnly:bool 4:recursiveReadOnly:string:p "
            "5:volumeStatus:VolumeStatus:p"
        ),
        "VolumeStatus": "1:image:ImageVolumeStatus:p",
        "WeightedPodAffinityTerm": "1:weight:int32:k 2:podAffinityTerm:PodAffinityTerm:k",
        "WindowsSecurityContextOptions": (
            "1:gmsaCredentialSpecName:string:p 2:gmsaCredentialSpec:string:p "
            "3:runAsUserName:string:p 4:hostProcess:bool:p"
        ),
    },
}

"""Protobuf field tables of ``apps/v1``, ``batch/v1``, ``autoscaling/v1``,
``autoscaling/v2`` and ``policy/v1``.

Schema data only, in the entry format described in
:mod:`apiserver.schema.proto_messages`; keyed by protobuf package, then message.
"""

from __future__ import annotations

TABLES: dict[str, dict[str, str]] = {
    "apps.v1": {
        "ControllerRevision": (
            "1:metadata:meta.v1.ObjectMeta 2:data:runtime.RawExtension:k 3:revision:int64:k"
        ),
        "DaemonSet": "1:metadata:meta.v1.ObjectMeta 2:spec:DaemonSetSpec 3:status:DaemonSetStatus",
        "DaemonSetCondition": (
            "1:type:string:k 2:status:string:k 3:lastTransitionTime:meta.v1.Time 4:reason:string "
            "5:message:string"
        ),
        "DaemonSetSpec": (
            "1:selector:meta.v1.LabelSelector:p 2:template:core.v1.PodTemplateSpec:k "
            "3:updateStrategy:DaemonSetUpdateStrategy 4:minReadySeconds:int32 "
            "6:revisionHistoryLimit:int32:p"
        ),
        "DaemonSetStatus": (
            "1:currentNumberScheduled:int32:k 2:numberMisscheduled:int32:k "
            "3:desiredNumberScheduled:int32:k 4:numberReady:int32:k 5:observedGeneration:int64 "
            "6:updatedNumberScheduled:int32 7:numberAvailable:int32 8:numberUnavailable:int32 "
            "9:collisionCount:int32:p 10:conditions:DaemonSetCondition:r"
        ),
        "DaemonSetUpdateStrategy": "1:type:string 2:rollingUpdate:RollingUpdateDaemonSet:p",
        "Deployment": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:DeploymentSpec 3:status:DeploymentStatus"
        ),
        "DeploymentCondition": (
            "1:type:string:k 2:status:string:k 4:reason:string 5:message:string "
            "6:lastUpdateTime:meta.v1.Time 7:lastTransitionTime:meta.v1.Time"
        ),
        "DeploymentSpec": (
            "1:replicas:int32:p 2:selector:meta.v1.LabelSelector:p "
            "3:template:core.v1.PodTemplateSpec:k 4:strategy:DeploymentStrategy "
            "5:minReadySeconds:int32 6:revisionHistoryLimit:int32:p 7:paused:bool "
            "9:progressDeadlineSeconds:int32:p"
        ),
        "DeploymentStatus": (
            "1:observedGeneration:int64 2:replicas:int32 3:updatedReplicas:int32 "
            "4:availableReplicas:int32 5:unavailableReplicas:int32 "
            "6:conditions:DeploymentCondition:r 7:readyReplicas:int32 8:collisionCount:int32:p "
            "9:terminatingReplicas:int32:p"
        ),
        "DeploymentStrategy": "1:type:string 2:rollingUpdate:RollingUpdateDeployment:p",
        "ReplicaSet": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:ReplicaSetSpec 3:status:ReplicaSetStatus"
        ),
        "ReplicaSetCondition": (
            "1:type:string:k 2:status:string:k 3:lastTransitionTime:meta.v1.Time 4:reason:string "
            "5:message:string"
        ),
        "ReplicaSetSpec": (
            "1:replicas:int32:p 2:selector:meta.v1.LabelSelector:p "
            "3:template:core.v1.PodTemplateSpec 4:minReadySeconds:int32"
        ),
        "ReplicaSetStatus": (
            "1:replicas:int32:k 2:fullyLabeledReplicas:int32 3:observedGeneration:int64 "
            "4:readyReplicas:int32 5:availableReplicas:int32 6:conditions:ReplicaSetCondition:r "
            "7:terminatingReplicas:int32:p"
        ),
        "RollingUpdateDaemonSet": (
            "1:maxUnavailable:intstr.IntOrString:p 2:maxSurge:intstr.IntOrString:p"
        ),
        "RollingUpdateDeployment": (
            "1:maxUnavailable:intstr.IntOrString:p 2:maxSurge:intstr.IntOrString:p"
        ),
        "RollingUpdateStatefulSetStrategy": (
            "1:partition:int32:p 2:maxUnavailable:intstr.IntOrString:p"
        ),
        "StatefulSet": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:StatefulSetSpec 3:status:StatefulSetStatus"
        ),
        "StatefulSetCondition": (
            "1:type:string:k 2:status:string:k 3:lastTransitionTime:meta.v1.Time 4:reason:string "
            "5:message:string"
        ),
        "StatefulSetOrdinals": "1:start:int32:k",
        "StatefulSetPersistentVolumeClaimRetentionPolicy": (
            "1:whenDeleted:string 2:whenScaled:string"
        ),
        "StatefulSetSpec": (
            "1:replicas:int32:p 2:selector:meta.v1.LabelSelector:p "
            "3:template:core.v1.PodTemplateSpec:k "
            "4:volumeClaimTemplates:core.v1.PersistentVolumeClaim:r 5:serviceName:string:k "
            "6:podManagementPolicy:string 7:updateStrategy:StatefulSetUpdateStrategy "
            "8:revisionHistoryLimit:int32:p 9:minReadySeconds:int32 "
            "10:persistentVolumeClaimRetentionPolicy:StatefulSetPersistentVolumeClaimRetentionPoli"
            "cy:p "
            "11:ordinals:StatefulSetOrdinals:p"
        ),
        "StatefulSetStatus": (
            "1:observedGeneration:int64 2:replicas:int32:k 3:readyReplicas:int32 "
            "4:currentReplicas:int32 5:updatedReplicas:int32 6:currentRevision:string "
            "7:updateRevision:string 9:collisionCount:int32:p "
            "10:conditions:StatefulSetCondition:r 11:availableReplicas:int32:k"
        ),
        "StatefulSetUpdateStrategy": (
            "1:type:string 2:rollingUpdate:RollingUpdateStatefulSetStrategy:p"
        ),
    },
    "batch.v1": {
        "CronJob": "1:metadata:meta.v1.ObjectMeta 2:spec:CronJobSpec 3:status:CronJobStatus",
        "CronJobSpec": (
            "1:schedule:string:k 2:startingDeadlineSeconds:int64:p 3:concurrencyPolicy:string "
            "4:suspend:bool:p 5:jobTemplate:JobTemplateSpec:k "
            "6:successfulJobsHistoryLimit:int32:p 7:failedJobsHistoryLimit:int32:p "
            "8:timeZone:string:p"
        ),
        "CronJobStatus": (
            "1:active:core.v1.ObjectReference:r 4:lastScheduleTime:meta.v1.Time:p "
            "5:lastSuccessfulTime:meta.v1.Time:p"
        ),
        "Job": "1:metadata:meta.v1.ObjectMeta 2:spec:JobSpec 3:status:JobStatus",
        "JobCondition": (
            "1:type:string:k 2:status:string:k 3:lastProbeTime:meta.v1.Time "
            "4:lastTransitionTime:meta.v1.Time 5:reason:string 6:message:string"
        ),
        "JobSpec": (
            "1:parallelism:int32:p 2:completions:int32:p 3:activeDeadlineSeconds:int64:p "
            "4:selector:meta.v1.LabelSelector:p 5:manualSelector:bool:p "
            "6:template:core.v1.PodTemplateSpec:k 7:backoffLimit:int32:p "
            "8:ttlSecondsAfterFinished:int32:p 9:completionMode:string:p 10:suspend:bool:p "
            "11:podFailurePolicy:PodFailurePolicy:p 12:backoffLimitPerIndex:int32:p "
            "13:maxFailedIndexes:int32:p 14:podReplacementPolicy:string:p 15:managedBy:string:p "
            "16:successPolicy:SuccessPolicy:p"
        ),
        "JobStatus": (
            "1:conditions:JobCondition:r 2:startTime:meta.v1.Time:p "
            "3:completionTime:meta.v1.Time:p 4:active:int32 5:succeeded:int32 6:failed:int32 "
            "7:completedIndexes:string 8:uncountedTerminatedPods:UncountedTerminatedPods:p "
            "9:ready:int32:p 10:failedIndexes:string:p 11:terminating:int32:p"
        ),
        "JobTemplateSpec": "1:metadata:meta.v1.ObjectMeta 2:spec:JobSpec",
        "PodFailurePolicy": "1:rules:PodFailurePolicyRule:r",
        "PodFailurePolicyOnExitCodesRequirement": (
            "1:containerName:string:p 2:operator:string:k 3:values:int32:r"
        ),
        "PodFailurePolicyOnPodConditionsPattern": "1:type:string:k 2:status:string:k",
        "PodFailurePolicyRule": (
            "1:action:string:k 2:onExitCodes:PodFailurePolicyOnExitCodesRequirement:p "
            "3:onPodConditions:PodFailurePolicyOnPodConditionsPattern:r"
        ),
        "SuccessPolicy": "1:rules:SuccessPolicyRule:r",
        "SuccessPolicyRule": "1:succeededIndexes:string:p 2:succeededCount:int32:p",
        "UncountedTerminatedPods": "1:succeeded:string:r 2:failed:string:r",
    },
    "autoscaling.v1": {
        "CrossVersionObjectReference": "1:kind:string:k 2:name:string:k 3:apiVersion:string",
        "HorizontalPodAutoscaler": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:HorizontalPodAutoscalerSpec "
            "3:status:HorizontalPodAutoscalerStatus"
        ),
        "HorizontalPodAutoscalerSpec": (
            "1:scaleTargetRef:CrossVersionObjectReference:k 2:minReplicas:int32:p "
            "3:maxReplicas:int32:k 4:targetCPUUtilizationPercentage:int32:p"
        ),
        "HorizontalPodAutoscalerStatus": (
            "1:observedGeneration:int64:p 2:lastScaleTime:meta.v1.Time:p "
            "3:currentReplicas:int32:k 4:desiredReplicas:int32:k "
            "5:currentCPUUtilizationPercentage:int32:p"
        ),
        "Scale": "1:metadata:meta.v1.ObjectMeta 2:spec:ScaleSpec 3:status:ScaleStatus",
        "ScaleSpec": "1:replicas:int32:k",
        "ScaleStatus": "1:replicas:int32:k 2:selector:string",
    },
    "autoscaling.v2": {
        "ContainerResourceMetricSource": (
            "1:name:string:k 2:target:MetricTarget:k 3:container:string:k"
        ),
        "ContainerResourceMetricStatus": (
            "1:name:string:k 2:current:MetricValueStatus:k 3:container:string:k"
        ),
        "CrossVersionObjectReference": "1:kind:string:k 2:name:string:k 3:apiVersion:string",
        "ExternalMetricSource": "1:metric:MetricIdentifier:k 2:target:MetricTarget:k",
        "ExternalMetricStatus": "1:metric:MetricIdentifier:k 2:current:MetricValueStatus:k",
        "HPAScalingPolicy": "1:type:string:k 2:value:int32:k 3:periodSeconds:int32:k",
        "HPAScalingRules": (
            "1:selectPolicy:string:p 2:policies:HPAScalingPolicy:r "
            "3:stabilizationWindowSeconds:int32:p 4:tolerance:resource.Quantity:p"
        ),
        "HorizontalPodAutoscaler": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:HorizontalPodAutoscalerSpec "
            "3:status:HorizontalPodAutoscalerStatus"
        ),
        "HorizontalPodAutoscalerBehavior": (
            "1:scaleUp:HPAScalingRules:p 2:scaleDown:HPAScalingRules:p"
        ),
        "HorizontalPodAutoscalerCondition": (
            "1:type:string:k 2:status:string:k 3:lastTransitionTime:meta.v1.Time 4:reason:string "
            "5:message:string 6:observedGeneration:int64:p"
        ),
        "HorizontalPodAutoscalerSpec": (
            "1:scaleTargetRef:CrossVersionObjectReference:k 2:minReplicas:int32:p "
            "3:maxReplicas:int32:k 4:metrics:MetricSpec:r "
            "5:behavior:HorizontalPodAutoscalerBehavior:p"
        ),
        "HorizontalPodAutoscalerStatus": (
            "1:observedGeneration:int64:p 2:lastScaleTime:meta.v1.Time:p 3:currentReplicas:int32 "
            "4:desiredReplicas:int32:k 5:currentMetrics:MetricStatus:r "
            "6:conditions:HorizontalPodAutoscalerCondition:r"
        ),
        "MetricIdentifier": "1:name:string:k 2:selector:meta.v1.LabelSelector:p",
        "MetricSpec": (
            "1:type:string:k 2:object:ObjectMetricSource:p 3:pods:PodsMetricSource:p "
            "4:resource:ResourceMetricSource:p 5:external:ExternalMetricSource:p "
            "7:containerResource:ContainerResourceMetricSource:p"
        ),
        "MetricStatus": (
            "1:type:string:k 2:object:ObjectMetricStatus:p 3:pods:PodsMetricStatus:p "
            "4:resource:ResourceMetricStatus:p 5:external:ExternalMetricStatus:p "
            "7:containerResource:ContainerResourceMetricStatus:p"
        ),
        "MetricTarget": (
            "1:type:string:k 2:value:resource.Quantity:p 3:averageValue:resource.Quantity:p "
            "4:averageUtilization:int32:p"
        ),
        "MetricValueStatus": (
            "1:value:resource.Quantity:p 2:averageValue:resource.Quantity:p "
            "3:averageUtilization:int32:p"
        ),
        "ObjectMetricSource": (
            "1:describedObject:CrossVersionObjectReference:k 2:target:MetricTarget:k "
            "3:metric:MetricIdentifier:k"
        ),
        "ObjectMetricStatus": (
            "1:metric:MetricIdentifier:k 2:current:MetricValueStatus:k "
            "3:describedObject:CrossVersionObjectReference:k"
        ),
        "PodsMetricSource": "1:metric:MetricIdentifier:k 2:target:MetricTarget:k",
        "PodsMetricStatus": "1:metric:MetricIdentifier:k 2:current:MetricValueStatus:k",
        "ResourceMetricSource": "1:name:string:k 2:target:MetricTarget:k",
        "ResourceMetricStatus": "1:name:string:k 2:current:MetricValueStatus:k",
    },
    "policy.v1": {
        "Eviction": "1:metadata:meta.v1.ObjectMeta 2:deleteOptions:meta.v1.DeleteOptions:p",
        "PodDisruptionBudget": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:PodDisruptionBudgetSpec "
            "3:status:PodDisruptionBudgetStatus"
        ),
        "PodDisruptionBudgetSpec": (
            "1:minAvailable:intstr.IntOrString:p 2:selector:meta.v1.LabelSelector:p "
            "3:maxUnavailable:intstr.IntOrString:p 4:unhealthyPodEvictionPolicy:string:p"
        ),
        "PodDisruptionBudgetStatus": (
            "1:observedGeneration:int64 2:disruptedPods:meta.v1.Time:m "
            "3:disruptionsAllowed:int32:k 4:currentHealthy:int32:k 5:desiredHealthy:int32:k "
            "6:expectedPods:int32:k 7:conditions:meta.v1.Condition:r"
        ),
    },
}

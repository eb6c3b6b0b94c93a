"""Protobuf field tables of ``core/v1``: volume sources, PersistentVolume and
PersistentVolumeClaim.

Schema data only, in the entry format described in
:mod:`apiserver.schema.proto_messages`; keyed by protobuf package, then message.
"""

from __future__ import annotations

TABLES: dict[str, dict[str, str]] = {
    "core.v1": {
        "AWSElasticBlockStoreVolumeSource": (
            "1:volumeID:string:k 2:fsType:string 3:partition:int32 4:readOnly:bool"
        ),
        "AzureDiskVolumeSource": (
            "1:diskName:string:k 2:diskURI:string:k 3:cachingMode:string:p 4:fsType:string:p "
            "5:readOnly:bool:p 6:kind:string:p"
        ),
        "AzureFilePersistentVolumeSource": (
            "1:secretName:string:k 2:shareName:string:k 3:readOnly:bool "
            "4:secretNamespace:string:p"
        ),
        "AzureFileVolumeSource": "1:secretName:string:k 2:shareName:string:k 3:readOnly:bool",
        "CSIPersistentVolumeSource": (
            "1:driver:string:k 2:volumeHandle:string:k 3:readOnly:bool 4:fsType:string "
            "5:volumeAttributes:string:m 6:controllerPublishSecretRef:SecretReference:p "
            "7:nodeStageSecretRef:SecretReference:p 8:nodePublishSecretRef:SecretReference:p "
            "9:controllerExpandSecretRef:SecretReference:p "
            "10:nodeExpandSecretRef:SecretReference:p"
        ),
        "CSIVolumeSource": (
            "1:driver:string:k 2:readOnly:bool:p 3:fsType:string:p 4:volumeAttributes:string:m "
            "5:nodePublishSecretRef:LocalObjectReference:p"
        ),
        "CephFSPersistentVolumeSource": (
            "1:monitors:string:r 2:path:string 3:user:string 4:secretFile:string "
            "5:secretRef:SecretReference:p 6:readOnly:bool"
        ),
        "CephFSVolumeSource": (
            "1:monitors:string:r 2:path:string 3:user:string 4:secretFile:string "
            "5:secretRef:LocalObjectReference:p 6:readOnly:bool"
        ),
        "CinderPersistentVolumeSource": (
            "1:volumeID:string:k 2:fsType:string 3:readOnly:bool 4:secretRef:SecretReference:p"
        ),
        "CinderVolumeSource": (
            "1:volumeID:string:k 2:fsType:string 3:readOnly:bool "
            "4:secretRef:LocalObjectReference:p"
        ),
        "ClusterTrustBundleProjection": (
            "1:name:string:p 2:signerName:string:p 3:labelSelector:meta.v1.LabelSelector:p "
            "4:path:string:k 5:optional:bool:p 6:user:int64:p"
        ),
        "ConfigMapProjection": "1::LocalObjectReference:i 2:items:KeyToPath:r 4:optional:bool:p",
        "ConfigMapVolumeSource": (
            "1::LocalObjectReference:i 2:items:KeyToPath:r 3:defaultMode:int32:p "
            "4:optional:bool:p 5:defaultUser:int64:p"
        ),
        "DownwardAPIProjection": "1:items:DownwardAPIVolumeFile:r",
        "DownwardAPIVolumeFile": (
            "1:path:string:k 2:fieldRef:ObjectFieldSelector:p "
            "3:resourceFieldRef:ResourceFieldSelector:p 4:mode:int32:p 5:user:int64:p"
        ),
        "DownwardAPIVolumeSource": (
            "1:items:DownwardAPIVolumeFile:r 2:defaultMode:int32:p 3:defaultUser:int64:p"
        ),
        "EmptyDirVolumeSource": "1:medium:string 2:sizeLimit:resource.Quantity:p 3:mode:int32:p",
        "EphemeralVolumeSource": "1:volumeClaimTemplate:PersistentVolumeClaimTemplate:p",
        "FCVolumeSource": (
            "1:targetWWNs:string:r 2:lun:int32:p 3:fsType:string 4:readOnly:bool 5:wwids:string:r"
        ),
        "FlexPersistentVolumeSource": (
            "1:driver:string:k 2:fsType:string 3:secretRef:SecretReference:p 4:readOnly:bool "
            "5:options:string:m"
        ),
        "FlexVolumeSource": (
            "1:driver:string:k 2:fsType:string 3:secretRef:LocalObjectReference:p 4:readOnly:bool "
            "5:options:string:m"
        ),
        "FlockerVolumeSource": "1:datasetName:string 2:datasetUUID:string",
        "GCEPersistentDiskVolumeSource": (
            "1:pdName:string:k 2:fsType:string 3:partition:int32 4:readOnly:bool"
        ),
        "GitRepoVolumeSource": "1:repository:string:k 2:revision:string 3:directory:string",
        "GlusterfsPersistentVolumeSource": (
            "1:endpoints:string:k 2:path:string:k 3:readOnly:bool 4:endpointsNamespace:string:p"
        ),
        "GlusterfsVolumeSource": "1:endpoints:string:k 2:path:string:k 3:readOnly:bool",
        "HostPathVolumeSource": "1:path:string:k 2:type:string:p",
        "ISCSIPersistentVolumeSource": (
            "1:targetPortal:string:k 2:iqn:string:k 3:lun:int32:k 4:iscsiInterface:string "
            "5:fsType:string 6:readOnly:bool 7:portals:string:r 8:chapAuthDiscovery:bool "
            "10:secretRef:SecretReference:p 11:chapAuthSession:bool 12:initiatorName:string:p"
        ),
        "ISCSIVolumeSource": (
            "1:targetPortal:string:k 2:iqn:string:k 3:lun:int32:k 4:iscsiInterface:string "
            "5:fsType:string 6:readOnly:bool 7:portals:string:r 8:chapAuthDiscovery:bool "
            "10:secretRef:LocalObjectReference:p 11:chapAuthSession:bool "
            "12:initiatorName:string:p"
        ),
        "ImageVolumeSource": "1:reference:string 2:pullPolicy:string",
        "KeyToPath": "1:key:string:k 2:path:string:k 3:mode:int32:p 4:user:int64:p",
        "LocalObjectReference": "1:name:string",
        "LocalVolumeSource": "1:path:string:k 2:fsType:string:p",
        "ModifyVolumeStatus": "1:targetVolumeAttributesClassName:string 2:status:string:k",
        "NFSVolumeSource": "1:server:string:k 2:path:string:k 3:readOnly:bool",
        "NodeSelector": "1:nodeSelectorTerms:NodeSelectorTerm:r",
        "NodeSelectorRequirement": "1:key:string:k 2:operator:string:k 3:values:string:r",
        "NodeSelectorTerm": (
            "1:matchExpressions:NodeSelectorRequirement:r 2:matchFields:NodeSelectorRequirement:r"
        ),
        "ObjectFieldSelector": "1:apiVersion:string 2:fieldPath:string:k",
        "ObjectReference": (
            "1:kind:string 2:namespace:string 3:name:string 4:uid:string 5:apiVersion:string "
            "6:resourceVersion:string 7:fieldPath:string"
        ),
        "PersistentVolumeClaim": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:PersistentVolumeClaimSpec "
            "3:status:PersistentVolumeClaimStatus"
        ),
        "PersistentVolumeClaimCondition": (
            "1:type:string:k 2:status:string:k 3:lastProbeTime:meta.v1.Time "
            "4:lastTransitionTime:meta.v1.Time 5:reason:string 6:message:string"
        ),
        "PersistentVolumeClaimSpec": (
            "1:accessModes:string:r 2:resources:VolumeResourceRequirements 3:volumeName:string "
            "4:selector:meta.v1.LabelSelector:p 5:storageClassName:string:p 6:volumeMode:string:p "
            "7:dataSource:TypedLocalObjectReference:p 8:dataSourceRef:TypedObjectReference:p "
            "9:volumeAttributesClassName:string:p"
        ),
        "PersistentVolumeClaimStatus": (
            "1:phase:string 2:accessModes:string:r 3:capacity:resource.Quantity:m "
            "4:conditions:PersistentVolumeClaimCondition:r "
            "5:allocatedResources:resource.Quantity:m 7:allocatedResourceStatuses:string:m "
            "8:currentVolumeAttributesClassName:string:p "
            "9:modifyVolumeStatus:ModifyVolumeStatus:p 10:healthStatus:VolumeHealthStatus:p"
        ),
        "PersistentVolumeClaimTemplate": (
            "1:metadata:meta.v1.ObjectMeta 2:spec:PersistentVolumeClaimSpec:k"
        ),
        "PersistentVolumeClaimVolumeSource": "1:claimName:string:k 2:readOnly:bool",
        "PersistentVolumeSource": (
            "1:gcePersistentDisk:GCEPersistentDiskVolumeSource:p "
            "2:awsElasticBlockStore:AWSElasticBlockStoreVolumeSource:p "
            "3:hostPath:HostPathVolumeSource:p 4:glusterfs:GlusterfsPersistentVolumeSource:p "
            "5:nfs:NFSVolumeSource:p 6:rbd:RBDPersistentVolumeSource:p "
            "7:iscsi:ISCSIPersistentVolumeSource:p 8:cinder:CinderPersistentVolumeSource:p "
            "9:cephfs:CephFSPersistentVolumeSource:p 10:fc:FCVolumeSource:p "
            "11:flocker:FlockerVolumeSource:p 12:flexVolume:FlexPersistentVolumeSource:p "
            "13:azureFile:AzureFilePersistentVolumeSource:p "
            "14:vsphereVolume:VsphereVirtualDiskVolumeSource:p 15:quobyte:QuobyteVolumeSource:p "
            "16:azureDisk:AzureDiskVolumeSource:p "
            "17:photonPersistentDisk:PhotonPersistentDiskVolumeSource:p "
            "18:portworxVolume:PortworxVolumeSource:p 19:scaleIO:ScaleIOPersistentVolumeSource:p "
            "20:local:LocalVolumeSource:p 21:storageos:StorageOSPersistentVolumeSource:p "
            "22:csi:CSIPersistentVolumeSource:p"
        ),
        "PersistentVolumeSpec": (
            "1:capacity:resource.Quantity:m 2::PersistentVolumeSource:i 3:accessModes:string:r "
            "4:claimRef:ObjectReference:p 5:persistentVolumeReclaimPolicy:string "
            "6:storageClassName:string 7:mountOptions:string:r 8:volumeMode:string:p "
            "9:nodeAffinity:VolumeNodeAffinity:p 10:volumeAttributesClassName:string:p"
        ),
        "PhotonPersistentDiskVolumeSource": "1:pdID:string:k 2:fsType:string",
        "PodCertificateProjection": (
            "1:signerName:string 2:keyType:string 3:maxExpirationSeconds:int32:p "
            "4:credentialBundlePath:string 5:keyPath:string 6:certificateChainPath:string "
            "7:userAnnotations:string:m 8:user:int64:p"
        ),
        "PortworxVolumeSource": "1:volumeID:string:k 2:fsType:string 3:readOnly:bool",
        "ProjectedVolumeSource": (
            "1:sources:VolumeProjection:r 2:defaultMode:int32:p 3:defaultUser:int64:p"
        ),
        "QuobyteVolumeSource": (
            "1:registry:string:k 2:volume:string:k 3:readOnly:bool 4:user:string 5:group:string "
            "6:tenant:string"
        ),
        "RBDPersistentVolumeSource": (
            "1:monitors:string:r 2:image:string:k 3:fsType:string 4:pool:string 5:user:string "
            "6:keyring:string 7:secretRef:SecretReference:p 8:readOnly:bool"
        ),
        "RBDVolumeSource": (
            "1:monitors:string:r 2:image:string:k 3:fsType:string 4:pool:string 5:user:string "
            "6:keyring:string 7:secretRef:LocalObjectReference:p 8:readOnly:bool"
        ),
        "ResourceFieldSelector": (
            "1:containerName:string 2:resource:string:k 3:divisor:resource.Quantity"
        ),
        "ScaleIOPersistentVolumeSource": (
            "1:gateway:string:k 2:system:string:k 3:secretRef:SecretReference:p 4:sslEnabled:bool "
            "5:protectionDomain:string 6:storagePool:string 7:storageMode:string "
            "8:volumeName:string 9:fsType:string 10:readOnly:bool"
        ),
        "ScaleIOVolumeSource": (
            "1:gateway:string:k 2:system:string:k 3:secretRef:LocalObjectReference:p "
            "4:sslEnabled:bool 5:protectionDomain:string 6:storagePool:string "
            "7:storageMode:string 8:volumeName:string 9:fsType:string 10:readOnly:bool"
        ),
        "SecretProjection": "1::LocalObjectReference:i 2:items:KeyToPath:r 4:optional:bool:p",
        "SecretReference": "1:name:string 2:namespace:string",
        "SecretVolumeSource": (
            "1:secretName:string 2:items:KeyToPath:r 3:defaultMode:int32:p 4:optional:bool:p "
            "5:defaultUser:int64:p"
        ),
        "ServiceAccountTokenProjection": (
            "1:audience:string 2:expirationSeconds:int64:p 3:path:string:k 4:user:int64:p"
        ),
        "StorageOSPersistentVolumeSource": (
            "1:volumeName:string 2:volumeNamespace:string 3:fsType:string 4:readOnly:bool "
            "5:secretRef:ObjectReference:p"
        ),
        "StorageOSVolumeSource": (
            "1:volumeName:string 2:volumeNamespace:string 3:fsType:string 4:readOnly:bool "
            "5:secretRef:LocalObjectReference:p"
        ),
        "TypedLocalObjectReference": "1:apiGroup:string:p 2:kind:string:k 3:name:string:k",
        "TypedObjectReference": (
            "1:apiGroup:string:p 2:kind:string:k 3:name:string:k 4:namespace:string:p"
        ),
        "VolumeHealthCondition": "1:status:string:k 2:reason:string:k 3:message:string",
        "VolumeHealthStatus": (
            "1:healthConditions:VolumeHealthCondition:r 2:lastTransitionTime:meta.v1.Time"
        ),
        "VolumeNodeAffinity": "1:required:NodeSelector:p",
        "VolumeProjection": (
            "1:secret:SecretProjection:p 2:downwardAPI:DownwardAPIProjection:p "
            "3:configMap:ConfigMapProjection:p "
            "4:serviceAccountToken:ServiceAccountTokenProjection:p "
            "5:clusterTrustBundle:ClusterTrustBundleProjection:p "
            "6:podCertificate:PodCertificateProjection:p"
        ),
        "VolumeResourceRequirements": "1:limits:resource.Quantity:m 2:requests:resource.Quantity:m",
        "VolumeSource": (
            "1:hostPath:HostPathVolumeSource:p 2:emptyDir:EmptyDirVolumeSource:p "
            "3:gcePersistentDisk:GCEPersistentDiskVolumeSource:p "
            "4:awsElasticBlockStore:AWSElasticBlockStoreVolumeSource:p "
            "5:gitRepo:GitRepoVolumeSource:p 6:secret:SecretVolumeSource:p "
            "7:nfs:NFSVolumeSource:p 8:iscsi:ISCSIVolumeSource:p "
            "9:glusterfs:GlusterfsVolumeSource:p "
            "10:persistentVolumeClaim:PersistentVolumeClaimVolumeSource:p "
            "11:rbd:RBDVolumeSource:p 12:flexVolume:FlexVolumeSource:p "
            "13:cinder:CinderVolumeSource:p 14:cephfs:CephFSVolumeSource:p "
            "15:flocker:FlockerVolumeSource:p 16:downwardAPI:DownwardAPIVolumeSource:p "
            "17:fc:FCVolumeSource:p 18:azureFile:AzureFileVolumeSource:p "
            "19:configMap:ConfigMapVolumeSource:p "
            "20:vsphereVolume:VsphereVirtualDiskVolumeSource:p 21:quobyte:QuobyteVolumeSource:p "
            "22:azureDisk:AzureDiskVolumeSource:p "
            "23:photonPersistentDisk:PhotonPersistentDiskVolumeSource:p "
            "24:portworxVolume:PortworxVolumeSource:p 25:scaleIO:ScaleIOVolumeSource:p "
            "26:projected:ProjectedVolumeSource:p 27:storageos:StorageOSVolumeSource:p "
            "28:csi:CSIVolumeSource:p 29:ephemeral:EphemeralVolumeSource:p "
            "30:image:ImageVolumeSource:p"
        ),
        "VsphereVirtualDiskVolumeSource": (
            "1:volumePath:string:k 2:fsType:string 3:storagePolicyName:string "
            "4:storagePolicyID:string"
        ),
    },
}

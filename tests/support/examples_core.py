"""Examples of the creatable core (``/api/v1``) kinds; see :mod:`tests.support.examples_base`."""

from __future__ import annotations

from tests.support.examples_base import (
    DEFAULT_HEADER,
    DELETE,
    NGINX_POD_SPEC,
    Example,
    pod_spec_defaults,
)

_BAD_NAME = {"metadata.name": "Bad_Name"}

CORE_EXAMPLES: tuple[Example, ...] = (
    Example(
        "core_configmap", "v1", "ConfigMap", "configmaps", True,
        {"data": {"player_initial_lives": "3",
                  "game.properties": "enemy.types=aliens,monsters\nplayer.maximum-lives=5\n"}},
        {}, ("NAME", "DATA", "AGE"), _BAD_NAME, "metadata.name",
    ),
    Example(
        "core_endpoints", "v1", "Endpoints", "endpoints", True,
        {"subsets": [{"addresses": [{"ip": "192.0.2.42"}], "ports": [{"port": 9376}]}]},
        {"subsets[0].ports[0].protocol": "TCP"},
        ("NAME", "ENDPOINTS", "AGE"),
        {"subsets[0].addresses[0].ip": "not-an-ip"}, "subsets[0].addresses[0].ip",
    ),
    Example(
        "core_event", "v1", "Event", "events", True,
        {"involvedObject": {"kind": "Pod", "name": "nginx", "namespace": "$NS",
                            "apiVersion": "v1"},
         "reason": "Scheduled", "message": "Successfully assigned nginx to node-1",
         "type": "Normal", "source": {"component": "default-scheduler"},
         "firstTimestamp": "2025-01-01T00:00:00Z", "lastTimestamp": "2025-01-01T00:00:00Z",
         "count": 1},
        {}, ("LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"), _BAD_NAME, "metadata.name",
    ),
    Example(
        "core_limitrange", "v1", "LimitRange", "limitranges", True,
        {"spec": {"limits": [{"type": "Container", "max": {"cpu": "1"},
                              "min": {"cpu": "100m"}}]}},
        # SetDefaults_LimitRangeItem: default ← max, then defaultRequest ← default.
        {"spec.limits[0].default.cpu": "1", "spec.limits[0].defaultRequest.cpu": "1"},
        DEFAULT_HEADER, _BAD_NAME, "metadata.name",
    ),
    Example(
        "core_namespace", "v1", "Namespace", "namespaces", False,
        {},
        {"metadata.labels[kubernetes.io/metadata.name]": "$NAME",
         "spec.finalizers": ["kubernetes"], "status.phase": "Active"},
        ("NAME", "STATUS", "AGE"), _BAD_NAME, "metadata.name",
    ),
    Example(
        "core_node", "v1", "Node", "nodes", False,
        {"metadata": {"labels": {"kubernetes.io/hostname": "$NAME"}},
         "spec": {"podCIDR": "10.244.7.0/24"}},
        # Convert_v1_NodeSpec_To_core_NodeSpec fills podCIDRs from podCIDR.
        {"spec.podCIDRs": ["10.244.7.0/24"]},
        ("NAME", "STATUS", "ROLES", "AGE", "VERSION"), _BAD_NAME, "metadata.name",
    ),
    Example(
        "core_persistentvolumeclaim", "v1", "PersistentVolumeClaim", "persistentvolumeclaims",
        True,
        {"spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "manual",
                  "resources": {"requests": {"storage": "3Gi"}}}},
        # No kubernetes.io/pvc-protection finalizer: the harness apiserver runs without the
        # StorageObjectInUseProtection admission plugin, as no controller manager's
        # pvc-protection controller would remove it.
        {"spec.volumeMode": "Filesystem", "status.phase": "Pending"},
        ("NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS MODES", "STORAGECLASS",
         "VOLUMEATTRIBUTESCLASS", "AGE"),
        {"spec.accessModes": DELETE}, "spec.accessModes",
    ),
    Example(
        "core_persistentvolume", "v1", "PersistentVolume", "persistentvolumes", False,
        {"spec": {"storageClassName": "manual", "capacity": {"storage": "10Gi"},
                  "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/mnt/data"}}},
        {"spec.persistentVolumeReclaimPolicy": "Retain", "spec.volumeMode": "Filesystem",
         # No kubernetes.io/pv-protection finalizer: StorageObjectInUseProtection is off
         # without a controller manager (see the claim above).
         "status.phase": "Pending"},
        ("NAME", "CAPACITY", "ACCESS MODES", "RECLAIM POLICY", "STATUS", "CLAIM",
         "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"),
        {"spec.capacity": DELETE}, "spec.capacity",
    ),
    Example(
        "core_pod", "v1", "Pod", "pods", True,
        {"spec": NGINX_POD_SPEC},
        {**pod_spec_defaults("spec"), "spec.enableServiceLinks": True,
         # The Priority and DefaultTolerationSeconds admission plugins.
         "spec.priority": 0, "spec.preemptionPolicy": "PreemptLowerPriority",
         "spec.tolerations": [
             {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
              "effect": "NoExecute", "tolerationSeconds": 300},
             {"key": "node.kubernetes.io/unreachable", "operator": "Exists",
              "effect": "NoExecute", "tolerationSeconds": 300}],
         "status.phase": "Pending", "status.qosClass": "BestEffort"},
        ("NAME", "READY", "STATUS", "RESTARTS", "AGE"),
        {"spec.containers[0].image": ""}, "spec.containers[0].image",
    ),
    Example(
        "core_podtemplate", "v1", "PodTemplate", "podtemplates", True,
        {"template": {"metadata": {"labels": {"app": "nginx"}}, "spec": NGINX_POD_SPEC}},
        pod_spec_defaults("template.spec"),
        ("NAME", "CONTAINERS", "IMAGES", "POD LABELS"),
        {"template.spec.restartPolicy": "Bogus"}, "template.spec.restartPolicy",
    ),
    Example(
        "core_replicationcontroller", "v1", "ReplicationController", "replicationcontrollers",
        True,
        {"spec": {"replicas": 3,
                  "template": {"metadata": {"name": "nginx", "labels": {"app": "nginx"}},
                               "spec": NGINX_POD_SPEC}}},
        # SetDefaults_ReplicationController: selector and labels from the template.
        {"spec.selector": {"app": "nginx"}, "metadata.labels": {"app": "nginx"},
         **pod_spec_defaults("spec.template.spec")},
        ("NAME", "DESIRED", "CURRENT", "READY", "AGE"),
        {"spec.selector": {"app": "other"}}, "spec.template.metadata.labels",
    ),
    Example(
        "core_resourcequota", "v1", "ResourceQuota", "resourcequotas", True,
        {"spec": {"hard": {"pods": "10", "requests.cpu": "1", "limits.memory": "2Gi"}}},
        {}, ("NAME", "REQUEST", "LIMIT", "AGE"),
        {"spec.hard[requests.cpu]": "-1"}, "spec.hard[requests.cpu]",
    ),
    Example(
        "core_secret", "v1", "Secret", "secrets", True,
        {"data": {"username": "YWRtaW4=", "password": "MWYyZDFlMmU2N2Rm"}},
        {"type": "Opaque"}, ("NAME", "TYPE", "DATA", "AGE"),
        {"type": "kubernetes.io/dockerconfigjson"}, "data[.dockerconfigjson]",
    ),
    Example(
        "core_serviceaccount", "v1", "ServiceAccount", "serviceaccounts", True,
        {"automountServiceAccountToken": False},
        {}, ("NAME", "SECRETS", "AGE"), _BAD_NAME, "metadata.name",
    ),
    Example(
        "core_service", "v1", "Service", "services", True,
        {"spec": {"selector": {"app.kubernetes.io/name": "MyApp"},
                  "ports": [{"port": 80, "targetPort": 9376}]}},
        {"spec.type": "ClusterIP", "spec.sessionAffinity": "None",
         "spec.ports[0].protocol": "TCP", "spec.ipFamilyPolicy": "SingleStack",
         "spec.internalTrafficPolicy": "Cluster"},
        ("NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"),
        {"spec.ports[0].port": 0}, "spec.ports[0].port",
    ),
)

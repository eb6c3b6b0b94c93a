"""Where Pod Security finds a pod spec in an object (upstream ``DefaultPodSpecExtractor``).

Pods carry one themselves; the workload resources of :data:`POD_SPEC_RESOURCES` carry a
pod template, which Pod Security warns and audits about but never enforces on (the pods
made from it are checked when they are created). Resources are matched by group and
plural, whatever the version.
"""

from __future__ import annotations

from typing import Any

from apiserver.admission.podsecurity.result import Obj

#: (group, plural) → the path to the object's pod template.
_TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "podtemplates"): ("template",),
    ("", "replicationcontrollers"): ("spec", "template"),
    ("apps", "replicasets"): ("spec", "template"),
    ("apps", "deployments"): ("spec", "template"),
    ("apps", "statefulsets"): ("spec", "template"),
    ("apps", "daemonsets"): ("spec", "template"),
    ("batch", "jobs"): ("spec", "template"),
    ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template"),
}

#: The resources with a pod template.
POD_SPEC_RESOURCES = frozenset(_TEMPLATES)

#: Templates upstream holds by pointer: when absent there is nothing to check. The others
#: are structs in Go, so an absent one is checked as an empty pod.
_OPTIONAL = frozenset({("", "podtemplates"), ("", "replicationcontrollers")})


def _object(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def pod_template(group: str, plural: str, obj: Obj) -> tuple[Obj, Obj] | None:
    """The (metadata, spec) of ``obj``'s pod template, None when it has none to check."""
    node: Any = obj
    for key in _TEMPLATES[(group, plural)]:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        if (group, plural) in _OPTIONAL:
            return None
        node = {}
    return _object(node.get("metadata")), _object(node.get("spec"))

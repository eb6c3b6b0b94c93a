"""Priority (``plugin/pkg/admission/priority``): a pod's priority from its PriorityClass.

On pod create the plugin resolves ``spec.priorityClassName`` and writes the class's
``value`` to ``spec.priority`` and its ``preemptionPolicy`` (if set) to
``spec.preemptionPolicy``:

* a name that names no PriorityClass is refused: ``no PriorityClass with name X was found``;
* without a name, the global default class applies (the lowest-valued one, should several
  claim it) and its name is written to the pod; with none, the priority is 0 with the
  ``PreemptLowerPriority`` policy and the name stays empty;
* a pod that states a ``priority`` or ``preemptionPolicy`` other than the class's is
  refused with upstream's messages.

On pod update the priority and preemption policy the pod was created with are kept when
the new object omits them (validation refuses any other change). On PriorityClass create
and update, a second ``globalDefault`` class is refused. Subresources are not looked at.
"""

from __future__ import annotations

from typing import Any

from apiserver.admission.attributes import AdmissionAttributes, ObjectSource, Operation, forbidden
from apiserver.api.resources import lookup

__all__ = ["PriorityAdmission"]

NAME = "Priority"
#: Upstream's ``scheduling.DefaultPriorityWhenNoDefaultClassExists``.
NO_DEFAULT_PRIORITY = 0
_GROUP, _VERSION, _PLURAL = "scheduling.k8s.io", "v1", "priorityclasses"


class PriorityAdmission:
    """Resolves pods' priority classes (mutating); one global default class at most
    (validating)."""

    name = NAME

    def __init__(self, source: ObjectSource) -> None:
        self._source = source
        #: (generation of the PriorityClass cache, the global default class or None):
        #: every pod create without a class asks, and the classes seldom change.
        self._default: tuple[int, dict[str, Any] | None] = (-2, None)

    def handles(self, operation: Operation) -> bool:
        return operation in (Operation.CREATE, Operation.UPDATE)

    def _classes(self) -> list[dict[str, Any]]:
        info = lookup(_GROUP, _VERSION, _PLURAL)
        return list(self._source.cached_list(info, "")) if info is not None else []

    def _global_default(self) -> dict[str, Any] | None:
        """The global default class: the lowest-valued one, should several claim it."""
        info = lookup(_GROUP, _VERSION, _PLURAL)
        generation = self._source.generation(info) if info is not None else -1
        if self._default[0] != generation:
            defaults = [c for c in self._classes() if c.get("globalDefault") is True]
            self._default = (generation, min(defaults, key=lambda c: int(c.get("value") or 0),
                                             default=None))
        return self._default[1]

    async def admit(self, attrs: AdmissionAttributes) -> None:
        if attrs.is_core("pods") and isinstance(attrs.object, dict):
            spec = attrs.object.get("spec")
            if isinstance(spec, dict):
                self._admit_pod(attrs, spec)

    async def validate(self, attrs: AdmissionAttributes) -> None:
        info = attrs.info
        if (info.group, info.plural) == (_GROUP, _PLURAL) and not attrs.subresource \
                and isinstance(attrs.object, dict):
            self._admit_class(attrs, attrs.object)

    def _admit_pod(self, attrs: AdmissionAttributes, spec: dict[str, Any]) -> None:
        if attrs.operation is Operation.UPDATE:
            old = (attrs.old_object or {}).get("spec") or {}
            for field in ("priority", "preemptionPolicy"):
                if spec.get(field) is None and old.get(field) is not None:
                    spec[field] = old[field]
            return
        name = str(spec.get("priorityClassName") or "")
        if name:
            info = lookup(_GROUP, _VERSION, _PLURAL)
            found = self._source.cached(info, "", name) if info is not None else None
            if found is None:
                raise forbidden(attrs, f"no PriorityClass with name {name} was found")
            priority, policy = int(found.get("value") or 0), found.get("preemptionPolicy")
        else:
            chosen = self._global_default()
            if chosen is None:
                priority, policy = NO_DEFAULT_PRIORITY, "PreemptLowerPriority"
            else:
                priority, policy = int(chosen.get("value") or 0), chosen.get("preemptionPolicy")
                spec["priorityClassName"] = (chosen.get("metadata") or {}).get("name", "")
        stated = spec.get("priority")
        if stated is not None and stated != priority:
            raise forbidden(attrs, f"the integer value of priority ({stated}) must not be "
                                   f"provided in pod spec; priority admission controller "
                                   f"computed {priority} from the given PriorityClass name")
        spec["priority"] = priority
        if policy is not None:
            stated_policy = spec.get("preemptionPolicy")
            if stated_policy is not None and stated_policy != policy:
                raise forbidden(attrs, f"the string value of PreemptionPolicy ({stated_policy}) "
                                       "must not be provided in pod spec; priority admission "
                                       f"controller computed {policy} from the given "
                                       "PriorityClass name")
            spec["preemptionPolicy"] = policy

    def _admit_class(self, attrs: AdmissionAttributes, obj: dict[str, Any]) -> None:
        if obj.get("globalDefault") is not True:
            return
        own = (obj.get("metadata") or {}).get("name")
        for other in self._classes():
            other_name = (other.get("metadata") or {}).get("name")
            if other.get("globalDefault") is True and other_name != own:
                raise forbidden(attrs, f"PriorityClass {other_name} is marked as default. "
                                       "Only one default can exist")

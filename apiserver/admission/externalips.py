"""DenyServiceExternalIPs (``plugin/pkg/admission/network/denyserviceexternalips``).

Off by default, as upstream. When on, a Service may not gain ``spec.externalIPs``: a create
with any, or an update adding one the old Service did not have, is refused with upstream's
message; keeping or removing existing ones is allowed. Validating, services only.
"""

from __future__ import annotations

from apiserver.admission.attributes import AdmissionAttributes, Operation, forbidden


def _external_ips(obj: object) -> list[object]:
    spec = obj.get("spec") if isinstance(obj, dict) else None
    ips = spec.get("externalIPs") if isinstance(spec, dict) else None
    return ips if isinstance(ips, list) else []


class DenyServiceExternalIPs:
    """Refuses new Service external IPs."""

    name = "DenyServiceExternalIPs"
    core_resources = frozenset({"services"})

    def handles(self, operation: Operation) -> bool:
        return operation in (Operation.CREATE, Operation.UPDATE)

    async def validate(self, attrs: AdmissionAttributes) -> None:
        if not attrs.is_core("services") or attrs.object is None:
            return
        new = _external_ips(attrs.object)
        if not new:
            return
        old = set(map(str, _external_ips(attrs.old_object))) if attrs.old_object else None
        if old is not None and all(str(ip) in old for ip in new):
            return
        raise forbidden(attrs, "use of external IPs is denied by admission control")

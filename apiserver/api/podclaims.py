"""The PersistentVolumeClaims a pod uses: its ``persistentVolumeClaim`` volumes and the
claim each generic ``ephemeral`` volume gets (``<pod>-<volume>``, upstream's
``ephemeral.VolumeClaimName``). The scheduler, the node agents and the volume controllers
read them the same way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["pod_claims"]


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def pod_claims(pod: Mapping[str, Any]) -> list[tuple[str, str, bool]]:
    """(volume name, claim name, ephemeral) of each claim ``pod`` uses, in spec order."""
    pod_name = _m(pod.get("metadata")).get("name")
    out = []
    for volume in _m(pod.get("spec")).get("volumes") or []:
        volume = _m(volume)
        name = str(volume.get("name") or "")
        if "persistentVolumeClaim" in volume:
            claim = str(_m(volume["persistentVolumeClaim"]).get("claimName") or "")
            out.append((name, claim, False))
        elif "ephemeral" in volume:
            out.append((name, f"{pod_name}-{name}", True))
    return out

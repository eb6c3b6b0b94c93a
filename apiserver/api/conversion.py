"""Conversion between the served versions of one built-in kind.

Two built-in kinds of Kubernetes 1.33 are served in two versions over one storage:

* ``Event``: core ``v1`` (stored) and ``events.k8s.io/v1``, which renames fields
  (``message`` is ``note``, ``involvedObject`` is ``regarding``, ``source`` is
  ``deprecatedSource`` …; :data:`EVENT_FIELDS`);
* ``HorizontalPodAutoscaler``: ``autoscaling/v2`` (stored) and ``autoscaling/v1``, which
  has only a CPU utilization target; what v1 cannot say travels in annotations, as
  upstream's conversion keeps it (:mod:`apiserver.api.hpaconversion`), so a round trip
  through v1 loses nothing.

:func:`convert` returns a new object in the desired ``apiVersion``; the input is not
changed. An object already in that version is returned as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from apiserver.api import hpaconversion

__all__ = ["CONVERTIBLE", "EVENT_FIELDS", "convert"]

#: ``events.k8s.io/v1`` field → core ``v1`` field (upstream: one internal type).
EVENT_FIELDS: tuple[tuple[str, str], ...] = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
)

#: ``(kind, apiVersion)`` pairs :func:`convert` converts between, by kind.
CONVERTIBLE: dict[str, tuple[str, str]] = {
    "Event": ("v1", "events.k8s.io/v1"),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "autoscaling/v1"),
}


def convert(obj: Mapping[str, Any], api_version: str) -> dict[str, Any]:
    """``obj`` in ``api_version``. Raises ValueError for a pair it cannot convert."""
    kind = str(obj.get("kind") or "")
    have = str(obj.get("apiVersion") or "")
    out = copy.deepcopy(dict(obj))
    if have == api_version:
        return out
    pair = CONVERTIBLE.get(kind)
    if pair is None or {have, api_version} != set(pair):
        raise ValueError(f"cannot convert {have}, Kind={kind} to {api_version}")
    if kind == "Event":
        to_core = api_version == "v1"
        for new, old in ([(c, e) for e, c in EVENT_FIELDS] if to_core else EVENT_FIELDS):
            if old in out:
                out[new] = out.pop(old)
    elif api_version == "autoscaling/v1":
        hpaconversion.to_v1(out)
    else:
        hpaconversion.to_v2(out)
    out["apiVersion"] = api_version
    return out

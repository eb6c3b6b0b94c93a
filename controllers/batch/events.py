"""Best-effort core/v1 Events for the batch controllers (client-go's legacy recorder shape).

:class:`Recorder` writes one Event per call (``count`` 1, no aggregation) about an object,
with ``source.component`` and ``reportingComponent`` set to the controller's component name
(``job-controller``, ``cronjob-controller``). A failed write is logged and dropped: events
never fail a sync.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Mapping
from typing import Any

from apiserver.api.resources import EVENTS
from controllers.batch.jobutil import Clock, rfc3339
from controllers.runtime.writer import Writer

__all__ = ["Recorder"]

log = logging.getLogger("controllers.batch")


class Recorder:
    """Writes Events about objects as ``component``."""

    def __init__(self, writer: Writer, component: str, clock: Clock) -> None:
        self.writer = writer
        self.component = component
        self.clock = clock
        self.host = socket.gethostname()

    async def event(self, obj: Mapping[str, Any], type_: str, reason: str,
                    message: str) -> None:
        """Record ``reason``/``message`` (``type_`` Normal or Warning) about ``obj``."""
        md = obj.get("metadata") or {}
        namespace = str(md.get("namespace") or "default")
        now = rfc3339(self.clock())
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{md.get('name')}.{time.time_ns():x}",
                         "namespace": namespace},
            "involvedObject": {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"),
                               "namespace": namespace, "name": md.get("name"),
                               "uid": md.get("uid"),
                               "resourceVersion": md.get("resourceVersion")},
            "reason": reason, "message": message, "type": type_,
            "source": {"component": self.component},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.component, "reportingInstance": self.host,
        }
        try:
            await self.writer.create(EVENTS, namespace, body)
        except Exception as exc:
            log.debug("could not record event %s: %s", reason, exc)

"""Prometheus text of a controller process: work queues (upstream's names) and syncs.

The work-queue series carry client-go's names and ``name`` label (``workqueue_depth``,
``workqueue_adds_total``, ``workqueue_retries_total``, ``workqueue_work_duration_seconds``);
the sync counters are kubemu's own (``controller_sync_errors_total``,
``controller_writes_total``); ``leader_election_master_status`` is client-go's.
"""

from __future__ import annotations

from collections.abc import Mapping

from controllers.runtime.controller import KeyedController

__all__ = ["metrics_text"]


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def metrics_text(
    controllers: Mapping[str, KeyedController], leader: tuple[str, bool] | None = None
) -> str:
    """The ``/metrics`` body; ``leader`` is (lease name, leading) under leader election."""
    lines: list[str] = []
    _family(lines, "workqueue_depth", "gauge", "Current depth of workqueue")
    for name, c in controllers.items():
        lines.append(f'workqueue_depth{{name="{name}"}} {len(c.queue)}')
    _family(lines, "workqueue_adds_total", "counter", "Total number of adds handled by "
            "workqueue")
    for name, c in controllers.items():
        lines.append(f'workqueue_adds_total{{name="{name}"}} {c.queue.adds}')
    _family(lines, "workqueue_retries_total", "counter", "Total number of retries handled by "
            "workqueue")
    for name, c in controllers.items():
        lines.append(f'workqueue_retries_total{{name="{name}"}} {c.queue.retries}')
    _family(lines, "workqueue_work_duration_seconds", "summary", "How long in seconds "
            "processing an item from workqueue takes.")
    for name, c in controllers.items():
        lines.append(f'workqueue_work_duration_seconds_sum{{name="{name}"}} {c.metrics.seconds}')
        lines.append(f'workqueue_work_duration_seconds_count{{name="{name}"}} {c.metrics.syncs}')
    _family(lines, "controller_sync_errors_total", "counter", "Syncs that failed.")
    for name, c in controllers.items():
        lines.append(f'controller_sync_errors_total{{name="{name}"}} {c.metrics.errors}')
    _family(lines, "controller_writes_total", "counter", "Objects written.")
    for name, c in controllers.items():
        lines.append(f'controller_writes_total{{name="{name}"}} {c.metrics.writes}')
    for c in controllers.values():
        extra = c.extra_metrics()
        if extra:
            lines.append(extra.rstrip("\n"))
    if leader is not None:
        lease, leading = leader
        _family(lines, "leader_election_master_status", "gauge", "Gauge of if the reporting "
                "system is master of the relevant lease, 0 indicates backup, 1 indicates "
                "master. 'name' is the string used to identify the lease.")
        lines.append(f'leader_election_master_status{{name="{lease}"}} {1 if leading else 0}')
    return "\n".join(lines) + "\n"

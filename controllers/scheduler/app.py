"""``python -m controllers.scheduler``: a kube-scheduler for kubemu.

Watches Pods and Nodes; every pod without ``spec.nodeName`` whose
``schedulerName`` is ours is bound through ``POST pods/{name}/binding`` to the
feasible node with the fewest pods (see :mod:`controllers.scheduler.core`).
When nothing fits, the pod gets ``PodScheduled=False`` (reason ``Unschedulable``)
through ``/status`` and a ``FailedScheduling`` Warning Event; unschedulable pods
are retried whenever a Node changes, and every ``--retry-interval`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from apiserver.api.resources import EVENTS, NODES, PODS
from controllers.client.config import ConfigError, config_from_flags
from controllers.client.errors import ApiError
from controllers.client.informer import SharedInformerFactory
from controllers.client.process import configure_logging, run_until_signalled
from controllers.client.rest import STRATEGIC_MERGE_PATCH, RestClient, resource_path
from controllers.client.store import DeletedFinalStateUnknown, Obj, meta_namespace_key, split_key
from controllers.client.workqueue import RateLimitingQueue
from controllers.scheduler.core import DEFAULT_SCHEDULER, needs_scheduling, pods_per_node, schedule

__all__ = ["Scheduler", "build_parser", "main"]

log = logging.getLogger("controllers.scheduler")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class Scheduler:
    """Binds pods; one work queue of pod keys."""

    def __init__(self, client: RestClient, factory: SharedInformerFactory,
                 scheduler_name: str = DEFAULT_SCHEDULER, retry_interval: float = 30.0) -> None:
        self.client = client
        self.name = scheduler_name
        self.retry_interval = retry_interval
        self.pods = factory.informer_for(PODS)
        self.nodes = factory.informer_for(NODES)
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(name="scheduler")
        #: Pods bound by us that the informer has not shown bound yet: key → node.
        self.assumed: dict[str, str] = {}
        #: Last FailedScheduling Event per pod: (message, monotonic time).
        self._reported: dict[str, tuple[str, float]] = {}
        self.host = socket.gethostname()
        self.pods.add_event_handler(self._on_pod, lambda _o, n: self._on_pod(n),
                                    self._on_pod_delete)
        self.nodes.add_event_handler(self._on_node, lambda _o, _n: self._requeue_all(),
                                     lambda _n: self._requeue_all())

    # -- events ------------------------------------------------------------------------

    def _on_pod(self, pod: Obj) -> None:
        key = meta_namespace_key(pod)
        if needs_scheduling(pod, self.name):
            self.queue.add(key)
        else:
            self.assumed.pop(key, None)

    def _on_pod_delete(self, pod: Obj | DeletedFinalStateUnknown) -> None:
        key = meta_namespace_key(pod)
        self.assumed.pop(key, None)
        self._reported.pop(key, None)

    def _on_node(self, _node: Obj) -> None:
        self._requeue_all()

    def _requeue_all(self) -> None:
        for pod in self.pods.store.list():
            if needs_scheduling(pod, self.name):
                self.queue.add(meta_namespace_key(pod))

    # -- work --------------------------------------------------------------------------

    async def run(self, workers: int = 1) -> None:
        """Process the queue until cancelled."""
        tasks = [asyncio.create_task(self._worker()) for _ in range(workers)]
        tasks.append(asyncio.create_task(self._periodic()))
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for task in tasks:
                task.cancel()

    async def _periodic(self) -> None:
        while True:
            await asyncio.sleep(self.retry_interval)
            self._requeue_all()

    async def _worker(self) -> None:
        # One binding at a time keeps the spreading counts exact.
        while True:
            key = await self.queue.get()
            try:
                await self.sync(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("scheduling %s failed: %s", key, exc)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    def _counts(self) -> dict[str, int]:
        pods = self.pods.store.list()
        counts = pods_per_node(pods)
        bound = {meta_namespace_key(p) for p in pods if _m(p.get("spec")).get("nodeName")}
        for key, node in list(self.assumed.items()):
            if key in bound:
                del self.assumed[key]
            else:
                counts[node] += 1
        return dict(counts)

    async def sync(self, key: str) -> None:
        """Schedule one pod (if it still needs it)."""
        pod = self.pods.store.get_by_key(key)
        if pod is None or not needs_scheduling(pod, self.name) or key in self.assumed:
            return
        decision = schedule(pod, self.nodes.store.list(), self._counts())
        namespace, name = split_key(key)
        if decision.node is None:
            await self._unschedulable(pod, namespace, name, decision.message)
            return
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": name, "namespace": namespace,
                                "uid": _m(pod.get("metadata")).get("uid")},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": decision.node}}
        try:
            await self.client.request(
                "POST", resource_path(PODS, namespace, name, "binding"), body=binding)
        except ApiError as exc:
            if exc.code in (404, 409):
                log.info("not binding %s: %s", key, exc)
                return
            raise
        self.assumed[key] = decision.node
        self._reported.pop(key, None)
        log.info("bound %s to %s", key, decision.node)
        await self._event(pod, "Normal", "Scheduled",
                          f"Successfully assigned {namespace}/{name} to {decision.node}")

    async def _unschedulable(self, pod: Obj, namespace: str, name: str, message: str) -> None:
        key = f"{namespace}/{name}"
        current = next((c for c in _m(pod.get("status")).get("conditions") or []
                        if _m(c).get("type") == "PodScheduled"), None)
        if not (current and current.get("status") == "False"
                and current.get("message") == message):
            condition = {"type": "PodScheduled", "status": "False", "lastProbeTime": None,
                         "lastTransitionTime": _now(), "reason": "Unschedulable",
                         "message": message}
            if current and current.get("status") == "False":
                condition["lastTransitionTime"] = current.get("lastTransitionTime")
            with contextlib.suppress(ApiError):
                await self.client.patch(PODS, namespace, name,
                                        {"status": {"conditions": [condition]}},
                                        content_type=STRATEGIC_MERGE_PATCH, subresource="status")
        last = self._reported.get(key)
        if last is None or last[0] != message or time.monotonic() - last[1] >= 60.0:
            self._reported[key] = (message, time.monotonic())
            log.info("cannot schedule %s: %s", key, message)
            await self._event(pod, "Warning", "FailedScheduling", message)

    async def _event(self, pod: Obj, type_: str, reason: str, message: str) -> None:
        md = _m(pod.get("metadata"))
        now = _now()
        namespace = str(md.get("namespace") or "default")
        body = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{md.get('name')}.{time.time_ns():x}", "namespace": namespace},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": namespace,
                               "name": md.get("name"), "uid": md.get("uid"),
                               "resourceVersion": md.get("resourceVersion")},
            "reason": reason, "message": message, "type": type_,
            "source": {"component": self.name},
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            "reportingComponent": self.name, "reportingInstance": f"{self.name}-{self.host}",
            "action": "Binding" if reason == "Scheduled" else "Scheduling",
        }
        try:
            await self.client.create(EVENTS, namespace, body)
        except Exception as exc:  # best effort, as upstream's recorder
            log.debug("could not record event %s: %s", reason, exc)


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m controllers.scheduler",
        description="kubemu scheduler: bind pods without spec.nodeName to a Ready, schedulable "
        "node matching their nodeSelector, spreading them by fewest pods per node.",
    )
    parser.add_argument("--kubeconfig", help="kubeconfig file (default: $KUBECONFIG)")
    parser.add_argument("--server", help="apiserver URL; overrides the kubeconfig's server")
    parser.add_argument("--token", help="bearer token for the apiserver")
    parser.add_argument("--insecure-skip-tls-verify", action="store_true",
                        help="do not verify the apiserver's certificate")
    parser.add_argument("--scheduler-name", default=DEFAULT_SCHEDULER,
                        help=f"schedule pods whose spec.schedulerName is this "
                        f"(default {DEFAULT_SCHEDULER})")
    parser.add_argument("--retry-interval", type=float, default=30.0,
                        help="seconds between retries of unschedulable pods when no Node "
                        "changes (default 30)")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0,
                        help="log verbosity (0-5)")
    return parser


async def run(args: argparse.Namespace) -> int:
    """Run until cancelled."""
    config = config_from_flags(args.kubeconfig, args.server, token=args.token,
                               insecure_skip_tls_verify=args.insecure_skip_tls_verify)
    client = RestClient(config)
    factory = SharedInformerFactory(client)
    scheduler = Scheduler(client, factory, args.scheduler_name, args.retry_interval)
    factory.start()
    try:
        while not await factory.wait_for_cache_sync(timeout=10.0):
            log.info("waiting for the Pod and Node caches to sync")
        log.info("caches synced; scheduling pods of %s", args.scheduler_name)
        await scheduler.run()
    finally:
        await factory.stop()
        await client.aclose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    configure_logging(args.verbosity)
    try:
        config_from_flags(args.kubeconfig, args.server)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    return run_until_signalled(lambda: run(args))

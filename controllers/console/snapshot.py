"""The console's model: one JSON-able snapshot of the cluster built from informer caches.

:func:`build_snapshot` is pure: given the objects of the Namespace, Service,
EndpointSlice, Pod and Node caches and the connection counts of the userspace
kube-proxies, it returns the document the page renders::

    {"nodes": [{name, ready, addresses, podCIDR, unschedulable}],
     "namespaces": [{name, phase,
                     "services": [{name, type, clusterIP, ports, externalName,
                                   loadBalancer, sessionAffinity, selector, ready, total,
                                   "endpoints": [{address, ports, ready, serving,
                                                  terminating, pod, node, slice,
                                                  connections: {"IP:PORT": {active, total}}}]}],
                     "pods": [{name, phase, ready, terminating, node, ip, containers,
                               readyContainers, restarts, services}]}]}

Everything is sorted (namespaces, Services, pods by name; endpoints by address), so equal
clusters give equal snapshots and the server can skip pushing an unchanged one.
A namespace's part depends on that namespace's objects alone (:func:`namespace_doc`), so
:class:`CacheView` builds one namespace from the informers' namespace indexes and the hub
rebuilds only the namespaces that changed.
An endpoint is *ready* as EndpointSlice ``conditions.ready`` says (unset means ready, as
upstream documents); it is *terminating* when ``conditions.terminating`` is true.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from controllers.client.store import NAMESPACE_INDEX, Store, split_key

__all__ = ["CacheView", "ConnectionCounts", "build_snapshot", "endpoint_state",
           "namespace_doc", "node_docs", "pod_summary", "service_summary"]

Obj = Mapping[str, Any]

#: (namespace, service, "IP:PORT") -> (active, total) connections, from kube-proxy metrics.
ConnectionCounts = Mapping[tuple[str, str, str], tuple[float, float]]


def _meta(obj: Obj) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = obj.get("metadata") or {}
    return meta


def _condition(obj: Obj, kind: str) -> str | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return str(cond.get("status"))
    return None


def pod_summary(pod: Obj) -> dict[str, Any]:
    """What a pod box shows: phase, readiness, node, IP, container readiness."""
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    containers = (pod.get("spec") or {}).get("containers") or []
    return {
        "name": _meta(pod).get("name", ""),
        "phase": status.get("phase") or "Pending",
        "ready": _condition(pod, "Ready") == "True",
        "terminating": bool(_meta(pod).get("deletionTimestamp")),
        "node": (pod.get("spec") or {}).get("nodeName") or "",
        "ip": status.get("podIP") or "",
        "containers": len(containers),
        "readyContainers": sum(1 for s in statuses if s.get("ready")),
        "restarts": sum(int(s.get("restartCount") or 0) for s in statuses),
        "services": [],
    }


def service_summary(svc: Obj) -> dict[str, Any]:
    """What a Service box shows: type, ClusterIP, ports with NodePorts, and the rest."""
    spec = svc.get("spec") or {}
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return {
        "name": _meta(svc).get("name", ""),
        "type": spec.get("type") or "ClusterIP",
        "clusterIP": spec.get("clusterIP") or "",
        "externalName": spec.get("externalName") or "",
        "sessionAffinity": spec.get("sessionAffinity") or "None",
        "selector": dict(spec.get("selector") or {}),
        "loadBalancer": [i.get("ip") or i.get("hostname") or "" for i in ingress],
        "ports": [{"name": p.get("name") or "", "port": p.get("port"),
                   "targetPort": p.get("targetPort", p.get("port")),
                   "protocol": p.get("protocol") or "TCP",
                   "nodePort": p.get("nodePort")} for p in spec.get("ports") or []],
        "endpoints": [],
        "ready": 0,
        "total": 0,
    }


def endpoint_state(endpoint: Obj) -> tuple[bool, bool, bool]:
    """``(ready, serving, terminating)`` of one EndpointSlice endpoint (unset ready and
    serving mean true, unset terminating false, as the EndpointSlice API documents)."""
    cond = endpoint.get("conditions") or {}
    ready = cond.get("ready") is not False
    serving = cond.get("serving", ready) is not False
    return ready, serving, cond.get("terminating") is True


def _endpoints(namespace: str, service: str, slices: Iterable[Obj],
               counts: ConnectionCounts) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for slc in slices:
        ports = [{"name": p.get("name") or "", "port": p.get("port"),
                  "protocol": p.get("protocol") or "TCP"} for p in slc.get("ports") or []]
        for ep in slc.get("endpoints") or []:
            ready, serving, terminating = endpoint_state(ep)
            ref = ep.get("targetRef") or {}
            for address in ep.get("addresses") or []:
                conns = {}
                for port in ports:
                    key = f"{address}:{port['port']}"
                    if (namespace, service, key) in counts:
                        active, total = counts[(namespace, service, key)]
                        conns[key] = {"active": int(active), "total": int(total)}
                out.append({
                    "address": address, "ports": ports, "ready": ready, "serving": serving,
                    "terminating": terminating,
                    "pod": ref.get("name", "") if ref.get("kind", "Pod") == "Pod" else "",
                    "node": ep.get("nodeName") or "", "slice": _meta(slc).get("name", ""),
                    "connections": conns,
                })
    out.sort(key=lambda e: (e["address"], e["slice"]))
    return out


def _node_summary(node: Obj) -> dict[str, Any]:
    status = node.get("status") or {}
    return {
        "name": _meta(node).get("name", ""),
        "ready": _condition(node, "Ready") == "True",
        "addresses": [a.get("address", "") for a in status.get("addresses") or []
                      if a.get("type") == "InternalIP"],
        "podCIDR": (node.get("spec") or {}).get("podCIDR") or "",
        "unschedulable": bool((node.get("spec") or {}).get("unschedulable")),
    }


def namespace_doc(name: str, phase: str, services: Iterable[Obj], slices: Iterable[Obj],
                  pods: Iterable[Obj], counts: ConnectionCounts | None = None) -> dict[str, Any]:
    """One namespace's part of the document from that namespace's objects (a Service's
    endpoints, and a pod's Services, only ever involve objects of its own namespace)."""
    counts = counts or {}
    slices_of: dict[str, list[Obj]] = defaultdict(list)
    for slc in slices:
        owner = (_meta(slc).get("labels") or {}).get("kubernetes.io/service-name")
        if owner:
            slices_of[owner].append(slc)
    pods_by_name = {}
    for pod in pods:
        summary = pod_summary(pod)
        pods_by_name[summary["name"]] = summary
    docs = []
    for svc in services:
        summary = service_summary(svc)
        summary["endpoints"] = _endpoints(name, summary["name"],
                                          slices_of.get(summary["name"], []), counts)
        summary["ready"] = sum(1 for e in summary["endpoints"] if e["ready"])
        summary["total"] = len(summary["endpoints"])
        for ep in summary["endpoints"]:
            pod_doc = pods_by_name.get(ep["pod"])
            if pod_doc is not None and summary["name"] not in pod_doc["services"]:
                pod_doc["services"].append(summary["name"])
        docs.append(summary)
    return {"name": name, "phase": phase,
            "services": sorted(docs, key=lambda s: str(s["name"])),
            "pods": [pods_by_name[pod] for pod in sorted(pods_by_name)]}


def node_docs(nodes: Iterable[Obj]) -> list[dict[str, Any]]:
    """The nodes' part of the document, by name."""
    return sorted((_node_summary(n) for n in nodes), key=lambda n: str(n["name"]))


def _phase(namespace: Obj | None) -> str:
    return str(((namespace or {}).get("status") or {}).get("phase") or "Active")


def build_snapshot(namespaces: Iterable[Obj], services: Iterable[Obj],
                   slices: Iterable[Obj], pods: Iterable[Obj], nodes: Iterable[Obj],
                   counts: ConnectionCounts | None = None) -> dict[str, Any]:
    """The whole page's document (see the module docstring)."""
    grouped: dict[str, tuple[list[Obj], list[Obj], list[Obj]]] = defaultdict(
        lambda: ([], [], []))
    for i, objs in enumerate((services, slices, pods)):
        for obj in objs:
            grouped[_meta(obj).get("namespace", "")][i].append(obj)
    phases = {_meta(n).get("name", ""): _phase(n) for n in namespaces}
    return {"nodes": node_docs(nodes),
            "namespaces": [namespace_doc(ns, phases.get(ns, "Active"), *grouped[ns],
                                         counts=counts)
                           for ns in sorted(set(phases) | set(grouped))]}


class CacheView:
    """The document's parts read from informer caches (:class:`~controllers.client.store.Store`
    with the namespace index every informer keeps), for :class:`~.hub.Hub`: a namespace
    exists while there is a Namespace object or anything of the page's in it."""

    def __init__(self, namespaces: Store, services: Store, slices: Store, pods: Store,
                 nodes: Store, counts: Callable[[], ConnectionCounts]) -> None:
        self.namespaces = namespaces
        self.services = services
        self.slices = slices
        self.pods = pods
        self.nodes_store = nodes
        self.counts = counts

    def namespace_names(self) -> set[str]:
        """Every namespace the page shows now."""
        names = {split_key(key)[1] for key in self.namespaces.list_keys()}
        for store in (self.services, self.pods):
            names.update(ns for ns in store.list_index_values(NAMESPACE_INDEX)
                         if store.index_size(NAMESPACE_INDEX, ns))
        return names

    def namespace(self, name: str) -> dict[str, Any] | None:
        """``name``'s part of the document; None when the page no longer shows it."""
        obj = self.namespaces.get(None, name)
        services = self.services.in_namespace(name)
        pods = self.pods.in_namespace(name)
        if obj is None and not services and not pods:
            return None
        return namespace_doc(name, _phase(obj), services, self.slices.in_namespace(name),
                             pods, self.counts())

    def nodes(self) -> list[dict[str, Any]]:
        """The nodes' part."""
        return node_docs(self.nodes_store.list())

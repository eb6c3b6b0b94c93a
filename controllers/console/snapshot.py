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
An endpoint is *ready* as EndpointSlice ``conditions.ready`` says (unset means ready, as
upstream documents); it is *terminating* when ``conditions.terminating`` is true.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ConnectionCounts", "build_snapshot", "endpoint_state", "pod_summary",
           "service_summary"]

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


def build_snapshot(namespaces: Iterable[Obj], services: Iterable[Obj],
                   slices: Iterable[Obj], pods: Iterable[Obj], nodes: Iterable[Obj],
                   counts: ConnectionCounts | None = None) -> dict[str, Any]:
    """The whole page's document (see the module docstring)."""
    counts = counts or {}
    slices_of: dict[tuple[str, str], list[Obj]] = defaultdict(list)
    for slc in slices:
        owner = (_meta(slc).get("labels") or {}).get("kubernetes.io/service-name")
        if owner:
            slices_of[(_meta(slc).get("namespace", ""), owner)].append(slc)
    pods_in: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for pod in pods:
        summary = pod_summary(pod)
        pods_in[_meta(pod).get("namespace", "")][summary["name"]] = summary
    services_in: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for svc in services:
        ns = _meta(svc).get("namespace", "")
        summary = service_summary(svc)
        summary["endpoints"] = _endpoints(ns, summary["name"],
                                          slices_of.get((ns, summary["name"]), []), counts)
        summary["ready"] = sum(1 for e in summary["endpoints"] if e["ready"])
        summary["total"] = len(summary["endpoints"])
        for ep in summary["endpoints"]:
            pod_doc = pods_in[ns].get(ep["pod"])
            if pod_doc is not None and summary["name"] not in pod_doc["services"]:
                pod_doc["services"].append(summary["name"])
        services_in[ns].append(summary)
    phases = {_meta(n).get("name", ""): (n.get("status") or {}).get("phase") or "Active"
              for n in namespaces}
    out = []
    for ns in sorted(set(phases) | set(services_in) | set(pods_in)):
        out.append({
            "name": ns, "phase": phases.get(ns, "Active"),
            "services": sorted(services_in.get(ns, []), key=lambda s: str(s["name"])),
            "pods": [pods_in[ns][name] for name in sorted(pods_in.get(ns, {}))],
        })
    return {"nodes": sorted((_node_summary(n) for n in nodes), key=lambda n: str(n["name"])),
            "namespaces": out}

"""The report's pass/fail targets: each scenario's number against the issue's floor."""

from __future__ import annotations

from typing import Any

from bench import metrics, nftables, report
from bench.baseline import MODE_LABELS

#: The issue's targets: kubemu's throughput as a share of the bare endpoint's (a custom
#: resource's create as a share of a ConfigMap's), latencies and sync times.
GET_TARGET = 0.50
CREATE_TARGET = 0.25
CRD_CREATE_TARGET = 0.5
WATCH_P99_TARGET_MS = 250.0
ENDPOINTS_P99_TARGET_MS = 100.0
PROXY_P99_TARGET_MS = 100.0
IPTABLES_FULL_TARGET_S = 3.0
IPTABLES_PARTIAL_TARGET_MS = 200.0
NFTABLES_FULL_TARGET_S = 3.0
NFTABLES_PARTIAL_TARGET_MS = 100.0


def targets(results: dict[str, Any], target_mode: str) -> list[dict[str, Any]]:
    """Every target the results of this run can be checked against."""
    out: list[dict[str, Any]] = []
    label = MODE_LABELS[target_mode]
    for scenario, share in (("get", GET_TARGET), ("create", CREATE_TARGET)):
        runs = results["http"].get(scenario, {})
        if "kubemu" not in runs or target_mode not in runs:
            continue
        ratio = runs["kubemu"]["rps"] / runs[target_mode]["rps"]
        out.append({
            "name": f"{report.SCENARIO_LABELS[scenario]} vs {label}",
            "required": f"≥ {share:.0%} of its req/s",
            "measured": f"{ratio:.0%} ({runs['kubemu']['rps']:,.0f} vs "
                        f"{runs[target_mode]['rps']:,.0f} req/s)",
            "ratio": ratio,
            "pass": ratio >= share,
        })
    if results.get("metrics"):
        out += metrics.targets(results)
    if results.get("scale"):
        from bench.scale import targets as scale_targets

        out += scale_targets(results)
    cr = results.get("crd")
    if cr and cr["ratio"].get("create") is not None:
        ratio = cr["ratio"]["create"]
        out.append({
            "name": "create of a custom resource (20 fields, 3 CEL rules) vs a ConfigMap of "
                    "the same size",
            "required": f"≥ {CRD_CREATE_TARGET:.0%} of its req/s",
            "measured": f"{ratio:.0%}", "ratio": ratio, "pass": ratio >= CRD_CREATE_TARGET,
        })
    ep = results.get("endpoints")
    if ep:
        out.append(_p99_target(
            f"pod Ready write → Endpoints update ({ep['services']:,} Services x "
            f"{ep['pods_per_service']} pods)", ep, ENDPOINTS_P99_TARGET_MS))
    px = results.get("proxy")
    if px:
        out.append(_p99_target(
            f"pod Ready write → kube-proxy rules updated ({px['services']:,} Services x "
            f"{px['pods_per_service']} endpoints, {px['mode']})", px, PROXY_P99_TARGET_MS))
    ipt = results.get("iptables")
    if ipt:
        size = (f"{ipt['services']:,} Services x {ipt['endpoints_per_service']} endpoints")
        for backend, run in ipt["backends"].items():
            full = run["full"][0]["total_s"]
            out.append({
                "name": f"iptables full sync, {size} (render + restore), {backend}",
                "required": f"< {IPTABLES_FULL_TARGET_S:g} s",
                "measured": f"{full:.2f} s", "pass": full < IPTABLES_FULL_TARGET_S,
            })
            part = run["partial"]["total_s"] * 1000
            out.append({
                "name": f"iptables partial sync, one endpoint changed, {backend}",
                "required": f"< {IPTABLES_PARTIAL_TARGET_MS:g} ms",
                "measured": f"{part:.0f} ms", "pass": part < IPTABLES_PARTIAL_TARGET_MS,
            })
    out += nftables.targets(results, NFTABLES_FULL_TARGET_S, NFTABLES_PARTIAL_TARGET_MS)
    watch = results.get("watch")
    if watch:
        p99 = watch["latency_from_send"].get("p99_ms", float("inf"))
        expected = watch["watchers"] * watch["updates"]
        ok = p99 < WATCH_P99_TARGET_MS and watch["delivered"] == expected and not watch["lost"]
        out.append({
            "name": f"{watch['watchers']:,} watchers receive {watch['updates']:,} updates",
            "required": f"p99 delivery < {WATCH_P99_TARGET_MS:g} ms, no event lost",
            "measured": f"p99 {p99:.1f} ms; {watch['delivered']:,} of {expected:,} delivered",
            "pass": ok,
        })
    return out


def _p99_target(name: str, run: dict[str, Any], target_ms: float) -> dict[str, Any]:
    """A latency row: p99 from the write's acknowledgement under ``target_ms``, and every
    change observed."""
    p99 = run["latency_from_ack"].get("p99_ms", float("inf"))
    return {
        "name": name,
        "required": f"p99 < {target_ms:g} ms",
        "measured": f"p99 {p99:.1f} ms; {run['observed']} of {run['changes']} observed",
        "pass": p99 < target_ms and run["observed"] == run["changes"],
    }

"""The ``horizontalpodautoscaling`` controller with the deployment and ReplicaSet
controllers, driven by ``kubectl autoscale``: without a metrics API (as a cluster without
metrics-server) it keeps the target within ``--min``/``--max`` and reports the missing
metrics as upstream does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.support.apiserver import ApiServerProcess
from tests.support.kubectl import Kubectl
from tests.support.kubemu_up import wait_for
from tests.support.process import Process


def test_kubectl_autoscale_keeps_bounds_and_reports_missing_metrics(
    fresh_apiserver: ApiServerProcess, procs: Callable[..., Process], kubectl: Kubectl,
) -> None:
    server = fresh_apiserver
    procs(server, "controllers.manager", "--leader-elect=false",
          "--controllers=deployment,replicaset,horizontalpodautoscaling",
          "--horizontal-pod-autoscaler-sync-period=1s")
    client = httpx.Client(base_url=server.url, timeout=10)

    def k(*args: str) -> str:
        return kubectl(*args, kubeconfig=server.kubeconfig, check=True).stdout

    def replicas() -> int:
        spec: dict[str, Any] = client.get(
            "/apis/apps/v1/namespaces/default/deployments/web").json()["spec"]
        return int(spec["replicas"])

    def hpa_events() -> list[tuple[str, str]]:
        items = client.get("/api/v1/namespaces/default/events", params={
            "fieldSelector": "involvedObject.kind=HorizontalPodAutoscaler"}).json()["items"]
        return [(e["reason"], e["message"]) for e in items]

    k("create", "deployment", "web", "--image=nginx")
    k("autoscale", "deployment", "web", "--min=2", "--max=5", "--cpu-percent=50")
    wait_for("scaled to --min", lambda: replicas() == 2, 30)
    # Events are posted asynchronously after the scale write, so each is waited for.
    rescaled = ("SuccessfulRescale", "New size: 2; reason: Current number of replicas below "
                "Spec.MinReplicas")
    wait_for("the rescale event", lambda: rescaled in hpa_events(), 30)
    wait_for("metrics reported missing", lambda: any(
        r == "FailedComputeMetricsReplicas" for r, _ in hpa_events()), 30)
    missing = ("FailedGetResourceMetric", "failed to get cpu utilization: unable to get metrics "
               "for resource cpu: unable to fetch metrics from resource metrics API: the server "
               "could not find the requested resource (get pods.metrics.k8s.io)")
    wait_for("the missing-metrics event", lambda: missing in hpa_events(), 30)

    def conditions() -> dict[str, tuple[str, str]]:
        status = client.get("/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/"
                            "web").json().get("status", {})
        return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}

    expected = {"AbleToScale": ("True", "SucceededGetScale"),
                "ScalingActive": ("False", "FailedGetResourceMetric")}
    wait_for("the status conditions", lambda: conditions() == expected, 30)
    def hpa_row() -> list[str]:
        return k("get", "hpa", "web").splitlines()[1].split()

    # REPLICAS is the scale's status, which follows the deployment controller.
    row = wait_for("kubectl get hpa", lambda: (r := hpa_row())[-4:-1] == ["2", "5", "2"] and r,
                   30)
    assert row[:2] == ["web", "Deployment/web"] and "<unknown>/50%" in row[3]
    # Above --max: brought back.
    k("scale", "deployment", "web", "--replicas=9")
    wait_for("scaled back to --max", lambda: replicas() == 5, 30)

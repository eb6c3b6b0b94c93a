"""The command line of ``python -m bench``: the scenarios, the options, their checks."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.baseline import MODES

SCENARIOS = (
    "get", "create", "list", "watch", "endpoints", "storage", "proxy", "iptables", "nftables",
    "workloads", "secure", "limits", "webhooks", "crd", "exec", "portforward", "metrics", "dns",
    "scale",
)
#: ``storage`` (SQLite vs etcd, bench/storage.py) only on request: it adds about 2 minutes.
DEFAULT_SCENARIOS = ("get", "create", "list", "watch", "endpoints")

def _int_csv(text: str) -> list[int]:
    try:
        items = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        items = []
    if not items or min(items) < 1:
        raise argparse.ArgumentTypeError(f"comma-separated positive integers; got {text!r}")
    return items


def _csv(choices: Sequence[str]) -> Any:
    def parse(text: str) -> list[str]:
        items = [s.strip() for s in text.split(",") if s.strip()]
        bad = [s for s in items if s not in choices]
        if bad or not items:
            raise argparse.ArgumentTypeError(
                f"choose from {', '.join(choices)} (comma-separated); got {text!r}"
            )
        return items

    return parse


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark kubemu against a bare FastAPI endpoint and a raw ASGI "
        "callable serving the same bytes, on this machine, in one run.",
    )
    p.add_argument("--duration", type=float, default=10.0,
                   help="seconds of each measured wrk run (default 10)")
    p.add_argument("--warmup", type=float, default=2.0,
                   help="seconds of the unmeasured wrk run before each measured one "
                   "(default 2; 0 disables)")
    p.add_argument("--repeat", type=int, default=1,
                   help="measured runs per scenario and server, the best one reported "
                   "(default 1; more filters out bursts of other load on the machine)")
    p.add_argument("--connections", type=int, default=32,
                   help="wrk connections (default 32)")
    p.add_argument("--scenarios", type=_csv(SCENARIOS), default=list(DEFAULT_SCENARIOS),
                   help="comma-separated subset of get,create,list,watch,endpoints,storage,"
                   "proxy,iptables,nftables,workloads,secure,limits,webhooks,crd,exec,"
                   "portforward,metrics,dns,scale "
                   "(default get,create,list,watch,endpoints)")
    p.add_argument("--baselines", type=_csv(MODES), default=list(MODES),
                   help="comma-separated subset of fastapi,route,raw (default all)")
    p.add_argument("--target-baseline", choices=MODES, default="fastapi",
                   help="baseline the GET/create targets are judged against "
                   "(default fastapi: the decorated endpoint)")
    p.add_argument("--list-size", type=int, default=10_000,
                   help="pods created for the list scenario (default 10000)")
    p.add_argument("--watchers", type=int, default=1000,
                   help="concurrent watchers of the fan-out scenario (default 1000)")
    p.add_argument("--updates", type=int, default=1000,
                   help="ConfigMap updates of the fan-out scenario (default 1000)")
    p.add_argument("--update-interval", type=float, default=0.0,
                   help="seconds between update starts (default 0: each update is sent as "
                   "soon as the previous one is acknowledged)")
    p.add_argument("--update-concurrency", type=int, default=1,
                   help="updates in flight at once (default 1); with more, the server "
                   "group-commits and watchers receive batches")
    p.add_argument("--ep-services", type=int, default=1000,
                   help="Services of the endpoints scenario (default 1000)")
    p.add_argument("--ep-pods", type=int, default=10,
                   help="pods per Service of the endpoints scenario (default 10)")
    p.add_argument("--ep-changes", type=int, default=200,
                   help="pod readiness flips timed in the endpoints scenario (default 200)")
    p.add_argument("--ipt-services", type=int, default=10000,
                   help="Services of the iptables scenario (default 10000)")
    p.add_argument("--ipt-endpoints", type=int, default=5,
                   help="endpoints per Service of the iptables scenario (default 5)")
    p.add_argument("--nft-services", type=_int_csv, default=[10_000],
                   help="comma-separated Service counts of the nftables scenario, one "
                   "scratch namespace each (default 10000)")
    p.add_argument("--nft-endpoints", type=int, default=5,
                   help="endpoints per Service of the nftables scenario (default 5)")
    p.add_argument("--webhook-creates", type=int, default=1000,
                   help="creates each way of the webhooks scenario (default 1000)")
    p.add_argument("--storage-watchers", type=int, default=200,
                   help="watchers of the storage scenario's fan-out (default 200)")
    p.add_argument("--storage-updates", type=int, default=500,
                   help="updates of the storage scenario's fan-out (default 500)")
    p.add_argument("--wl-nodes", type=int, default=10,
                   help="node agents of the workloads scenario (default 10)")
    p.add_argument("--wl-replicas", type=int, default=1000,
                   help="replicas the workloads scenario scales a Deployment to, and pods "
                   "of its raw-create baseline (default 1000)")
    p.add_argument("--wl-rollout-replicas", type=int, default=100,
                   help="replicas of the workloads scenario's rolled Deployment (default 100)")
    p.add_argument("--exec-sessions", type=int, default=500,
                   help="exec sessions timed per path in the exec scenario (default 500)")
    p.add_argument("--exec-kubectl-runs", type=int, default=30,
                   help="kubectl exec runs timed in the exec scenario (default 30)")
    p.add_argument("--pf-megabytes", type=int, default=64,
                   help="MiB echoed per run of the portforward scenario (default 64)")
    p.add_argument("--scale-namespaces", type=int, default=1000,
                   help="namespaces of the scale scenario (default 1000)")
    p.add_argument("--scale-services", type=int, default=10,
                   help="Services per namespace of the scale scenario (default 10)")
    p.add_argument("--scale-pods", type=int, default=15,
                   help="pods per Service of the scale scenario (default 15: 150,000 pods)")
    p.add_argument("--scale-proxy-endpoints", type=int, default=5,
                   help="endpoints per Service of the scale scenario's kube-proxy syncs "
                   "(default 5)")
    p.add_argument("--scale-no-etcd", action="store_true",
                   help="measure the scale scenario on SQLite only")
    p.add_argument("--dns-services", type=int, default=1000,
                   help="Services of the dns scenario, every tenth headless (default 1000)")
    p.add_argument("--dns-clients", type=int, default=8,
                   help="concurrent closed-loop UDP clients of the dns scenario (default 8)")
    p.add_argument("--json", type=Path, metavar="OUT.json",
                   help="also write every number to this JSON file")
    p.add_argument("--keep", action="store_true",
                   help="keep the temporary directory (data, logs, response bodies)")
    p.add_argument("--check", action="store_true",
                   help="exit with status 3 when a target fails")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace | None:
    """The parsed command line; None (after a message on stderr) when a count is not
    positive."""
    args = build_parser().parse_args(argv)
    if min(args.duration, args.connections, args.watchers, args.updates, args.repeat,
           args.update_concurrency, args.ep_services, args.ep_pods, args.ep_changes,
           args.storage_watchers, args.storage_updates, args.wl_nodes, args.wl_replicas,
           args.wl_rollout_replicas, args.webhook_creates, args.exec_sessions,
           args.exec_kubectl_runs, args.pf_megabytes, args.dns_services,
           args.dns_clients, args.scale_namespaces, args.scale_services, args.scale_pods,
           args.scale_proxy_endpoints) <= 0:
        print("bench: error: --duration, --connections, --repeat, --watchers, --updates, "
              "--update-concurrency, --webhook-creates and the --ep-*, --storage-*, --wl-*, "
              "--exec-*, --pf-*, --dns-* and --scale-* counts must be positive", file=sys.stderr)
        return None
    return args

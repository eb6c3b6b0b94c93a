"""``python -m apiserver``: run the kubemu API server (flags named as kube-apiserver's)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import re
import sys
from pathlib import Path

import uvicorn

from apiserver.app import ApiServer, ServerConfig
from apiserver.filters.maxinflight import (
    DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
    DEFAULT_MAX_REQUESTS_INFLIGHT,
)
from apiserver.registry.service.rest import ServiceOptions
from apiserver.serving import (
    IDLE_TIMEOUT,
    ApiServerHttpProtocol,
    ApiServerWebSocketProtocol,
    raise_open_file_limit,
)
from apiserver.storage.cache import DEFAULT_HISTORY
from apiserver.storage.compactor import DEFAULT_INTERVAL
from apiserver.storage.encryption import EncryptionConfigError

log = logging.getLogger("apiserver")


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="python -m apiserver",
        description="kubemu apiserver: the Kubernetes REST API for core/v1 Services, Pods, "
        "Endpoints and their neighbours, on an embedded SQLite revision log.",
    )
    parser.add_argument("--bind-address", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080,
                        help="port to serve plain HTTP on (default 8080)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"),
                        help="directory of the SQLite database (default ./data)")
    parser.add_argument("--storage", choices=("sqlite", "memory", "etcd"), default="sqlite",
                        help="storage backend (default sqlite); etcd needs --etcd-servers")
    parser.add_argument("--etcd-servers", default="",
                        help="comma-separated etcd client URLs, e.g. http://127.0.0.1:2379 "
                        "(for --storage etcd)")
    parser.add_argument("--etcd-prefix", default="/registry",
                        help="prefix of every key in etcd (default /registry)")
    parser.add_argument("--watch-cache-size", type=int, default=DEFAULT_HISTORY,
                        help="events kept per resource for watches to resume from")
    parser.add_argument("--etcd-compaction-interval", type=_duration, default=DEFAULT_INTERVAL,
                        help="how often old revisions are compacted, as a Go duration "
                        "(default 5m; 0 disables)")
    parser.add_argument("--service-cluster-ip-range", default="10.0.0.0/24",
                        help="CIDR (or IPv4,IPv6 pair for dual-stack) Service cluster IPs are "
                        "allocated from (default 10.0.0.0/24)")
    parser.add_argument("--service-node-port-range", default="30000-32767",
                        help="port range NodePort Services are allocated from "
                        "(default 30000-32767)")
    parser.add_argument("--advertise-address", default="",
                        help="IP the kubernetes Service's endpoints point at (default: the "
                        "bind address, or 127.0.0.1 when binding all addresses)")
    parser.add_argument("--allow-unauthenticated-bind", action="store_true",
                        help="allow binding a non-loopback address although the API has no "
                        "authentication (anyone who can reach it controls it)")
    parser.add_argument("--max-requests-inflight", type=int,
                        default=DEFAULT_MAX_REQUESTS_INFLIGHT,
                        help="the maximum number of non-mutating requests in flight at a given "
                        "time; beyond it requests are answered 429 (0: no limit; default 400)")
    parser.add_argument("--max-mutating-requests-inflight", type=int,
                        default=DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
                        help="the maximum number of mutating requests in flight at a given "
                        "time; beyond it requests are answered 429 (0: no limit; default 200)")
    parser.add_argument("--request-timeout", type=_duration, default=60.0,
                        help="how long a request that is not long-running (watch, exec, logs, "
                        "port-forward, proxy) may take before it is answered 504, as a Go "
                        "duration (default 1m0s; 0 disables)")
    parser.add_argument("--encryption-provider-config", type=Path, default=None,
                        help="file with an EncryptionConfiguration (apiserver.config.k8s.io/v1): "
                        "how resources such as secrets are encrypted in storage")
    parser.add_argument("-v", "--v", dest="verbosity", type=int, default=0,
                        help="log verbosity (0: warnings and info, 4+: debug)")
    return parser


def _duration(text: str) -> float:
    """Seconds of a Go-style duration (``5m``, ``30s``, ``1h30m``, ``250ms``) or a number."""
    try:
        return float(text)
    except ValueError:
        pass
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text):
        total += float(number) * units[unit]
    if not re.fullmatch(r"(\d+(?:\.\d+)?(ms|h|m|s))+", text):
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}")
    return total


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Parse flags and serve until interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbosity >= 4 else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request (the etcd backend's) at INFO.
    logging.getLogger("httpx").setLevel(logging.DEBUG if args.verbosity >= 6 else logging.WARNING)
    if not _is_loopback(args.bind_address):
        if not args.allow_unauthenticated_bind:
            log.error(
                "refusing to bind %s: the API has no authentication; pass "
                "--allow-unauthenticated-bind to expose it anyway",
                args.bind_address,
            )
            return 2
        log.warning(
            "SERVING THE API WITHOUT AUTHENTICATION ON %s: anyone who can reach this "
            "address controls the server",
            args.bind_address,
        )
    advertise = args.advertise_address or args.bind_address
    if advertise in ("0.0.0.0", "::", "localhost") or not _is_ip(advertise):
        advertise = "127.0.0.1"
    try:
        services = ServiceOptions.parse(args.service_cluster_ip_range,
                                        args.service_node_port_range, advertise, args.port)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    if args.storage == "etcd" and not args.etcd_servers.strip():
        log.error("--storage etcd needs --etcd-servers")
        return 2
    config = ServerConfig(
        services=services,
        storage=args.storage,
        data_dir=args.data_dir,
        watch_cache_size=args.watch_cache_size,
        compaction_interval=args.etcd_compaction_interval,
        etcd_servers=tuple(s.strip() for s in args.etcd_servers.split(",") if s.strip()),
        etcd_prefix=args.etcd_prefix,
        max_requests_inflight=max(args.max_requests_inflight, 0),
        max_mutating_requests_inflight=max(args.max_mutating_requests_inflight, 0),
        request_timeout=args.request_timeout,
        encryption_provider_config=args.encryption_provider_config,
        server_address=f"{args.bind_address}:{args.port}",
    )
    try:
        server = ApiServer(config)
    except EncryptionConfigError as exc:
        log.error("%s", exc)
        return 2
    raise_open_file_limit()
    uvicorn.run(
        server,
        host=args.bind_address,
        port=args.port,
        lifespan="on",
        log_level="warning" if args.verbosity < 2 else "info",
        access_log=args.verbosity >= 2,
        timeout_graceful_shutdown=2,
        http=ApiServerHttpProtocol,
        ws=ApiServerWebSocketProtocol,
        timeout_keep_alive=IDLE_TIMEOUT,
        # kube-apiserver sends no Server header and does not rewrite client addresses
        # from X-Forwarded-* headers; skipping both also keeps the hot paths lean.
        server_header=False,
        proxy_headers=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

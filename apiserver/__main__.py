"""``python -m apiserver``: run the kubemu API server (flags named as kube-apiserver's)."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import re
import sys
from pathlib import Path

from apiserver.admission.plugins import FlagError, enabled_plugins, unimplemented
from apiserver.admission.tolerations import (
    DEFAULT_TOLERATION_SECONDS,
    configure_default_tolerations,
)
from apiserver.aggregator.flags import (
    add_aggregator_flags,
    aggregator_options,
    requestheader_options,
)
from apiserver.api.hosts import is_loopback
from apiserver.app import ApiServer, ServerConfig
from apiserver.auth.authz_union import MODES, ModeError, parse_modes
from apiserver.auth.config import AuthenticationOptions
from apiserver.auth.serviceaccount_keys import KeyFileError
from apiserver.auth.tls import server_ssl_context
from apiserver.auth.tokenfile import TokenFileError
from apiserver.filters.maxinflight import (
    DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
    DEFAULT_MAX_REQUESTS_INFLIGHT,
)
from apiserver.handlers.connect.kubelet import KubeletClientConfig
from apiserver.listeners import Listener, serve
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
                        help="address to listen on (default 127.0.0.1); with TLS, the "
                        "address of the secure port")
    parser.add_argument("--port", type=int, default=8080,
                        help="port to serve plain HTTP on (default 8080; 0: none). With TLS "
                        "it binds --insecure-bind-address, which must be loopback")
    parser.add_argument("--insecure-bind-address", default="127.0.0.1",
                        help="address of the plain HTTP port when TLS is on (default "
                        "127.0.0.1; loopback only unless --allow-unauthenticated-bind)")
    parser.add_argument("--secure-port", type=int, default=None,
                        help="port to serve HTTPS on (default 6443 when --tls-cert-file is "
                        "given)")
    parser.add_argument("--tls-cert-file", type=Path, default=None,
                        help="PEM serving certificate (and intermediates) for HTTPS")
    parser.add_argument("--tls-private-key-file", type=Path, default=None,
                        help="PEM private key of --tls-cert-file")
    parser.add_argument("--client-ca-file", type=Path, default=None,
                        help="PEM CA bundle: client certificates it signed authenticate as "
                        "their CN (user) and O (groups)")
    parser.add_argument("--token-auth-file", type=Path, default=None,
                        help="CSV of static bearer tokens: token,user,uid[,\"group1,group2\"]")
    parser.add_argument("--anonymous-auth", type=_bool, default=True, metavar="BOOL",
                        help="requests without credentials are system:anonymous "
                        "(default true)")
    parser.add_argument("--service-account-signing-key-file", type=Path, default=None,
                        help="PEM private key signing ServiceAccount tokens (default: a key "
                        "generated at start)")
    parser.add_argument("--service-account-key-file", type=Path, action="append", default=[],
                        help="PEM file of keys verifying ServiceAccount tokens (repeatable)")
    parser.add_argument("--service-account-issuer", action="append", default=[],
                        help="issuer of ServiceAccount tokens; the first signs, all verify "
                        "(default https://kubernetes.default.svc.cluster.local)")
    parser.add_argument("--api-audiences", default="",
                        help="comma-separated audiences of the API (default: the issuer)")
    parser.add_argument("--service-account-max-token-expiration", type=_duration, default=0,
                        help="longest TokenRequest expiration (default: none)")
    parser.add_argument("--service-account-extend-token-expiration", type=_bool,
                        default=True, metavar="BOOL",
                        help="extend the kubelet's 3607 s pod tokens to a year (default true)")
    parser.add_argument("--service-account-jwks-uri", default="",
                        help="jwks_uri of /.well-known/openid-configuration (default "
                        "https://<advertise address>:<secure port>/openid/v1/jwks)")
    parser.add_argument("--data-dir", type=Path, default=Path("data"),
                        help="directory of the SQLite database (default ./data)")
    parser.add_argument("--storage", choices=("sqlite", "memory", "etcd"), default="sqlite",
                        help="storage backend (default sqlite); etcd needs --etcd-servers")
    parser.add_argument("--etcd-servers", default="",
                        help="comma-separated etcd client URLs, e.g. http://127.0.0.1:2379 "
                        "(for --storage etcd; calls fail over between them)")
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
    parser.add_argument("--default-not-ready-toleration-seconds", type=int,
                        default=DEFAULT_TOLERATION_SECONDS,
                        help="tolerationSeconds of the not-ready:NoExecute toleration added to "
                        "every pod that has none (default 300)")
    parser.add_argument("--default-unreachable-toleration-seconds", type=int,
                        default=DEFAULT_TOLERATION_SECONDS,
                        help="tolerationSeconds of the unreachable:NoExecute toleration added "
                        "to every pod that has none (default 300)")
    parser.add_argument("--enable-admission-plugins", default="",
                        help="comma-separated admission plugins to enable besides the default "
                        "ones; the order of the list does not matter (upstream's is used)")
    parser.add_argument("--disable-admission-plugins", default="",
                        help="comma-separated admission plugins to disable, default ones "
                        "included")
    parser.add_argument("--authorization-mode", default="AlwaysAllow",
                        help="ordered comma list of authorization modes: "
                        f"{', '.join(MODES)} (default AlwaysAllow)")
    parser.add_argument("--max-requests-inflight", type=int,
                        default=DEFAULT_MAX_REQUESTS_INFLIGHT,
                        help="the maximum number of non-mutating requests in flight at a given "
                        "time; beyond it requests are answered 429 (0: no limit; default 400)")
    parser.add_argument("--max-mutating-requests-inflight", type=int,
                        default=DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
                        help="the maximum number of mutating requests in flight at a given "
                        "time; beyond it requests are answered 429 (0: no limit; default 200)")
    parser.add_argument("--disabled-metrics", default="",
                        help="comma-separated metric names left out of /metrics (upstream's "
                        "escape hatch); disabling apiserver_request_total, "
                        "apiserver_request_duration_seconds and apiserver_longrunning_requests "
                        "together stops the per-request recording")
    parser.add_argument("--request-timeout", type=_duration, default=60.0,
                        help="how long a request that is not long-running (watch, exec, logs, "
                        "port-forward, proxy) may take before it is answered 504, as a Go "
                        "duration (default 1m0s; 0 disables)")
    parser.add_argument("--kubelet-client-certificate", type=Path, default=None,
                        help="client certificate the apiserver presents to kubelets (logs, "
                        "exec, attach, port-forward, node proxy); with it kubelets are "
                        "reached over HTTPS")
    parser.add_argument("--kubelet-client-key", type=Path, default=None,
                        help="PEM private key of --kubelet-client-certificate")
    parser.add_argument("--kubelet-certificate-authority", type=Path, default=None,
                        help="CA bundle verifying the kubelets' serving certificates "
                        "(without it they are not verified)")
    parser.add_argument("--metric-resolution", type=_duration, default=0.0,
                        help="serve the resource metrics API (metrics.k8s.io: kubectl top, "
                        "the horizontal pod autoscaler) as metrics-server does, scraping "
                        "every kubelet's /metrics/resource this often, as a Go duration "
                        "(metrics-server's default is 15s; default 0: not served)")
    parser.add_argument("--encryption-provider-config", type=Path, default=None,
                        help="file with an EncryptionConfiguration (apiserver.config.k8s.io/v1): "
                        "how resources such as secrets are encrypted in storage")
    add_aggregator_flags(parser, _bool)
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


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r}")


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _listeners(args: argparse.Namespace) -> list[Listener]:
    """The secure listener (if TLS is configured) first, then plain HTTP (if any).

    Raises ValueError naming what is wrong: TLS flags without their pair, or an
    address that would expose the API without authentication.
    """
    if bool(args.tls_cert_file) != bool(args.tls_private_key_file):
        raise ValueError("--tls-cert-file and --tls-private-key-file go together")
    listeners: list[Listener] = []
    if args.tls_cert_file:
        authenticated = args.client_ca_file is not None or args.token_auth_file is not None
        if not is_loopback(args.bind_address) and not authenticated \
                and not args.allow_unauthenticated_bind:
            raise ValueError(f"refusing to bind {args.bind_address}: no --client-ca-file or "
                             "--token-auth-file; pass --allow-unauthenticated-bind to expose "
                             "it anyway")
        context = server_ssl_context(args.tls_cert_file, args.tls_private_key_file,
                                     args.client_ca_file, args.requestheader_client_ca_file)
        port = 6443 if args.secure_port is None else args.secure_port
        listeners.append(Listener(args.bind_address, port, context))
        plain_host = args.insecure_bind_address
    else:
        if args.secure_port:
            raise ValueError("--secure-port needs --tls-cert-file and --tls-private-key-file")
        plain_host = args.bind_address
    if args.port:
        if not is_loopback(plain_host):
            if not args.allow_unauthenticated_bind:
                raise ValueError(f"refusing to bind {plain_host}: plain HTTP has no "
                                 "authentication; pass --allow-unauthenticated-bind to expose "
                                 "it anyway")
            log.warning("SERVING THE API WITHOUT AUTHENTICATION ON %s: anyone who can reach "
                        "this address controls the server", plain_host)
        listeners.append(Listener(plain_host, args.port))
    if not listeners:
        raise ValueError("nothing to serve: give --port or --tls-cert-file")
    return listeners


def _authentication(args: argparse.Namespace) -> AuthenticationOptions:
    return AuthenticationOptions(
        client_ca_file=args.client_ca_file,
        token_auth_file=args.token_auth_file,
        service_account_key_files=tuple(args.service_account_key_file),
        service_account_signing_key_file=args.service_account_signing_key_file,
        service_account_issuers=tuple(args.service_account_issuer),
        api_audiences=tuple(a.strip() for a in args.api_audiences.split(",") if a.strip()),
        service_account_max_token_expiration=int(args.service_account_max_token_expiration),
        service_account_extend_token_expiration=args.service_account_extend_token_expiration,
        service_account_jwks_uri=args.service_account_jwks_uri,
        anonymous=args.anonymous_auth,
        requestheader=requestheader_options(args),
    )


def main(argv: list[str] | None = None) -> int:
    """Parse flags and serve until interrupted."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbosity >= 4 else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request (webhooks, the connect proxy) at INFO.
    logging.getLogger("httpx").setLevel(logging.DEBUG if args.verbosity >= 6 else logging.WARNING)
    try:
        listeners = _listeners(args)
    except (ValueError, OSError) as exc:
        log.error("%s", exc)
        return 2
    primary = listeners[0]
    advertise = args.advertise_address or primary.host
    if advertise in ("0.0.0.0", "::", "localhost") or not _is_ip(advertise):
        advertise = "127.0.0.1"
    try:
        services = ServiceOptions.parse(args.service_cluster_ip_range,
                                        args.service_node_port_range, advertise, primary.port)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    configure_default_tolerations(args.default_not_ready_toleration_seconds,
                                  args.default_unreachable_toleration_seconds)
    try:
        modes = parse_modes(args.authorization_mode)
    except ModeError as exc:
        log.error("%s", exc)
        return 2
    if args.storage == "etcd" and not args.etcd_servers.strip():
        log.error("--storage etcd needs --etcd-servers")
        return 2
    try:
        admission = enabled_plugins(args.enable_admission_plugins,
                                    args.disable_admission_plugins)
    except FlagError as exc:
        log.error("%s", exc)
        return 2
    log.info("admission plugins: %s", ",".join(admission))
    missing = unimplemented(admission)
    if missing:
        log.info("admission plugins kubemu does not implement (inactive): %s",
                 ",".join(missing))
    kubelet_client = KubeletClientConfig(args.kubelet_client_certificate,
                                         args.kubelet_client_key,
                                         args.kubelet_certificate_authority)
    try:
        kubelet_client.check()
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    try:
        aggregator = aggregator_options(args)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    config = ServerConfig(
        aggregator=aggregator,
        services=services,
        storage=args.storage,
        data_dir=args.data_dir,
        watch_cache_size=args.watch_cache_size,
        compaction_interval=args.etcd_compaction_interval,
        etcd_servers=tuple(s.strip() for s in args.etcd_servers.split(",") if s.strip()),
        etcd_prefix=args.etcd_prefix,
        server_address=f"{primary.host}:{primary.port}",
        external_address=f"{advertise}:{primary.port}",
        authentication=_authentication(args),
        admission_plugins=admission,
        authorization_modes=modes,
        max_requests_inflight=max(args.max_requests_inflight, 0),
        max_mutating_requests_inflight=max(args.max_mutating_requests_inflight, 0),
        request_timeout=args.request_timeout,
        disabled_metrics=frozenset(n.strip() for n in args.disabled_metrics.split(",")
                                   if n.strip()),
        encryption_provider_config=args.encryption_provider_config,
        kubelet_client=kubelet_client,
        metric_resolution=max(args.metric_resolution, 0.0),
    )
    try:
        server = ApiServer(config)
    except (KeyFileError, TokenFileError, EncryptionConfigError, OSError, ValueError) as exc:
        log.error("%s", exc)
        return 2
    raise_open_file_limit()
    serve(
        server,
        listeners,
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

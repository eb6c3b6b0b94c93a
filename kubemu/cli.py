"""The ``kubemu`` command line: ``kubemu up`` and ``kubemu kubeconfig``.

``kubemu up`` runs a whole control plane as separate OS processes (see
:mod:`kubemu.components`): it picks the port, writes ``<data-dir>/kubeconfig``,
starts each component and waits for its readiness URL, prints how to use the
cluster, then supervises the processes until SIGINT/SIGTERM/SIGHUP (clean stop,
exit 0) or until one of them exits on its own (everything is stopped, exit 1).
Start-up failures exit 1; invalid arguments exit 2.

``kubemu kubeconfig --server URL [--out FILE]`` writes (or prints, with ``-``)
a kubeconfig for an already running apiserver.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from kubemu.components import LaunchContext, component_names, launch_plan
from kubemu.kubeconfig import client_host, dump_kubeconfig, server_url, write_kubeconfig
from kubemu.supervisor import ChildFailed, Supervisor

#: Port tried first when ``--port`` is not given (the historical insecure apiserver port).
DEFAULT_PORT = 8080


def is_loopback(address: str) -> bool:
    """True when ``address`` is ``localhost`` or a loopback IP literal."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _family(host: str) -> socket.AddressFamily:
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        return socket.AF_INET


def port_is_free(host: str, port: int) -> bool:
    """True when a listener could bind ``host:port`` now (with SO_REUSEADDR, as uvicorn does)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port the kernel considers free on ``host`` (racy by nature; use promptly)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


def choose_port(host: str, requested: int | None) -> int:
    """Resolve ``--port``: ``None`` → :data:`DEFAULT_PORT` if free else any free port;
    ``0`` → any free port; ``N`` → ``N`` (``ValueError`` if it is in use)."""
    if requested is None:
        return DEFAULT_PORT if port_is_free(host, DEFAULT_PORT) else free_port(host)
    if requested == 0:
        return free_port(host)
    if not port_is_free(host, requested):
        raise ValueError(f"port {requested} on {host} is already in use (try --port 0)")
    return requested


def build_parser() -> argparse.ArgumentParser:
    """Return the ``kubemu`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="kubemu",
        description="kubemu: a Kubernetes Service control plane and data plane in Python.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up",
        help="run all kubemu processes and write a kubeconfig",
        description="Run the kubemu processes on embedded storage, write <data-dir>/kubeconfig "
        "and supervise them until interrupted.",
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help="directory for storage and the kubeconfig (default: ./data)",
    )
    up.add_argument(
        "--bind-address",
        default="127.0.0.1",
        help="address the apiserver listens on (default: 127.0.0.1)",
    )
    up.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"apiserver port; 0 picks a free port "
        f"(default: {DEFAULT_PORT} if free, else a free port)",
    )
    up.add_argument(
        "--storage",
        choices=("sqlite", "memory"),
        default="sqlite",
        help="storage backend (default: sqlite)",
    )
    up.add_argument(
        "--watch-cache-size",
        type=int,
        default=None,
        help="events kept in the apiserver's watch cache history",
    )
    up.add_argument(
        "--allow-unauthenticated-bind",
        action="store_true",
        help="allow a non-loopback --bind-address without authentication",
    )
    up.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        help="where to write the kubeconfig (default: <data-dir>/kubeconfig)",
    )
    up.add_argument(
        "--disable",
        action="append",
        default=[],
        choices=component_names(),
        metavar="NAME",
        help="do not run this component (repeatable; one of: " + ", ".join(component_names()) + ")",
    )
    up.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="node agents to run, each with its own loopback node IP (127.0.0.N), pod "
        "CIDR (127.244.N.0/24) and userspace kube-proxy serving NodePorts on the node IP; "
        "node 1's kube-proxy also serves the ClusterIPs (default: 1)",
    )
    up.add_argument(
        "--ready-timeout",
        type=float,
        default=30.0,
        help="seconds to wait for each component to become ready (default: 30)",
    )
    up.add_argument(
        "--stop-timeout",
        type=float,
        default=10.0,
        help="seconds between SIGTERM and SIGKILL when stopping (default: 10)",
    )
    up.set_defaults(handler=cmd_up)

    kubeconfig = commands.add_parser(
        "kubeconfig",
        help="write a kubeconfig for a running apiserver",
        description="Write a kubeconfig (cluster, user and context 'kubemu') for SERVER.",
    )
    kubeconfig.add_argument(
        "--server", required=True, help="apiserver URL, e.g. http://127.0.0.1:8080"
    )
    kubeconfig.add_argument("--out", default="-", help="output file, '-' for stdout (default: -)")
    kubeconfig.add_argument(
        "--name", default="kubemu", help="name of the cluster, user and context (default: kubemu)"
    )
    kubeconfig.add_argument("--namespace", default=None, help="default namespace of the context")
    kubeconfig.set_defaults(handler=cmd_kubeconfig)
    return parser


def cmd_kubeconfig(args: argparse.Namespace) -> int:
    """Handle ``kubemu kubeconfig``; returns the exit code."""
    try:
        if args.out == "-":
            sys.stdout.write(dump_kubeconfig(args.server, name=args.name, namespace=args.namespace))
        else:
            write_kubeconfig(Path(args.out), args.server, name=args.name, namespace=args.namespace)
    except ValueError as err:
        print(f"kubemu kubeconfig: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    """Handle ``kubemu up``; returns the exit code (see the module docstring)."""
    bind = args.bind_address
    if not is_loopback(bind) and not args.allow_unauthenticated_bind:
        print(
            f"kubemu up: refusing to bind {bind} without authentication; "
            "pass --allow-unauthenticated-bind to do it anyway",
            file=sys.stderr,
        )
        return 2
    try:
        port = choose_port(bind, args.port)
    except ValueError as err:
        print(f"kubemu up: {err}", file=sys.stderr)
        return 2

    data_dir: Path = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    kubeconfig_path: Path = (args.kubeconfig or data_dir / "kubeconfig").resolve()
    url = server_url(client_host(bind), port)
    ctx = LaunchContext(
        python=sys.executable,
        data_dir=data_dir,
        kubeconfig=kubeconfig_path,
        bind_address=bind,
        port=port,
        server_url=url,
        storage=args.storage,
        watch_cache_size=args.watch_cache_size,
        allow_unauthenticated_bind=args.allow_unauthenticated_bind,
        nodes=args.nodes,
    )
    write_kubeconfig(kubeconfig_path, url)

    sup = Supervisor(stop_timeout=args.stop_timeout)
    sup.install_signal_handlers()
    if not is_loopback(bind):
        sup.log(
            f"WARNING: apiserver binds {bind} WITHOUT AUTHENTICATION: "
            "anyone who can reach it controls the cluster"
        )
    code = 1
    try:
        for component in launch_plan(ctx, args.disable):
            child = sup.start(component.name, component.args(ctx))
            if component.ready_url is not None:
                sup.wait_ready(child, component.ready_url(ctx), args.ready_timeout)
        for line in (
            f"kubemu is up: apiserver {url}, data in {data_dir}",
            "use it with:",
            f"    export KUBECONFIG={kubeconfig_path}",
            "    kubectl get svc",
            "press Ctrl-C to stop",
        ):
            sup.log(line)
        code = sup.run()
    except ChildFailed as err:
        if sup.stopping:
            code = 0
        else:
            sup.log(f"start-up failed: {err}")
    finally:
        sup.stop_all()
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kubemu`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

"""The table of processes ``kubemu up`` runs, in start order.

Adding a process is one :class:`Component` entry in :data:`COMPONENTS`: its name,
how to build its command line from the :class:`LaunchContext`, and optionally
the URL that answers 200 once it is ready. ``kubemu up`` starts the components in
order, waiting for each one's readiness URL before starting the next, and stops
them in reverse order. The kubeconfig is written before any component starts,
so every component after the apiserver can be given ``--kubeconfig``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LaunchContext:
    """Everything a component's command line may depend on (all paths absolute)."""

    python: str
    data_dir: Path
    kubeconfig: Path
    bind_address: str
    port: int
    server_url: str
    storage: str
    watch_cache_size: int | None = None
    allow_unauthenticated_bind: bool = False
    #: Node agents to run (``kubemu up --nodes N``).
    nodes: int = 1


@dataclass(frozen=True)
class Component:
    """One supervised process of a kubemu control plane.

    ``args`` returns the full argv (including the interpreter); ``ready_url``, when
    set, returns a URL that answers HTTP 200 once the process is ready.
    """

    name: str
    args: Callable[[LaunchContext], Sequence[str]]
    ready_url: Callable[[LaunchContext], str] | None = None


#: Loopback, so the userspace kube-proxy can bind every ClusterIP without privileges.
SERVICE_CLUSTER_IP_RANGE = "127.96.0.0/16"


def proxy_args(ctx: LaunchContext) -> list[str]:
    """Command line of node 1's kube-proxy (see :func:`node_proxy_args`)."""
    return node_proxy_args(1)(ctx)


def node_proxy_args(index: int) -> Callable[[LaunchContext], list[str]]:
    """Return an ``args`` builder for the userspace kube-proxy of node ``index``.

    Each node's proxy serves NodePorts on its own node IP (``127.0.0.N``) and
    ``/healthz`` on ``127.0.0.N:10256``, and knows its node name, so
    ``externalTrafficPolicy: Local`` reaches only that node's endpoints.
    ClusterIPs, external IPs and load-balancer IPs are one set of loopback
    addresses shared by all nodes: only node 1's proxy binds them, the others
    run with ``--bind-cluster-ips=false``.
    """

    def build(ctx: LaunchContext) -> list[str]:
        argv = [
            ctx.python, "-m", "controllers.proxy", "--kubeconfig", str(ctx.kubeconfig),
            "--proxy-mode", "userspace", "--hostname-override", node_name(index),
            "--nodeport-addresses", f"{node_ip(index)}/32",
            "--healthz-bind-address", f"{node_ip(index)}:10256", "--metrics-bind-address", "",
        ]
        if index != 1:
            argv.append("--bind-cluster-ips=false")
        return argv

    return build


def apiserver_args(ctx: LaunchContext) -> list[str]:
    """Command line of ``python -m apiserver`` for ``ctx``."""
    argv = [
        ctx.python,
        "-m",
        "apiserver",
        "--bind-address",
        ctx.bind_address,
        "--port",
        str(ctx.port),
        "--data-dir",
        str(ctx.data_dir),
        "--storage",
        ctx.storage,
        "--service-cluster-ip-range",
        SERVICE_CLUSTER_IP_RANGE,
    ]
    if ctx.watch_cache_size is not None:
        argv += ["--watch-cache-size", str(ctx.watch_cache_size)]
    if ctx.allow_unauthenticated_bind:
        argv.append("--allow-unauthenticated-bind")
    return argv


def apiserver_ready_url(ctx: LaunchContext) -> str:
    """The apiserver's readiness endpoint."""
    return f"{ctx.server_url}/readyz"


def controller_args(module: str, *extra: str) -> Callable[[LaunchContext], list[str]]:
    """Return an ``args`` builder for ``python -m MODULE --kubeconfig FILE EXTRA...``."""

    def build(ctx: LaunchContext) -> list[str]:
        return [ctx.python, "-m", module, "--kubeconfig", str(ctx.kubeconfig), *extra]

    return build


def node_name(index: int) -> str:
    """Name of node agent ``index`` (1-based)."""
    return f"node-{index}"


def node_ip(index: int) -> str:
    """Loopback node IP of node ``index`` (its kube-proxy serves NodePorts there)."""
    return f"127.0.0.{index}"


def pod_cidr(index: int) -> str:
    """Loopback pod CIDR of node ``index``."""
    return f"127.244.{index}.0/24"


def node_args(index: int) -> Callable[[LaunchContext], list[str]]:
    """Return an ``args`` builder for node agent ``index``."""

    def build(ctx: LaunchContext) -> list[str]:
        return [
            ctx.python, "-m", "controllers.node", "--kubeconfig", str(ctx.kubeconfig),
            "--node-name", node_name(index), "--node-ip", node_ip(index),
            "--pod-cidr", pod_cidr(index),
        ]

    return build


#: Start order; stop order is the reverse. Later processes are one entry each;
#: ``kube-proxy`` and ``node`` stand for one process per node (see :func:`launch_plan`).
COMPONENTS: tuple[Component, ...] = (
    Component("apiserver", apiserver_args, apiserver_ready_url),
    Component("endpoints", controller_args("controllers.endpoints",
                                           "--leader-elect-resource-name",
                                           "kubemu-endpoints-controller")),
    Component("controller-manager", controller_args("controllers.manager")),
    Component("service-lb", controller_args("controllers.servicelb")),
    Component("kube-proxy", proxy_args),
    Component("scheduler", controller_args("controllers.scheduler")),
    Component("node", node_args(1)),
)


def _without_service_accounts(
    args: Callable[[LaunchContext], Sequence[str]],
) -> Callable[[LaunchContext], list[str]]:
    """``args`` plus ``--disable-admission-plugins=ServiceAccount``: without the controller
    manager nothing makes the ``default`` ServiceAccounts, and ServiceAccount admission
    would refuse every pod (envtest runs kube-apiserver the same way)."""

    def build(ctx: LaunchContext) -> list[str]:
        return [*args(ctx), "--disable-admission-plugins=ServiceAccount"]

    return build


def launch_plan(ctx: LaunchContext, disabled: Sequence[str] = ()) -> list[Component]:
    """The processes to start for ``ctx``: ``node`` expands to ``node-1`` … ``node-N``,
    ``kube-proxy`` to ``kube-proxy`` (node 1, binds the ClusterIPs) and
    ``kube-proxy-node-2`` … ``kube-proxy-node-N``."""
    plan: list[Component] = []
    for component in COMPONENTS:
        if component.name in disabled:
            continue
        if component.name == "node":
            plan.extend(Component(node_name(i), node_args(i))
                        for i in range(1, max(ctx.nodes, 0) + 1))
        elif component.name == "apiserver" and "controller-manager" in disabled:
            plan.append(Component(component.name, _without_service_accounts(component.args),
                                  component.ready_url))
        elif component.name == "kube-proxy":
            plan.append(component)
            plan.extend(Component(f"kube-proxy-{node_name(i)}", node_proxy_args(i))
                        for i in range(2, ctx.nodes + 1))
        else:
            plan.append(component)
    return plan


def component_names() -> list[str]:
    """Names of all known components, in start order."""
    return [component.name for component in COMPONENTS]

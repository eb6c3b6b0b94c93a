"""The table of processes ``kubemu up`` runs, in start order.

Adding a process is one :class:`Component` entry in :data:`COMPONENTS`: its name,
how to build its command line from the :class:`LaunchContext`, and optionally
the URL that answers 200 once it is ready. ``kubemu up`` starts the components in
order, waiting for each one's readiness URL before starting the next, and stops
them in reverse order. The kubeconfig is written before any component starts,
so every component after the apiserver can be given ``--kubeconfig``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubemu import dns, etcd, haproxy
from kubemu.addresses import CONSOLE_PORT, KUBELET_PORT, Addresses
from kubemu.pki import FRONT_PROXY_CLIENT, KUBELET_CLIENT, Pki

#: ``--service-account-issuer`` of a kubemu cluster (kubeadm's).
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
#: How often the apiserver scrapes the kubelets for the resource metrics API
#: (metrics-server's default).
METRIC_RESOLUTION = "15s"


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
    #: The node agents run host commands (``kubemu up --allow-host-commands``).
    allow_host_commands: bool = False
    #: The instance's loopback addresses (see :mod:`kubemu.addresses`).
    addresses: Addresses = field(default_factory=lambda: Addresses.for_block(1))
    #: ``--etcd-servers`` for ``storage == "etcd"``; empty: ``kubemu up`` runs its own etcd.
    etcd_servers: str = ""
    #: The cluster's certificates; None serves plain HTTP (``kubemu up --insecure``).
    pki: Pki | None = None
    #: Each component's own kubeconfig (its client certificate), by identity name
    #: (see :mod:`kubemu.identities`); components missing here use ``kubeconfig``.
    kubeconfigs: Mapping[str, Path] = field(default_factory=dict)
    #: The apiserver's ``--encryption-provider-config`` (None: secrets stored as given).
    encryption_provider_config: Path | None = None
    #: Members of the etcd ``kubemu up`` runs itself (``--etcd-members``).
    etcd_members: int = 1
    #: Apiserver replicas (``--apiservers``); more than one run behind a balancer that
    #: listens at ``server_url`` (see :mod:`kubemu.haproxy`).
    apiservers: int = 1
    #: The cluster DNS port (see :mod:`kubemu.dns`); None: no cluster DNS
    #: (``--disable dns``).
    dns_port: int | None = None

    def kubeconfig_for(self, identity: str) -> Path:
        """The kubeconfig of the component acting as ``identity``."""
        return self.kubeconfigs.get(identity, self.kubeconfig)


@dataclass(frozen=True)
class Component:
    """One supervised process of a kubemu control plane.

    ``args`` returns the full argv (including the interpreter); ``ready_url``, when
    set, returns a URL that answers HTTP 200 once the process is ready.
    """

    name: str
    args: Callable[[LaunchContext], Sequence[str]]
    ready_url: Callable[[LaunchContext], str] | None = None


def proxy_args(ctx: LaunchContext) -> list[str]:
    """Command line of node 1's kube-proxy (see :func:`node_proxy_args`)."""
    return node_proxy_args(1)(ctx)


def node_proxy_args(index: int) -> Callable[[LaunchContext], list[str]]:
    """Return an ``args`` builder for the userspace kube-proxy of node ``index``.

    Each node's proxy serves NodePorts on its own node IP, ``/healthz`` on its
    port 10256 and ``/metrics`` on 10249, and knows its node name, so
    ``externalTrafficPolicy: Local`` reaches only that node's endpoints.
    ClusterIPs, external IPs and load-balancer IPs are one set of loopback
    addresses shared by all nodes: only node 1's proxy binds them, the others
    run with ``--bind-cluster-ips=false``.
    """

    def build(ctx: LaunchContext) -> list[str]:
        argv = [
            ctx.python, "-m", "controllers.proxy", "--kubeconfig",
            str(ctx.kubeconfig_for("kube-proxy")),
            "--proxy-mode", "userspace", "--hostname-override", node_name(index),
            "--nodeport-addresses", f"{ctx.addresses.node_ip(index)}/32",
            "--healthz-bind-address", ctx.addresses.proxy_healthz(index),
            "--metrics-bind-address", ctx.addresses.proxy_metrics(index),
        ]
        if index != 1:
            argv.append("--bind-cluster-ips=false")
        return argv

    return build


def apiserver_args(ctx: LaunchContext) -> list[str]:
    """Command line of ``python -m apiserver`` for ``ctx`` (the only replica)."""
    return _apiserver_argv(ctx, ctx.bind_address)


def apiserver_replica_args(index: int) -> Callable[[LaunchContext], list[str]]:
    """Return the ``args`` builder of apiserver replica ``index`` behind the balancer: it
    listens (and advertises itself in the ``kubernetes`` Endpoints) on
    :meth:`~kubemu.addresses.Addresses.apiserver_ip` ``(index)`` at the cluster's port."""

    def build(ctx: LaunchContext) -> list[str]:
        return _apiserver_argv(ctx, ctx.addresses.apiserver_ip(index))

    return build


def apiserver_replica_ready_url(index: int) -> Callable[[LaunchContext], str]:
    """Return the readiness URL builder of apiserver replica ``index``."""

    def build(ctx: LaunchContext) -> str:
        scheme = "http" if ctx.pki is None else "https"
        return f"{scheme}://{ctx.addresses.apiserver_ip(index)}:{ctx.port}/readyz"

    return build


def _apiserver_argv(ctx: LaunchContext, bind_address: str) -> list[str]:
    argv = [ctx.python, "-m", "apiserver", "--bind-address", bind_address]
    if ctx.pki is None:
        argv += ["--port", str(ctx.port)]
    else:
        pki = ctx.pki
        argv += [
            "--port", "0", "--secure-port", str(ctx.port),
            "--tls-cert-file", str(pki.serving_cert),
            "--tls-private-key-file", str(pki.serving_key),
            "--client-ca-file", str(pki.ca_cert),
            "--service-account-signing-key-file", str(pki.sa_key),
            "--service-account-key-file", str(pki.sa_pub),
            "--service-account-issuer", SERVICE_ACCOUNT_ISSUER,
            # As kubeadm: every component authorized by its own identity, nodes by the
            # Node authorizer and NodeRestriction.
            "--authorization-mode", "Node,RBAC",
            "--enable-admission-plugins", "NodeRestriction",
            # As kubeadm: the apiserver's own identity towards the kubelets.
            "--kubelet-client-certificate", str(pki.client_cert(KUBELET_CLIENT)),
            "--kubelet-client-key", str(pki.client_key(KUBELET_CLIENT)),
            "--kubelet-certificate-authority", str(pki.ca_cert),
            # As kubeadm: the front proxy's identity towards extension API servers
            # (APIServices), which trust its CA for the X-Remote-* headers; they are
            # reached at their endpoints, with or without a kube-proxy.
            "--requestheader-client-ca-file", str(pki.front_proxy_ca_cert),
            "--requestheader-allowed-names", FRONT_PROXY_CLIENT,
            "--proxy-client-cert-file", str(pki.client_cert(FRONT_PROXY_CLIENT)),
            "--proxy-client-key-file", str(pki.client_key(FRONT_PROXY_CLIENT)),
            "--enable-aggregator-routing=true",
        ]
    argv += [
        "--data-dir",
        str(ctx.data_dir),
        "--storage",
        ctx.storage,
        "--service-cluster-ip-range",
        str(ctx.addresses.service_range),
        # The resource metrics API (kubectl top, HPAs), as a cluster with metrics-server.
        "--metric-resolution", METRIC_RESOLUTION,
    ]
    if ctx.storage == "etcd":
        argv += ["--etcd-servers", ",".join(etcd.client_urls(ctx))]
    if ctx.watch_cache_size is not None:
        argv += ["--watch-cache-size", str(ctx.watch_cache_size)]
    if ctx.allow_unauthenticated_bind:
        argv.append("--allow-unauthenticated-bind")
    if ctx.encryption_provider_config is not None:
        argv += ["--encryption-provider-config", str(ctx.encryption_provider_config)]
    return argv


def apiserver_ready_url(ctx: LaunchContext) -> str:
    """The apiserver's readiness endpoint."""
    return f"{ctx.server_url}/readyz"


def manager_ready_url(ctx: LaunchContext) -> str:
    """The ``default`` namespace's ``default`` ServiceAccount: once the controller manager
    (its leader) made it, ServiceAccount admission lets pods in (read as the admin).
    ``kubemu up`` waits for it after starting everything, before it says it is up."""
    return f"{ctx.server_url}/api/v1/namespaces/default/serviceaccounts/default"


def node_url(ctx: LaunchContext, index: int) -> str:
    """Node agent ``index``'s Node object (read as the admin)."""
    return f"{ctx.server_url}/api/v1/nodes/{node_name(index)}"


def registered_since(started: str) -> Callable[[Any], bool]:
    """Whether a Node (an HTTP answer with its JSON) was registered or heart-beaten at or
    after ``started`` (RFC 3339, whole seconds): its agent of this run took it over, not
    one of an earlier run whose Node is still stored."""

    def check(answer: Any) -> bool:
        conditions = (answer.json().get("status") or {}).get("conditions") or []
        return any(c.get("type") == "Ready" and str(c.get("lastHeartbeatTime") or "") >= started
                   for c in conditions if isinstance(c, dict))

    return check


def controller_args(module: str, identity: str, *extra: str) \
        -> Callable[[LaunchContext], list[str]]:
    """Return an ``args`` builder for ``python -m MODULE --kubeconfig FILE EXTRA...``,
    FILE being the kubeconfig of ``identity``."""

    def build(ctx: LaunchContext) -> list[str]:
        return [ctx.python, "-m", module, "--kubeconfig", str(ctx.kubeconfig_for(identity)),
                *extra]

    return build


def servicelb_args(ctx: LaunchContext) -> list[str]:
    """Command line of the service-lb controller: the instance's load-balancer pool."""
    return controller_args("controllers.servicelb", "service-lb", "--address-pool",
                           str(ctx.addresses.lb_pool))(ctx)


def manager_args(ctx: LaunchContext) -> list[str]:
    """Command line of the controller manager: its hostpath provisioner makes volumes under
    ``<data dir>/volumes``; over TLS it fills legacy token Secrets with the apiserver's
    ServiceAccount key and the cluster CA, and publishes that CA (the one that signed the
    apiserver's serving certificate) as ``kube-root-ca.crt``."""
    argv = controller_args("controllers.manager", "controller-manager")(ctx)
    # The hostpath provisioner's volumes live with the cluster's data.
    argv += ["--hostpath-provisioner-root", str(ctx.data_dir / "volumes")]
    if ctx.pki is not None:
        argv += ["--service-account-private-key-file", str(ctx.pki.sa_key),
                 "--root-ca-file", str(ctx.pki.ca_cert),
                 "--cluster-signing-cert-file", str(ctx.pki.ca_cert),
                 "--cluster-signing-key-file", str(ctx.pki.ca_key)]
    return argv


def console_args(ctx: LaunchContext) -> list[str]:
    """Command line of the web console: on the control address's console port, reading
    connection counts from every node's kube-proxy ``/metrics``."""
    argv = controller_args("controllers.console", "console", "--bind-address",
                           str(ctx.addresses.control_ip), "--port", str(CONSOLE_PORT))(ctx)
    for index in range(1, max(ctx.nodes, 1) + 1):
        argv += ["--proxy-metrics-url", f"http://{ctx.addresses.proxy_metrics(index)}/metrics"]
    return argv


def node_name(index: int) -> str:
    """Name of node agent ``index`` (1-based)."""
    return f"node-{index}"


def node_args(index: int) -> Callable[[LaunchContext], list[str]]:
    """Return an ``args`` builder for node agent ``index``: its kubelet API on its node IP
    and port 10250 (HTTPS with its serving certificate, admitting the apiserver's
    kubelet-client certificate, unless ``--insecure``), its files under
    ``<data-dir>/nodes/node-N``, the cluster DNS for its pods' ``resolv.conf`` when the
    DNS serves port 53."""

    def build(ctx: LaunchContext) -> list[str]:
        name = node_name(index)
        argv = [
            ctx.python, "-m", "controllers.node", "--kubeconfig",
            str(ctx.kubeconfig_for(name)),
            "--node-name", name, "--node-ip", ctx.addresses.node_ip(index),
            "--pod-cidr", ctx.addresses.pod_cidr(index),
            "--port", str(KUBELET_PORT), "--root-dir", str(ctx.data_dir / "nodes" / name),
        ]
        if ctx.allow_host_commands:
            argv.append("--allow-host-commands")
        if ctx.dns_port == dns.DNS_PORT:  # a resolv.conf names no port
            argv += ["--cluster-dns", ctx.addresses.dns_ip,
                     "--cluster-domain", dns.CLUSTER_DOMAIN]
        if ctx.pki is not None:
            argv += ["--tls-cert-file", str(ctx.pki.kubelet_cert(name)),
                     "--tls-private-key-file", str(ctx.pki.kubelet_key(name)),
                     "--client-ca-file", str(ctx.pki.ca_cert)]
        return argv

    return build


#: Start order; stop order is the reverse. Later processes are one entry each;
#: ``kube-proxy`` and ``node`` stand for one process per node (see :func:`launch_plan`).
COMPONENTS: tuple[Component, ...] = (
    Component("etcd", etcd.member_args, etcd.ready_url),
    Component("apiserver", apiserver_args, apiserver_ready_url),
    Component("endpoints", controller_args("controllers.endpoints", "endpoints",
                                           "--leader-elect-resource-name",
                                           "kubemu-endpoints-controller")),
    Component("controller-manager", manager_args),
    Component("service-lb", servicelb_args),
    Component("kube-proxy", proxy_args),
    Component("dns", dns.dns_args, dns.ready_url),
    Component("scheduler", controller_args("controllers.scheduler", "scheduler")),
    Component("node", node_args(1)),
    Component("console", console_args, lambda ctx: ctx.addresses.console_url + "readyz"),
)


#: The apiserver's admission flag when no controller manager runs (see
#: :func:`_without_service_accounts`).
NO_MANAGER_ADMISSION = "--disable-admission-plugins=ServiceAccount,StorageObjectInUseProtection"


def _without_service_accounts(
    args: Callable[[LaunchContext], Sequence[str]],
) -> Callable[[LaunchContext], list[str]]:
    """``args`` plus ``--disable-admission-plugins=ServiceAccount,
    StorageObjectInUseProtection``: without the controller manager nothing makes the
    ``default`` ServiceAccounts, and ServiceAccount admission would refuse every pod
    (envtest runs kube-apiserver the same way); nor does anything remove the claims' and
    volumes' protection finalizers, which would keep them from ever being deleted."""

    def build(ctx: LaunchContext) -> list[str]:
        return [*args(ctx), NO_MANAGER_ADMISSION]

    return build


def _with_leader_election(
    args: Callable[[LaunchContext], Sequence[str]],
) -> Callable[[LaunchContext], list[str]]:
    """``args`` plus ``--leader-elect`` (off by default for the scheduler and service-lb)."""

    def build(ctx: LaunchContext) -> list[str]:
        return [*args(ctx), "--leader-elect"]

    return build


def launch_plan(ctx: LaunchContext, disabled: Sequence[str] = ()) -> list[Component]:
    """The processes to start for ``ctx``: ``etcd`` only for ``storage == "etcd"``
    without ``etcd_servers``, expanded to ``etcd-1`` … ``etcd-N`` for ``etcd_members``
    N > 1; ``apiserver`` expands to ``apiserver-1`` … ``apiserver-N`` and the balancer
    ``apiserver-lb`` for ``apiservers`` N > 1 (the scheduler and service-lb then elect a
    leader too); ``node`` expands to ``node-1`` …
    ``node-N``, ``kube-proxy`` to ``kube-proxy`` (node 1, binds the ClusterIPs) and
    ``kube-proxy-node-2`` … ``kube-proxy-node-N``."""
    plan: list[Component] = []
    for component in COMPONENTS:
        if component.name in disabled:
            continue
        if component.name == "etcd" and (ctx.storage != "etcd" or ctx.etcd_servers):
            continue
        if component.name == "node":
            plan.extend(Component(node_name(i), node_args(i))
                        for i in range(1, max(ctx.nodes, 0) + 1))
        elif component.name == "etcd" and ctx.etcd_members > 1:
            last = ctx.etcd_members
            plan.extend(Component(f"etcd-{i}", etcd.cluster_member_args(i),
                                  etcd.cluster_member_ready_url(i) if i == last else None)
                        for i in range(1, last + 1))
        elif component.name == "apiserver":
            plan.extend(_apiservers(ctx, component, "controller-manager" in disabled))
        elif component.name in ("scheduler", "service-lb") and ctx.apiservers > 1:
            # The HA topology elects every controller's leader, as kubeadm's.
            plan.append(Component(component.name, _with_leader_election(component.args),
                                  component.ready_url))
        elif component.name == "kube-proxy":
            plan.append(component)
            plan.extend(Component(f"kube-proxy-{node_name(i)}", node_proxy_args(i))
                        for i in range(2, ctx.nodes + 1))
        else:
            plan.append(component)
    return plan


def _apiservers(ctx: LaunchContext, single: Component, no_manager: bool) -> list[Component]:
    """The apiserver, or its replicas and their balancer (see :func:`launch_plan`)."""
    if ctx.apiservers <= 1:
        replicas = [single]
    else:
        replicas = [Component(f"apiserver-{i}", apiserver_replica_args(i),
                              apiserver_replica_ready_url(i))
                    for i in range(1, ctx.apiservers + 1)]
    if no_manager:
        replicas = [Component(c.name, _without_service_accounts(c.args), c.ready_url)
                    for c in replicas]
    if ctx.apiservers > 1:
        replicas.append(Component(haproxy.COMPONENT, haproxy.balancer_args,
                                  apiserver_ready_url))
    return replicas


def component_names() -> list[str]:
    """Names of all known components, in start order."""
    return [component.name for component in COMPONENTS]

"""``kubemu up``: run a whole control plane as separate OS processes.

:func:`cmd_up` runs the components of :mod:`kubemu.components`: it picks the port, makes
the cluster's certificates (:mod:`kubemu.pki`; HTTPS unless ``--insecure``), writes
``<data-dir>/kubeconfig`` and each component's own (:mod:`kubemu.identities`),
starts each component and waits for its readiness URL, prints how to use the
cluster, then supervises the processes until SIGINT/SIGTERM/SIGHUP (clean stop,
exit 0); a process that exits on its own is restarted, and one that crash-loops stops
everything (exit 1, see :mod:`kubemu.supervisor`). Start-up checks are in
:mod:`kubemu.preflight`; the flags are declared in :mod:`kubemu.up_flags`.

Each instance takes its own block of loopback addresses for its nodes, pods,
Services and load balancers, recorded in the data directory (see
:mod:`kubemu.addresses`, :mod:`kubemu.blocks`, :mod:`kubemu.address_flags`);
``--storage etcd`` runs an etcd member of its own (see :mod:`kubemu.etcd`); the cluster
DNS and its ``kube-dns`` Service are :mod:`kubemu.dns`'s (``--dns-port``).
Only one ``kubemu up`` runs per data directory (see :mod:`kubemu.instance`): a
second one prints ``kubemu is already running on this data directory (pid N, URL)`` and exits 1
before writing anything. Every failure is one line on stderr naming the fix,
never a traceback: invalid arguments exit 2 (argparse style, after the
subcommand's usage line), start-up failures (port in use or privileged,
unusable data directory or kubeconfig, address block taken, no etcd, a
component not getting ready) exit 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import ssl
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx

from apiserver.api.hosts import is_loopback
from kubemu import address_flags, dns, etcd, haproxy, replica_flags
from kubemu.blocks import AddressError, BlockLease
from kubemu.components import (
    LaunchContext,
    launch_plan,
    manager_ready_url,
    node_name,
    node_url,
    registered_since,
)
from kubemu.identities import (
    admin_credentials,
    identity_names,
    replica_addresses,
    serving_addresses,
    write_component_kubeconfigs,
)
from kubemu.instance import AlreadyRunning
from kubemu.kubeconfig import client_host, server_url, write_kubeconfig
from kubemu.pki import Pki, ensure_pki
from kubemu.preflight import UpError, choose_port, prepare_data_dir
from kubemu.preflight import reason as _reason
from kubemu.stored_nodes import not_run_message
from kubemu.supervisor import ChildFailed, Supervisor


def cmd_up(args: argparse.Namespace) -> int:
    """Handle ``kubemu up``; returns the exit code (see the module docstring)."""
    try:
        return _up(args)
    except AlreadyRunning as err:
        print(err, file=sys.stderr)
        return 1
    except UpError as err:
        print(f"kubemu up: {err}", file=sys.stderr)
        return err.code
    except KeyboardInterrupt:  # Ctrl-C before the supervisor routes SIGINT itself
        print("kubemu up: interrupted", file=sys.stderr)
        return 130


def _check_usage(args: argparse.Namespace) -> None:
    """Usage errors found by looking at several flags together (exit 2 with usage)."""
    problem = address_flags.check(args)
    if problem is None and args.etcd_servers and args.storage != "etcd":
        problem = "--etcd-servers needs --storage etcd"
    if problem is None:
        problem = replica_flags.check(args)
    if problem is not None:
        args.parser.error(problem)


def _up(args: argparse.Namespace) -> int:
    _check_usage(args)
    if args.storage == "etcd" and not args.etcd_servers and etcd.find_etcd() is None:
        raise UpError(etcd.MISSING_MESSAGE)
    if args.apiservers > 1 and haproxy.find_haproxy() is None:
        raise UpError(haproxy.MISSING_MESSAGE)
    bind = args.bind_address
    if args.insecure and not is_loopback(bind) and not args.allow_unauthenticated_bind:
        raise UpError(
            f"refusing to bind {bind} without authentication; "
            "pass --allow-unauthenticated-bind to do it anyway",
            code=2,
        )
    encryption: Path | None = None
    if args.encryption_provider_config is not None:
        encryption = args.encryption_provider_config.resolve()
        if not encryption.is_file():
            raise UpError(f"--encryption-provider-config {args.encryption_provider_config}: "
                          "no such file", code=2)
    data_dir: Path = args.data_dir.resolve()
    lock = prepare_data_dir(data_dir)
    lease: BlockLease | None = None
    try:
        try:
            lease = address_flags.reserve_for(args, data_dir)
        except AddressError as err:
            raise UpError(str(err)) from None
        front = lease.addresses.apiserver_balancer_ip if args.apiservers > 1 else bind
        port = choose_port(front, args.port)
        url = server_url(client_host(front), port, "http" if args.insecure else "https")
        lock.record(url)
        pki: Pki | None = None
        if not args.insecure:
            try:
                pki = ensure_pki(data_dir, serving_addresses(
                    bind, [lease.addresses.node_ip(i) for i in range(1, max(args.nodes, 1) + 1)],
                    str(lease.addresses.service_range),
                    replica_addresses(lease.addresses, args.apiservers)))
            except (OSError, ValueError) as err:
                raise UpError(f"cannot make the cluster's certificates in {data_dir / 'pki'}: "
                              f"{err}") from None
        kubeconfig_path: Path = (args.kubeconfig or data_dir / "kubeconfig").resolve()
        try:
            write_kubeconfig(kubeconfig_path, url,
                             credentials=admin_credentials(pki) if pki else None)
        except OSError as err:
            raise UpError(
                f"cannot write kubeconfig {kubeconfig_path}: {_reason(err, kubeconfig_path)} "
                "(pass a writable path with --kubeconfig)"
            ) from None
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
            allow_host_commands=args.allow_host_commands,
            addresses=lease.addresses,
            etcd_servers=args.etcd_servers,
            pki=pki,
            encryption_provider_config=encryption,
            etcd_members=args.etcd_members,
            apiservers=args.apiservers,
        )
        if "dns" not in args.disable:
            dns_port, why = dns.choose_port(lease.addresses.dns_server_ip, args.dns_port)
            if why:
                print(f"kubemu up: {why}", file=sys.stderr)
            ctx = dataclasses.replace(ctx, dns_port=dns_port)
        if pki is not None:
            names = identity_names([c.name for c in launch_plan(ctx, args.disable)])
            try:
                kubeconfigs = write_component_kubeconfigs(pki, data_dir / "kubeconfigs", url,
                                                          names)
            except OSError as err:
                raise UpError(f"cannot write the components' kubeconfigs: {err}") from None
            ctx = dataclasses.replace(ctx, kubeconfigs=kubeconfigs)
            try:
                for index in range(1, max(args.nodes, 0) + 1):
                    pki.ensure_kubelet_serving(node_name(index),
                                               lease.addresses.node_ip(index))
            except OSError as err:
                raise UpError(f"cannot make the kubelets' certificates: {err}") from None
        return _supervise(args, ctx)
    finally:
        if lease is not None:
            lease.release()
        lock.release()


def _supervise(args: argparse.Namespace, ctx: LaunchContext) -> int:
    sup = Supervisor(stop_timeout=args.stop_timeout)
    sup.install_signal_handlers()
    if ctx.pki is None and not is_loopback(ctx.bind_address):
        sup.log(
            f"WARNING: apiserver binds {ctx.bind_address} WITHOUT AUTHENTICATION: "
            "anyone who can reach it controls the cluster"
        )
    code = 1
    began = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sup.log(ctx.addresses.summary())
    try:
        started = {}
        for component in launch_plan(ctx, args.disable):
            child = started[component.name] = sup.start(component.name, component.args(ctx))
            if component.ready_url is not None:
                sup.wait_ready(child, component.ready_url(ctx), args.ready_timeout,
                               _verify(ctx))
        if "dns" in started and ctx.dns_port is not None:
            try:
                dns.publish(ctx.server_url, ctx.addresses, ctx.dns_port, _verify(ctx))
            except httpx.HTTPError as err:
                raise ChildFailed(f"cannot publish the kube-dns Service: {err}") from None
        if "controller-manager" in started:
            # Pods are admitted once the default ServiceAccount exists.
            sup.wait_ready(started["controller-manager"], manager_ready_url(ctx),
                           args.ready_timeout, _verify(ctx))
        for index in range(1, ctx.nodes + 1):
            # Every node agent of this run registered (a restart finds the Nodes of the
            # last run still stored, Ready until their heartbeats go stale).
            if node_name(index) in started:
                sup.wait_ready(started[node_name(index)], node_url(ctx, index),
                               args.ready_timeout, _verify(ctx), registered_since(began))
        stale = not_run_message(ctx.kubeconfig, [node_name(i) for i in range(1, ctx.nodes + 1)
                                                 if "node" not in args.disable])
        for line in ([stale] if stale else []) + [
            f"kubemu is up: apiserver {ctx.server_url}"
            + (f" (haproxy in front of {ctx.apiservers} apiservers)" if ctx.apiservers > 1
               else "") + f", data in {ctx.data_dir}",
            *([f"web console: {ctx.addresses.console_url}"] if "console" in started else []),
            "use it with:",
            f"    export KUBECONFIG={ctx.kubeconfig}",
            "    kubectl get svc",
            *([f"cluster DNS: {dns.how_to_query(ctx.addresses, ctx.dns_port)}"]
              if "dns" in started and ctx.dns_port is not None else []),
            "press Ctrl-C to stop",
        ]:
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


def _verify(ctx: LaunchContext) -> ssl.SSLContext | bool:
    """How readiness checks reach the apiserver over TLS: verifying it with the cluster
    CA, as the admin (some readiness URLs are API objects)."""
    if ctx.pki is None:
        return True
    context = ssl.create_default_context(cafile=str(ctx.pki.ca_cert))
    context.load_cert_chain(str(ctx.pki.client_cert("admin")), str(ctx.pki.client_key("admin")))
    return context

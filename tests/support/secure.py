"""A secured apiserver for client suites: HTTPS, client certificates, ServiceAccount
tokens, ``--authorization-mode=Node,RBAC`` and the default admission plugins.

:func:`start_secure_apiserver` makes a test CA and certificates with :mod:`kubemu.pki`
under ``<base>/pki``, starts ``python -m apiserver`` with them and the controller
manager's ``namespace`` and ``serviceaccount`` controllers beside it (as their own
identity, ``system:kube-controller-manager``, with the kubeconfig :mod:`kubemu.identities`
writes), and returns a :class:`SecureApiServer`:

* ``url`` is the HTTPS address, ``kubeconfig`` the admin's (``kubernetes-admin`` in
  ``system:masters``): it names the CA that verifies the server, never
  ``insecure-skip-tls-verify``;
* :meth:`SecureApiServer.client` is an ``httpx.Client`` as the admin (or with a token);
* :meth:`SecureApiServer.service_account` makes a ServiceAccount, binds it to roles and
  returns a :class:`TokenUser` whose kubeconfig carries a bound token from the
  TokenRequest API — the non-admin identity of tests about RBAC.

The plain-HTTP port every test apiserver has (for ``/readyz``) stays on loopback and is
authorized like any anonymous request.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from kubemu.identities import write_component_kubeconfigs
from kubemu.kubeconfig import Credentials, write_kubeconfig
from kubemu.pki import Pki, ensure_pki
from tests.support.apiserver import ApiServerProcess, free_port, start_apiserver
from tests.support.process import Process

RBAC_GROUP = "rbac.authorization.k8s.io"
ISSUER = "https://kubernetes.default.svc.cluster.local"
#: Lifetime asked for the tokens of :meth:`SecureApiServer.service_account` (a day: longer
#: than any test session).
TOKEN_SECONDS = 86400
#: Seconds the serviceaccount controller may take to make a namespace's ``default`` account.
DEFAULT_ACCOUNT_TIMEOUT = 30.0
#: Seconds the controller manager may take to aggregate the bootstrap ClusterRoles.
AGGREGATION_TIMEOUT = 30.0


@dataclass(frozen=True)
class TokenUser:
    """A ServiceAccount acting through a bound token: ``user`` is
    ``system:serviceaccount:<namespace>:<name>``."""

    namespace: str
    name: str
    token: str
    kubeconfig: Path

    @property
    def user(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"


@dataclass
class SecureApiServer:
    """One secured apiserver (see the module docstring)."""

    server: ApiServerProcess
    pki: Pki
    url: str
    kubeconfig: Path
    directory: Path
    manager: Process | None = None

    def verify(self, identity: str | None = "admin") -> ssl.SSLContext:
        """An SSL context trusting the test CA, presenting client certificate ``identity``
        (``None``: no certificate)."""
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        if identity is not None:
            context.load_cert_chain(str(self.pki.client_cert(identity)),
                                    str(self.pki.client_key(identity)))
        return context

    def client(self, identity: str | None = "admin", token: str | None = None,
               timeout: float = 10.0) -> httpx.Client:
        """An ``httpx.Client`` on :attr:`url` as client certificate ``identity`` and/or with
        a bearer ``token``; the caller closes it."""
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.Client(base_url=self.url, verify=self.verify(identity), headers=headers,
                            timeout=timeout)

    def admin(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """One request as the admin; a non-2xx answer fails the test."""
        with self.client() as http:
            response = http.request(method, path, json=body)
        assert response.status_code < 300, f"{method} {path}: {response.text}"
        data: dict[str, Any] = response.json()
        return data

    def create_namespace(self, name: str, timeout: float = DEFAULT_ACCOUNT_TIMEOUT) -> str:
        """Create namespace ``name`` as the admin and wait for its ``default``
        ServiceAccount (as upstream's e2e framework does before creating pods)."""
        self.admin("POST", "/api/v1/namespaces", {"metadata": {"name": name}})
        self.wait_default_service_account(name, timeout)
        return name

    def wait_default_service_account(self, namespace: str,
                                     timeout: float = DEFAULT_ACCOUNT_TIMEOUT) -> None:
        """Wait until the serviceaccount controller made ``namespace``'s ``default``
        ServiceAccount (ServiceAccount admission refuses pods without it)."""
        deadline = time.monotonic() + timeout
        with self.client() as http:
            path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
            while http.get(path).status_code != 200:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no default ServiceAccount in {namespace} after "
                                         f"{timeout:g} s")
                time.sleep(0.05)

    def user_kubeconfig(self, name: str, *, token: str | None = None,
                        identity: str | None = None) -> Path:
        """Write ``<directory>/<name>.kubeconfig`` for a token and/or client certificate
        ``identity`` (neither: anonymous); the CA verifies the server."""
        credentials = Credentials(
            self.pki.ca_cert,
            self.pki.client_cert(identity) if identity else None,
            self.pki.client_key(identity) if identity else None,
            token=token)
        return write_kubeconfig(self.directory / f"{name}.kubeconfig", self.url,
                                credentials=credentials)

    def service_account(self, namespace: str, name: str, *,
                        cluster_roles: Sequence[str] = (), roles: Sequence[str] = (),
                        cluster_wide: Sequence[str] = ()) -> TokenUser:
        """Create ServiceAccount ``namespace/name``, bind it with RoleBindings in its
        namespace to ``cluster_roles`` (ClusterRoles) and ``roles`` (Roles of the
        namespace), with ClusterRoleBindings to ``cluster_wide``, and request a token
        for it."""
        self.admin("POST", f"/api/v1/namespaces/{namespace}/serviceaccounts",
                   {"metadata": {"name": name}})
        subject = [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]
        rbac = f"/apis/{RBAC_GROUP}/v1"
        bindings = [("ClusterRole", role, False) for role in cluster_roles] + \
                   [("Role", role, False) for role in roles] + \
                   [("ClusterRole", role, True) for role in cluster_wide]
        for kind, role, cluster in bindings:
            binding = {"metadata": {"name": binding_name(namespace, name, role)},
                       "subjects": subject,
                       "roleRef": {"apiGroup": RBAC_GROUP, "kind": kind, "name": role}}
            path = (f"{rbac}/clusterrolebindings" if cluster
                    else f"{rbac}/namespaces/{namespace}/rolebindings")
            self.admin("POST", path, binding)
        token = self.admin(
            "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"expirationSeconds": TOKEN_SECONDS}})["status"]["token"]
        kubeconfig = self.user_kubeconfig(f"sa-{namespace}-{name}", token=token)
        return TokenUser(namespace, name, token, kubeconfig)

    def stop(self) -> None:
        """Stop the controller manager and the apiserver."""
        if self.manager is not None:
            self.manager.stop()
        self.server.stop()


def binding_name(namespace: str, name: str, role: str) -> str:
    """The name of the (Cluster)RoleBinding :meth:`SecureApiServer.service_account` makes
    for ServiceAccount ``namespace/name`` and ``role``."""
    return f"{namespace}.{name}.{role.replace(':', '-')}"


def _wait_aggregated(secured: SecureApiServer, role: str,
                     timeout: float = AGGREGATION_TIMEOUT) -> None:
    """Wait until the clusterrole-aggregation controller filled ClusterRole ``role``."""
    deadline = time.monotonic() + timeout
    while not secured.admin("GET", f"/apis/{RBAC_GROUP}/v1/clusterroles/{role}").get("rules"):
        if time.monotonic() > deadline:
            raise AssertionError(f"ClusterRole {role} still has no rules after {timeout:g} s; "
                                 f"{secured.manager.log_path if secured.manager else ''}")
        time.sleep(0.1)


def start_secure_apiserver(base: Path, storage: str = "sqlite",
                           extra_args: Sequence[str] = ()) -> SecureApiServer:
    """Start a secured apiserver (and its controllers) under ``base``; the caller stops it."""
    pki = ensure_pki(base / "cluster")
    secure = free_port()
    server = start_apiserver(base, storage, [
        "--secure-port", str(secure), "--authorization-mode", "Node,RBAC",
        "--tls-cert-file", str(pki.serving_cert), "--tls-private-key-file", str(pki.serving_key),
        "--client-ca-file", str(pki.ca_cert),
        "--service-account-signing-key-file", str(pki.sa_key),
        "--service-account-key-file", str(pki.sa_pub), "--service-account-issuer", ISSUER,
        # The default plugins, ServiceAccount admission included (the manager below makes
        # each namespace's default ServiceAccount).
        "--enable-admission-plugins", "NodeRestriction", *extra_args])
    url = f"https://127.0.0.1:{secure}"
    admin = write_kubeconfig(base / "admin.kubeconfig", url,
                             credentials=Credentials(pki.ca_cert, pki.client_cert("admin"),
                                                     pki.client_key("admin")))
    secured = SecureApiServer(server, pki, url, admin, base)
    try:
        manager_config = write_component_kubeconfigs(
            pki, base / "kubeconfigs", url, ["controller-manager"])["controller-manager"]
        secured.manager = Process(
            ["-m", "controllers.manager", "--kubeconfig", str(manager_config),
             "--leader-elect=false",
             "--controllers=namespace,serviceaccount,clusterrole-aggregation"],
            base / "controller-manager.log").start()
        _wait_aggregated(secured, "edit")
    except BaseException:
        secured.stop()
        raise
    return secured

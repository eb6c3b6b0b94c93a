"""Kubeconfig files for a kubemu control plane.

A kubemu kubeconfig has exactly one cluster, one user and one context, all
named ``kubemu`` by default, and it is the current context. Over TLS (the
default of ``kubemu up``) the cluster names the CA that verifies the server and
the user a client certificate (:class:`Credentials`, embedded as ``*-data`` or
referenced by path); with ``kubemu up --insecure`` the server is plain HTTP on
loopback and the user carries no credentials. The file is valid for ``kubectl``
and for ``kubernetes.config.load_kube_config``.

Everything here is pure except :func:`write_kubeconfig`, which writes the file
atomically (temporary file + rename) with mode 0600, so a reader never sees a
half-written file.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

#: Default name of the cluster, the user and the context.
DEFAULT_NAME = "kubemu"


def client_host(bind_address: str) -> str:
    """Return the host a local client should dial for a server bound to ``bind_address``.

    Wildcard addresses (``0.0.0.0``, ``::``, empty) map to the loopback address of
    the same family; any other address is returned unchanged.
    """
    if bind_address in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind_address == "::":
        return "::1"
    return bind_address


def server_url(host: str, port: int, scheme: str = "http") -> str:
    """Return ``scheme://host:port``, bracketing IPv6 literals (``http://[::1]:8080``)."""
    try:
        is_v6 = ipaddress.ip_address(host).version == 6
    except ValueError:
        is_v6 = False
    shown = f"[{host}]" if is_v6 else host
    return f"{scheme}://{shown}:{port}"


@dataclass(frozen=True)
class Credentials:
    """TLS material of a kubeconfig: the server's CA and the user's client certificate
    or bearer token.

    ``embed`` writes the files' contents (``certificate-authority-data`` …) so the
    kubeconfig works on its own; otherwise it refers to the (absolute) paths. ``token``
    (e.g. a ServiceAccount token) becomes the user's ``token``.
    """

    certificate_authority: Path
    client_certificate: Path | None = None
    client_key: Path | None = None
    embed: bool = True
    token: str | None = None

    def _field(self, key: str, path: Path) -> dict[str, str]:
        if self.embed:
            return {f"{key}-data": base64.b64encode(path.read_bytes()).decode()}
        return {key: str(path)}

    def cluster(self) -> dict[str, str]:
        """The cluster's TLS fields."""
        return self._field("certificate-authority", self.certificate_authority)

    def user(self) -> dict[str, str]:
        """The user's client-certificate and token fields."""
        out: dict[str, str] = {}
        if self.client_certificate is not None and self.client_key is not None:
            out.update(self._field("client-certificate", self.client_certificate))
            out.update(self._field("client-key", self.client_key))
        if self.token is not None:
            out["token"] = self.token
        return out


def render_kubeconfig(
    server: str,
    *,
    name: str = DEFAULT_NAME,
    namespace: str | None = None,
    credentials: Credentials | None = None,
) -> dict[str, Any]:
    """Return the kubeconfig document (a plain dict) pointing at ``server``.

    ``server`` is a full URL such as ``http://127.0.0.1:8080``. The cluster, user
    and context are all called ``name``; the context is current. ``namespace``,
    when given, becomes the context's default namespace.

    Raises :class:`ValueError` when ``server`` is not an http(s) URL.
    """
    if not server.startswith(("http://", "https://")):
        raise ValueError(f"server must be an http:// or https:// URL, got {server!r}")
    context: dict[str, Any] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": name, "cluster": {
            "server": server.rstrip("/"),
            **(credentials.cluster() if credentials is not None else {})}}],
        "users": [{"name": name,
                   "user": credentials.user() if credentials is not None else {}}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
    }


def dump_kubeconfig(
    server: str,
    *,
    name: str = DEFAULT_NAME,
    namespace: str | None = None,
    credentials: Credentials | None = None,
) -> str:
    """Return :func:`render_kubeconfig` as YAML text (block style, keys in document order)."""
    document = render_kubeconfig(server, name=name, namespace=namespace,
                                 credentials=credentials)
    text: str = yaml.safe_dump(document, default_flow_style=False, sort_keys=False)
    return text


def write_kubeconfig(
    path: Path,
    server: str,
    *,
    name: str = DEFAULT_NAME,
    namespace: str | None = None,
    credentials: Credentials | None = None,
) -> Path:
    """Atomically write the kubeconfig for ``server`` to ``path`` and return ``path``.

    Parent directories are created. The file gets mode 0600 (kubectl warns about
    group/world-readable kubeconfigs) and replaces any previous file in one rename.
    """
    path = Path(path)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = dump_kubeconfig(server, name=name, namespace=namespace, credentials=credentials)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return path

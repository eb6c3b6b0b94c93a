"""Client configuration: kubeconfig files, ``--server URL``, bearer tokens and TLS.

:func:`load_kubeconfig` reads the files :mod:`kubemu.kubeconfig` writes (and
ordinary kubectl kubeconfigs: current or named context, ``token`` /
``tokenFile``, ``certificate-authority[-data]``, ``client-certificate[-data]`` /
``client-key[-data]``, ``insecure-skip-tls-verify``). The result is a plain
:class:`ClientConfig`; :meth:`ClientConfig.ssl_context` turns its TLS options
into what httpx takes as ``verify``.
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ClientConfig", "ConfigError", "config_from_flags", "load_kubeconfig"]


class ConfigError(ValueError):
    """A kubeconfig that cannot be used (missing context, cluster, server …)."""


@dataclass(frozen=True)
class ClientConfig:
    """Where and how to reach the apiserver."""

    server: str
    token: str | None = None
    ca_file: str | None = None
    ca_data: bytes | None = None
    cert_file: str | None = None
    key_file: str | None = None
    #: ``client-certificate-data`` / ``client-key-data`` (PEM), used instead of the files.
    cert_data: bytes | None = None
    key_data: bytes | None = None
    insecure_skip_tls_verify: bool = False
    namespace: str = "default"
    user_agent: str = "kubemu-controllers"

    def verify(self) -> ssl.SSLContext | bool:
        """The ``verify`` argument for httpx (``True`` for plain http)."""
        if not self.server.startswith("https://"):
            return True
        return self.ssl_context()

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context honouring the CA, client certificate and skip-verify options."""
        if self.insecure_skip_tls_verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        elif self.ca_file or self.ca_data:
            ctx = ssl.create_default_context(
                cafile=self.ca_file,
                cadata=self.ca_data.decode() if self.ca_data else None,
            )
        else:
            ctx = ssl.create_default_context()
        if self.cert_data is not None:
            # ssl loads certificates from files only: a private directory that is removed
            # as soon as they are loaded.
            with tempfile.TemporaryDirectory(prefix="kubemu-client-") as directory:
                cert, key = Path(directory) / "tls.crt", Path(directory) / "tls.key"
                cert.write_bytes(self.cert_data)
                if self.key_data is not None:
                    key.write_bytes(self.key_data)
                ctx.load_cert_chain(str(cert), str(key) if self.key_data is not None else None)
        elif self.cert_file:
            ctx.load_cert_chain(self.cert_file, self.key_file)
        return ctx

    def headers(self) -> dict[str, str]:
        """Default request headers (authorization, user agent)."""
        out = {"User-Agent": self.user_agent}
        if self.token:
            out["Authorization"] = f"Bearer {self.token}"
        return out


def _named(entries: Any, name: str, what: str) -> dict[str, Any]:
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(what) or {}
            if isinstance(value, dict):
                return value
    raise ConfigError(f"kubeconfig has no {what} named {name!r}")


def _resolve(base: Path, value: Any) -> str | None:
    if not value:
        return None
    path = Path(str(value))
    return str(path if path.is_absolute() else base / path)


def load_kubeconfig(path: str | Path, context: str | None = None) -> ClientConfig:
    """Read a kubeconfig file and return the config of ``context`` (default: current)."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc}") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {path} is not a mapping")
    name = context or doc.get("current-context")
    if not name:
        raise ConfigError(f"kubeconfig {path} has no current-context")
    ctx = _named(doc.get("contexts"), str(name), "context")
    cluster = _named(doc.get("clusters"), str(ctx.get("cluster") or ""), "cluster")
    user: dict[str, Any] = {}
    if ctx.get("user"):
        user = _named(doc.get("users"), str(ctx["user"]), "user")
    server = cluster.get("server")
    if not server:
        raise ConfigError(f"cluster {ctx.get('cluster')!r} has no server")
    base = path.parent
    token = user.get("token")
    token_file = _resolve(base, user.get("tokenFile"))
    if not token and token_file:
        token = Path(token_file).read_text(encoding="utf-8").strip()
    ca_data = cluster.get("certificate-authority-data")
    cert_data = user.get("client-certificate-data")
    key_data = user.get("client-key-data")
    return ClientConfig(
        server=str(server).rstrip("/"),
        token=str(token) if token else None,
        ca_file=_resolve(base, cluster.get("certificate-authority")),
        ca_data=base64.b64decode(ca_data) if ca_data else None,
        cert_file=_resolve(base, user.get("client-certificate")),
        key_file=_resolve(base, user.get("client-key")),
        cert_data=base64.b64decode(cert_data) if cert_data else None,
        key_data=base64.b64decode(key_data) if key_data else None,
        insecure_skip_tls_verify=bool(cluster.get("insecure-skip-tls-verify")),
        namespace=str(ctx.get("namespace") or "default"),
    )


def config_from_flags(
    kubeconfig: str | Path | None = None,
    server: str | None = None,
    *,
    token: str | None = None,
    insecure_skip_tls_verify: bool = False,
) -> ClientConfig:
    """client-go's ``BuildConfigFromFlags``: ``--server`` overrides the kubeconfig's server.

    With neither, ``$KUBECONFIG`` (first entry) or ``~/.kube/config`` is read.
    """
    if kubeconfig is None and server is None:
        env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        default = Path(env) if env else Path.home() / ".kube" / "config"
        if not default.exists():
            raise ConfigError("neither --kubeconfig nor --server given and no kubeconfig found")
        kubeconfig = default
    if kubeconfig is not None:
        cfg = load_kubeconfig(kubeconfig)
        changes: dict[str, Any] = {}
        if server:
            changes["server"] = server.rstrip("/")
        if token:
            changes["token"] = token
        if insecure_skip_tls_verify:
            changes["insecure_skip_tls_verify"] = True
        return ClientConfig(**{**cfg.__dict__, **changes}) if changes else cfg
    assert server is not None
    if not server.startswith(("http://", "https://")):
        raise ConfigError(f"--server must be an http:// or https:// URL, got {server!r}")
    return ClientConfig(
        server=server.rstrip("/"), token=token, insecure_skip_tls_verify=insecure_skip_tls_verify
    )

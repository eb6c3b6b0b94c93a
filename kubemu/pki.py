"""The certificates and keys of a kubemu cluster, made once per data directory.

``<data-dir>/pki/`` (mode 0700, every file 0600) holds, as kubeadm lays them out:

* ``ca.crt``/``ca.key`` — the cluster CA (10 years), signing everything below;
* ``apiserver.crt``/``apiserver.key`` — the serving certificate: ``localhost``,
  ``kubernetes``, ``kubernetes.default``, ``kubernetes.default.svc``,
  ``kubernetes.default.svc.cluster.local``, 127.0.0.1, ::1 and the addresses and DNS
  names asked for (node IPs, the ``kubernetes`` ClusterIP, a non-loopback bind address,
  a container's service name). It is re-issued (same CA) when one it lacks is asked for;
* ``sa.key``/``sa.pub`` — the ServiceAccount token signing key (RSA 2048, RS256);
* ``<name>.crt``/``<name>.key`` — client certificates (CN user, O groups), e.g.
  ``admin`` (``kubernetes-admin`` in ``system:masters``), one per component and
  ``apiserver-kubelet-client`` (``kube-apiserver-kubelet-client``, the apiserver's
  identity towards the kubelets);
* ``kubelet-<node>.crt``/``kubelet-<node>.key`` — each node's kubelet API serving
  certificate (the node name and node IP);
* ``front-proxy-ca.crt``/``front-proxy-ca.key`` — the front proxy's own CA, and
  ``front-proxy-client.crt``/``.key`` (CN ``front-proxy-client``) that it signs: the
  apiserver's identity towards extension API servers, which trust the CA for the
  ``X-Remote-User`` headers (``--requestheader-client-ca-file``).

Everything is kept across restarts, so kubeconfigs and tokens stay valid. Keys are
ECDSA P-256 (quick to make) except the ServiceAccount key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_DAYS = 3650
CERT_DAYS = 365
SERVING_DNS_NAMES = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                     "kubernetes.default.svc.cluster.local")
_LOOPBACK = ("127.0.0.1", "::1")
#: The apiserver's client certificate towards the kubelets (kubeadm's name).
KUBELET_CLIENT = "apiserver-kubelet-client"
#: The apiserver's client certificate towards extension API servers (kubeadm's name and CN).
FRONT_PROXY_CLIENT = "front-proxy-client"


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the start (temp file + rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


@dataclass(frozen=True)
class Pki:
    """Paths of one cluster's PKI (see the module docstring)."""

    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def serving_cert(self) -> Path:
        return self.directory / "apiserver.crt"

    @property
    def serving_key(self) -> Path:
        return self.directory / "apiserver.key"

    @property
    def sa_key(self) -> Path:
        return self.directory / "sa.key"

    @property
    def sa_pub(self) -> Path:
        return self.directory / "sa.pub"

    @property
    def front_proxy_ca_cert(self) -> Path:
        return self.directory / "front-proxy-ca.crt"

    @property
    def front_proxy_ca_key(self) -> Path:
        return self.directory / "front-proxy-ca.key"

    def kubelet_cert(self, node: str) -> Path:
        """Path of node ``node``'s kubelet serving certificate."""
        return self.directory / f"kubelet-{node}.crt"

    def kubelet_key(self, node: str) -> Path:
        """Path of the key of node ``node``'s kubelet serving certificate."""
        return self.directory / f"kubelet-{node}.key"

    def client_cert(self, name: str) -> Path:
        """Path of client certificate ``name``."""
        return self.directory / f"{name}.crt"

    def client_key(self, name: str) -> Path:
        """Path of the key of client certificate ``name``."""
        return self.directory / f"{name}.key"

    # -- making ----------------------------------------------------------------------

    def _ca(self, front_proxy: bool = False) -> tuple[x509.Certificate,
                                                      ec.EllipticCurvePrivateKey]:
        """The cluster CA (or the front proxy's), made on first use."""
        cert_path = self.front_proxy_ca_cert if front_proxy else self.ca_cert
        key_path = self.front_proxy_ca_key if front_proxy else self.ca_key
        if not (cert_path.exists() and key_path.exists()):
            key = ec.generate_private_key(ec.SECP256R1())
            now = dt.datetime.now(dt.UTC)
            name = _name("front-proxy-ca" if front_proxy else "kubernetes")
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - dt.timedelta(minutes=5))
                    .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                    .add_extension(x509.KeyUsage(
                        digital_signature=True, content_commitment=False,
                        key_encipherment=True, data_encipherment=False, key_agreement=False,
                        key_cert_sign=True, crl_sign=False, encipher_only=False,
                        decipher_only=False), True)
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                   False)
                    .sign(key, hashes.SHA256()))
            _write_private(key_path, _key_pem(key))
            _write_private(cert_path, _cert_pem(cert))
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        return cert, loaded

    def _issue(self, subject: x509.Name, usage: x509.ObjectIdentifier,
               sans: x509.SubjectAlternativeName | None, front_proxy: bool = False) \
            -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        ca_cert, ca_key = self._ca(front_proxy)
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                   .add_extension(x509.KeyUsage(
                       digital_signature=True, content_commitment=False,
                       key_encipherment=True, data_encipherment=False, key_agreement=False,
                       key_cert_sign=False, crl_sign=False, encipher_only=False,
                       decipher_only=False), True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       ca_key.public_key()), False))
        if sans is not None:
            builder = builder.add_extension(sans, False)
        return builder.sign(ca_key, hashes.SHA256()), key

    def ensure_serving(self, addresses: Sequence[str] = (),
                       dns_names: Sequence[str] = ()) -> None:
        """Make the serving certificate, or re-issue it when it lacks one of ``addresses``
        or ``dns_names``."""
        ips = {ipaddress.ip_address(a) for a in (*_LOOPBACK, *addresses)}
        names = list(dict.fromkeys((*SERVING_DNS_NAMES, *dns_names)))
        if self.serving_cert.exists() and self.serving_key.exists():
            cert = x509.load_pem_x509_certificate(self.serving_cert.read_bytes())
            try:
                present = cert.extensions.get_extension_for_class(
                    x509.SubjectAlternativeName).value
                have = set(present.get_values_for_type(x509.IPAddress))
                have_names = set(present.get_values_for_type(x509.DNSName))
            except x509.ExtensionNotFound:
                have, have_names = set(), set()
            if ips <= have and set(names) <= have_names \
                    and cert.not_valid_after_utc > dt.datetime.now(dt.UTC):
                return
        sans = x509.SubjectAlternativeName(
            [x509.DNSName(n) for n in names]
            + [x509.IPAddress(ip) for ip in sorted(ips, key=lambda i: (i.version, int(i)))])
        cert, key = self._issue(_name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, sans)
        _write_private(self.serving_key, _key_pem(key))
        _write_private(self.serving_cert, _cert_pem(cert))

    def ensure_kubelet_serving(self, node: str, ip: str) -> None:
        """Make node ``node``'s kubelet serving certificate (DNS ``node``, IP ``ip``), or
        re-issue it when it names another IP."""
        cert_path, key_path = self.kubelet_cert(node), self.kubelet_key(node)
        want = ipaddress.ip_address(ip)
        if cert_path.exists() and key_path.exists():
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            try:
                sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
                ips = set(sans.value.get_values_for_type(x509.IPAddress))
            except x509.ExtensionNotFound:
                ips = set()
            if want in ips and cert.not_valid_after_utc > dt.datetime.now(dt.UTC):
                return
        sans_ext = x509.SubjectAlternativeName([x509.DNSName(node), x509.IPAddress(want)])
        cert, key = self._issue(_name(f"{node}@kubemu"), ExtendedKeyUsageOID.SERVER_AUTH,
                                sans_ext)
        _write_private(key_path, _key_pem(key))
        _write_private(cert_path, _cert_pem(cert))

    def ensure_client(self, name: str, user: str, groups: Sequence[str] = ()) -> None:
        """Make client certificate ``name`` (CN ``user``, O ``groups``) unless it exists."""
        if self.client_cert(name).exists() and self.client_key(name).exists():
            return
        cert, key = self._issue(_name(user, groups), ExtendedKeyUsageOID.CLIENT_AUTH, None)
        _write_private(self.client_key(name), _key_pem(key))
        _write_private(self.client_cert(name), _cert_pem(cert))

    def ensure_front_proxy_client(self) -> None:
        """Make the front proxy's CA and its client certificate unless they exist."""
        if self.client_cert(FRONT_PROXY_CLIENT).exists() \
                and self.client_key(FRONT_PROXY_CLIENT).exists():
            return
        cert, key = self._issue(_name(FRONT_PROXY_CLIENT), ExtendedKeyUsageOID.CLIENT_AUTH,
                                None, front_proxy=True)
        _write_private(self.client_key(FRONT_PROXY_CLIENT), _key_pem(key))
        _write_private(self.client_cert(FRONT_PROXY_CLIENT), _cert_pem(cert))

    def ensure_service_account_key(self) -> None:
        """Make the ServiceAccount signing key pair unless it exists."""
        if self.sa_key.exists() and self.sa_pub.exists():
            return
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        _write_private(self.sa_key, _key_pem(key))
        _write_private(self.sa_pub, key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def ensure_pki(data_dir: Path, addresses: Sequence[str] = (),
               dns_names: Sequence[str] = ()) -> Pki:
    """The PKI of ``data_dir`` with the CA, serving certificate (for ``addresses`` and
    ``dns_names`` too), ServiceAccount key and admin certificate in place."""
    directory = data_dir / "pki"
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    pki = Pki(directory)
    pki.ensure_serving(addresses, dns_names)
    pki.ensure_service_account_key()
    pki.ensure_client("admin", "kubernetes-admin", ("system:masters",))
    pki.ensure_client(KUBELET_CLIENT, "kube-apiserver-kubelet-client",
                      ("kubeadm:cluster-admins",))
    pki.ensure_front_proxy_client()
    return pki

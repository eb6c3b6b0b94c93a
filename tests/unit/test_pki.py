"""kubemu up's PKI: the CA, the serving certificate's names, client certificates, the
ServiceAccount key, file modes, and the kubeconfigs made from them."""

from __future__ import annotations

import ipaddress
import ssl
import stat
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client, config

from kubemu.cli import main
from kubemu.identities import (
    admin_credentials,
    identity,
    identity_names,
    serving_addresses,
    write_component_kubeconfigs,
)
from kubemu.kubeconfig import write_kubeconfig
from kubemu.pki import FRONT_PROXY_CLIENT, ensure_pki


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_serving_certificate_names_and_verification(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, ["127.0.0.2", "127.96.0.1"])
    cert = _cert(pki.serving_cert)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {
        "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local"}
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address(a) for a in ("127.0.0.1", "::1", "127.0.0.2", "127.96.0.1")}
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    # The CA verifies it, as a client of the server does.
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    assert context.cert_store_stats()["x509_ca"] == 1


def test_made_once_kept_and_reissued_for_new_addresses(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, ["127.0.0.2"])
    before = {p.name: p.read_bytes() for p in pki.directory.iterdir()}
    ensure_pki(tmp_path, ["127.0.0.2"])
    assert {p.name: p.read_bytes() for p in pki.directory.iterdir()} == before
    ensure_pki(tmp_path, ["127.0.0.3"])
    after = {p.name: p.read_bytes() for p in pki.directory.iterdir()}
    assert after["apiserver.crt"] != before["apiserver.crt"]
    assert after["ca.crt"] == before["ca.crt"] and after["sa.key"] == before["sa.key"]
    assert _cert(pki.serving_cert).issuer == _cert(pki.ca_cert).subject


def test_files_are_private(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    assert stat.S_IMODE(pki.directory.stat().st_mode) == 0o700
    for path in pki.directory.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_admin_and_component_identities(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    admin = _cert(pki.client_cert("admin")).subject
    assert admin.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "kubernetes-admin"
    assert [a.value for a in admin.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:masters"]
    assert identity("node-2") == ("system:node:node-2", ("system:nodes",))
    assert identity("controller-manager") == ("system:kube-controller-manager", ())
    names = identity_names(["apiserver", "endpoints", "kube-proxy", "kube-proxy-node-2",
                            "node-1", "node-2"])
    assert names == ["endpoints", "kube-proxy", "node-1", "node-2"]
    paths = write_component_kubeconfigs(pki, tmp_path / "kubeconfigs", "https://127.0.0.1:1",
                                        names)
    node = yaml.safe_load(paths["node-2"].read_text())
    user = node["users"][0]["user"]
    assert user["client-certificate"] == str(pki.client_cert("node-2"))
    subject = _cert(pki.client_cert("node-2")).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "system:node:node-2"
    usage = _cert(pki.client_cert("node-2")).extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_the_front_proxy_client_has_a_ca_of_its_own(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    client_cert = x509.load_pem_x509_certificate(
        pki.client_cert(FRONT_PROXY_CLIENT).read_bytes())
    front_ca = x509.load_pem_x509_certificate(pki.front_proxy_ca_cert.read_bytes())
    cluster_ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    client_cert.verify_directly_issued_by(front_ca)
    assert front_ca.subject != cluster_ca.subject
    assert client_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == \
        "front-proxy-client"
    usage = client_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    before = pki.client_cert(FRONT_PROXY_CLIENT).read_bytes()
    assert ensure_pki(tmp_path).client_cert(FRONT_PROXY_CLIENT).read_bytes() == before


def test_serving_addresses() -> None:
    nodes = ["127.0.0.1", "127.0.0.2"]
    assert serving_addresses("127.0.0.1", nodes, "127.96.0.0/16") == [
        "127.0.0.1", "127.0.0.2", "127.96.0.1"]
    assert serving_addresses("0.0.0.0", nodes[:1], "10.0.0.0/24") == ["127.0.0.1", "10.0.0.1"]
    assert serving_addresses("192.168.1.5", nodes, "127.96.0.0/16")[-1] == "192.168.1.5"


def test_user_kubeconfig_embeds_the_ca_and_certificate(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    path = write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:6443",
                            credentials=admin_credentials(pki))
    doc = yaml.safe_load(path.read_text())
    cluster = doc["clusters"][0]["cluster"]
    assert set(cluster) == {"server", "certificate-authority-data"}
    assert set(doc["users"][0]["user"]) == {"client-certificate-data", "client-key-data"}
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(path), client_configuration=configuration)
    assert configuration.verify_ssl is True
    assert Path(configuration.ssl_ca_cert).read_bytes() == pki.ca_cert.read_bytes()


def test_kubemu_kubeconfig_command_embeds_given_files(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path)
    out = tmp_path / "kc"
    assert main(["kubeconfig", "--server", "https://127.0.0.1:6443", "--out", str(out),
                 "--certificate-authority", str(pki.ca_cert), "--client-certificate",
                 str(pki.client_cert("admin")), "--client-key",
                 str(pki.client_key("admin"))]) == 0
    doc = yaml.safe_load(out.read_text())
    assert doc["clusters"][0]["cluster"]["certificate-authority-data"]
    assert doc["users"][0]["user"]["client-key-data"]

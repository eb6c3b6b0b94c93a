"""``kubemu certs``: certificates and kubeconfigs for containers, made once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from cryptography import x509

from kubemu.cli import main


def _names(cert: Path) -> list[str]:
    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    sans = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return list(sans.get_values_for_type(x509.DNSName))


def test_components_host_network_and_names(tmp_path: Path) -> None:
    argv = ["certs", "--dir", str(tmp_path), "--server", "https://apiserver:6443",
            "--host-server", "https://127.0.0.1:6443", "--dns-name", "apiserver",
            "--component", "scheduler", "--component", "node-1", "--host-network", "node-1"]
    assert main(argv) == 0
    servers = {path.stem: yaml.safe_load(path.read_text())["clusters"][0]["cluster"]["server"]
               for path in (tmp_path / "kubeconfigs").iterdir()}
    assert servers == {"scheduler": "https://apiserver:6443", "node-1": "https://127.0.0.1:6443"}
    admin = yaml.safe_load((tmp_path / "admin.kubeconfig").read_text())
    assert admin["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert "certificate-authority-data" in admin["clusters"][0]["cluster"]
    serving = tmp_path / "pki" / "apiserver.crt"
    assert "apiserver" in _names(serving)
    ca = (tmp_path / "pki" / "ca.crt").read_bytes()
    # A second run keeps the CA and re-issues the serving certificate for a new name.
    assert main([*argv, "--dns-name", "apiserver-2"]) == 0
    assert (tmp_path / "pki" / "ca.crt").read_bytes() == ca
    assert {"apiserver", "apiserver-2"} <= set(_names(serving))
    assert (tmp_path / "pki" / "node-1.key").stat().st_mode & 0o077 == 0


def test_host_network_must_name_a_component(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certs", "--dir", str(tmp_path), "--server", "https://a:1",
                 "--component", "scheduler", "--host-network", "kube-proxy"]) == 1
    assert capsys.readouterr().err.strip() == \
        "kubemu certs: --host-network kube-proxy is not a --component"

"""``kubemu up`` end to end: start everything, use the kubeconfig, stop on Ctrl-C.

Runs the real launcher as a subprocess, waits for the kubeconfig and the
apiserver, drives it with kubectl and the official Python client, then sends
SIGINT and expects a clean exit with no process left behind.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from kubernetes import client, config

from tests.support.kubectl import Kubectl


def _wait_ready(kubeconfig: Path, deadline: float) -> str:
    ca = kubeconfig.parent / "pki" / "ca.crt"
    while time.monotonic() < deadline:
        if kubeconfig.exists():
            doc = yaml.safe_load(kubeconfig.read_text())
            server = str(doc["clusters"][0]["cluster"]["server"])
            verify = ssl.create_default_context(cafile=str(ca)) if ca.exists() else True
            try:
                if httpx.get(f"{server}/readyz", timeout=1, verify=verify).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise AssertionError("kubemu up did not become ready")


def test_kubemu_up_serves_kubectl_and_client_then_stops_cleanly(
    tmp_path: Path, kubectl: Kubectl
) -> None:
    data_dir = tmp_path / "data"
    log = tmp_path / "kubemu-up.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kubemu", "up", "--port", "0", "--data-dir", str(data_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ, PYTHONUNBUFFERED="1"),
        )
    try:
        kubeconfig = data_dir / "kubeconfig"
        server = _wait_ready(kubeconfig, time.monotonic() + 30)
        assert server.startswith("https://127.0.0.1:")
        doc = yaml.safe_load(kubeconfig.read_text())
        cluster = doc["clusters"][0]["cluster"]
        assert cluster["certificate-authority-data"]
        assert "insecure-skip-tls-verify" not in cluster
        assert doc["users"][0]["user"]["client-certificate-data"]
        for path in (data_dir / "pki").iterdir():
            assert path.stat().st_mode & 0o077 == 0, path
        whoami = kubectl("auth", "whoami", "-o", "json", kubeconfig=kubeconfig, check=True)
        user = json.loads(whoami.stdout)["status"]["userInfo"]
        assert user["username"] == "kubernetes-admin"
        assert user["groups"] == ["system:masters", "system:authenticated"]

        created = kubectl(
            "create", "-f", "-", kubeconfig=kubeconfig, check=True,
            input=yaml.safe_dump({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "from-kubectl", "namespace": "default"},
                "data": {"k": "v"},
            }),
        )
        assert "configmap/from-kubectl created" in created.stdout

        configuration = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        with client.ApiClient(configuration) as api_client:
            core = client.CoreV1Api(api_client)
            cm = core.read_namespaced_config_map("from-kubectl", "default")
            assert cm.data == {"k": "v"}
            names = {ns.metadata.name for ns in core.list_namespace().items}
            assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= names
        # The banner comes once every component started and pods can be admitted.
        deadline = time.monotonic() + 60
        while b"kubemu is up" not in log.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        _a_user_from_an_approved_csr(kubectl, kubeconfig, server, tmp_path)
        _a_claim_gets_a_volume_in_the_data_dir(kubectl, kubeconfig, data_dir)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    assert proc.returncode == 0, text
    assert "KUBECONFIG" in text
    # The data survives the stop: the SQLite log is on disk.
    assert (data_dir / "kubemu.db").exists()


def _a_claim_gets_a_volume_in_the_data_dir(kubectl: Kubectl, kubeconfig: Path,
                                           data_dir: Path) -> None:
    """The default StorageClass: a claim without a class is bound to a provisioned volume
    whose directory is under the data directory (the manager's identity may do it all)."""
    kubectl("create", "-f", "-", kubeconfig=kubeconfig, check=True, input=yaml.safe_dump({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "1Gi"}}}}))
    deadline = time.monotonic() + 30
    while True:
        claim = json.loads(kubectl("get", "pvc", "data", "-o", "json", kubeconfig=kubeconfig,
                                   check=True).stdout)
        if claim.get("status", {}).get("phase") == "Bound":
            break
        assert time.monotonic() < deadline, claim
        time.sleep(0.3)
    assert claim["spec"]["storageClassName"] == "standard"
    volume = json.loads(kubectl("get", "pv", claim["spec"]["volumeName"], "-o", "json",
                                kubeconfig=kubeconfig, check=True).stdout)
    assert Path(volume["spec"]["hostPath"]["path"]).parent == data_dir / "volumes"


def _a_user_from_an_approved_csr(kubectl: Kubectl, kubeconfig: Path, server: str,
                                 tmp_path: Path) -> None:
    """The documented way to add a user: a CSR, approved, signed by the controller manager."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    request = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "jane"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "devs")])).sign(key, hashes.SHA256())
    pem = request.public_bytes(serialization.Encoding.PEM)
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, check=True, input=yaml.safe_dump({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": "jane"},
        "spec": {"request": base64.b64encode(pem).decode(), "expirationSeconds": 86400,
                 "signerName": "kubernetes.io/kube-apiserver-client",
                 "usages": ["client auth"]}}))
    approved = kubectl("certificate", "approve", "jane", kubeconfig=kubeconfig, check=True)
    assert "certificatesigningrequest.certificates.k8s.io/jane approved" in approved.stdout
    deadline = time.monotonic() + 30
    while True:
        csr = json.loads(kubectl("get", "csr", "jane", "-o", "json", kubeconfig=kubeconfig,
                                 check=True).stdout)
        if csr["status"].get("certificate"):
            break
        assert time.monotonic() < deadline, csr
        time.sleep(0.2)
    assert csr["spec"]["username"] == "kubernetes-admin"
    cert = x509.load_pem_x509_certificate(base64.b64decode(csr["status"]["certificate"]))
    assert cert.subject == request.subject
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 86400 <= lifetime.total_seconds() <= 86400 + 300
    jane = tmp_path / "jane.kubeconfig"
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    doc = yaml.safe_load(kubeconfig.read_text())
    doc["users"][0]["user"] = {
        "client-certificate-data": csr["status"]["certificate"],
        "client-key-data": base64.b64encode(key_pem).decode()}
    jane.write_text(yaml.safe_dump(doc))
    jane.chmod(0o600)
    whoami = kubectl("auth", "whoami", "-o", "json", kubeconfig=jane, check=True)
    assert json.loads(whoami.stdout)["status"]["userInfo"] == {
        "username": "jane", "groups": ["devs", "system:authenticated"],
        "extra": json.loads(whoami.stdout)["status"]["userInfo"]["extra"]}
    # RBAC: jane may do nothing yet.
    denied = kubectl("get", "pods", kubeconfig=jane)
    assert 'User "jane" cannot list resource "pods"' in denied.stderr
    # Approving takes the approval subresource and `approve` on the request's signer.
    kubectl("create", "clusterrole", "csr-approver", "--verb=get,list,update",
            "--resource=certificatesigningrequests,certificatesigningrequests/approval",
            kubeconfig=kubeconfig, check=True)
    kubectl("create", "clusterrolebinding", "jane-approves", "--clusterrole=csr-approver",
            "--user=jane", kubeconfig=kubeconfig, check=True)
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, check=True, input=yaml.safe_dump({
        "apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": "joe"},
        "spec": {"request": csr["spec"]["request"],
                 "signerName": "kubernetes.io/kube-apiserver-client",
                 "usages": ["client auth"]}}))
    refused = kubectl("certificate", "approve", "joe", kubeconfig=jane)
    assert ('certificatesigningrequests.certificates.k8s.io "joe" is forbidden: user not '
            'permitted to approve requests with signerName '
            '"kubernetes.io/kube-apiserver-client"') in refused.stderr, refused.stderr
    kubectl("apply", "-f", "-", kubeconfig=kubeconfig, check=True, input=yaml.safe_dump({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "client-signer-approver"},
        "rules": [{"apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
                   "resourceNames": ["kubernetes.io/kube-apiserver-client"],
                   "verbs": ["approve"]}]}))
    kubectl("create", "clusterrolebinding", "jane-approves-clients",
            "--clusterrole=client-signer-approver", "--user=jane", kubeconfig=kubeconfig,
            check=True)
    kubectl("certificate", "approve", "joe", kubeconfig=jane, check=True)

"""An HTTPS webhook server for tests: a test CA, a serving certificate, and handlers by path.

``WebhookServer(tmp_path, dns_names=("svc.ns.svc",))`` makes a CA and a certificate for
127.0.0.1 (and ``dns_names``) with ``cryptography``, then serves HTTPS on a port of
127.0.0.1 the kernel picks, in a thread. ``server.route(path, handler)`` installs
``handler(review: dict) -> dict`` (the handler returns the whole answer). Every request
body received is kept in ``server.received[path]``. ``server.ca_bundle`` is the base64
``caBundle`` of the CA; ``server.url(path)`` the URL of a path. Stop with :meth:`stop`
(or use it in ``with``).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.apiserver import HOST

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_certificates(directory: Path, dns_names: Sequence[str]) -> tuple[bytes, Path, Path]:
    """(CA PEM, certificate path, key path) of a fresh CA and a serving certificate."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("webhook-test-ca"))
          .issuer_name(_name("webhook-test-ca")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.IPAddress(ipaddress.ip_address(HOST)),
            *(x509.DNSName(n) for n in dns_names)]
    cert = (x509.CertificateBuilder().subject_name(_name("webhook"))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(sans), False)
            .sign(ca_key, hashes.SHA256()))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "webhook.crt", directory / "webhook.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca.public_bytes(serialization.Encoding.PEM), cert_path, key_path


def allow(review: dict[str, Any], **response: Any) -> dict[str, Any]:
    """The answer allowing ``review`` (more ``response`` fields may be given)."""
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": review["request"]["uid"], "allowed": True, **response}}


def deny(review: dict[str, Any], message: str, code: int = 403) -> dict[str, Any]:
    """The answer refusing ``review`` with ``message``."""
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "response": {"uid": review["request"]["uid"], "allowed": False,
                         "status": {"code": code, "message": message}}}


def json_patch(review: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer allowing ``review`` with the JSON patch ``ops``."""
    patch = base64.b64encode(json.dumps(ops).encode()).decode()
    return allow(review, patchType="JSONPatch", patch=patch)


class WebhookServer:
    """See the module docstring."""

    def __init__(self, directory: Path, dns_names: Sequence[str] = ()) -> None:
        ca_pem, cert, key = make_certificates(directory, dns_names)
        self.ca_bundle = base64.b64encode(ca_pem).decode()
        self.handlers: dict[str, Handler] = {}
        self.received: dict[str, list[dict[str, Any]]] = {}
        self.paths_seen: list[str] = []
        self.lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                path, _, _query = self.path.partition("?")
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with server.lock:
                    server.received.setdefault(path, []).append(body)
                    server.paths_seen.append(self.path)
                    handler = server.handlers.get(path)
                if handler is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                answer = json.dumps(handler(body)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer((HOST, 0), _Handler)
        self.port = self.httpd.server_address[1]
        self.httpd.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def route(self, path: str, handler: Handler) -> None:
        """Answer POSTs to ``path`` with ``handler``."""
        with self.lock:
            self.handlers[path] = handler

    def reviews(self, path: str) -> list[dict[str, Any]]:
        """The reviews received on ``path`` so far."""
        with self.lock:
            return list(self.received.get(path, []))

    def url(self, path: str) -> str:
        return f"https://{HOST}:{self.port}{path}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> WebhookServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

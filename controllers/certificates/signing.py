"""The ``csrsigning`` controller: approved CertificateSigningRequests get their certificate.

As kube-controller-manager's local signer (``pkg/controller/certificates/signer``): for a
request of one of :data:`~controllers.certificates.signer.SIGNERS` that is ``Approved``,
not ``Failed`` and has no certificate yet, the controller checks it against its signer and
either writes the certificate signed by the cluster CA to ``status.certificate`` or adds
the ``Failed`` condition (``SignerValidationFailure``) — both through ``/status``. Requests
of other signers are left to their own signers. It runs only with a CA:
``--cluster-signing-cert-file`` and ``--cluster-signing-key-file`` (``kubemu up`` passes its
cluster CA), for at most ``--cluster-signing-duration`` (upstream's default, one year).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from cryptography import x509

from apiserver.api.resources import served
from controllers.certificates.signer import (
    SIGNERS,
    Authority,
    SignerValidationError,
    check_request,
    decode_request,
)
from controllers.client.store import Store
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController
from controllers.runtime.flags import duration

__all__ = ["CSRSIGNING", "CSRSigningController"]

log = logging.getLogger("controllers.certificates")

CSRS = served("certificates.k8s.io", "v1", "certificatesigningrequests")
#: Upstream's ``--cluster-signing-duration`` default: 8760h.
DEFAULT_DURATION = 8760 * 3600.0


def _true(status: dict[str, Any], kind: str) -> bool:
    return any(isinstance(c, dict) and c.get("type") == kind and c.get("status") == "True"
               for c in status.get("conditions") or [])


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CSRSigningController(KeyedController):
    """Signs approved requests of the signers it knows (see the module docstring)."""

    name = "csrsigning"

    def __init__(self, csrs: Store, writer: Any, authority: Authority) -> None:
        super().__init__()
        self.csrs = csrs
        self.writer = writer
        self.authority = authority

    def enqueue(self, obj: Any, *_more: Any) -> None:
        """Any event of a request: look at its newest state."""
        target = _more[0] if _more else obj
        self.queue.add(str(target["metadata"].get("name", "")))

    async def sync(self, key: str) -> None:
        csr = self.csrs.get(None, key)
        if csr is None:
            return
        status: dict[str, Any] = dict(csr.get("status") or {})
        spec = csr.get("spec") or {}
        if not _true(status, "Approved") or _true(status, "Failed") \
                or status.get("certificate") or spec.get("signerName") not in SIGNERS:
            return
        usages = [str(u) for u in spec.get("usages") or []]
        try:
            pem = decode_request(str(spec.get("request") or ""))
            request = x509.load_pem_x509_csr(pem)
        except ValueError as exc:
            log.warning("unable to parse csr %r: %s", key, exc)
            return  # validation on create makes this unreachable; nothing to retry
        try:
            check_request(str(spec["signerName"]), request, usages)
        except SignerValidationError as exc:
            now = _now()
            status["conditions"] = [*(status.get("conditions") or []), {
                "type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                "message": str(exc), "lastUpdateTime": now, "lastTransitionTime": now}]
        else:
            expiration = spec.get("expirationSeconds")
            certificate = self.authority.sign(
                pem, usages, int(expiration) if isinstance(expiration, int) else None)
            status["certificate"] = base64.b64encode(certificate).decode()
        await self.writer.update_status(CSRS, None, {**csr, "status": status})
        self.metrics.writes += 1


def _build(ctx: ControllerContext) -> KeyedController:
    cert_file: str = ctx.args.cluster_signing_cert_file
    key_file: str = ctx.args.cluster_signing_key_file
    if not cert_file or not key_file:
        log.info("csrsigning: no --cluster-signing-cert-file/--cluster-signing-key-file, "
                 "approved certificate signing requests are not signed")
        return KeyedController()
    authority = Authority(Path(cert_file).read_bytes(), Path(key_file).read_bytes(),
                          dt.timedelta(seconds=ctx.args.cluster_signing_duration))
    informer = ctx.informers.informer_for(CSRS)
    controller = CSRSigningController(informer.store, ctx.writer, authority)
    informer.add_event_handler(controller.enqueue, controller.enqueue)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster-signing-cert-file", default="",
                        help="PEM CA certificate that signs approved certificate signing "
                        "requests (kubemu up: the cluster CA)")
    parser.add_argument("--cluster-signing-key-file", default="",
                        help="PEM private key of --cluster-signing-cert-file")
    parser.add_argument("--cluster-signing-duration", type=duration, default=DEFAULT_DURATION,
                        help="the longest a signed certificate lasts (default 8760h0m0s)")


CSRSIGNING = ControllerSpec("csrsigning", _build, lambda _args: 5, add_flags=_flags)

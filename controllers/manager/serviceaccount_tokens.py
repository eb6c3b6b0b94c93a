"""The serviceaccount-token controller: legacy ServiceAccount token Secrets.

As kube-controller-manager's tokens controller (``pkg/controller/serviceaccount/
tokens_controller.go``) with 1.33's defaults (no Secret is made for a ServiceAccount on
its own): a Secret of type ``kubernetes.io/service-account-token`` that names a
ServiceAccount (annotation ``kubernetes.io/service-account.name``) gets

* ``data.token`` — a JWT signed with ``--service-account-private-key-file``, with the
  legacy claims (``iss: kubernetes/serviceaccount``, ``kubernetes.io/serviceaccount/*``);
* ``data["ca.crt"]`` — ``--root-ca-file`` (a flag of the whole manager); ``data.namespace``;
* annotation ``kubernetes.io/service-account.uid`` when it has none.

A Secret whose ServiceAccount does not exist (or has another UID than the annotation
says) is deleted, and so are a ServiceAccount's token Secrets when it is deleted. The
apiserver accepts such a token only while the Secret holds it and the ServiceAccount
exists with that UID. Without ``--service-account-private-key-file`` the controller
does nothing (upstream does not start it).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import logging
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from apiserver.api.resources import served
from controllers.client.errors import is_not_found
from controllers.client.rest import RestClient
from controllers.client.store import DeletedFinalStateUnknown, Store
from controllers.runtime.app import ControllerContext, ControllerSpec
from controllers.runtime.controller import KeyedController

__all__ = ["SERVICEACCOUNT_TOKEN", "TokensController", "legacy_claims"]

log = logging.getLogger(__name__)

SECRETS = served("", "v1", "secrets")
SERVICEACCOUNTS = served("", "v1", "serviceaccounts")
TOKEN_TYPE = "kubernetes.io/service-account-token"
NAME_ANNOTATION = "kubernetes.io/service-account.name"
UID_ANNOTATION = "kubernetes.io/service-account.uid"
LEGACY_ISSUER = "kubernetes/serviceaccount"


def legacy_claims(namespace: str, secret_name: str, sa_name: str, sa_uid: str) \
        -> dict[str, Any]:
    """The claims of a legacy Secret-based token (upstream ``LegacyClaims``)."""
    return {"iss": LEGACY_ISSUER, "sub": f"system:serviceaccount:{namespace}:{sa_name}",
            "kubernetes.io/serviceaccount/namespace": namespace,
            "kubernetes.io/serviceaccount/secret.name": secret_name,
            "kubernetes.io/serviceaccount/service-account.name": sa_name,
            "kubernetes.io/serviceaccount/service-account.uid": sa_uid}


class LegacySigner:
    """Signs legacy tokens with the apiserver's key (``alg`` by key type, ``kid`` as
    upstream: base64url SHA-256 of the PKIX public key)."""

    def __init__(self, key_pem: bytes) -> None:
        key = serialization.load_pem_private_key(key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise ValueError("only RSA and EC keys can sign service account tokens")
        self.key = key
        public = key.public_key()
        der = public.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
        if isinstance(key, rsa.RSAPrivateKey):
            self.algorithm = "RS256"
        else:
            self.algorithm = {"secp256r1": "ES256", "secp384r1": "ES384",
                              "secp521r1": "ES512"}[key.curve.name]

    def sign(self, claims: dict[str, Any]) -> str:
        """The compact JWS of ``claims``."""
        return jwt.encode(claims, self.key, algorithm=self.algorithm,
                          headers={"kid": self.kid, "typ": None})


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _meta(obj: Any) -> dict[str, Any]:
    md = obj.get("metadata") if isinstance(obj, dict) else None
    return md if isinstance(md, dict) else {}


class TokensController(KeyedController):
    """Fills and cleans up ServiceAccount token Secrets (keys: ``namespace/name``)."""

    name = "serviceaccount-token"

    def __init__(self, secrets: Store, accounts: Store, client: RestClient, writer: Any,
                 signer: LegacySigner, root_ca: bytes | None) -> None:
        super().__init__()
        self.secrets = secrets
        self.accounts = accounts
        self.client = client
        self.writer = writer
        self.signer = signer
        self.root_ca = root_ca

    def on_secret(self, obj: Any) -> None:
        """Enqueue token Secrets."""
        if isinstance(obj, dict) and obj.get("type") == TOKEN_TYPE:
            md = _meta(obj)
            self.queue.add(f"{md.get('namespace', '')}/{md.get('name', '')}")

    def on_secret_update(self, _old: Any, new: Any) -> None:
        """Handler for Secret updates."""
        self.on_secret(new)

    def on_account(self, obj: Any) -> None:
        """A ServiceAccount appeared or changed: its token Secrets may now be fillable."""
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        md = _meta(obj)
        for secret in self.secrets.list():
            smd = _meta(secret)
            if (secret.get("type") == TOKEN_TYPE and smd.get("namespace") == md.get("namespace")
                    and (smd.get("annotations") or {}).get(NAME_ANNOTATION) == md.get("name")):
                self.queue.add(f"{smd.get('namespace', '')}/{smd.get('name', '')}")

    def on_account_update(self, _old: Any, new: Any) -> None:
        """Handler for ServiceAccount updates."""
        self.on_account(new)

    async def _account(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The ServiceAccount, from the cache or (on a miss) the apiserver."""
        cached = self.accounts.get(namespace, name)
        if cached is not None:
            return dict(cached)
        try:
            return await self.client.get(SERVICEACCOUNTS, namespace, name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    async def sync(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        secret = self.secrets.get(namespace, name)
        if secret is None or secret.get("type") != TOKEN_TYPE:
            return
        md = _meta(secret)
        if md.get("deletionTimestamp"):
            return
        annotations = dict(md.get("annotations") or {})
        account = await self._account(namespace, str(annotations.get(NAME_ANNOTATION) or ""))
        uid = _meta(account).get("uid") if account is not None else None
        if account is None or (annotations.get(UID_ANNOTATION) not in (None, "", uid)):
            try:
                await self.writer.delete(SECRETS, namespace, name)
                self.metrics.writes += 1
            except Exception as exc:
                if not is_not_found(exc):
                    raise
            return
        data = dict(secret.get("data") or {})
        if data.get("token") and annotations.get(UID_ANNOTATION):
            return
        if not data.get("token"):
            token = self.signer.sign(legacy_claims(namespace, name, _meta(account)["name"],
                                                   str(uid)))
            data["token"] = _b64(token.encode())
            data["namespace"] = _b64(namespace.encode())
            if self.root_ca is not None:
                data["ca.crt"] = _b64(self.root_ca)
        annotations[UID_ANNOTATION] = str(uid)
        updated = {**secret, "data": data, "metadata": {**md, "annotations": annotations}}
        await self.writer.update(SECRETS, namespace, updated)
        self.metrics.writes += 1


def _build(ctx: ControllerContext) -> KeyedController:
    key_file: str | None = ctx.args.service_account_private_key_file
    if not key_file:
        log.warning("serviceaccount-token controller: no --service-account-private-key-file, "
                    "token Secrets are left empty")
        return KeyedController()
    signer = LegacySigner(Path(key_file).read_bytes())
    root_ca = Path(ctx.args.root_ca_file).read_bytes() if ctx.args.root_ca_file else None
    secrets = ctx.informers.informer_for(SECRETS)
    accounts = ctx.informers.informer_for(SERVICEACCOUNTS)
    controller = TokensController(secrets.store, accounts.store, ctx.client, ctx.writer,
                                  signer, root_ca)
    secrets.add_event_handler(controller.on_secret, controller.on_secret_update)
    accounts.add_event_handler(controller.on_account, controller.on_account_update,
                               controller.on_account)
    return controller


def _flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service-account-private-key-file", default="",
                        help="PEM private key signing legacy ServiceAccount token Secrets "
                        "(the apiserver's --service-account-signing-key-file)")
    parser.add_argument("--concurrent-serviceaccount-token-syncs", type=int, default=5,
                        help="serviceaccount-token workers (default 5)")


SERVICEACCOUNT_TOKEN = ControllerSpec(
    "serviceaccount-token", _build,
    lambda args: int(args.concurrent_serviceaccount_token_syncs), add_flags=_flags,
)

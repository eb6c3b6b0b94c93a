"""The authentication flags of ``python -m apiserver`` and what they build.

:class:`AuthenticationOptions` holds kube-apiserver's flags (``--client-ca-file``,
``--token-auth-file``, ``--service-account-*``, ``--api-audiences``,
``--anonymous-auth``); :class:`Authentication` builds from them the request
authenticator (x509, token file, ServiceAccount tokens, anonymous), the token
authenticator ``TokenReview`` uses, the ServiceAccount keys that sign TokenRequest
tokens and the OIDC discovery documents.

Without ``--service-account-signing-key-file`` a fresh RSA key is generated at start
(kube-apiserver refuses to start instead): tokens it signed stop verifying when the
server restarts, as after a key rotation. ``kubemu up`` always passes a kept key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509

from apiserver.auth.authentication import AudienceAgnostic, RequestAuthenticator, TokenChain
from apiserver.auth.requestheader import RequestHeaderAuthenticator, RequestHeaderOptions
from apiserver.auth.serviceaccount_keys import (
    PublicKey,
    ServiceAccountKeys,
    generate_private_key,
    load_private_key,
    load_public_keys,
)
from apiserver.auth.serviceaccount_tokens import ObjectGetter, ServiceAccountTokenAuthenticator
from apiserver.auth.token_cache import CachedTokens
from apiserver.auth.tokenfile import TokenFileAuthenticator
from apiserver.auth.x509 import X509Authenticator
from apiserver.registry.registry import Registry
from apiserver.registry.reviews import TokenAuthenticator
from apiserver.registry.tokenrequest import TokenOptions

#: kubeadm's (and kind's) ``--service-account-issuer``.
DEFAULT_ISSUER = "https://kubernetes.default.svc.cluster.local"


@dataclass(frozen=True)
class AuthenticationOptions:
    """kube-apiserver's authentication flags."""

    client_ca_file: Path | None = None
    token_auth_file: Path | None = None
    service_account_key_files: tuple[Path, ...] = ()
    service_account_signing_key_file: Path | None = None
    service_account_issuers: tuple[str, ...] = ()
    api_audiences: tuple[str, ...] = ()
    #: Seconds; 0 is no cap.
    service_account_max_token_expiration: int = 0
    service_account_extend_token_expiration: bool = True
    service_account_jwks_uri: str = ""
    anonymous: bool = True
    #: ``--requestheader-*``: the front proxy trusted to name users in headers.
    requestheader: RequestHeaderOptions = field(default_factory=RequestHeaderOptions)


def registry_getter(registry: Registry) -> ObjectGetter:
    """Reads core/v1 objects from the watch cache (for the ServiceAccount authenticator)."""

    def get(resource: str, namespace: str, name: str) -> Mapping[str, Any] | None:
        store = registry.stores.get(("", "v1", resource))
        if store is None:
            return None
        found = store.cache.get(store.key(namespace or None, name))
        return found.obj if found is not None else None

    return get


#: The core/v1 kinds the ServiceAccount token authenticator reads.
_TOKEN_SOURCES = ("serviceaccounts", "secrets", "pods", "nodes")


def cache_generation(registry: Registry) -> Callable[[], int]:
    """A counter that grows whenever an object the ServiceAccount authenticator reads
    changes (what invalidates :class:`~apiserver.auth.token_cache.CachedTokens`)."""
    accounts, secrets, pods, nodes = (registry.stores[("", "v1", resource)].cache
                                      for resource in _TOKEN_SOURCES)
    return lambda: accounts.generation + secrets.generation + pods.generation + nodes.generation


class Authentication:
    """The authenticators and keys built from :class:`AuthenticationOptions`."""

    def __init__(self, options: AuthenticationOptions, registry: Registry,
                 clock: Callable[[], datetime]) -> None:
        self.options = options
        signing = (load_private_key(options.service_account_signing_key_file)
                   if options.service_account_signing_key_file else generate_private_key())
        verify: list[PublicKey] = []
        for path in options.service_account_key_files:
            verify += load_public_keys(path)
        self.keys = ServiceAccountKeys(signing, verify)
        self.issuers = options.service_account_issuers or (DEFAULT_ISSUER,)
        self.api_audiences = options.api_audiences or (self.issuers[0],)
        self.token_options = TokenOptions(
            issuer=self.issuers[0], api_audiences=self.api_audiences,
            max_expiration=options.service_account_max_token_expiration,
            extend_expiration=options.service_account_extend_token_expiration)
        tokens: list[TokenAuthenticator] = []
        if options.token_auth_file is not None:
            tokens.append(AudienceAgnostic(TokenFileAuthenticator.from_file(
                options.token_auth_file), self.api_audiences))
        tokens.append(ServiceAccountTokenAuthenticator(
            self.keys, self.issuers, self.api_audiences, registry_getter(registry), clock))
        self.tokens = TokenChain(tokens)
        front = options.requestheader.load()
        self.requestheader = front if front.client_ca_file is not None else None
        # With a front-proxy CA the handshake trusts both CAs, so client certificates
        # must be checked against --client-ca-file's own.
        issuers = (tuple(x509.load_pem_x509_certificates(options.client_ca_file.read_bytes()))
                   if options.client_ca_file is not None and self.requestheader is not None
                   else ())
        self.request = RequestAuthenticator(
            x509=X509Authenticator(issuers) if options.client_ca_file is not None else None,
            tokens=CachedTokens(self.tokens, cache_generation(registry)),
            anonymous=options.anonymous,
            requestheader=(RequestHeaderAuthenticator(self.requestheader)
                           if self.requestheader is not None else None))

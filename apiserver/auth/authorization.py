"""The server's authorization, built from ``--authorization-mode`` (kube-apiserver's
``pkg/kubeapiserver/authorizer/config.go``).

:func:`build_authorization` returns the union authorizer — ``system:masters`` first, then
each mode in the order given — plus what the server wires around it: the chain's check
(none when the only mode is ``AlwaysAllow``, which would allow everything anyway), and,
with ``RBAC``, the escalation checks on the RBAC kinds' writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from apiserver.api.resources import served
from apiserver.api.user import UserInfo
from apiserver.auth.authz_node import NodeAuthorizer
from apiserver.auth.authz_rbac import RbacAuthorizer
from apiserver.auth.authz_union import AlwaysDeny, PrivilegedGroups, UnionAuthorizer
from apiserver.auth.rbac_escalation import EscalationGuard
from apiserver.registry.certificates import (
    CSRS,
    CertificateSigningRequestStrategy,
    SignerPermission,
)
from apiserver.registry.rbac import BindingStrategy, RoleStrategy
from apiserver.registry.registry import Registry
from apiserver.registry.reviews import AlwaysAllow, Attributes, Authorizer
from apiserver.storage.cache import ResourceCache

RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Authorization:
    """The configured authorizer and what uses it."""

    modes: tuple[str, ...]
    authorizer: Authorizer
    rbac: RbacAuthorizer | None

    def stage(self) -> Authorizer | None:
        """The authorizer the request chain asks (None: AlwaysAllow alone needs no check)."""
        if self.modes == ("AlwaysAllow",):
            return None
        return self.authorizer


def rbac_authorizer(registry: Registry) -> RbacAuthorizer:
    """An RBAC authorizer over ``registry``'s watch caches."""
    def cache(plural: str) -> ResourceCache:
        return registry.store(served(RBAC_GROUP, "v1", plural)).cache
    return RbacAuthorizer(cache("roles"), cache("clusterroles"), cache("rolebindings"),
                          cache("clusterrolebindings"))


def signer_permission(authorizer: Authorizer) -> SignerPermission:
    """Upstream ``IsAuthorizedForSignerName``: ``verb`` on the ``signers`` resource named
    after the signer, or after its domain (``kubernetes.io/*``)."""

    def allowed(user: UserInfo, verb: str, signer: str) -> bool:
        for name in (signer, signer.split("/", 1)[0] + "/*"):
            attrs = Attributes(user=user, verb=verb, resource_request=True,
                               api_group="certificates.k8s.io", api_version="*",
                               resource="signers", name=name)
            if authorizer.authorize(attrs).allowed:
                return True
        return False

    return allowed


def build_authorization(modes: tuple[str, ...], registry: Registry) -> Authorization:
    """The authorizers of ``modes`` (already validated) over ``registry``; with RBAC,
    the escalation checks are installed on the RBAC kinds' strategies."""
    rbac: RbacAuthorizer | None = None
    chain: list[Authorizer] = [PrivilegedGroups()]
    for mode in modes:
        if mode == "AlwaysAllow":
            chain.append(AlwaysAllow())
        elif mode == "AlwaysDeny":
            chain.append(AlwaysDeny())
        elif mode == "Node":
            chain.append(NodeAuthorizer(
                registry.store(served("", "v1", "pods")).cache,
                registry.store(served("", "v1", "persistentvolumeclaims")).cache))
        elif mode == "RBAC":
            rbac = rbac_authorizer(registry)
            chain.append(rbac)
    authorizer = UnionAuthorizer(chain)
    csrs = registry.store(CSRS).strategy
    assert isinstance(csrs, CertificateSigningRequestStrategy)
    csrs.signer_permission = signer_permission(authorizer)
    if rbac is not None:
        guard = EscalationGuard(authorizer, rbac)
        for plural in ("roles", "clusterroles", "rolebindings", "clusterrolebindings"):
            strategy = registry.store(served(RBAC_GROUP, "v1", plural)).strategy
            assert isinstance(strategy, RoleStrategy | BindingStrategy)  # the RBAC kinds
            strategy.guard = guard
    return Authorization(modes, authorizer, rbac)

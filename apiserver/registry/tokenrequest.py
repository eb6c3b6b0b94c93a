"""``POST …/serviceaccounts/{name}/token``: the TokenRequest API (upstream
``pkg/registry/core/serviceaccount/storage/token.go``).

Checks the request (name and namespace match the URL; ``expirationSeconds``
defaults to 3600, at least 600 and at most 2^32; ``boundObjectRef`` to a Pod running
as this ServiceAccount, a Secret or a Node, with a matching UID if one is given),
builds upstream's claims (``iss``, ``sub``, ``aud``, ``iat``, ``nbf``, ``exp``, ``jti``
and the private ``kubernetes.io`` claim) and has a :class:`Signer` sign them. The
signing keys live above the registry (:mod:`apiserver.auth.serviceaccount_keys`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from apiserver.api import errors, meta
from apiserver.api.resources import ResourceInfo
from apiserver.registry.registry import Registry
from apiserver.registry.store import order_object

DEFAULT_EXPIRATION = 3600
MIN_EXPIRATION = 600
MAX_EXPIRATION = 1 << 32
#: The kubelet's request that upstream extends to a year (``WarnOnlyBoundTokenExpirationSeconds``).
WARN_ONLY_EXPIRATION = 3607
EXTENDED_EXPIRATION = 24 * 365 * 60 * 60
TOKEN_REQUEST_SCHEMA = "io.k8s.api.authentication.v1.TokenRequest"


class Signer(Protocol):
    """Signs a token's claims (a compact JWS)."""

    def sign(self, claims: dict[str, Any]) -> str: ...


@dataclass(frozen=True)
class TokenOptions:
    """The apiserver's ServiceAccount token flags."""

    issuer: str
    api_audiences: tuple[str, ...]
    #: ``--service-account-max-token-expiration`` in seconds (0: no cap).
    max_expiration: int = 0
    #: ``--service-account-extend-token-expiration``.
    extend_expiration: bool = True


def token_request_info(serviceaccounts: ResourceInfo) -> ResourceInfo:
    """The ResourceInfo a TokenRequest body is decoded with."""
    return replace(serviceaccounts, group="authentication.k8s.io", version="v1",
                   kind="TokenRequest", schema_ref=TOKEN_REQUEST_SCHEMA, list_kind="",
                   subresources=())


_TOKEN_REQUEST = ResourceInfo(group="authentication.k8s.io", version="v1", kind="TokenRequest",
                              plural="tokenrequests", singular="tokenrequest", namespaced=True,
                              schema_ref=TOKEN_REQUEST_SCHEMA, list_kind="")


def _invalid(name: str, path: str, value: Any, detail: str) -> errors.ApiError:
    return errors.invalid(_TOKEN_REQUEST, name, [errors.invalid_value(path, value, detail)])


def _resource(plural: str) -> tuple[str, str, str]:
    return ("", "v1", plural)


class TokenRequestREST:
    """Issues bound ServiceAccount tokens."""

    def __init__(self, registry: Registry, signer: Signer, options: TokenOptions,
                 clock: Callable[[], datetime]) -> None:
        self.registry = registry
        self.signer = signer
        self.options = options
        self.clock = clock

    def _get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        store = self.registry.stores[_resource(plural)]
        found = store.cache.get(store.key(namespace, name))
        if found is None:
            raise errors.not_found(store.info, name)
        return found.obj

    async def create(self, namespace: str, name: str,
                     request: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """The TokenRequest answered (``status.token``, ``status.expirationTimestamp``),
        and the warnings for the response."""
        md = meta.metadata(request)
        if md.get("name") and md["name"] != name:
            raise _invalid(md["name"], "metadata.name", md["name"],
                           "must match the service account name if specified")
        if md.get("namespace") and md["namespace"] != namespace:
            raise _invalid(md.get("name") or "", "metadata.namespace", md["namespace"],
                           "must match the service account namespace if specified")
        sa_store = self.registry.stores[_resource("serviceaccounts")]
        await sa_store.get(namespace, name)  # 404 before anything else, consistently read
        sa = self._get("serviceaccounts", namespace, name)
        spec = request.get("spec") if isinstance(request.get("spec"), dict) else {}
        assert isinstance(spec, dict)
        seconds = spec.get("expirationSeconds")
        if seconds is None:
            seconds = DEFAULT_EXPIRATION
        if not isinstance(seconds, int) or isinstance(seconds, bool):
            raise errors.bad_request("spec.expirationSeconds must be an integer")
        if seconds < MIN_EXPIRATION:
            raise _invalid("", "spec.expirationSeconds", seconds,
                           "may not specify a duration less than 10 minutes")
        if seconds > MAX_EXPIRATION:
            raise _invalid("", "spec.expirationSeconds", seconds,
                           "may not specify a duration larger than 2^32 seconds")
        audiences = list(spec.get("audiences") or ()) or list(self.options.api_audiences)
        private, pod_bound = self._bound_claims(namespace, name, sa, spec.get("boundObjectRef"))
        warnings: list[str] = []
        requested = seconds
        if self.options.max_expiration and seconds > self.options.max_expiration:
            warnings.append(f"requested expiration of {seconds} seconds shortened to "
                            f"{self.options.max_expiration} seconds")
            seconds = requested = self.options.max_expiration
        now = self.clock().replace(microsecond=0)
        lifetime = seconds
        if (pod_bound and self.options.extend_expiration and seconds == WARN_ONLY_EXPIRATION
                and set(audiences) <= set(self.options.api_audiences)):
            lifetime = EXTENDED_EXPIRATION
            private["warnafter"] = int((now + timedelta(seconds=seconds)).timestamp())
        claims = {
            "aud": audiences,
            "exp": int((now + timedelta(seconds=lifetime)).timestamp()),
            "iat": int(now.timestamp()),
            "iss": self.options.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": private,
            "nbf": int(now.timestamp()),
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        token = self.signer.sign(claims)
        out = dict(request)
        out_md = dict(md)
        out_md["namespace"] = namespace
        out_md.setdefault("creationTimestamp", None)
        out["metadata"] = out_md
        out["spec"] = {**spec, "audiences": audiences, "expirationSeconds": seconds}
        out["status"] = {"token": token, "expirationTimestamp": meta.rfc3339(
            now + timedelta(seconds=requested))}
        out.setdefault("kind", "TokenRequest")
        out.setdefault("apiVersion", "authentication.k8s.io/v1")
        return order_object(out), warnings

    def _bound_claims(self, namespace: str, name: str, sa: dict[str, Any],
                      ref: Any) -> tuple[dict[str, Any], bool]:
        """The private claim, and whether the token is bound to a pod."""
        sa_md = meta.metadata(sa)
        private: dict[str, Any] = {"namespace": namespace,
                                   "serviceaccount": {"name": name, "uid": sa_md.get("uid")}}
        if not isinstance(ref, dict) or not ref:
            return private, False
        api_version = str(ref.get("apiVersion") or "")
        kind = str(ref.get("kind") or "")
        group = api_version.rpartition("/")[0] if "/" in api_version else ""
        version = api_version.rpartition("/")[2]
        ref_name = str(ref.get("name") or "")
        ref_uid = str(ref.get("uid") or "")
        plural = {"Pod": "pods", "Secret": "secrets", "Node": "nodes"}.get(kind) \
            if group == "" else None
        if plural is None:
            raise errors.bad_request(f"cannot bind token to object of type {group}/{version}, "
                                     f"Kind={kind}")
        obj = self._get(plural, None if kind == "Node" else namespace, ref_name)
        uid = meta.metadata(obj).get("uid")
        if ref_uid and ref_uid != uid:
            # Upstream's NewConflict on GroupResource{group, Kind}: no group, no dot.
            raise errors.ApiError(409, "Conflict", (
                f'Operation cannot be fulfilled on {kind} "{ref_name}": the UID in the '
                f"bound object reference ({ref_uid}) does not match the UID in record. The "
                "object might have been deleted and then recreated"),
                {"name": ref_name, "kind": kind})
        private[kind.lower()] = {"name": ref_name, "uid": uid}
        if kind == "Pod":
            pod_spec = obj.get("spec") or {}
            if (pod_spec.get("serviceAccountName") or "default") != name:
                raise errors.bad_request(f'cannot bind token for serviceaccount "{name}" to pod '
                                         "running with different serviceaccount name.")
            node_name = pod_spec.get("nodeName")
            if node_name:
                node_store = self.registry.stores[_resource("nodes")]
                node = node_store.cache.get(node_store.key(None, node_name))
                if node is not None:
                    private["node"] = {"name": node_name,
                                       "uid": meta.metadata(node.obj).get("uid")}
        return private, kind == "Pod"


"""ServiceAccount tokens: TokenRequest claims and limits, and the token authenticator
(signature, expiry, audiences, invalidation with the bound object, legacy tokens)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from apiserver.api import errors
from apiserver.api.resources import lookup
from apiserver.auth.authentication import TokenChain
from apiserver.auth.config import registry_getter
from apiserver.auth.serviceaccount_keys import (
    ServiceAccountKeys,
    generate_private_key,
    key_id,
)
from apiserver.auth.serviceaccount_tokens import (
    EXTRA_CREDENTIAL_ID,
    EXTRA_POD_NAME,
    EXTRA_POD_UID,
    ServiceAccountTokenAuthenticator,
)
from apiserver.registry.registry import Registry
from apiserver.registry.store import DeleteOptions
from apiserver.registry.tokenrequest import TokenOptions, TokenRequestREST
from apiserver.storage.cache import WatchCache
from apiserver.storage.memory import MemoryStorage
from controllers.manager.serviceaccount_tokens import legacy_claims

ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICEACCOUNTS = lookup("", "v1", "serviceaccounts")
PODS = lookup("", "v1", "pods")
SECRETS = lookup("", "v1", "secrets")
NODES = lookup("", "v1", "nodes")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class World:
    """A registry, a TokenRequest REST and an authenticator over it."""

    def __init__(self, registry: Registry, clock: Clock, keys: ServiceAccountKeys) -> None:
        self.registry = registry
        self.clock = clock
        self.keys = keys
        self.rest = TokenRequestREST(registry, keys, TokenOptions(ISSUER, (ISSUER,)), clock)
        self.auth = ServiceAccountTokenAuthenticator(keys, (ISSUER,), (ISSUER,),
                                                     registry_getter(registry), clock)

    async def create(self, info: Any, namespace: str | None, obj: dict[str, Any]) \
            -> dict[str, Any]:
        assert info is not None
        return (await self.registry.store(info).create(namespace, obj)).obj

    async def token(self, name: str = "robot", **spec: Any) -> dict[str, Any]:
        answer, _ = await self.rest.create("ns", name, {"spec": spec})
        return answer


def run(scenario: Callable[[World], Awaitable[None]]) -> None:
    async def main() -> None:
        storage = MemoryStorage()
        await storage.start()
        clock = Clock()
        registry = Registry(storage, WatchCache(storage), clock)
        await registry.start()
        try:
            world = World(registry, clock, ServiceAccountKeys(generate_private_key()))
            await world.create(lookup("", "v1", "namespaces"), None, {"metadata": {"name": "ns"}})
            await world.create(SERVICEACCOUNTS, "ns", {"metadata": {"name": "robot"}})
            # What the serviceaccount controller makes in every namespace (admission needs it).
            await world.create(SERVICEACCOUNTS, "ns", {"metadata": {"name": "default"}})
            await scenario(world)
        finally:
            await registry.stop()
            await storage.close()

    asyncio.run(main())


def _pod(name: str, sa: str = "robot", node: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"serviceAccountName": sa,
                            "containers": [{"name": "c", "image": "i"}]}
    if node:
        spec["nodeName"] = node
    return {"metadata": {"name": name}, "spec": spec}


def test_token_request_claims_as_upstream() -> None:
    async def scenario(w: World) -> None:
        node = await w.create(NODES, None, {"metadata": {"name": "n1"}})
        pod = await w.create(PODS, "ns", _pod("p1", node="n1"))
        sa = (await w.registry.store(SERVICEACCOUNTS).get("ns", "robot")).obj
        answer = await w.token(boundObjectRef={"apiVersion": "v1", "kind": "Pod", "name": "p1"})
        assert answer["spec"]["expirationSeconds"] == 3600
        assert answer["spec"]["audiences"] == [ISSUER]
        assert answer["status"]["expirationTimestamp"] == "2026-01-01T13:00:00Z"
        token = answer["status"]["token"]
        header = jwt.get_unverified_header(token)
        assert header == {"alg": "ES256", "kid": key_id(w.keys.signing_key.public_key())}
        claims = jwt.decode(token, options={"verify_signature": False})
        now = int(w.clock.now.timestamp())
        assert claims["iss"] == ISSUER and claims["aud"] == [ISSUER]
        assert claims["sub"] == "system:serviceaccount:ns:robot"
        assert (claims["iat"], claims["nbf"], claims["exp"]) == (now, now, now + 3600)
        assert len(claims["jti"]) == 36
        assert claims["kubernetes.io"] == {
            "namespace": "ns",
            "serviceaccount": {"name": "robot", "uid": sa["metadata"]["uid"]},
            "pod": {"name": "p1", "uid": pod["metadata"]["uid"]},
            "node": {"name": "n1", "uid": node["metadata"]["uid"]},
        }
        result = w.auth.authenticate_token(token, ())
        assert result.authenticated and result.user is not None
        assert result.audiences == (ISSUER,)
        assert result.user.username == "system:serviceaccount:ns:robot"
        assert result.user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns")
        assert result.user.extra[EXTRA_POD_NAME] == ("p1",)
        assert result.user.extra[EXTRA_POD_UID] == (pod["metadata"]["uid"],)
        assert result.user.extra[EXTRA_CREDENTIAL_ID] == (f"JTI={claims['jti']}",)

    run(scenario)


def test_token_request_limits_and_binding_errors() -> None:
    async def scenario(w: World) -> None:
        with pytest.raises(errors.ApiError) as caught:
            await w.token(expirationSeconds=60)
        assert caught.value.code == 422
        assert caught.value.message == (
            'TokenRequest.authentication.k8s.io "" is invalid: spec.expirationSeconds: '
            "Invalid value: 60: may not specify a duration less than 10 minutes")
        with pytest.raises(errors.ApiError) as caught:
            await w.token(expirationSeconds=(1 << 32) + 1)
        assert "larger than 2^32 seconds" in caught.value.message
        with pytest.raises(errors.ApiError) as caught:
            await w.token("missing")
        assert caught.value.code == 404
        await w.create(PODS, "ns", _pod("other", sa="default"))
        with pytest.raises(errors.ApiError) as caught:
            await w.token(boundObjectRef={"apiVersion": "v1", "kind": "Pod", "name": "other"})
        assert caught.value.code == 400
        assert caught.value.message == ('cannot bind token for serviceaccount "robot" to pod '
                                        "running with different serviceaccount name.")
        with pytest.raises(errors.ApiError) as caught:
            await w.token(boundObjectRef={"apiVersion": "v1", "kind": "ConfigMap", "name": "x"})
        assert caught.value.message == "cannot bind token to object of type /v1, Kind=ConfigMap"
        await w.create(SECRETS, "ns", {"metadata": {"name": "s1"}})
        with pytest.raises(errors.ApiError) as caught:
            await w.token(boundObjectRef={"apiVersion": "v1", "kind": "Secret", "name": "s1",
                                          "uid": "not-its-uid"})
        assert caught.value.code == 409
        assert caught.value.message == (
            'Operation cannot be fulfilled on Secret "s1": the UID in the bound object '
            "reference (not-its-uid) does not match the UID in record. The object might have "
            "been deleted and then recreated")
        with pytest.raises(errors.ApiError) as caught:
            await w.rest.create("ns", "robot", {"metadata": {"name": "else"}, "spec": {}})
        assert "must match the service account name if specified" in caught.value.message

    run(scenario)


def test_kubelet_tokens_are_extended_with_warnafter() -> None:
    async def scenario(w: World) -> None:
        await w.create(PODS, "ns", _pod("p1"))
        answer = await w.token(expirationSeconds=3607,
                               boundObjectRef={"apiVersion": "v1", "kind": "Pod", "name": "p1"})
        claims = jwt.decode(answer["status"]["token"], options={"verify_signature": False})
        now = int(w.clock.now.timestamp())
        assert claims["exp"] == now + 365 * 24 * 3600
        assert claims["kubernetes.io"]["warnafter"] == now + 3607
        assert answer["status"]["expirationTimestamp"] == "2026-01-01T13:00:07Z"

    run(scenario)


def test_expiry_audiences_and_signature() -> None:
    async def scenario(w: World) -> None:
        token = (await w.token(audiences=["vault"]))["status"]["token"]
        assert w.auth.authenticate_token(token, ["vault"]).authenticated
        wrong = w.auth.authenticate_token(token, ())
        assert not wrong.authenticated
        assert wrong.error == (f'token audiences ["vault"] is invalid for the target audiences '
                               f'["{ISSUER}"]')
        w.clock.now += timedelta(seconds=3600 + 59)  # within the one-minute leeway
        assert w.auth.authenticate_token(token, ["vault"]).authenticated
        w.clock.now += timedelta(seconds=2)
        expired = w.auth.authenticate_token(token, ["vault"])
        assert expired.error == "service account token has expired"
        stranger = ServiceAccountKeys(generate_private_key())
        forged = stranger.sign(jwt.decode(token, options={"verify_signature": False}))
        assert not w.auth.authenticate_token(forged, ["vault"]).authenticated
        other_issuer = w.keys.sign({"iss": "https://elsewhere", "sub": "x"})
        result = w.auth.authenticate_token(other_issuer, ())
        assert not result.authenticated and result.error == ""

    run(scenario)


def test_a_bound_token_dies_with_its_pod_and_its_service_account() -> None:
    async def scenario(w: World) -> None:
        await w.create(PODS, "ns", _pod("p1"))
        token = (await w.token(boundObjectRef={"apiVersion": "v1", "kind": "Pod",
                                               "name": "p1"}))["status"]["token"]
        plain = (await w.token())["status"]["token"]
        assert w.auth.authenticate_token(token, ()).authenticated
        await w.registry.store(PODS).delete("ns", "p1", DeleteOptions(grace_period_seconds=0))
        result = w.auth.authenticate_token(token, ())
        assert result.error == "service account token has been invalidated"
        await w.create(PODS, "ns", _pod("p1"))  # same name, new UID
        result = w.auth.authenticate_token(token, ())
        assert result.error.startswith("pod UID (") and "does not match service account pod " \
            "ref claim" in result.error
        assert w.auth.authenticate_token(plain, ()).authenticated
        await w.registry.store(SERVICEACCOUNTS).delete("ns", "robot", DeleteOptions())
        assert w.auth.authenticate_token(plain, ()).error == 'serviceaccounts "robot" not found'
        await w.create(SERVICEACCOUNTS, "ns", {"metadata": {"name": "robot"}})
        assert "does not match claim" in w.auth.authenticate_token(plain, ()).error

    run(scenario)


def test_legacy_secret_tokens() -> None:
    async def scenario(w: World) -> None:
        sa = (await w.registry.store(SERVICEACCOUNTS).get("ns", "robot")).obj
        uid = sa["metadata"]["uid"]
        token = w.keys.sign(legacy_claims("ns", "robot-token", "robot", uid))
        assert w.auth.authenticate_token(token, ()).error == "Token has been invalidated"
        await w.create(SECRETS, "ns", {
            "metadata": {"name": "robot-token",
                         "annotations": {"kubernetes.io/service-account.name": "robot"}},
            "type": "kubernetes.io/service-account-token",
            "data": {"token": base64.b64encode(token.encode()).decode()}})
        result = w.auth.authenticate_token(token, ())
        assert result.authenticated and result.user is not None
        assert result.user.username == "system:serviceaccount:ns:robot"
        assert result.audiences == (ISSUER,)
        other = w.keys.sign(legacy_claims("ns", "robot-token", "robot", "other-uid"))
        assert w.auth.authenticate_token(other, ()).error == "Token does not match server's copy"

    run(scenario)


def test_token_chain_adds_the_authenticated_group_and_reports_errors() -> None:
    async def scenario(w: World) -> None:
        token = (await w.token())["status"]["token"]
        chain = TokenChain([w.auth])
        result = chain.authenticate_token(token, ())
        assert result.user is not None and result.user.groups[-1] == "system:authenticated"
        w.clock.now += timedelta(days=1)
        assert chain.authenticate_token(token, ()).error == "service account token has expired"

    run(scenario)


def test_jwks_and_discovery_documents() -> None:
    keys = ServiceAccountKeys(generate_private_key())
    jwks = keys.jwks()["keys"]
    assert len(jwks) == 1
    assert jwks[0]["use"] == "sig" and jwks[0]["kty"] == "EC" and jwks[0]["alg"] == "ES256"
    assert jwks[0]["kid"] == keys.kid and jwks[0]["crv"] == "P-256"
    assert keys.openid_configuration(ISSUER, "https://h:6443/openid/v1/jwks") == {
        "issuer": ISSUER, "jwks_uri": "https://h:6443/openid/v1/jwks",
        "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"]}


def test_a_node_bound_token_dies_with_its_node() -> None:
    async def scenario(w: World) -> None:
        node = await w.create(NODES, None, {"metadata": {"name": "n1"}})
        answer = await w.token(boundObjectRef={"apiVersion": "v1", "kind": "Node", "name": "n1"})
        token = answer["status"]["token"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["kubernetes.io"]["node"] == {"name": "n1", "uid": node["metadata"]["uid"]}
        result = w.auth.authenticate_token(token, ())
        assert result.user is not None
        assert result.user.extra["authentication.kubernetes.io/node-name"] == ("n1",)
        await w.registry.store(NODES).delete(None, "n1", DeleteOptions())
        assert w.auth.authenticate_token(token, ()).error == \
            "service account token has been invalidated"

    run(scenario)

"""Who a request is: the authenticator union, anonymous, and impersonation decisions."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import pytest

from apiserver.api.user import ANONYMOUS, UserInfo
from apiserver.auth.authentication import AudienceAgnostic, RequestAuthenticator, TokenChain
from apiserver.auth.credentials import CredentialError
from apiserver.auth.impersonation import ImpersonationError, impersonate
from apiserver.auth.tokenfile import TokenFileAuthenticator
from apiserver.registry.reviews import AlwaysAllow, Attributes, Decision, Rules

ALICE = UserInfo("alice", groups=("dev", "system:authenticated"))


def _request_authenticator(anonymous: bool = True) -> RequestAuthenticator:
    tokens = TokenChain([TokenFileAuthenticator({"good": UserInfo("bob", "1", ("ops",))})])
    return RequestAuthenticator(tokens=tokens, anonymous=anonymous)


def test_a_valid_bearer_token_is_its_user_plus_the_authenticated_group() -> None:
    user = _request_authenticator().authenticate({"authorization": "Bearer good"})
    assert user == UserInfo("bob", "1", ("ops", "system:authenticated"))


def test_a_bad_bearer_token_is_refused_even_with_anonymous_on() -> None:
    with pytest.raises(CredentialError, match="invalid bearer token"):
        _request_authenticator().authenticate({"authorization": "Bearer nope"})


def test_static_tokens_answer_for_the_api_audiences_only() -> None:
    agnostic = AudienceAgnostic(TokenFileAuthenticator({"good": UserInfo("bob")}), ["api"])
    assert agnostic.authenticate_token("good", ()).audiences == ("api",)
    assert agnostic.authenticate_token("good", ["api", "x"]).audiences == ("api",)
    assert not agnostic.authenticate_token("good", ["vault"]).authenticated
    assert not agnostic.authenticate_token("bad", ()).authenticated


def test_basic_auth_and_no_credentials_are_anonymous() -> None:
    basic = "Basic " + base64.b64encode(b"admin:admin").decode()
    assert _request_authenticator().authenticate({"authorization": basic}) == ANONYMOUS
    assert _request_authenticator().authenticate({}) == ANONYMOUS
    assert _request_authenticator(anonymous=False).authenticate({}) is None


def test_websocket_bearer_subprotocol() -> None:
    encoded = base64.urlsafe_b64encode(b"good").rstrip(b"=").decode()
    headers = {"sec-websocket-protocol":
               f"v5.channel.k8s.io, base64url.bearer.authorization.k8s.io.{encoded}"}
    user = _request_authenticator().authenticate(headers, websocket=True)
    assert user is not None and user.username == "bob"
    assert _request_authenticator().authenticate(headers) == ANONYMOUS


class Deny:
    """Allows everything except the listed ``(resource, name)`` pairs."""

    def __init__(self, *denied: tuple[str, str]) -> None:
        self.denied = set(denied)
        self.asked: list[Attributes] = []

    def authorize(self, attributes: Attributes) -> Decision:
        self.asked.append(attributes)
        if (attributes.resource, attributes.name) in self.denied:
            return Decision(allowed=False, reason="")
        return Decision(allowed=True)

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        raise NotImplementedError


def _headers(*pairs: tuple[str, str]) -> Sequence[tuple[str, str]]:
    return list(pairs)


def test_impersonating_a_user_with_groups_uid_and_extras() -> None:
    authorizer = Deny()
    user = impersonate(ALICE, _headers(
        ("impersonate-user", "bob"), ("impersonate-group", "g1"), ("impersonate-group", "g2"),
        ("impersonate-uid", "u-1"), ("impersonate-extra-scopes", "view"),
        ("impersonate-extra-acme.com%2fproject", "p1")), authorizer)
    assert user == UserInfo("bob", "u-1", ("g1", "g2", "system:authenticated"),
                            {"scopes": ("view",), "acme.com/project": ("p1",)})
    asked = [(a.verb, a.api_group, a.resource, a.subresource, a.name) for a in authorizer.asked]
    assert asked == [
        ("impersonate", "", "users", "", "bob"),
        ("impersonate", "", "groups", "", "g1"),
        ("impersonate", "", "groups", "", "g2"),
        ("impersonate", "authentication.k8s.io", "userextras", "scopes", "view"),
        ("impersonate", "authentication.k8s.io", "userextras", "acme.com/project", "p1"),
        ("impersonate", "authentication.k8s.io", "uids", "", "u-1"),
    ]
    assert all(a.user == ALICE for a in authorizer.asked)


def test_impersonating_a_service_account_gets_its_groups_and_namespace() -> None:
    authorizer = Deny()
    user = impersonate(ALICE, _headers(("impersonate-user", "system:serviceaccount:ns:sa")),
                       authorizer)
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:ns",
                           "system:authenticated")
    only = authorizer.asked[0]
    assert (only.resource, only.namespace, only.name) == ("serviceaccounts", "ns", "sa")


def test_impersonating_anonymous_gets_the_unauthenticated_group() -> None:
    user = impersonate(ALICE, _headers(("impersonate-user", "system:anonymous")), AlwaysAllow())
    assert user.groups == ("system:unauthenticated",)


def test_a_refused_impersonation_is_upstreams_403() -> None:
    with pytest.raises(ImpersonationError) as caught:
        impersonate(ALICE, _headers(("impersonate-user", "bob")), Deny(("users", "bob")))
    assert caught.value.status == 403 and caught.value.error is not None
    assert caught.value.error.status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'users "bob" is forbidden: User "alice" cannot impersonate resource "users" '
                   'in API group "" at the cluster scope',
        "reason": "Forbidden", "details": {"name": "bob", "kind": "users"}, "code": 403}
    with pytest.raises(ImpersonationError) as caught:
        impersonate(ALICE, _headers(("impersonate-user", "system:serviceaccount:ns:sa")),
                    Deny(("serviceaccounts", "sa")))
    assert caught.value.error is not None and caught.value.error.message == (
        'serviceaccounts "sa" is forbidden: User "alice" cannot impersonate resource '
        '"serviceaccounts" in API group "" in the namespace "ns"')


def test_groups_without_a_user_are_a_500() -> None:
    with pytest.raises(ImpersonationError) as caught:
        impersonate(ALICE, _headers(("impersonate-group", "g1")), AlwaysAllow(), "/api/v1/pods")
    assert caught.value.status == 500
    assert caught.value.text == ('Internal Server Error: "/api/v1/pods": requested '
                                 "[{Group  g1    }] without impersonating a user")

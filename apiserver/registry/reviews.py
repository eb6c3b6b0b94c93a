"""The review kinds: create-only questions to the server's authenticator and authorizer.

Nothing is stored; each create answers with the request object plus a ``status``
(upstream ``pkg/registry/authorization/*`` and ``pkg/registry/authentication/*``).

The server asks through two small interfaces so that real authentication and
authorization (RBAC, Node, webhooks) plug in later without touching these kinds:

* :class:`Authenticator` — who sent a request (``None``: nobody could be identified).
* :class:`Authorizer` — may a user do something, and what may a user do in a namespace.
* :class:`TokenAuthenticator` — what a bearer token proves (for ``TokenReview``).

Without any authentication or authorization configured, kubemu answers as a
kube-apiserver 1.33 with its defaults for that case: anonymous requests enabled, so
every requester is ``system:anonymous`` in group ``system:unauthenticated``
(:class:`AnonymousAuthenticator`); ``--authorization-mode=AlwaysAllow``, so every
access review is allowed and the rules review lists ``*`` everything
(:class:`AlwaysAllow`); and no token authenticator, so a ``TokenReview`` comes back
with an empty status (upstream's answer when its token authenticator is nil).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from apiserver.api import errors
from apiserver.api.fields import parse_field_selector
from apiserver.api.labels import SelectorError
from apiserver.api.resources import ResourceInfo
from apiserver.api.user import ANONYMOUS, ANONYMOUS_USER, UNAUTHENTICATED_GROUP, UserInfo
from apiserver.registry.store import order_object

__all__ = [
    "ANONYMOUS",
    "ANONYMOUS_USER",
    "UNAUTHENTICATED_GROUP",
    "AlwaysAllow",
    "AnonymousAuthenticator",
    "Attributes",
    "Authenticator",
    "Authorizer",
    "Decision",
    "Reviews",
    "Rules",
    "TokenAuthenticator",
    "TokenResult",
    "UserInfo",
    "validation_causes",
]


@dataclass(frozen=True)
class Attributes:
    """What is asked (upstream ``authorizer.Attributes``)."""

    user: UserInfo
    verb: str = ""
    resource_request: bool = True
    namespace: str = ""
    api_group: str = ""
    api_version: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    path: str = ""
    #: The request's field selector as (field, operator, value) requirements, operator
    #: ``=`` or ``!=`` (upstream ``GetFieldSelector``; list and watch only).
    field_selector: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Decision:
    """An authorizer's answer: allowed, explicitly denied, or neither (no opinion)."""

    allowed: bool
    denied: bool = False
    reason: str = ""
    evaluation_error: str = ""


@dataclass(frozen=True)
class Rules:
    """What a user may do in a namespace (upstream ``RulesFor``)."""

    resource_rules: tuple[dict[str, Any], ...]
    non_resource_rules: tuple[dict[str, Any], ...]
    incomplete: bool = False
    evaluation_error: str = ""


def field_requirements(selector: str) -> tuple[tuple[str, str, str], ...]:
    """(field, ``=``/``!=``, value) terms of a field selector; none when it does not parse
    (upstream's authorizers then see no selector)."""
    try:
        return tuple((r.field, r.operator, r.value) for r in
                     parse_field_selector(selector).requirements)
    except SelectorError:
        return ()


def _review_field_selector(attrs: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """``resourceAttributes.fieldSelector``: ``rawSelector``, or ``requirements`` of one
    value each (In is ``=``, NotIn ``!=``)."""
    selector = attrs.get("fieldSelector")
    if not isinstance(selector, dict):
        return ()
    if selector.get("rawSelector"):
        return field_requirements(str(selector["rawSelector"]))
    out = []
    for req in selector.get("requirements") or ():
        values = (req or {}).get("values") or []
        op = {"In": "=", "NotIn": "!="}.get((req or {}).get("operator", ""))
        if op is not None and len(values) == 1:
            out.append((str(req.get("key", "")), op, str(values[0])))
    return tuple(out)


class Authenticator(Protocol):
    """Identifies the sender of a request from its (lower-cased) headers."""

    def authenticate(self, headers: Mapping[str, str]) -> UserInfo | None: ...


class Authorizer(Protocol):
    """Decides requests and lists what a user may do."""

    def authorize(self, attributes: Attributes) -> Decision: ...

    def rules_for(self, user: UserInfo, namespace: str) -> Rules: ...


@dataclass(frozen=True)
class TokenResult:
    """What a token authenticator concluded about one token."""

    authenticated: bool
    user: UserInfo | None = None
    audiences: tuple[str, ...] = ()
    error: str = ""


class TokenAuthenticator(Protocol):
    """Checks a bearer token against the requested audiences."""

    def authenticate_token(self, token: str, audiences: Sequence[str]) -> TokenResult: ...


class AnonymousAuthenticator:
    """Every request is ``system:anonymous`` (a server with anonymous auth and nothing else)."""

    def authenticate(self, headers: Mapping[str, str]) -> UserInfo | None:
        """Always the anonymous user."""
        del headers
        return ANONYMOUS


class AlwaysAllow:
    """Upstream's ``AlwaysAllow`` authorizer: everything, for everyone."""

    def authorize(self, attributes: Attributes) -> Decision:
        """Allowed, with no reason."""
        del attributes
        return Decision(allowed=True)

    def rules_for(self, user: UserInfo, namespace: str) -> Rules:
        """Every verb on every resource and every non-resource URL; complete."""
        del user, namespace
        return Rules(
            resource_rules=({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},),
            non_resource_rules=({"verbs": ["*"], "nonResourceURLs": ["*"]},),
        )


# -- validation (upstream pkg/apis/authorization/validation) -----------------------------


def _go_value(value: Any) -> str:
    """A field value as upstream's field errors print it (``%q``, ``%v`` or ``%#v``)."""
    if value is None:
        return '"null"'
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return repr(value)


def _invalid(path: str, value: Any, detail: str) -> dict[str, str]:
    return errors.field_cause("FieldValueInvalid", path,
                              f"Invalid value: {_go_value(value)}: {detail}")


def _non_resource_value(attrs: Any) -> str:
    if not isinstance(attrs, dict):
        return "null"
    return (f'authorization.NonResourceAttributes{{Path:{_go_value(attrs.get("path", ""))}, '
            f'Verb:{_go_value(attrs.get("verb", ""))}}}')


def _attribute_causes(spec: dict[str, Any]) -> list[dict[str, str]]:
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    causes: list[dict[str, str]] = []
    if resource is not None and non_resource is not None:
        causes.append(errors.field_cause(
            "FieldValueInvalid", "spec.nonResourceAttributes",
            f"Invalid value: {_non_resource_value(non_resource)}: cannot be specified in "
            "combination with resourceAttributes"))
    if resource is None and non_resource is None:
        causes.append(_invalid("spec.resourceAttributes", None,
                               "exactly one of nonResourceAttributes or resourceAttributes "
                               "must be specified"))
    return causes


def _metadata_set(md: dict[str, Any], allowed: Sequence[str] = ()) -> dict[str, Any]:
    """The metadata fields a review sets, beyond ``allowed`` and managedFields."""
    return {k: v for k, v in md.items()
            if v not in (None, "", {}, []) and k not in ("managedFields", *allowed)}


def validation_causes(kind: str, review: dict[str, Any]) -> list[dict[str, str]]:
    """Field errors of an access review of ``kind`` (upstream ``Validate<Kind>``)."""
    spec = review.get("spec") if isinstance(review.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    md = review.get("metadata") if isinstance(review.get("metadata"), dict) else {}
    assert isinstance(md, dict)
    causes = _attribute_causes(spec)
    if kind != "SelfSubjectAccessReview" and not spec.get("user") and not spec.get("groups"):
        causes.append(_invalid("spec.user", spec.get("user") or "",
                               "at least one of user or group must be specified"))
    if kind == "LocalSubjectAccessReview":
        extra = _metadata_set(md, ("namespace",))
        if extra:
            causes.append(_invalid("metadata", extra, "must be empty except for namespace"))
        resource = spec.get("resourceAttributes")
        if isinstance(resource, dict) and (resource.get("namespace") or "") != \
                (md.get("namespace") or ""):
            causes.append(_invalid("spec.resourceAttributes.namespace",
                                   resource.get("namespace") or "",
                                   "must match metadata.namespace"))
        if spec.get("nonResourceAttributes") is not None:
            causes.append(errors.field_cause(
                "FieldValueInvalid", "spec.nonResourceAttributes",
                f"Invalid value: {_non_resource_value(spec['nonResourceAttributes'])}: "
                "disallowed on this kind of request"))
    elif _metadata_set(md):
        causes.append(_invalid("metadata", _metadata_set(md), "must be empty"))
    return causes


# -- the reviews --------------------------------------------------------------------------


def _attributes(spec: dict[str, Any], user: UserInfo) -> Attributes:
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        return Attributes(
            user=user, verb=resource.get("verb") or "", resource_request=True,
            namespace=resource.get("namespace") or "", api_group=resource.get("group") or "",
            api_version=resource.get("version") or "", resource=resource.get("resource") or "",
            subresource=resource.get("subresource") or "", name=resource.get("name") or "",
            field_selector=_review_field_selector(resource))
    non_resource = spec.get("nonResourceAttributes") or {}
    return Attributes(user=user, verb=non_resource.get("verb") or "", resource_request=False,
                      path=non_resource.get("path") or "")


def _spec_user(spec: dict[str, Any]) -> UserInfo:
    extra = spec.get("extra") or {}
    return UserInfo(
        username=spec.get("user") or "", uid=spec.get("uid") or "",
        groups=tuple(spec.get("groups") or ()),
        extra={k: tuple(v or ()) for k, v in extra.items()} if isinstance(extra, dict) else {})


def _answer_metadata(review: dict[str, Any]) -> None:
    md = review.setdefault("metadata", {})
    md.setdefault("creationTimestamp", None)


class Reviews:
    """Answers the review kinds with one authorizer and (optionally) a token authenticator."""

    def __init__(self, authorizer: Authorizer | None = None,
                 tokens: TokenAuthenticator | None = None) -> None:
        self.authorizer: Authorizer = authorizer or AlwaysAllow()
        self.tokens = tokens

    def access_review(self, info: ResourceInfo, review: dict[str, Any], requester: UserInfo,
                      namespace: str | None = None) -> dict[str, Any]:
        """A SubjectAccessReview, SelfSubjectAccessReview or LocalSubjectAccessReview answered.

        ``namespace`` is the URL's (LocalSubjectAccessReview only). Raises 422 on an
        invalid review, 400 when a local review names another namespace.
        """
        kind = info.kind
        if kind == "LocalSubjectAccessReview":
            md = review.setdefault("metadata", {})
            if md.get("namespace") and md["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match "
                                         "the namespace sent on the request")
            md["namespace"] = namespace
        causes = validation_causes(kind, review)
        if causes:
            raise errors.invalid(info, "", causes)
        spec = review.get("spec") or {}
        user = requester if kind == "SelfSubjectAccessReview" else _spec_user(spec)
        decision = self.authorizer.authorize(_attributes(spec, user))
        status: dict[str, Any] = {"allowed": decision.allowed}
        if decision.denied:
            status["denied"] = True
        if decision.reason:
            status["reason"] = decision.reason
        if decision.evaluation_error:
            status["evaluationError"] = decision.evaluation_error
        review["status"] = status
        _answer_metadata(review)
        return order_object(review)

    def rules_review(self, info: ResourceInfo, review: dict[str, Any],
                     requester: UserInfo) -> dict[str, Any]:
        """A SelfSubjectRulesReview answered (a new object: only the status, as upstream)."""
        namespace = (review.get("spec") or {}).get("namespace") or ""
        if not namespace:
            raise errors.bad_request("no namespace on request")
        rules = self.authorizer.rules_for(requester, namespace)
        status: dict[str, Any] = {
            "resourceRules": [dict(r) for r in rules.resource_rules],
            "nonResourceRules": [dict(r) for r in rules.non_resource_rules],
            "incomplete": rules.incomplete,
        }
        if rules.evaluation_error:
            status["evaluationError"] = rules.evaluation_error
        return {"kind": info.kind, "apiVersion": info.api_version,
                "metadata": {"creationTimestamp": None}, "spec": {}, "status": status}

    def token_review(self, review: dict[str, Any]) -> dict[str, Any]:
        """A TokenReview answered; unchanged (empty status) without a token authenticator."""
        spec = review.get("spec") or {}
        token = spec.get("token") or ""
        if not token:
            raise errors.bad_request("token is required for TokenReview in authentication")
        _answer_metadata(review)
        if self.tokens is None:
            review["status"] = {"user": {}}
            return order_object(review)
        result = self.tokens.authenticate_token(token, tuple(spec.get("audiences") or ()))
        status: dict[str, Any] = {}
        if result.authenticated:
            status["authenticated"] = True
        status["user"] = result.user.to_api() if result.user is not None else {}
        if result.audiences:
            status["audiences"] = list(result.audiences)
        if result.error:
            status["error"] = result.error
        review["status"] = status
        return order_object(review)

    @staticmethod
    def self_subject_review(info: ResourceInfo, requester: UserInfo,
                            now: str) -> dict[str, Any]:
        """A SelfSubjectReview: who the server thinks the requester is."""
        return {"kind": info.kind, "apiVersion": info.api_version,
                "metadata": {"creationTimestamp": now},
                "status": {"userInfo": requester.to_api()}}

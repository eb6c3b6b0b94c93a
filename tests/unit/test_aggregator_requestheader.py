"""The front-proxy (request header) authenticator and the client CA split."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apiserver.api.user import AUTHENTICATED_GROUP
from apiserver.auth.authentication import RequestAuthenticator, authenticate_request
from apiserver.auth.credentials import CredentialError
from apiserver.auth.requestheader import RequestHeaderAuthenticator, RequestHeaderOptions
from apiserver.auth.x509 import X509Authenticator
from apiserver.handlers.refusal import Refusal


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(cn: str, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
          age: dt.timedelta = dt.timedelta(0)) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC) - age
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca[0].subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(ca[1], hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


FRONT = _ca("front-proxy-ca")
CLIENT = _ca("kubernetes-ca")
OPTIONS = RequestHeaderOptions(allowed_names=("front-proxy-client",),
                               ca_certificates=(FRONT[0],))
HEADERS = [("x-remote-user", "alice"), ("x-remote-group", "devs"),
           ("x-remote-group", "ops"), ("x-remote-extra-scopes", "a"),
           ("x-remote-extra-acme.com%2Fproject", "p1"), ("accept", "*/*")]


def test_the_proxy_names_user_groups_and_extra() -> None:
    user = RequestHeaderAuthenticator(OPTIONS).authenticate(
        HEADERS, _leaf("front-proxy-client", FRONT))
    assert user is not None
    assert (user.username, user.groups) == ("alice", ("devs", "ops"))
    assert user.extra == {"scopes": ("a",), "acme.com/project": ("p1",)}


def test_a_certificate_not_from_the_front_proxy_ca_or_not_allowed_is_refused() -> None:
    authenticator = RequestHeaderAuthenticator(OPTIONS)
    with pytest.raises(CredentialError, match="unknown authority"):
        authenticator.authenticate(HEADERS, _leaf("front-proxy-client", CLIENT))
    with pytest.raises(CredentialError,
                       match="subject with cn=intruder is not in the allowed list"):
        authenticator.authenticate(HEADERS, _leaf("intruder", FRONT))
    assert authenticator.authenticate(HEADERS, None) is None
    assert authenticator.authenticate([("x-remote-group", "g")],
                                      _leaf("front-proxy-client", FRONT)) is None


def test_an_expired_front_proxy_certificate_is_refused_on_each_request() -> None:
    expired = _leaf("front-proxy-client", FRONT, age=dt.timedelta(days=2))
    with pytest.raises(CredentialError, match="certificate has expired or is not yet valid"):
        RequestHeaderAuthenticator(OPTIONS).authenticate(HEADERS, expired)


def test_blank_groups_are_skipped() -> None:
    user = RequestHeaderAuthenticator(OPTIONS).authenticate(
        [("x-remote-user", "bob"), ("x-remote-group", " "), ("x-remote-group", "g")],
        _leaf("front-proxy-client", FRONT))
    assert user is not None and user.groups == ("g",)


def test_any_cn_is_allowed_without_allowed_names() -> None:
    options = RequestHeaderOptions(ca_certificates=(FRONT[0],))
    user = RequestHeaderAuthenticator(options).authenticate(HEADERS, _leaf("anyone", FRONT))
    assert user is not None and user.username == "alice"


def _scope(der: bytes, headers: list[tuple[str, str]]) -> dict[str, object]:
    return {"type": "http", "state": {"kubemu.peer_certificate": der},
            "headers": [(k.encode(), v.encode()) for k, v in headers]}


def test_the_chain_check_strips_the_headers_and_adds_the_authenticated_group() -> None:
    request = RequestAuthenticator(x509=X509Authenticator((CLIENT[0],)), anonymous=False,
                                   requestheader=RequestHeaderAuthenticator(OPTIONS))
    scope = _scope(_leaf("front-proxy-client", FRONT),
                   [*HEADERS, ("authorization", "Bearer x")])
    user = authenticate_request(request, scope)
    assert user.username == "alice" and AUTHENTICATED_GROUP in user.groups
    assert scope["headers"] == [(b"accept", b"*/*")]


def test_client_certificates_still_authenticate_but_front_proxy_ones_do_not() -> None:
    request = RequestAuthenticator(x509=X509Authenticator((CLIENT[0],)), anonymous=False,
                                   requestheader=RequestHeaderAuthenticator(OPTIONS))
    user = authenticate_request(request, _scope(_leaf("bob", CLIENT), HEADERS))
    assert user.username == "bob"
    with pytest.raises(Refusal):
        # The proxy's certificate without a username header is nobody.
        authenticate_request(request, _scope(_leaf("front-proxy-client", FRONT), []))

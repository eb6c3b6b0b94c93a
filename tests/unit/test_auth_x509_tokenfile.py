"""Client-certificate users (x509) and static token files."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from apiserver.auth.credentials import CredentialError
from apiserver.auth.tokenfile import TokenFileAuthenticator, TokenFileError, parse_token_file
from apiserver.auth.x509 import CREDENTIAL_ID, X509Authenticator


def _cert(attrs: list[x509.NameAttribute], days: int = 1) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    name = x509.Name(attrs)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - dt.timedelta(days=2))
            .not_valid_after(now + dt.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.DER)


def test_common_name_is_the_user_and_organizations_the_groups() -> None:
    der = _cert([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                 x509.NameAttribute(NameOID.ORGANIZATION_NAME, "team-a"),
                 x509.NameAttribute(NameOID.USER_ID, "uid-7"),
                 x509.NameAttribute(NameOID.COMMON_NAME, "system:node:n1")])
    user = X509Authenticator().authenticate_certificate(der)
    assert user is not None
    assert user.username == "system:node:n1"
    assert user.groups == ("system:nodes", "team-a")
    assert user.uid == "uid-7"
    assert user.extra == {CREDENTIAL_ID: (f"X509SHA256={hashlib.sha256(der).hexdigest()}",)}


def test_a_certificate_without_common_name_authenticates_no_one() -> None:
    der = _cert([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters")])
    assert X509Authenticator().authenticate_certificate(der) is None


def test_an_expired_certificate_is_an_invalid_credential() -> None:
    der = _cert([x509.NameAttribute(NameOID.COMMON_NAME, "alice")], days=1)
    authenticator = X509Authenticator()
    assert authenticator.authenticate_certificate(der) is not None
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    with pytest.raises(CredentialError, match="expired"):
        authenticator.authenticate_certificate(der, now=later)


def test_token_file_columns_quoted_groups_blank_tokens_and_duplicates() -> None:
    users = parse_token_file(
        'tok1,alice,uid-a,"dev,ops"\n'
        "tok2,bob,uid-b\n"
        ",nobody,uid-n\n"
        "tok2,carol,uid-c,admins\n", "tokens.csv")
    assert set(users) == {"tok1", "tok2"}
    assert users["tok1"].username == "alice" and users["tok1"].uid == "uid-a"
    assert users["tok1"].groups == ("dev", "ops")
    assert users["tok2"].username == "carol" and users["tok2"].groups == ("admins",)


def test_token_file_with_too_few_columns_is_refused() -> None:
    with pytest.raises(TokenFileError) as err:
        parse_token_file("tok1,alice\n", "tokens.csv")
    assert str(err.value) == ("token file 'tokens.csv' must have at least 3 columns "
                              "(token, user name, user uid), found 2")


def test_token_file_authenticator(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text("secret,alice,1\n")
    authenticator = TokenFileAuthenticator.from_file(path)
    ok = authenticator.authenticate_token("secret", ())
    assert ok.authenticated and ok.user is not None and ok.user.username == "alice"
    assert not authenticator.authenticate_token("other", ()).authenticated
    with pytest.raises(TokenFileError, match="cannot read token file"):
        TokenFileAuthenticator.from_file(tmp_path / "missing.csv")

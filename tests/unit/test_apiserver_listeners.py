"""Which listeners ``python -m apiserver`` opens for its flags, and what it refuses."""

from __future__ import annotations

import ssl

import pytest

from apiserver.__main__ import _listeners, build_parser
from kubemu.pki import Pki, ensure_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return ensure_pki(tmp_path_factory.mktemp("pki"))


def _tls(pki: Pki) -> list[str]:
    return ["--tls-cert-file", str(pki.serving_cert), "--tls-private-key-file",
            str(pki.serving_key)]


def test_plain_http_by_default_on_the_bind_address() -> None:
    listeners = _listeners(build_parser().parse_args(["--port", "9999"]))
    assert [(x.host, x.port, x.ssl_context) for x in listeners] == [("127.0.0.1", 9999, None)]


def test_tls_first_then_plain_http_on_loopback(pki: Pki) -> None:
    args = build_parser().parse_args([*_tls(pki), "--client-ca-file", str(pki.ca_cert),
                                      "--bind-address", "0.0.0.0", "--port", "8080"])
    secure, plain = _listeners(args)
    assert (secure.host, secure.port) == ("0.0.0.0", 6443)
    assert secure.ssl_context is not None
    assert secure.ssl_context.verify_mode == ssl.CERT_OPTIONAL
    assert (plain.host, plain.port, plain.ssl_context) == ("127.0.0.1", 8080, None)
    only_tls = _listeners(build_parser().parse_args([*_tls(pki), "--secure-port", "7443",
                                                     "--port", "0"]))
    assert [(x.host, x.port) for x in only_tls] == [("127.0.0.1", 7443)]
    assert only_tls[0].ssl_context is not None
    assert only_tls[0].ssl_context.verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize(("argv", "message"), [
    (["--bind-address", "0.0.0.0"], "refusing to bind 0.0.0.0: plain HTTP has no "
                                    "authentication"),
    (["--secure-port", "6443"], "--secure-port needs --tls-cert-file"),
    (["--port", "0"], "nothing to serve"),
])
def test_refusals(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _listeners(build_parser().parse_args(argv))


def test_tls_beyond_loopback_needs_authentication(pki: Pki) -> None:
    args = build_parser().parse_args([*_tls(pki), "--bind-address", "0.0.0.0", "--port", "0"])
    with pytest.raises(ValueError, match="no --client-ca-file or --token-auth-file"):
        _listeners(args)
    with pytest.raises(ValueError, match="go together"):
        _listeners(build_parser().parse_args(["--tls-cert-file", str(pki.serving_cert)]))

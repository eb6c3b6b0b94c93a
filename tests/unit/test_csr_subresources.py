"""CertificateSigningRequest subresources: /approval changes only the conditions, /status
everything but the spec and the Approved/Denied conditions, each gated by the signer
permission when an authorizer is installed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from apiserver.api import errors
from apiserver.api.user import UserInfo
from apiserver.registry.certificates import CSRS, CertificateSigningRequestStrategy


def _strategy() -> CertificateSigningRequestStrategy:
    return CertificateSigningRequestStrategy(CSRS)

SIGNER = "kubernetes.io/kube-apiserver-client"


def _csr(**status: Any) -> dict[str, Any]:
    return {"metadata": {"name": "jane"},
            "spec": {"request": "cmVx", "signerName": SIGNER, "usages": ["client auth"]},
            "status": status}


def test_approval_changes_only_the_conditions() -> None:
    old = _csr()
    new = copy.deepcopy(old)
    new["spec"]["usages"] = ["server auth"]
    new["status"] = {"certificate": "Zm9v", "conditions": [
        {"type": "Approved", "status": "True", "reason": "KubectlApprove"}]}
    _strategy().prepare_for_subresource_update("approval", new, old)
    assert new["spec"] == old["spec"]
    assert "certificate" not in new["status"]
    (approved,) = new["status"]["conditions"]
    assert approved["type"] == "Approved" and approved["lastUpdateTime"]
    assert approved["lastTransitionTime"]


def test_status_keeps_the_approval_conditions_and_takes_the_certificate() -> None:
    approved = {"type": "Approved", "status": "True", "lastUpdateTime": "2026-12-05T00:00:00Z",
                "lastTransitionTime": "2026-12-05T00:00:00Z"}
    old = _csr(conditions=[approved])
    new = copy.deepcopy(old)
    new["status"] = {"certificate": "Zm9v", "conditions": [
        {"type": "Denied", "status": "True"}, {"type": "Failed", "status": "True"}]}
    _strategy().prepare_for_subresource_update("status", new, old)
    assert new["status"]["certificate"] == "Zm9v"
    assert [c["type"] for c in new["status"]["conditions"]] == ["Failed", "Approved"]
    assert new["status"]["conditions"][1] == approved


def test_approve_and_sign_need_the_signer_permission() -> None:
    asked: list[tuple[str, str]] = []

    def permission(_user: UserInfo, verb: str, signer: str) -> bool:
        asked.append((verb, signer))
        return False

    strategy = _strategy()
    strategy.signer_permission = permission
    old = _csr()
    with pytest.raises(errors.ApiError) as caught:
        strategy.prepare_for_subresource_update("approval", copy.deepcopy(old), old)
    assert caught.value.status["message"] == (
        'certificatesigningrequests.certificates.k8s.io "jane" is forbidden: user not '
        f'permitted to approve requests with signerName "{SIGNER}"')
    signed = _csr(certificate="Zm9v")
    with pytest.raises(errors.ApiError) as caught:
        strategy.prepare_for_subresource_update("status", signed, old)
    assert "user not permitted to sign requests" in caught.value.status["message"]
    # A status write that leaves the certificate alone needs no `sign`.
    strategy.prepare_for_subresource_update("status", copy.deepcopy(old), old)
    assert asked == [("approve", SIGNER), ("sign", SIGNER)]

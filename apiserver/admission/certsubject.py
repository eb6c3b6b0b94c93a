"""CertificateSubjectRestriction (``plugin/pkg/admission/certificates/subjectrestriction``).

A CertificateSigningRequest for the ``kubernetes.io/kube-apiserver-client`` signer may not
ask for the ``system:masters`` group (an ``O=system:masters`` subject): whoever approves
client certificates must not be able to mint cluster-admin ones. Validating, on create.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.x509.oid import NameOID

from apiserver.admission.attributes import AdmissionAttributes, Operation, forbidden

__all__ = ["CertificateSubjectRestriction"]

NAME = "CertificateSubjectRestriction"
_SIGNER = "kubernetes.io/kube-apiserver-client"
_MASTERS = "system:masters"


class CertificateSubjectRestriction:
    """Refuses kube-apiserver-client requests for the ``system:masters`` group."""

    name = NAME

    def handles(self, operation: Operation) -> bool:
        return operation is Operation.CREATE

    async def validate(self, attrs: AdmissionAttributes) -> None:
        info = attrs.info
        if (info.group, info.plural) != ("certificates.k8s.io", "certificatesigningrequests") \
                or attrs.subresource or not isinstance(attrs.object, dict):
            return
        spec = attrs.object.get("spec") or {}
        if spec.get("signerName") != _SIGNER:
            return
        try:
            request = x509.load_pem_x509_csr(base64.b64decode(str(spec.get("request") or "")))
        except (ValueError, binascii.Error):
            return  # validation refuses an unparsable request
        groups = request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if any(group.value == _MASTERS for group in groups):
            raise forbidden(attrs, f"use of {_SIGNER} signer with {_MASTERS} group is not "
                                   "allowed")

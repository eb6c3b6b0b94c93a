"""Admission webhooks: ``MutatingAdmissionWebhook`` and ``ValidatingAdmissionWebhook``.

:mod:`.config` (configurations from the watch cache), :mod:`.matching` (rules,
selectors, match conditions), :mod:`.review` (AdmissionReview v1) and :mod:`.dispatch`
(the two plugins). Calls go through the shared client of :mod:`apiserver.webhook`.
"""

from apiserver.admission.webhook.dispatch import (
    MUTATING_NAME,
    VALIDATING_NAME,
    MutatingWebhooks,
    ValidatingWebhooks,
)

__all__ = ["MUTATING_NAME", "VALIDATING_NAME", "MutatingWebhooks", "ValidatingWebhooks"]

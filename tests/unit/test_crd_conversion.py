"""CRD conversion settings: validation of ``spec.conversion`` and what a converted
object keeps of its metadata (the webhook calls are covered by the integration tests)."""

from __future__ import annotations

from typing import Any

import pytest

from apiserver.registry.crd.conversion import _restore_meta, webhook_spec
from apiserver.registry.crd.strategies import _validate_conversion


@pytest.mark.parametrize(("conversion", "expected"), [
    ({"strategy": "None"}, []),
    ({"strategy": "Webhook", "webhook": {"clientConfig": {"url": "https://h.example/c"},
                                         "conversionReviewVersions": ["v1"]}}, []),
    ({"strategy": "Other"}, [("spec.conversion.strategy",
                              'Unsupported value: "Other": supported values: "None", '
                              '"Webhook"')]),
    ({"strategy": "None", "webhook": {}},
     [("spec.conversion.webhook",
       "Forbidden: should not be set when strategy is not set to Webhook")]),
    ({"strategy": "Webhook"}, [("spec.conversion.webhook",
                                "Required value: required when strategy is set to Webhook")]),
    ({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"]}},
     [("spec.conversion.webhook.clientConfig",
       "Required value: required when strategy is set to Webhook")]),
])
def test_conversion_validation(conversion: dict[str, Any],
                               expected: list[tuple[str, str]]) -> None:
    causes = _validate_conversion(conversion)
    assert [(c["field"], c["message"]) for c in causes] == expected


def test_review_versions_are_required_with_a_webhook() -> None:
    causes = _validate_conversion({"strategy": "Webhook", "webhook": {
        "clientConfig": {"url": "https://h.example/c"}}})
    assert [c["field"] for c in causes] == ["spec.conversion.webhook.conversionReviewVersions"]


def test_only_labels_and_annotations_of_a_converted_object_are_kept() -> None:
    original = {"apiVersion": "g/v1", "metadata": {"name": "a", "uid": "u", "labels": {"x": "1"},
                                                   "annotations": {"keep": "no"}}}
    converted = {"apiVersion": "g/v2", "metadata": {"name": "renamed", "uid": "other",
                                                    "labels": {"x": "2"}}}
    assert _restore_meta(original, converted)["metadata"] == {
        "name": "a", "uid": "u", "labels": {"x": "2"}}
    assert webhook_spec({"spec": {"conversion": {"strategy": "None"}}}) is None

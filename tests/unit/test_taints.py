"""Upstream ``Toleration.ToleratesTaint``, shared by the scheduler, the DaemonSet controller
and the node lifecycle controller."""

from __future__ import annotations

import pytest

from apiserver.api.taints import tolerated, toleration_matches

TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


@pytest.mark.parametrize(("toleration", "matches"), [
    ({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, True),
    ({"key": "dedicated", "value": "gpu"}, True),  # Equal is the default; any effect
    ({"key": "dedicated", "value": "cpu"}, False),
    ({"key": "dedicated", "operator": "Exists"}, True),
    ({"key": "other", "operator": "Exists"}, False),
    ({"operator": "Exists"}, True),  # an empty key with Exists tolerates everything
    ({"operator": "Exists", "effect": "NoExecute"}, False),
    ({"key": "dedicated", "operator": "Gt", "value": "gpu"}, False),
])
def test_toleration_matches_as_upstream(toleration: dict[str, str], matches: bool) -> None:
    assert toleration_matches(toleration, TAINT) is matches


def test_tolerated_by_any_of_a_pods_tolerations() -> None:
    assert tolerated([{"key": "x", "operator": "Exists"}, {"operator": "Exists"}], TAINT)
    assert not tolerated([{"key": "x", "operator": "Exists"}, "junk"], TAINT)
    assert not tolerated([], TAINT)

"""The shared Event recorder (controllers/runtime/events.py): client-go's correlation."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from apiserver.api.resources import ResourceInfo
from controllers.client.errors import ApiError
from controllers.runtime.events import EventRecorder

RS = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
      "metadata": {"name": "web-1a2b", "namespace": "ns", "uid": "u1", "resourceVersion": "7"}}
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1", "uid": "n1"}}


class Sink:
    """Stores Events by name; ``fail`` makes creates raise, ``gone`` makes patches 404."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.patches: list[tuple[str, dict[str, Any]]] = []
        self.fail = False
        self.gone = False

    async def create(self, info: ResourceInfo, namespace: str | None,
                     obj: Mapping[str, Any]) -> dict[str, Any]:
        assert info.plural == "events"
        if self.fail:
            raise ApiError(500, {"reason": "InternalError", "message": "boom"})
        body = dict(obj)
        self.events[body["metadata"]["name"]] = body
        return body

    async def patch(self, info: ResourceInfo, namespace: str | None, name: str,
                    patch: dict[str, Any], **options: Any) -> dict[str, Any]:
        if self.gone or name not in self.events:
            raise ApiError(404, {"reason": "NotFound", "message": f'events "{name}" not found'})
        self.patches.append((name, patch))
        self.events[name].update(patch)
        return self.events[name]


def recorder(sink: Sink, clock: list[float]) -> EventRecorder:
    return EventRecorder(sink, "replicaset-controller", host="h1",
                         clock=lambda: datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                         monotonic=lambda: clock[0])


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_an_event_has_upstreams_shape() -> None:
    sink, clock = Sink(), [0.0]
    run(recorder(sink, clock).event(RS, "Normal", "SuccessfulCreate", "Created pod: web-1a2b-x"))
    (event,) = sink.events.values()
    assert re.fullmatch(r"web-1a2b\.[0-9a-f]+", event["metadata"]["name"])
    assert event["metadata"]["namespace"] == "ns"
    assert event["involvedObject"] == {"kind": "ReplicaSet", "namespace": "ns",
                                       "name": "web-1a2b", "uid": "u1",
                                       "apiVersion": "apps/v1", "resourceVersion": "7"}
    assert event["source"] == {"component": "replicaset-controller", "host": "h1"}
    assert (event["count"], event["type"], event["reason"]) == (1, "Normal", "SuccessfulCreate")
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-02T03:04:05Z"


def test_a_cluster_scoped_objects_events_go_to_default() -> None:
    sink, clock = Sink(), [0.0]
    run(recorder(sink, clock).event(NODE, "Normal", "RegisteredNode", "registered"))
    (event,) = sink.events.values()
    assert event["metadata"]["namespace"] == "default"
    assert "namespace" not in event["involvedObject"]


def test_identical_events_bump_one_events_count() -> None:
    sink, clock = Sink(), [0.0]
    rec = recorder(sink, clock)

    async def three() -> None:
        for _ in range(3):
            await rec.event(RS, "Warning", "FailedCreate", "Error creating: quota")
        await rec.event(RS, "Warning", "FailedCreate", "Error creating: other")

    run(three())
    assert len(sink.events) == 2
    assert [p["count"] for _, p in sink.patches] == [2, 3]


def test_a_bumped_event_that_is_gone_is_created_again_with_its_count() -> None:
    sink, clock = Sink(), [0.0]
    rec = recorder(sink, clock)

    async def twice() -> None:
        await rec.event(RS, "Warning", "FailedCreate", "quota")
        sink.gone = True
        await rec.event(RS, "Warning", "FailedCreate", "quota")

    run(twice())
    assert sorted(e["count"] for e in sink.events.values()) == [1, 2]


def test_the_spam_filter_allows_a_burst_of_25_then_one_per_five_minutes() -> None:
    sink, clock = Sink(), [0.0]
    rec = recorder(sink, clock)

    async def many(n: int, start: int) -> None:
        for i in range(n):
            await rec.event(RS, "Normal", f"R{start + i}", "m")

    run(many(30, 0))
    assert len(sink.events) == 25
    clock[0] += 300.0
    run(many(2, 100))
    assert len(sink.events) == 26


def test_similar_events_are_combined_after_ten_messages() -> None:
    sink, clock = Sink(), [0.0]
    rec = recorder(sink, clock)

    async def messages() -> None:
        for i in range(12):
            await rec.event(RS, "Warning", "FailedCreate", f"Error creating: pod {i}")

    run(messages())
    combined = [e for e in sink.events.values()
                if e["message"].startswith("(combined from similar events): ")]
    assert len(sink.events) == 10 and len(combined) == 1
    assert sink.patches and sink.patches[-1][1]["message"].endswith("pod 11")


def test_a_failed_write_never_raises() -> None:
    sink, clock = Sink(), [0.0]
    sink.fail = True
    run(recorder(sink, clock).event(RS, "Normal", "SuccessfulCreate", "x"))
    assert sink.events == {}


@pytest.mark.parametrize("field_path", ["", "spec.containers{web}"])
def test_field_path_is_part_of_the_reference(field_path: str) -> None:
    sink, clock = Sink(), [0.0]
    run(recorder(sink, clock).event(RS, "Normal", "Pulled", "x", field_path=field_path))
    (event,) = sink.events.values()
    assert event["involvedObject"].get("fieldPath", "") == field_path

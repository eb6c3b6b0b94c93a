"""The work queue, rate limiters, backoff, store and informer bookkeeping of controllers.client."""

from __future__ import annotations

import asyncio
import random

import pytest

from apiserver.api.resources import PODS
from controllers.client.backoff import Backoff
from controllers.client.config import ClientConfig
from controllers.client.informer import SharedInformer
from controllers.client.rest import RestClient
from controllers.client.store import DeletedFinalStateUnknown, Store, split_key
from controllers.client.workqueue import (
    BucketRateLimiter,
    DelayingQueue,
    ItemExponentialFailureRateLimiter,
    MaxOfRateLimiter,
    RateLimitingQueue,
    ShutDown,
    WorkQueue,
)


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_keys_are_deduplicated() -> None:
    async def body() -> None:
        q: WorkQueue[str] = WorkQueue()
        q.add("a")
        q.add("b")
        q.add("a")
        assert len(q) == 2
        assert await q.get() == "a"
        assert await q.get() == "b"
        assert len(q) == 0

    run(body())


def test_key_added_while_processing_is_requeued_at_done() -> None:
    async def body() -> None:
        q: WorkQueue[str] = WorkQueue()
        q.add("a")
        key = await q.get()
        assert q.is_processing("a")
        q.add("a")
        q.add("a")
        assert len(q) == 0, "a key being processed must not be handed to another worker"
        q.done(key)
        assert len(q) == 1
        assert await q.get() == "a"
        q.done("a")
        assert len(q) == 0

    run(body())


def test_never_two_workers_on_one_key() -> None:
    async def body() -> tuple[int, int]:
        q: WorkQueue[str] = WorkQueue()
        active: dict[str, int] = {}
        worst = 0
        processed = 0

        async def worker() -> None:
            nonlocal worst, processed
            while True:
                try:
                    key = await q.get()
                except ShutDown:
                    return
                active[key] = active.get(key, 0) + 1
                worst = max(worst, active[key])
                await asyncio.sleep(0.001)
                active[key] -= 1
                processed += 1
                q.done(key)

        workers = [asyncio.create_task(worker()) for _ in range(4)]
        for i in range(200):
            q.add(f"k{i % 3}")
            await asyncio.sleep(0)
        while len(q) or any(q.is_processing(f"k{i}") for i in range(3)):
            await asyncio.sleep(0.005)
        q.shutdown()
        await asyncio.gather(*workers)
        return worst, processed

    worst, processed = run(body())  # type: ignore[misc]
    assert worst == 1
    assert 3 <= processed < 200


def test_get_waits_for_add_and_shutdown_wakes_getters() -> None:
    async def body() -> None:
        q: WorkQueue[str] = WorkQueue()
        getter = asyncio.create_task(q.get())
        await asyncio.sleep(0.01)
        assert not getter.done()
        q.add("x")
        assert await asyncio.wait_for(getter, 1) == "x"
        waiting = asyncio.create_task(q.get())
        await asyncio.sleep(0.01)
        q.shutdown()
        with pytest.raises(ShutDown):
            await asyncio.wait_for(waiting, 1)
        q.add("y")
        assert len(q) == 0

    run(body())


def test_add_after_keeps_the_earliest_deadline() -> None:
    async def body() -> None:
        q: DelayingQueue[str] = DelayingQueue()
        q.add_after("a", 5.0)
        q.add_after("a", 0.02)
        q.add_after("a", 10.0)
        assert q.waiting == 1
        assert len(q) == 0
        assert await asyncio.wait_for(q.get(), 1) == "a"
        assert q.waiting == 0
        q.add_after("b", 0)
        assert len(q) == 1

    run(body())


def test_exponential_rate_limiter_caps_and_forgets() -> None:
    rl: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter(0.005, 0.04)
    delays = [rl.when("k") for _ in range(6)]
    assert delays == [0.005, 0.01, 0.02, 0.04, 0.04, 0.04]
    assert rl.num_requeues("k") == 6
    assert rl.when("other") == 0.005
    rl.forget("k")
    assert rl.num_requeues("k") == 0
    assert rl.when("k") == 0.005


def test_bucket_rate_limiter_and_max_of() -> None:
    now = [0.0]
    bucket: BucketRateLimiter[str] = BucketRateLimiter(10.0, 2, clock=lambda: now[0])
    assert [bucket.when("a"), bucket.when("b")] == [0.0, 0.0]
    assert bucket.when("c") == pytest.approx(0.1)
    now[0] += 1.0
    assert bucket.when("d") == 0.0
    combined: MaxOfRateLimiter[str] = MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter[str](1.0, 100.0), BucketRateLimiter[str](10.0, 100)
    )
    assert combined.when("k") == 1.0
    assert combined.when("k") == 2.0
    assert combined.num_requeues("k") == 2
    combined.forget("k")
    assert combined.num_requeues("k") == 0


def test_rate_limited_queue_retries_with_backoff() -> None:
    async def body() -> None:
        q: RateLimitingQueue[str] = RateLimitingQueue(
            ItemExponentialFailureRateLimiter[str](0.01, 1.0)
        )
        q.add("k")
        key = await q.get()
        q.add_rate_limited(key)
        q.done(key)
        assert q.num_requeues("k") == 1
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await asyncio.wait_for(q.get(), 1) == "k"
        assert loop.time() - started >= 0.009
        q.forget("k")
        q.done("k")
        assert q.num_requeues("k") == 0
        assert q.retries == 1

    run(body())


def test_backoff_grows_with_jitter_and_resets() -> None:
    b = Backoff(initial=1.0, cap=4.0, jitter=0.5, rng=random.Random(1))
    delays = [b.next() for _ in range(5)]
    bases = [1.0, 2.0, 4.0, 4.0, 4.0]
    for d, base in zip(delays, bases, strict=True):
        assert base <= d <= base * 1.5
    b.reset()
    assert 1.0 <= b.next() <= 1.5


def test_store_indexes_and_keys() -> None:
    store = Store({"node": lambda o: [o["spec"]["nodeName"]]})
    store.add({"metadata": {"namespace": "a", "name": "p"}, "spec": {"nodeName": "n1"}})
    store.add({"metadata": {"namespace": "b", "name": "p"}, "spec": {"nodeName": "n1"}})
    store.update({"metadata": {"namespace": "a", "name": "p"}, "spec": {"nodeName": "n2"}})
    assert sorted(store.list_keys()) == ["a/p", "b/p"]
    assert store.index_keys("node", "n1") == ["b/p"]
    assert store.index_keys("node", "n2") == ["a/p"]
    store.delete_key("b/p")
    assert store.index_keys("node", "n1") == []
    assert split_key("ns/name") == ("ns", "name")
    assert split_key("cluster-scoped") == ("", "cluster-scoped")


def test_informer_replace_tombstones_vanished_objects() -> None:
    async def body() -> None:
        client = RestClient(ClientConfig(server="http://127.0.0.1:9"))
        informer = SharedInformer(client, PODS)
        seen: list[tuple[str, object]] = []
        informer.add_event_handler(
            on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
            on_update=lambda old, new: seen.append(("update", new["metadata"]["name"])),
            on_delete=lambda o: seen.append(("delete", o)),
        )

        def pod(name: str, rv: str) -> dict[str, object]:
            return {"metadata": {"namespace": "ns", "name": name, "resourceVersion": rv}}

        assert not informer.has_synced()
        informer.replace([pod("a", "1"), pod("b", "2")], "2")
        assert informer.has_synced()
        informer.on_event("MODIFIED", pod("a", "3"))
        # The watch broke; meanwhile b was deleted and c created. The relist must
        # report b's deletion with its last known state.
        informer.replace([pod("a", "3"), pod("c", "5")], "5")
        await client.aclose()
        assert seen[:3] == [("add", "a"), ("add", "b"), ("update", "a")]
        assert ("update", "a") in seen[3:]
        assert ("add", "c") in seen[3:]
        tomb = [o for kind, o in seen if kind == "delete"]
        assert len(tomb) == 1 and isinstance(tomb[0], DeletedFinalStateUnknown)
        assert tomb[0].key == "ns/b"
        assert tomb[0].obj["metadata"]["resourceVersion"] == "2"
        assert sorted(informer.store.list_keys()) == ["ns/a", "ns/c"]

    run(body())

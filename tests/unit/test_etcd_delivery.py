"""The etcd storage's delivery of events from two sources (apiserver/storage/etcd_delivery.py):
the watch feed and this storage's own acknowledged writes.

The first tests drive :class:`Delivery` directly, in the orders the two sources can take;
the last runs two real storages on one real etcd (the session ``etcd`` fixture) writing
the same keys at once: each storage's subscribers must see etcd's history exactly, and
each write must be answered only once its storage delivered everything up to it.
Coroutines run with ``asyncio.run``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from apiserver.storage.errors import KeyExistsError, KeyNotFoundError, RevisionConflictError
from apiserver.storage.etcd import EtcdStorage
from apiserver.storage.etcd_delivery import Delivery
from apiserver.storage.interface import EventType, StorageEvent
from tests.support.etcd import EtcdProcess, assert_same_event, unique_prefix


def create(revision: int, key: str = "/k") -> StorageEvent:
    return StorageEvent(EventType.CREATE, f"{key}{revision}", b"v", None, revision)


def delivery_from(position: int) -> tuple[Delivery, list[int]]:
    delivery = Delivery()
    delivery.start(position)
    seen: list[int] = []
    delivery.subscribers.append(lambda event: seen.append(event.revision))
    return delivery, seen


def feed(delivery: Delivery, *events: StorageEvent) -> None:
    """One watch response carrying ``events``."""
    for event in events:
        delivery.feed_event(event.revision, event)
    delivery.feed_reached(events[-1].revision)


def test_an_own_write_next_in_line_is_delivered_at_once_and_its_feed_copy_skipped() -> None:
    delivery, seen = delivery_from(10)
    delivery.own_write(create(11))
    assert (seen, delivery.position) == ([11], 11)
    feed(delivery, create(11), create(12))
    assert (seen, delivery.position) == ([11, 12], 12)


def test_an_own_write_ahead_of_the_feed_waits_for_the_revisions_before_it() -> None:
    delivery, seen = delivery_from(10)
    delivery.own_write(create(13))
    delivery.own_write(create(12))
    assert (seen, delivery.position) == ([], 10)
    feed(delivery, create(11))
    assert (seen, delivery.position) == ([11, 12, 13], 13)
    feed(delivery, create(12), create(13), create(14))
    assert (seen, delivery.position) == ([11, 12, 13, 14], 14)


def test_every_event_of_a_revision_the_feed_brings_is_delivered_before_the_next() -> None:
    delivery, seen = delivery_from(10)
    delivery.own_write(create(12))
    # Revision 11 is another client's transaction of two keys: both events come first.
    feed(delivery, create(11, "/a"), create(11, "/b"))
    assert (seen, delivery.position) == ([11, 11, 12], 12)


def test_an_own_write_the_feed_delivered_first_is_not_delivered_again() -> None:
    delivery, seen = delivery_from(10)
    delivery.own_write(create(12))
    feed(delivery, create(11), create(12))
    delivery.own_write(create(12))
    feed(delivery, create(13))
    assert (seen, delivery.position) == ([11, 12, 13], 13)


def test_waits_return_once_the_position_passes_and_false_after_release() -> None:
    async def main() -> None:
        delivery, _seen = delivery_from(10)
        waiting = asyncio.create_task(delivery.wait(12, 30.0))
        never = asyncio.create_task(delivery.wait(99, 30.0))
        await asyncio.sleep(0)
        delivery.own_write(create(12))
        await asyncio.sleep(0)
        assert not waiting.done()
        feed(delivery, create(11))
        assert await waiting is True
        delivery.release()
        assert await never is False

    asyncio.run(main())


def test_two_storages_writing_the_same_keys_each_deliver_etcds_history(etcd: EtcdProcess) -> None:
    prefix = unique_prefix()

    async def main() -> None:
        replicas = [EtcdStorage([etcd.url], prefix, key_root="") for _ in range(2)]
        logs: list[list[StorageEvent]] = [[], []]
        for replica, log in zip(replicas, logs, strict=True):
            await replica.start()
            replica.subscribe(log.append)
        start = replicas[0].current_revision()
        acknowledged: set[int] = set()

        async def writer(index: int) -> None:
            replica, log = replicas[index], logs[index]
            rng = random.Random(index)
            for step in range(60):
                key = f"/k{rng.randrange(6)}"
                current = await replica.get(key)
                try:
                    if current is None:
                        revision = await replica.create(key, f"{index}-{step}".encode())
                    elif rng.random() < 0.3:
                        revision = await replica.delete(key, current.mod_revision)
                    else:
                        revision = await replica.update(key, f"{index}-{step}".encode(),
                                                        current.mod_revision)
                except (KeyExistsError, KeyNotFoundError, RevisionConflictError):
                    continue  # the other replica wrote the key first
                acknowledged.add(revision)
                # Answered only once this replica delivered every event up to it.
                assert [e.revision for e in log if e.revision == revision] == [revision]
                assert log[-1].revision >= revision

        try:
            await asyncio.gather(writer(0), writer(1))
            history = await replicas[0].history(start)
            until = history[-1].revision
            for replica in replicas:
                assert await replica._delivery.wait(until, 30.0)
            for log in logs:
                assert len(log) == len(history)
                for delivered, full in zip(log, history, strict=True):
                    assert_same_event(delivered, full)
            assert acknowledged == {e.revision for e in history}
        finally:
            for replica in replicas:
                await replica.close()

    asyncio.run(main())


def test_a_feed_behind_the_compaction_reports_the_gap(etcd: EtcdProcess) -> None:
    """Events the feed can no longer read are reported (the watch cache then reloads),
    and the feed goes on from the compaction point."""
    prefix = unique_prefix()

    async def main() -> None:
        storage = EtcdStorage([etcd.url], prefix, key_root="")
        writer = EtcdStorage([etcd.url], prefix, key_root="")
        await storage.start()
        await writer.start()
        gaps: list[int] = []
        seen: list[StorageEvent] = []
        storage.on_feed_gap(gaps.append)
        storage.subscribe(seen.append)
        try:
            # Stop the feed where it is, write and compact past it, start it again.
            feed = storage._feed_task
            assert feed is not None
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
            resume = storage._delivery.position + 1
            revision = await writer.create("/gap", b"1")
            revision = await writer.update("/gap", b"2", revision)
            await writer.compact(revision)
            storage._feed_task = asyncio.create_task(storage._feed.run(resume))
            after = await writer.update("/gap", b"3", revision)
            assert await storage._delivery.wait(after, 30.0)
            assert gaps == [revision]
            # The event at the compaction point itself is still read.
            assert [e.revision for e in seen] == [revision, after]
        finally:
            await writer.close()
            await storage.close()

    asyncio.run(main())

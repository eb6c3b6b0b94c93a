"""The apiserver's garbage-collector tuning starts and stops cleanly."""

from __future__ import annotations

import asyncio
import gc

from apiserver.gctuning import GcFreezer


def test_freezer_raises_the_young_threshold_freezes_and_restores() -> None:
    before = gc.get_threshold()

    async def scenario() -> tuple[tuple[int, int, int], int, int]:
        freezer = GcFreezer(interval=0.01, young_threshold=12_345)
        freezer.start()
        try:
            during = gc.get_threshold()
            kept = [{"n": i} for i in range(1000)]  # survivors, frozen by the next tick
            await asyncio.sleep(0.05)
            frozen = gc.get_freeze_count()
            del kept
        finally:
            await freezer.stop()
        return during, frozen, gc.get_freeze_count()

    during, frozen, after_stop = asyncio.run(scenario())
    assert during == (12_345, *before[1:])
    assert frozen >= 1000
    assert after_stop == 0
    assert gc.get_threshold() == before

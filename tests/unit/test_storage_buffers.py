"""Bytes kept long-term are held in buffers of their own size."""

from __future__ import annotations

import tracemalloc

import orjson

from apiserver.storage.buffers import exact


def test_exact_keeps_the_bytes_and_only_their_size() -> None:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = exact(orjson.dumps({"data": "x" * 3000}))
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept == orjson.dumps({"data": "x" * 3000})
    assert grown < len(kept) + 256

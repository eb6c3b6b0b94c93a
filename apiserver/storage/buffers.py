"""Bytes kept for a long time, in buffers of their own size."""

from __future__ import annotations


def exact(data: bytes) -> bytes:
    """``data`` copied into a buffer of exactly its size.

    ``orjson.dumps`` returns bytes whose allocation keeps the capacity its
    encoder grew to (tens of KiB behind a 3 KiB object): fine for a response
    that is sent and dropped, ten times the object's size for bytes a cache
    or a storage backend keeps as long as the object lives.
    """
    return memoryview(data).tobytes()

"""A list body sent in chunks is byte for byte the joined list, of the announced length."""

from __future__ import annotations

import orjson
import pytest

from apiserver.api.resources import CONFIGMAPS
from apiserver.handlers.encoding import LIST_CHUNK_ITEMS, ListBody, encode_list
from apiserver.storage.cache import CachedObject


def _item(index: int) -> CachedObject:
    obj = {"kind": "ConfigMap", "apiVersion": "v1",
           "metadata": {"name": f"c{index}", "namespace": "n", "resourceVersion": str(index)},
           "data": {"k": "v" * (index % 7)}}
    return CachedObject(f"/registry/configmaps/n/c{index}", "n", f"c{index}", index, obj,
                        orjson.dumps(obj), {}, {})


@pytest.mark.parametrize("count", [0, 1, 2, LIST_CHUNK_ITEMS, LIST_CHUNK_ITEMS + 1,
                                   3 * LIST_CHUNK_ITEMS + 5])
def test_chunks_add_up_to_the_list(count: int) -> None:
    items = [_item(i) for i in range(count)]
    body = ListBody(CONFIGMAPS, items, 99, "tok" if count else None, 3 if count else None)
    chunks = list(body.chunks())
    whole = b"".join(chunks)
    assert whole == body.joined() == encode_list(CONFIGMAPS, items, 99,
                                                 "tok" if count else None,
                                                 3 if count else None)
    assert len(whole) == body.length
    assert len(chunks) == max(1, -(-count // LIST_CHUNK_ITEMS))
    assert whole.endswith(b"]}\n")
    parsed = orjson.loads(whole)
    assert parsed["kind"] == "ConfigMapList"
    assert parsed["metadata"]["resourceVersion"] == "99"
    assert [o["metadata"]["name"] for o in parsed["items"]] == [f"c{i}" for i in range(count)]
    if count:
        assert parsed["metadata"] == {"resourceVersion": "99", "continue": "tok",
                                      "remainingItemCount": 3}

"""Object uids: UUID4 text from the OS's CSPRNG, drawn in batches; never repeated, also
across a fork (the child draws its own randomness)."""

from __future__ import annotations

import os
import uuid

from apiserver.api.meta import new_uid


def test_uids_are_distinct_version_4_uuids_across_batches() -> None:
    uids = [new_uid() for _ in range(1000)]  # several batches of randomness
    assert len(set(uids)) == len(uids)
    for text in uids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text


def test_a_forked_child_draws_uids_of_its_own() -> None:
    new_uid()  # the pool now holds randomness the child must not reuse
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next uids and leave at once
        os.close(read)
        os.write(write, " ".join(new_uid() for _ in range(3)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split())
    os.waitpid(pid, 0)
    parent = {new_uid() for _ in range(3)}
    assert len(child) == 3 and not child & parent

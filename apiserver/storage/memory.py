"""In-memory backend for tests: the same revision log as SQLite, never persisted."""

from __future__ import annotations

import bisect

from apiserver.storage.interface import KeyValue
from apiserver.storage.log import LogRow, LogStorage


class MemoryStorage(LogStorage):
    """Keeps every log row in a list; compaction drops superseded rows."""

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[LogRow] = []

    async def _load(self) -> tuple[dict[str, KeyValue], int, int]:
        return {}, 0, 0

    async def _persist(self, rows: list[LogRow]) -> None:
        self._rows.extend(rows)

    async def _read_history(self, after_revision: int) -> list[LogRow]:
        start = bisect.bisect_right([r.revision for r in self._rows], after_revision)
        return self._rows[start:]

    async def _value_at(self, key: str, revision: int) -> bytes | None:
        revisions = [r.revision for r in self._rows]
        i = bisect.bisect_left(revisions, revision)
        if i < len(self._rows) and self._rows[i].revision == revision:
            return self._rows[i].value
        return None

    async def _compact(self, revision: int) -> None:
        newest: dict[str, int] = {}
        for row in self._rows:
            if row.revision <= revision:
                newest[row.key] = row.revision
        self._rows = [
            r
            for r in self._rows
            if r.revision > revision or (newest.get(r.key) == r.revision and not r.deleted)
        ]

"""The embedded default backend: an append-only revision log in SQLite.

The layout follows kine: one ``log`` table whose row id *is* the revision;
every write appends a row linked to the key's previous row through
``prev_revision``; deletes append tombstones. The database runs in WAL mode
with ``synchronous=FULL``, so a write is on disk before it is acknowledged
(the group commit in :mod:`apiserver.storage.log` amortises the fsync), and
revisions keep growing across restarts (``AUTOINCREMENT`` never reuses ids,
even after compaction removed the newest row).

All SQLite calls run on one dedicated thread so the event loop never blocks
on disk I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from apiserver.storage.interface import KeyValue
from apiserver.storage.log import LogRow, LogStorage

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_name_id ON log (name, id);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

#: Columns of a log row, each a parameter of the INSERT.
_ROW_FIELDS = 7


def _insert(count: int) -> str:
    """The INSERT of ``count`` log rows."""
    return ("INSERT INTO log (id, name, created, deleted, create_revision, prev_revision, "
            "value) VALUES " + ",".join(("(?, ?, ?, ?, ?, ?, ?)",) * count))


def _private_files(path: Path) -> None:
    """Make the database's directory 0700 and the database (with its WAL and SHM) 0600.

    The log holds every object, Secrets included: nobody but the owner may read it.
    SQLite creates the WAL and SHM files with the database file's mode, so the database
    is created 0600 before SQLite opens it; files of an older run are tightened.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.parent / name, 0o600)


class SQLiteStorage(LogStorage):
    """Revision log in ``<path>`` (created on first start)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            assert self._db is not None
            return fn(self._db)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def _load(self) -> tuple[dict[str, KeyValue], int, int]:
        def open_db() -> None:
            _private_files(self._path)
            db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            # A new database gets 16 KiB pages (an existing one keeps its own): an
            # object of a few kB then shares its page, and a commit writes fewer, larger
            # WAL frames (two writes each) than with 4 KiB pages.
            db.execute("PRAGMA page_size=16384")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._executor, open_db)

        def load(db: sqlite3.Connection) -> tuple[dict[str, KeyValue], int, int]:
            latest: dict[str, KeyValue] = {}
            rows = db.execute(
                "SELECT l.name, l.value, l.id, l.create_revision FROM log l "
                "JOIN (SELECT MAX(id) AS mid FROM log GROUP BY name) m ON l.id = m.mid "
                "WHERE l.deleted = 0"
            )
            for name, value, rev, create_rev in rows:
                latest[name] = KeyValue(name, bytes(value), rev, create_rev)
            seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'log'").fetchone()
            compacted = db.execute("SELECT value FROM meta WHERE key = 'compact_rev'").fetchone()
            return latest, int(seq[0]) if seq else 0, int(compacted[0]) if compacted else 0

        return await self._run(load)

    async def _persist(self, rows: list[LogRow]) -> None:
        # A batch is one INSERT in autocommit where SQLite takes that many parameters
        # (always, from SQLite 3.32 on): a single statement is its own transaction (all
        # rows or none, synced before it returns under synchronous=FULL), and one
        # sqlite3_step is one release of the GIL. A BEGIN, a step per row and a COMMIT
        # made the commit thread take the GIL back from the event loop once per row.
        params = [
            field
            for r in rows
            for field in (r.revision, r.key, int(r.created), int(r.deleted),
                          r.create_revision, r.prev_revision, r.value)
        ]

        def write(db: sqlite3.Connection) -> None:
            per_statement = max(1, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
                                // _ROW_FIELDS)
            if len(rows) <= per_statement:
                db.execute(_insert(len(rows)), params)
                return
            db.execute("BEGIN IMMEDIATE")
            try:
                step = per_statement * _ROW_FIELDS
                for start in range(0, len(params), step):
                    chunk = params[start:start + step]
                    db.execute(_insert(len(chunk) // _ROW_FIELDS), chunk)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(write)

    async def _read_history(self, after_revision: int) -> list[LogRow]:
        def read(db: sqlite3.Connection) -> list[LogRow]:
            cur = db.execute(
                "SELECT id, name, created, deleted, create_revision, prev_revision, value "
                "FROM log WHERE id > ? ORDER BY id",
                (after_revision,),
            )
            return [
                LogRow(rid, name, bool(c), bool(d), cr, pr, bytes(v))
                for rid, name, c, d, cr, pr, v in cur
            ]

        return await self._run(read)

    async def _value_at(self, key: str, revision: int) -> bytes | None:
        def read(db: sqlite3.Connection) -> bytes | None:
            row = db.execute(
                "SELECT value FROM log WHERE id = ? AND name = ?", (revision, key)
            ).fetchone()
            return bytes(row[0]) if row else None

        return await self._run(read)

    async def _compact(self, revision: int) -> None:
        def compact(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(
                    "DELETE FROM log WHERE id <= ?1 AND (deleted = 1 OR id NOT IN "
                    "(SELECT MAX(id) FROM log WHERE id <= ?1 GROUP BY name))",
                    (revision,),
                )
                db.execute(
                    "INSERT INTO meta (key, value) VALUES ('compact_rev', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (revision,),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(compact)

    async def size_bytes(self) -> tuple[str, int] | None:
        """The database file and its write-ahead log, as allocated on disk."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                stat = os.stat(f"{self._path}{suffix}")
                total += stat.st_blocks * 512
        return ("sqlite-0", total)

    async def close(self) -> None:
        await super().close()
        if self._db is not None:

            def shut(db: sqlite3.Connection) -> None:
                db.close()

            await self._run(shut)
            self._db = None
        self._executor.shutdown(wait=True)

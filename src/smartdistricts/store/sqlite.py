"""SQLite backend: WAL mode, one writer connection, a read-only connection per thread.

Durability: the writer uses ``synchronous=FULL`` by default, so a committed transaction survives
a power cut, not just a killed process; group commit (``writer.py``) keeps that affordable.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from smartdistricts.store.base import (
    Backend,
    MeasurementColumns,
    Row,
    WriterSession,
    require_values,
    run_commit_callbacks,
)
from smartdistricts.store.dialect import SQLITE

__all__ = ["SQLiteBackend"]

_ROWS_PER_STATEMENT = 1000  # 6,000 parameters per statement (SQLite allows 32,766)


@functools.lru_cache(maxsize=64)
def _insert_rows(rows: int) -> str:
    return (
        "INSERT INTO measurements (sensor_id, variable_id, time, value, flags, source_id) VALUES "
        + ",".join(["(?,?,?,?,?,?)"] * rows)
        + " ON CONFLICT DO NOTHING"
    )


class SQLiteTx:
    """A transaction (or read-only session) on one sqlite3 connection."""

    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._callbacks: list[Callable[[], None]] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        before = self.conn.total_changes
        self.conn.executemany(sql, rows)
        return self.conn.total_changes - before

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def insert_id(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self.conn.execute(sql, params).fetchone()
        if row is None:
            raise RuntimeError(f"no id returned by {sql!r}")
        return int(row[0])

    def insert_measurements(self, columns: MeasurementColumns) -> int:
        n = len(columns.time)
        if n == 0:
            return 0
        require_values(columns)
        # One multi-row statement per 5000 readings: about twice the speed of executemany and
        # a few GIL hand-overs per batch instead of one per row (see store/values.py).
        params = np.empty((n, 6), dtype=object)
        params[:, 0] = columns.sensor_id.tolist()
        params[:, 1] = columns.variable_id.tolist()
        params[:, 2] = columns.time.tolist()
        params[:, 3] = columns.value.tolist()
        params[:, 4] = columns.flags.tolist()
        params[:, 5] = columns.source_id
        flat = params.ravel().tolist()
        before = self.conn.total_changes
        for start in range(0, n, _ROWS_PER_STATEMENT):
            rows = min(_ROWS_PER_STATEMENT, n - start)
            self.conn.execute(_insert_rows(rows), flat[start * 6 : (start + rows) * 6])
        return self.conn.total_changes - before

    def stream(
        self, sql: str, params: Sequence[Any] = (), size: int = 10_000
    ) -> Iterator[list[Row]]:
        """Yield the rows of a large query in chunks."""
        cur = self.conn.execute(sql, params)
        while rows := cur.fetchmany(size):
            yield rows

    def on_commit(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def run_callbacks(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        run_commit_callbacks(callbacks)


def _connect(path: Path, *, readonly: bool, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA cache_size = -65536")  # 64 MiB
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA mmap_size = 268435456")
    if readonly:
        conn.execute("PRAGMA query_only = 1")
    else:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise RuntimeError(f"SQLite refused WAL mode for {path} (got {mode})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
    return conn


class _SQLiteWriterSession(WriterSession):
    def __init__(self, path: Path, synchronous: str) -> None:
        self.conn = _connect(path, readonly=False, synchronous=synchronous)

    @contextmanager
    def transaction(self) -> Iterator[SQLiteTx]:
        tx = SQLiteTx(self.conn)
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield tx
            self.conn.execute("COMMIT")
        except BaseException:
            # COMMIT itself can fail (a deferred constraint) and leave the transaction open.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        tx.run_callbacks()

    def close(self) -> None:
        try:
            self.conn.execute("PRAGMA optimize")
        finally:
            self.conn.close()


class SQLiteBackend(Backend):
    """Connections to one SQLite file."""

    dialect = SQLITE

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"synchronous: unknown SQLite level {synchronous!r}")
        self.path = path
        self.url = f"sqlite:///{path}"
        self.synchronous = synchronous.upper()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def writer_session(self) -> WriterSession:
        return _SQLiteWriterSession(self.path, self.synchronous)

    @contextmanager
    def reader(self) -> Iterator[SQLiteTx]:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, readonly=True, synchronous=self.synchronous)
            self._local.conn = conn
            with self._lock:
                self._readers.append(conn)
        # A read transaction gives every query of ``fn`` the same snapshot.
        conn.execute("BEGIN")
        try:
            yield SQLiteTx(conn)
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            for conn in self._readers:
                # A connection made by another thread may be gone already.
                with contextlib.suppress(sqlite3.ProgrammingError):
                    conn.close()
            self._readers.clear()
        self._local = threading.local()

    def size_bytes(self) -> int | None:
        total = 0
        for suffix in ("", "-wal"):
            p = Path(f"{self.path}{suffix}")
            if p.exists():
                total += os.path.getsize(p)
        return total

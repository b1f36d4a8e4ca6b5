"""PostgreSQL backend (psycopg 3): a writer connection, a pool of readers, COPY for bulk.

Bulk inserts go through ``COPY`` into a temporary staging table and one
``INSERT … SELECT … ON CONFLICT DO NOTHING``, so re-imports stay idempotent at COPY speed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from smartdistricts.store.base import (
    Backend,
    MeasurementColumns,
    Row,
    WriterSession,
    require_values,
    run_commit_callbacks,
)
from smartdistricts.store.dialect import POSTGRESQL

__all__ = ["PostgresBackend"]

_CURSOR_NUMBERS = itertools.count(1)
_COPY_THRESHOLD = 200  # rows; below this executemany is cheaper than a COPY round trip

_STAGE = """
CREATE TEMPORARY TABLE IF NOT EXISTS measurements_stage (
    sensor_id BIGINT, variable_id SMALLINT, time BIGINT, value DOUBLE PRECISION,
    flags SMALLINT, source_id SMALLINT
) ON COMMIT DELETE ROWS
"""


class PostgresTx:
    """A transaction (or read-only session) on one psycopg connection."""

    dialect = POSTGRESQL

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self._callbacks: list[Callable[[], None]] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.conn.cursor() as cur:
            if params:
                cur.execute(self.dialect.sql(sql), params)
            else:
                cur.execute(sql.encode())  # bytes: no placeholder parsing for DDL
            return cur.rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        rows = list(rows)
        if not rows:
            return 0
        with self.conn.cursor() as cur:
            cur.executemany(self.dialect.sql(sql), rows)
            return max(cur.rowcount, 0)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.conn.cursor() as cur:
            cur.execute(self.dialect.sql(sql), params)
            return list(cur.fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        with self.conn.cursor() as cur:
            cur.execute(self.dialect.sql(sql), params)
            row: Row | None = cur.fetchone()
            return row

    def insert_id(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self.one(sql, params)
        if row is None:
            raise RuntimeError(f"no id returned by {sql!r}")
        return int(row[0])

    def insert_measurements(self, columns: MeasurementColumns) -> int:
        n = len(columns.time)
        if n == 0:
            return 0
        require_values(columns)
        rows = zip(
            columns.sensor_id.tolist(),
            columns.variable_id.tolist(),
            columns.time.tolist(),
            columns.value.tolist(),
            columns.flags.tolist(),
            [columns.source_id] * n,
            strict=True,
        )
        if n < _COPY_THRESHOLD:
            return self.executemany(
                "INSERT INTO measurements (sensor_id, variable_id, time, value, flags, source_id)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                list(rows),
            )
        with self.conn.cursor() as cur:
            cur.execute(_STAGE)
            with cur.copy(
                "COPY measurements_stage (sensor_id, variable_id, time, value, flags, source_id)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "int2", "int8", "float8", "int2", "int2"])
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                "INSERT INTO measurements SELECT * FROM measurements_stage ON CONFLICT DO NOTHING"
            )
            inserted = cur.rowcount
            cur.execute("TRUNCATE measurements_stage")
            return inserted

    def stream(
        self, sql: str, params: Sequence[Any] = (), size: int = 10_000
    ) -> Iterator[list[Row]]:
        """Yield the rows of a large query in chunks (a server-side cursor).

        Every call gets its own cursor name, so streams may be open side by side.
        """
        with self.conn.cursor(name=f"smartdistricts_stream_{next(_CURSOR_NUMBERS)}") as cur:
            cur.itersize = size
            cur.execute(self.dialect.sql(sql), params)
            while rows := cur.fetchmany(size):
                yield list(rows)

    def on_commit(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def run_callbacks(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        run_commit_callbacks(callbacks)


def _configure(conn: psycopg.Connection[Any], schema: str | None, *, create: bool = False) -> None:
    if schema:
        with conn.cursor() as cur:
            if create:  # only the writer creates it: concurrent CREATE SCHEMA races
                cur.execute(
                    psycopg.sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(
                        psycopg.sql.Identifier(schema)
                    )
                )
            cur.execute(
                psycopg.sql.SQL("SET search_path TO {}").format(psycopg.sql.Identifier(schema))
            )
    conn.commit()


class _PostgresWriterSession(WriterSession):
    def __init__(self, dsn: str, schema: str | None) -> None:
        self.dsn = dsn
        self.schema = schema
        self.conn = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, autocommit=False)
        _configure(conn, self.schema, create=True)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[PostgresTx]:
        if self.conn.closed or self.conn.broken:
            # The server restarted or the network dropped: the job that noticed it has failed;
            # later jobs get a new connection instead of failing until the process restarts.
            self.conn.close()
            self.conn = self._connect()
        tx = PostgresTx(self.conn)
        try:
            yield tx
            self.conn.commit()
        except BaseException:
            if not self.conn.closed:
                self.conn.rollback()
            raise
        tx.run_callbacks()

    def close(self) -> None:
        self.conn.close()


class PostgresBackend(Backend):
    """Connections to one PostgreSQL database (and optionally one schema in it)."""

    dialect = POSTGRESQL

    def __init__(self, dsn: str, *, schema: str | None = None, readers: int = 8) -> None:
        self.dsn = dsn
        self.schema = schema
        # ``dsn`` may carry libpq parameters already: add the schema as one more parameter.
        self.url = dsn + (f"{'&' if '?' in dsn else '?'}schema={schema}" if schema else "")
        self._pool = ConnectionPool(
            dsn,
            min_size=1,
            max_size=readers,
            kwargs={"autocommit": False},
            configure=lambda conn: _configure(conn, schema),
            open=True,
        )

    def writer_session(self) -> WriterSession:
        return _PostgresWriterSession(self.dsn, self.schema)

    @contextmanager
    def reader(self) -> Iterator[PostgresTx]:
        with self._pool.connection() as conn:
            try:
                yield PostgresTx(conn)
            finally:
                conn.rollback()

    def close(self) -> None:
        self._pool.close()

    def size_bytes(self) -> int | None:
        with self.reader() as tx:
            row = tx.one(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
            )
            return int(row[0]) if row else None

"""The storage interface shared by the SQLite and PostgreSQL backends.

* :class:`Tx` — what code running inside a transaction may do. Queries use ``?`` placeholders.
* :class:`Backend` — opens connections for one database URL (see ``sqlite.py``/``postgres.py``).
* :class:`Store` — what the rest of the platform uses: ``read`` for queries on a reader
  connection, ``write``/``submit`` to run work on the single writer (see ``writer.py``).
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from smartdistricts.store.dialect import Dialect

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from smartdistricts.store.writer import Writer

__all__ = ["Backend", "MeasurementColumns", "Store", "Tx"]

T = TypeVar("T")
Row = tuple[Any, ...]
log = logging.getLogger(__name__)


class MeasurementColumns(Protocol):
    """Columnar raw readings ready for storage (all arrays of equal length)."""

    sensor_id: NDArray[np.int64]
    variable_id: NDArray[np.int64]
    time: NDArray[np.int64]
    value: NDArray[np.float64]
    flags: NDArray[np.int64]
    source_id: int


class Tx(Protocol):
    """A transaction (or a read-only connection) on one backend."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement for each parameter row; return the rows changed."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return all rows."""
        ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query and return its first row, or None."""
        ...

    def insert_id(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run an ``INSERT … RETURNING id`` and return the id."""
        ...

    def insert_measurements(self, columns: MeasurementColumns) -> int:
        """Insert raw readings, skipping those already stored; return how many were new."""
        ...

    def stream(
        self, sql: str, params: Sequence[Any] = (), size: int = 10_000
    ) -> Iterator[list[Row]]:
        """Yield the rows of a large query in chunks of at most ``size``."""
        ...

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` after this transaction commits (never if it rolls back)."""
        ...


class Backend(abc.ABC):
    """Connections for one database."""

    dialect: Dialect
    url: str

    @abc.abstractmethod
    def writer_session(self) -> WriterSession:
        """A connection owned by the writer thread."""

    @abc.abstractmethod
    def reader(self) -> AbstractContextManager[Tx]:
        """A read-only connection for the calling thread (a context manager)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close every connection."""

    def size_bytes(self) -> int | None:
        """Bytes the database occupies on disk, when the backend can tell."""
        return None


class WriterSession(abc.ABC):
    """The writer thread's connection: runs callables inside transactions."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Tx]:
        """Begin a write transaction; commit on success, roll back on error."""

    @abc.abstractmethod
    def close(self) -> None: ...


class Store:
    """The platform's database: one writer thread, any number of readers.

    Use ``with open_store(url) as store:``. Every write goes through the writer, which groups
    concurrent work into one transaction and acknowledges each caller only after the commit
    (group commit): a returned ``write`` or a resolved future means the data is durable.
    """

    def __init__(self, backend: Backend, writer: Writer) -> None:
        self.backend = backend
        self.writer = writer

    @property
    def dialect(self) -> Dialect:
        return self.backend.dialect

    @property
    def url(self) -> str:
        return self.backend.url

    # -- writing -------------------------------------------------------------------------------
    def submit(self, fn: Callable[[Tx], T]) -> Future[T]:
        """Queue ``fn`` for the writer; the future resolves after its transaction commits."""
        return self.writer.submit(fn)

    def write(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` on the writer and wait until it is committed."""
        return self.submit(fn).result()

    async def awrite(self, fn: Callable[[Tx], T]) -> T:
        """Like :meth:`write`, awaitable from the event loop."""
        return await self.writer.submit_async(fn)

    # -- reading -------------------------------------------------------------------------------
    def read(self, fn: Callable[[Tx], T]) -> T:
        """Run ``fn`` on this thread's read-only connection."""
        with self.backend.reader() as tx:
            return fn(tx)

    def reader(self) -> AbstractContextManager[Tx]:
        return self.backend.reader()

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self.writer.stop()
        self.backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_commit_callbacks(callbacks: list[Callable[[], None]]) -> None:
    """Run ``tx.on_commit`` callbacks after a commit.

    The transaction is durable by now, so a failing callback is logged and the others still run:
    letting the error escape would make the writer treat committed work as failed and run it
    again.
    """
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("on_commit callback %r failed", callback)


def require_values(columns: MeasurementColumns) -> None:
    """Refuse NaN readings: PostgreSQL would store them, SQLite turns them into NULL and fails.

    Ingest refuses non-finite values at its boundary; this keeps both backends alike for any
    other caller.
    """
    if len(columns.value) and bool(np.isnan(columns.value).any()):
        raise ValueError("value: NaN readings cannot be stored")


def chunked(rows: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most ``size`` items."""
    for start in range(0, len(rows), size):
        yield rows[start : start + size]

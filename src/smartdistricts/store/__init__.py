"""Storage: schema, migrations and the SQLite/PostgreSQL backends behind one interface.

>>> from smartdistricts.store import open_store
>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as d:
...     with open_store(f"sqlite:///{d}/x.db") as store:
...         store.read(lambda tx: tx.one("SELECT count(*) FROM variables")[0]) > 10
True
"""

from __future__ import annotations

from smartdistricts.store.base import Backend, Store, Tx
from smartdistricts.store.migrations import apply_migrations
from smartdistricts.store.url import parse_url, url_from_env
from smartdistricts.store.writer import Writer, WriterOverloaded

__all__ = ["Store", "Tx", "WriterOverloaded", "make_backend", "open_store"]


def make_backend(url: str, *, synchronous: str = "FULL") -> Backend:
    """Create the backend for a database URL (no connection to the writer yet)."""
    parsed = parse_url(url)
    if parsed.kind == "sqlite":
        from smartdistricts.store.sqlite import SQLiteBackend

        assert parsed.path is not None
        return SQLiteBackend(parsed.path, synchronous=synchronous)
    from smartdistricts.store.postgres import PostgresBackend

    assert parsed.dsn is not None
    return PostgresBackend(parsed.dsn, schema=parsed.schema)


def open_store(
    url: str | None = None,
    *,
    migrate: bool = True,
    synchronous: str = "FULL",
    max_batch: int = 2000,
) -> Store:
    """Open the database at ``url`` (default: ``SMARTDISTRICTS_DB`` or ``var/smartdistricts.db``).

    Starts the writer thread and, unless ``migrate=False``, applies pending migrations.
    """
    backend = make_backend(url_from_env(url), synchronous=synchronous)
    writer = Writer(backend.writer_session, max_batch=max_batch).start()
    store = Store(backend, writer)
    try:
        if migrate:
            apply_migrations(store.write)
    except BaseException:
        store.close()
        raise
    return store

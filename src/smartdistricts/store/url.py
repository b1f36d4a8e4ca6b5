"""Database URLs: ``sqlite:///path/to/file.db`` or ``postgresql://host:port/dbname``.

The URL comes from ``--db`` or the ``SMARTDISTRICTS_DB`` environment variable. PostgreSQL URLs
accept ``?schema=name`` to keep the platform's tables in their own schema (the test suite gives
every test a fresh schema that way); the remaining query parameters go to libpq.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["DEFAULT_URL", "DatabaseURL", "parse_url", "url_from_env"]

DEFAULT_URL = "sqlite:///var/smartdistricts.db"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True, slots=True)
class DatabaseURL:
    """A parsed database URL."""

    kind: str  # "sqlite" | "postgresql"
    path: Path | None = None  # SQLite file
    dsn: str | None = None  # PostgreSQL connection string without our own parameters
    schema: str | None = None  # PostgreSQL schema

    def __str__(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.path}"
        suffix = f" (schema {self.schema})" if self.schema else ""
        return f"{self.dsn}{suffix}"


def parse_url(url: str) -> DatabaseURL:
    """Parse a database URL, raising ``ValueError`` that names what is wrong.

    >>> parse_url("sqlite:///var/db.sqlite").path
    PosixPath('var/db.sqlite')
    >>> parse_url("sqlite:////tmp/x.db").path
    PosixPath('/tmp/x.db')
    >>> parse_url("postgresql://127.0.0.1:5432/test?schema=t1").schema
    't1'
    """
    if url.startswith("sqlite:///"):
        raw = url[len("sqlite:///") :]
        if not raw or raw.startswith(":memory:"):
            raise ValueError(
                "--db: an in-memory SQLite database cannot be shared by the writer and readers;"
                " give a file path, e.g. sqlite:///var/smartdistricts.db"
            )
        return DatabaseURL(kind="sqlite", path=Path(raw))
    parts = urlsplit(url)
    if parts.scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        schema = query.pop("schema", None)
        if schema is not None and not _SCHEMA_NAME.match(schema):
            raise ValueError(f"--db: schema {schema!r} must match {_SCHEMA_NAME.pattern}")
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(query), ""))
        return DatabaseURL(kind="postgresql", dsn=dsn, schema=schema)
    raise ValueError(
        f"--db: unsupported database URL {url!r}; use sqlite:///path/to/file.db"
        " or postgresql://host:port/dbname"
    )


def url_from_env(url: str | None = None) -> str:
    """The URL given, else ``SMARTDISTRICTS_DB``, else the default SQLite file."""
    return url or os.environ.get("SMARTDISTRICTS_DB") or DEFAULT_URL

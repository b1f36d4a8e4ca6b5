"""Numbered schema migrations shared by the SQLite and PostgreSQL backends.

Each migration module ``mNNNN_<name>.py`` defines ``NAME``, ``STATEMENTS`` (DDL templates with
``{tokens}``, see :mod:`smartdistricts.store.dialect`) and optionally ``DIALECT_STATEMENTS``. A
migration is applied in one transaction and recorded in ``schema_migrations``; the reference data
(variables, sources) is synchronised after every migration run.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import time
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from smartdistricts.nomenclature import VARIABLES
from smartdistricts.store.sources import SOURCES

if TYPE_CHECKING:
    from smartdistricts.store.base import Tx

__all__ = ["Migration", "apply_migrations", "migrations"]


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    module: ModuleType

    def statements(self, dialect: str) -> list[str]:
        common: list[str] = list(self.module.STATEMENTS)
        specific: dict[str, list[str]] = getattr(self.module, "DIALECT_STATEMENTS", {})
        return common + list(specific.get(dialect, []))


def migrations() -> list[Migration]:
    """All migrations shipped with the package, in order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("m") and info.name[1:5].isdigit():
            module = importlib.import_module(f"{__name__}.{info.name}")
            found.append(Migration(int(info.name[1:5]), module.NAME, module))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migration numbers must be 1..n without gaps, found {versions}")
    return found


CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)
"""


def applied_versions(tx: Tx) -> set[int]:
    tx.execute(CREATE_TABLE)
    return {int(row[0]) for row in tx.query("SELECT version FROM schema_migrations")}


def apply_migration(tx: Tx, migration: Migration) -> None:
    """Apply one migration inside the caller's transaction."""
    for statement in migration.statements(tx.dialect.name):
        tx.execute(tx.dialect.ddl(statement))
    tx.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, int(time.time())),
    )


def sync_reference_data(tx: Tx) -> None:
    """Insert variables and sources the code knows and the database does not (idempotent)."""
    tx.executemany(
        "INSERT INTO variables (id, name, unit, canonical) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET name = excluded.name, unit = excluded.unit,"
        " canonical = excluded.canonical",
        [(v.id, v.name, v.unit, int(v.canonical)) for v in VARIABLES],
    )
    tx.executemany(
        "INSERT INTO sources (id, name) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
        [(source_id, name) for name, source_id in SOURCES.items()],
    )


def _apply(migration: Migration, tx: Tx) -> None:
    apply_migration(tx, migration)


def apply_migrations(run_in_transaction: RunInTx) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; return those applied."""
    done = run_in_transaction(applied_versions)
    applied = []
    for migration in migrations():
        if migration.version in done:
            continue
        run_in_transaction(functools.partial(_apply, migration))
        applied.append(migration)
    run_in_transaction(sync_reference_data)
    return applied


if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    RunInTx = Callable[[Callable[[Tx], Any]], Any]

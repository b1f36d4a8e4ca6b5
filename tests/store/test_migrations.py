"""Numbered migrations: recorded, applied once, atomic, and the reference data kept in sync."""

from __future__ import annotations

import types

import pytest

from smartdistricts.nomenclature import VARIABLES
from smartdistricts.store import open_store
from smartdistricts.store.base import Store, Tx
from smartdistricts.store.migrations import (
    Migration,
    apply_migration,
    apply_migrations,
    migrations,
)
from smartdistricts.store.sources import SOURCES, source_id, source_name

TABLES = (
    "districts",
    "sites",
    "devices",
    "sensors",
    "variables",
    "sources",
    "measurements",
    "hourly",
    "daily",
    "latest",
    "rollup_pending",
    "api_keys",
    "audit_log",
    "measurements_readable",
    "users",
    "sessions",
    "media",
    "articles",
    "article_tags",
    "import_state",
    "worker_jobs",
    "worker_runs",
    "worker_heartbeat",
    "gios_index",
    "alert_rules",
    "alert_episodes",
    "alert_states",
    "alert_webhooks",
    "alert_subscriptions",
    "alert_notifications",
    "alert_keys",
    "calibrations",
)


def _table_exists(tx: Tx, name: str) -> bool:
    if tx.dialect.name == "sqlite":
        sql = "SELECT count(*) FROM sqlite_master WHERE name = ?"
    else:
        sql = (
            "SELECT count(*) FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_name = ?"
        )
    row = tx.one(sql, (name,))
    return row is not None and int(row[0]) == 1


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert all(m.name and isinstance(m.name, str) for m in found)
    for dialect in ("sqlite", "postgresql"):
        assert all(m.statements(dialect) for m in found)


def test_fresh_store_has_every_table_and_records_every_migration(store: Store) -> None:
    assert all(store.read(lambda tx: [_table_exists(tx, t) for t in TABLES]))
    rows = store.read(
        lambda tx: tx.query("SELECT version, name, applied_at FROM schema_migrations")
    )
    assert sorted((int(v), n) for v, n, _ in rows) == [(m.version, m.name) for m in migrations()]
    assert all(int(at) > 1_700_000_000 for *_, at in rows)


def test_reopening_applies_nothing_and_keeps_data(db_url: str) -> None:
    with open_store(db_url, synchronous="NORMAL") as first:
        first.write(lambda tx: tx.execute("INSERT INTO sources (id, name) VALUES (77, 'kept')"))
    with open_store(db_url, synchronous="NORMAL") as second:
        assert apply_migrations(second.write) == []
        assert second.read(lambda tx: tx.one("SELECT name FROM sources WHERE id = 77")) == ("kept",)
        count = second.read(lambda tx: tx.one("SELECT count(*) FROM schema_migrations"))
        assert count is not None and int(count[0]) == len(migrations())


def test_migrate_false_leaves_a_fresh_database_empty(db_url: str) -> None:
    with open_store(db_url, synchronous="NORMAL", migrate=False) as store:
        assert not any(store.read(lambda tx: [_table_exists(tx, t) for t in TABLES]))
        applied = apply_migrations(store.write)
        assert [m.version for m in applied] == [m.version for m in migrations()]
        assert all(store.read(lambda tx: [_table_exists(tx, t) for t in TABLES]))


def test_reference_data_matches_the_code(store: Store) -> None:
    variables = store.read(lambda tx: tx.query("SELECT id, name, unit, canonical FROM variables"))
    assert sorted((int(i), n, u, bool(c)) for i, n, u, c in variables) == [
        (v.id, v.name, v.unit, v.canonical) for v in VARIABLES
    ]
    sources = store.read(lambda tx: tx.query("SELECT id, name FROM sources"))
    assert sorted((int(i), n) for i, n in sources) == sorted((i, n) for n, i in SOURCES.items())


def test_reference_data_is_resynchronised_on_every_run(store: Store) -> None:
    def tamper(tx: Tx) -> None:
        tx.execute("UPDATE variables SET unit = 'furlongs', canonical = 0 WHERE id = 2")
        tx.execute("DELETE FROM variables WHERE id = 30")
        tx.execute("DELETE FROM sources WHERE id = 6")

    store.write(tamper)
    assert apply_migrations(store.write) == []
    row = store.read(lambda tx: tx.one("SELECT name, unit, canonical FROM variables WHERE id = 2"))
    assert row is not None and (row[0], row[1], int(row[2])) == ("pm2_5", "µg/m³", 1)
    assert store.read(lambda tx: tx.one("SELECT name FROM variables WHERE id = 30")) == (
        "wifi_signal",
    )
    assert store.read(lambda tx: tx.one("SELECT name FROM sources WHERE id = 6")) == ("demo",)


def test_a_failing_migration_leaves_no_trace(store: Store) -> None:
    module = types.ModuleType("m0099_broken")
    module.STATEMENTS = [  # type: ignore[attr-defined]
        "CREATE TABLE half_done (id {pk}, note TEXT)",
        "INSERT INTO half_done (note) VALUES ('written before the error')",
        "CREATE TABLE broken (",
    ]
    broken = Migration(99, "broken on purpose", module)
    with pytest.raises(Exception, match=r"(?i)syntax|incomplete|end of input"):
        store.write(lambda tx: apply_migration(tx, broken))
    assert not store.read(lambda tx: _table_exists(tx, "half_done"))
    assert (
        store.read(lambda tx: tx.one("SELECT 1 FROM schema_migrations WHERE version = 99")) is None
    )
    # The writer is still usable afterwards.
    assert store.write(lambda tx: tx.one("SELECT count(*) FROM variables")) == (len(VARIABLES),)


def test_measurement_table_has_the_documented_key(store: Store) -> None:
    def insert_twice(tx: Tx) -> int:
        sql = (
            "INSERT INTO measurements (sensor_id, variable_id, time, value, flags, source_id)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
        )
        return tx.execute(sql, (1, 2, 100, 1.5, 0, 1)) + tx.execute(sql, (1, 2, 100, 9.0, 0, 2))

    assert store.write(insert_twice) == 1
    assert store.read(lambda tx: tx.query("SELECT value, source_id FROM measurements")) == [
        (1.5, 1)
    ]


def test_source_ids_are_stable() -> None:
    assert source_id("push") == 1
    assert source_id("demo") == 6
    assert source_name(6) == "demo"
    assert source_name(200) == "source-200"
    assert len(set(SOURCES.values())) == len(SOURCES)
    with pytest.raises(ValueError, match="unknown source 'carrier-pigeon'"):
        source_id("carrier-pigeon")

"""Database URLs: parsing, errors that name ``--db``, and the URL a store reports for itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartdistricts.store import make_backend, open_store
from smartdistricts.store.url import DEFAULT_URL, parse_url, url_from_env


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///var/smartdistricts.db", Path("var/smartdistricts.db")),
        ("sqlite:////tmp/x.db", Path("/tmp/x.db")),
        ("sqlite:///data dir/ł.db", Path("data dir/ł.db")),
    ],
)
def test_sqlite_urls_give_relative_or_absolute_paths(url: str, path: Path) -> None:
    parsed = parse_url(url)
    assert (parsed.kind, parsed.path, parsed.dsn, parsed.schema) == ("sqlite", path, None, None)
    assert str(parsed) == f"sqlite:///{path}"


@pytest.mark.parametrize("url", ["sqlite:///", "sqlite:///:memory:", "sqlite:///:memory:?x=1"])
def test_in_memory_sqlite_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"^--db: an in-memory SQLite database"):
        parse_url(url)


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_postgres_schemes_are_normalised(scheme: str) -> None:
    parsed = parse_url(f"{scheme}://user:pw@db.example:6432/air?schema=town_1")
    assert parsed.kind == "postgresql"
    assert parsed.dsn == "postgresql://user:pw@db.example:6432/air"
    assert parsed.schema == "town_1"
    assert parsed.path is None


def test_postgres_keeps_libpq_parameters_and_removes_schema() -> None:
    parsed = parse_url("postgresql://h/db?sslmode=require&schema=s&application_name=sd")
    assert parsed.dsn == "postgresql://h/db?sslmode=require&application_name=sd"
    assert parsed.schema == "s"
    assert str(parsed) == "postgresql://h/db?sslmode=require&application_name=sd (schema s)"


def test_postgres_without_schema() -> None:
    parsed = parse_url("postgresql://127.0.0.1:5432/test")
    assert (parsed.dsn, parsed.schema) == ("postgresql://127.0.0.1:5432/test", None)
    assert str(parsed) == "postgresql://127.0.0.1:5432/test"


@pytest.mark.parametrize("schema", ["", "Upper", "1abc", "a-b", "x" * 64, 'a";drop'])
def test_bad_schema_names_are_refused(schema: str) -> None:
    with pytest.raises(ValueError, match=r"^--db: schema .* must match"):
        parse_url(f"postgresql://h/db?schema={schema}")


def test_longest_schema_name_is_accepted() -> None:
    assert parse_url(f"postgresql://h/db?schema=_{'x' * 62}").schema == "_" + "x" * 62


@pytest.mark.parametrize(
    "url", ["mysql://h/db", "sqlite://relative.db", "var/smartdistricts.db", "", "http://x"]
)
def test_unsupported_urls_name_the_option_and_the_forms(url: str) -> None:
    with pytest.raises(ValueError, match=r"^--db: unsupported database URL") as info:
        parse_url(url)
    assert "sqlite:///" in str(info.value)
    assert "postgresql://" in str(info.value)


def test_url_from_env_prefers_argument_then_environment_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SMARTDISTRICTS_DB", raising=False)
    assert url_from_env() == DEFAULT_URL
    assert url_from_env("") == DEFAULT_URL
    monkeypatch.setenv("SMARTDISTRICTS_DB", "sqlite:////srv/env.db")
    assert url_from_env() == "sqlite:////srv/env.db"
    assert url_from_env("sqlite:////srv/arg.db") == "sqlite:////srv/arg.db"


def test_make_backend_picks_the_backend_by_url(sqlite_url: str) -> None:
    backend = make_backend(sqlite_url)
    try:
        assert backend.dialect.name == "sqlite"
        assert backend.url == sqlite_url
    finally:
        backend.close()


def test_make_backend_refuses_unknown_sqlite_synchronous_level(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        make_backend(sqlite_url, synchronous="SOMETIMES")


def test_store_url_reopens_the_same_database(db_url: str) -> None:
    with open_store(db_url, synchronous="NORMAL") as store:
        store.write(lambda tx: tx.execute("INSERT INTO sources (id, name) VALUES (99, 'probe')"))
        url = store.url
    assert parse_url(url) == parse_url(db_url)
    with open_store(url, synchronous="NORMAL") as again:
        assert again.read(lambda tx: tx.one("SELECT name FROM sources WHERE id = 99")) == ("probe",)


@pytest.mark.postgres
def test_store_url_keeps_libpq_parameters_with_the_schema(pg_url: str) -> None:
    url = pg_url + "&application_name=smartdistricts-test"
    with open_store(url, synchronous="NORMAL") as store:
        parsed = parse_url(store.url)
        assert parsed == parse_url(url)
        assert store.read(lambda tx: tx.one("SELECT current_setting('application_name')")) == (
            "smartdistricts-test",
        )

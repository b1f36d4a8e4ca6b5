"""Shared fixtures: databases on both backends, services, a live server.

Tests that need a service (PostgreSQL, Mosquitto, Redis) skip with the reason when it is absent,
except under ``CI=true``, where a missing service fails the run.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from smartdistricts.config import Settings
from smartdistricts.services.ingest import IngestService
from smartdistricts.store import open_store
from smartdistricts.store.base import Store

DATA = Path(__file__).parent / "data"
CI = os.environ.get("CI", "").lower() == "true"
PG_DSN = os.environ.get("SMARTDISTRICTS_TEST_PG", "postgresql://127.0.0.1:5432/test")


def service_available(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, under CI=true, fail) when a service does not answer."""
    if service_available(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if CI:
        pytest.fail(f"{message} (CI=true: services are required)")
    pytest.skip(message)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/test.db"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{PG_DSN}?schema={schema}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a fresh database, once per backend."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        return url
    url = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = open_store(db_url, synchronous="NORMAL")
    yield s
    s.close()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(db=db_url)


@pytest.fixture
def service(store: Store, settings: Settings) -> IngestService:
    return IngestService(store, settings)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """``smartdistricts serve`` in a subprocess (killable for crash tests)."""

    def __init__(self, db: str, *, extra_env: dict[str, str] | None = None) -> None:
        self.db = db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "SMARTDISTRICTS_DB": db, **(extra_env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="smartdistricts-server-", suffix=".log")  # noqa: SIM115

    def start(self, *args: str) -> LiveServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "smartdistricts", "serve", "--port", str(self.port), *args],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()[-2000:]}")
            try:
                if httpx.get(self.url + "/api/v1/ping", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 30 s")

    def output(self) -> str:
        """What the server printed so far."""
        with open(self.log.name, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def live_server(sqlite_url: str) -> Iterator[LiveServer]:
    server = LiveServer(sqlite_url)
    yield server
    server.stop()
    server.log.close()

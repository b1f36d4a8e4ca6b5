"""Schemathesis against the in-process application's ``/openapi.json``.

Every operation — the native read API, the Airly-compatible ``/v2`` API (with a valid read key
in the ``apikey`` header), health, pushes and batch writes — is called with generated requests
on a database holding the demo town. Checks: no 5xx, the status code, the content type and the
JSON body as documented. SQLite only (the behaviour under test does not depend on the backend;
``test_native.py`` covers both). Bounded: at most 25 examples per operation.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from smartdistricts.api.app import App, create_app
from smartdistricts.api.limits import RateLimiter
from smartdistricts.config import Settings
from smartdistricts.services.demo import create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import add_api_key
from smartdistricts.store import open_store

#: The description as the application serves it (building it needs no database).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, str]]:
    """The application on a database with the demo town, and a read/write API key."""
    path: Path = tmp_path_factory.mktemp("openapi") / "schema.db"
    url = f"sqlite:///{path}"
    app_settings = Settings(db=url, ingest_process=False)
    store = open_store(url, synchronous="NORMAL")
    create_demo(IngestService(store, app_settings), days=2, now=time.time())
    key = add_api_key(store, "schemathesis", scopes={"read", "write"})[1]
    app = create_app(app_settings, store=store)
    with TestClient(app):  # runs the lifespan: app.state.ctx
        app.state.read_limiter = RateLimiter(0)  # generated requests come fast from one address
        yield app, key
    store.close()


def test_the_served_description_is_the_tested_one(served: tuple[App, str]) -> None:
    app, _key = served
    with TestClient(app) as client:
        served_schema = client.get("/openapi.json").json()
    assert served_schema == schema.raw_schema
    assert "/v2/installations/{installationId}" in served_schema["paths"]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("SD_ST_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms(case: schemathesis.Case, served: tuple[App, str]) -> None:
    app, key = served
    case.call_and_validate(app=app, headers={"apikey": key}, checks=CHECKS)

"""Fixtures for API tests: the application on a fresh database, in process."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from smartdistricts.api.app import create_app
from smartdistricts.config import Settings
from smartdistricts.services.registry import add_device, add_site
from smartdistricts.store.base import Store

UID = "esp8266-13597771"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture
def client(store: Store, app_settings: Settings) -> Iterator[TestClient]:
    app = create_app(app_settings, store=store)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def open_client(store: Store, settings: Settings) -> Iterator[TestClient]:
    """The application with open registration."""
    app = create_app(replace(settings, open_registration=True), store=store)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def device(store: Store) -> tuple[str, str]:
    """A registered airrohr device at a site: (uid, password)."""
    add_site(store, name="ul. Wyszyńskiego 56", latitude=52.1796, longitude=21.5532)
    _device, secret = add_device(store, UID, site="ul-wyszynskiego-56")
    return UID, secret

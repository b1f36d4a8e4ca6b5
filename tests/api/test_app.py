"""Health, errors and the home page; a fuzzed push endpoint never answers 5xx."""

from __future__ import annotations

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from tests.api.conftest import basic

from smartdistricts.config import Settings
from smartdistricts.services.demo import create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.store.base import Store

PUSH = "/api/v1/push/sensor-community"


def test_ping_and_health(client: TestClient, store: Store) -> None:
    assert client.get("/api/v1/ping").text == "pong"
    health = client.get("/api/v1/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["database"] == store.dialect.name
    assert body["writer_backlog"] >= 0 and body["database_ms"] >= 0


def test_unknown_paths_and_methods_use_the_error_shape(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["status"] == 404
    wrong = client.get(PUSH)
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


def test_home_page_and_its_json_twin_agree(
    client: TestClient, store: Store, settings: Settings
) -> None:
    create_demo(IngestService(store, settings), days=1, now=time.time())
    data = client.get("/index.json").json()
    assert [s["slug"] for s in data["sites"]] == [
        "malopolska-11", "sosnkowskiego-1", "wyszynskiego-56", "przemyslowa-7"
    ]  # fmt: skip
    first = data["sites"][0]
    assert set(first["values"]) == {
        "pm1",
        "pm2_5",
        "pm10",
        "temp_air",
        "relative_humidity",
        "pressure",
    }
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="pl">' in page.text
    for site in data["sites"]:
        assert site["name"] in page.text
        assert f"{site['values']['pm2_5']:.2f}".replace(".", ",") in page.text  # Polish format


def test_page_escapes_site_names(client: TestClient, store: Store) -> None:
    from smartdistricts.services.registry import add_site

    add_site(store, name="<script>alert(1)</script>", slug="x", latitude=52.18, longitude=21.56)
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
items = st.fixed_dictionaries(
    {
        "value_type": st.sampled_from(
            ["SDS_P1", "SDS_P2", "BME280_pressure", "humidity", "signal", "x"]
        )
        | st.text(max_size=12),
        "value": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(items, max_size=6).map(lambda xs: json.dumps({"sensordatavalues": xs}).encode()),
)


def test_fuzzed_pushes_never_get_a_5xx(
    client: TestClient, store: Store, device: tuple[str, str]
) -> None:
    uid, password = device
    auth = {"X-Sensor": uid, **basic(uid, password)}
    seen: list[int] = []

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies)
    def check(body: bytes) -> None:
        before = store.read(lambda tx: tx.one("SELECT count(*) FROM measurements"))[0]
        response = client.post(PUSH, content=body, headers=auth)
        seen.append(response.status_code)
        assert response.status_code < 500, response.text
        after = store.read(lambda tx: tx.one("SELECT count(*) FROM measurements"))[0]
        if response.status_code >= 400:
            assert response.json()["error"]["field"]
            assert after == before  # a refused push stores nothing
        elif response.status_code == 201:
            assert after - before == response.json()["stored"]

    check()
    assert any(code >= 400 for code in seen)

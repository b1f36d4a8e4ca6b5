"""The Airly-API-v2-compatible endpoints (``/v2/…``) against Airly's recorded shapes and clients."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from starlette.testclient import TestClient
from tests.conftest import DATA, LiveServer

from smartdistricts.config import Settings
from smartdistricts.ingest.records import Readings, SensorRef
from smartdistricts.nomenclature import variable
from smartdistricts.services.airly import iso_ms
from smartdistricts.services.bulk import BulkWrite
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import Site, add_api_key, add_device, add_site
from smartdistricts.store.base import Store

# The town's widget on 21.05.2019 22:30 (see the brief): the means of the last hour at one site.
TOWN = {
    "pm1": 4.03,
    "pm2_5": 5.27,
    "pm10": 7.06,
    "temp_air": 14.09,
    "pressure": 1004.05,
    "relative_humidity": 71.97,
}
SENSOR_OF = {
    "pm1": "PMS7003",
    "pm2_5": "PMS7003",
    "pm10": "PMS7003",
    "temp_air": "BME280",
    "pressure": "BME280",
    "relative_humidity": "BME280",
}
AIRLY_ELEMENT_KEYS = ["fromDateTime", "tillDateTime", "values", "indexes", "standards"]
NO_SENSORS = "There are no Airly sensors in this area yet."
# Two sites about 1.1 km apart in Mińsk Mazowiecki and a point far away (Kraków).
A = (52.1796, 21.5532)
B = (52.1730, 21.5670)
FAR = (50.0614, 19.9366)


def put(store: Store, settings: Settings, uid: str, rows: list[tuple[int, str, float]]) -> None:
    """Store readings of a device through the bulk writer (the archive-import path)."""
    refs = [SensorRef(device_uid=uid, sensor_type=t) for t in sorted(set(SENSOR_OF.values()))]
    kinds = [r.sensor_type for r in refs]
    readings = Readings(
        refs,
        np.asarray([kinds.index(SENSOR_OF[v]) for _t, v, _x in rows], dtype=np.int64),
        np.asarray([variable(v).id for _t, v, _x in rows], dtype=np.int64),
        np.asarray([t for t, _v, _x in rows], dtype=np.int64),
        np.asarray([x for _t, _v, x in rows], dtype=np.float64),
        np.zeros(len(rows), dtype=np.int64),
    )
    store.write(BulkWrite(IngestService(store, settings), readings, "sensor.community-archive"))


def site_with(
    store: Store,
    settings: Settings,
    slug: str,
    where: tuple[float, float],
    now: int,
    current: dict[str, float],
    past: dict[str, float] | None = None,
) -> Site:
    """A site whose device measured ``current`` twice in the last hour and ``past`` 3 h ago."""
    site = add_site(
        store, name=f"ul. {slug}", slug=slug, latitude=where[0], longitude=where[1],
        street=f"ul. {slug}", number="1", city="Mińsk Mazowiecki",
    )  # fmt: skip
    uid = f"esp8266-{abs(hash(slug)) % 10**8}"
    add_device(store, uid, site=slug)
    rows = [(t, v, x) for t in (now - 900, now - 300) for v, x in current.items()]
    hour = now - now % 3600 - 3 * 3600
    rows += [(hour + 600, v, x) for v, x in (past or {}).items()]
    put(store, settings, uid, rows)
    return site


@pytest.fixture
def now() -> int:
    return int(time.time())


@pytest.fixture
def town(store: Store, settings: Settings, now: int) -> Site:
    return site_with(store, settings, "wyszynskiego", A, now, TOWN, past={"pm2_5": 40, "pm10": 60})


@pytest.fixture
def token(store: Store) -> str:
    return add_api_key(store, "dashboard")[1]


def v2(client: TestClient, path: str, token: str | None, **headers: str) -> Any:
    if token is not None:
        headers["apikey"] = token
    return client.get("/v2/" + path, headers=headers)


def recorded(name: str) -> Any:
    return json.loads((DATA / "airly" / name).read_text(encoding="utf-8"))


# -- measurements ----------------------------------------------------------------------------------
def test_installation_measurements_reproduce_the_town_widget(
    client: TestClient, town: Site, token: str, now: int
) -> None:
    response = v2(client, f"measurements/installation?installationId={town.id}", token)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["current", "history", "forecast"]
    current = body["current"]
    assert list(current) == AIRLY_ELEMENT_KEYS
    assert current["values"] == [
        {"name": "PM1", "value": 4.03},
        {"name": "PM25", "value": 5.27},
        {"name": "PM10", "value": 7.06},
        {"name": "PRESSURE", "value": 1004.05},
        {"name": "HUMIDITY", "value": 71.97},
        {"name": "TEMPERATURE", "value": 14.09},
    ]
    [index] = current["indexes"]
    assert index["name"] == "AIRLY_CAQI" and index["value"] == 8.78
    assert index["level"] == "VERY_LOW" and index["color"] == "#6BC926"
    assert index["description"] and index["advice"]
    standards = {s["pollutant"]: s for s in current["standards"]}
    assert standards["PM25"]["limit"] == 25 and standards["PM25"]["percent"] == 21.08
    assert standards["PM10"]["limit"] == 50 and standards["PM10"]["percent"] == 14.12
    assert {s["name"] for s in current["standards"]} == {"WHO"}
    assert {s["averaging"] for s in current["standards"]} == {"24h"}
    # 24 hourly windows, oldest first, ending at the current full hour; one holds the past data.
    history = body["history"]
    assert len(history) == 24 and body["forecast"] == []
    ends = [h["tillDateTime"] for h in history]
    assert ends == sorted(ends) and ends[-1].endswith(":00:00.000Z")
    # The hour of the past readings (3 h ago); the last 15 minutes may reach into the last hour.
    past_hour = iso_ms(now - now % 3600 - 3 * 3600)
    filled = [h for h in history if h["values"]]
    assert [h["fromDateTime"] for h in filled][:1] == [past_hour] and len(filled) <= 2
    assert filled[0]["values"] == [{"name": "PM25", "value": 40.0}, {"name": "PM10", "value": 60.0}]
    assert filled[0]["indexes"][0]["value"] == 60.0  # CAQI hourly grid: PM2.5 30–55 → 50–75
    empty = history[0]["indexes"][0]
    assert empty["value"] is None and empty["level"] == "UNKNOWN" and empty["advice"] is None


def test_the_shapes_match_recorded_airly_responses(
    client: TestClient, town: Site, token: str
) -> None:
    sample = recorded("measurements_valid_station_2022.json")
    ours = v2(client, f"measurements/installation?installationId={town.id}", token).json()
    assert set(ours) == set(sample)
    assert set(ours["current"]) == set(sample["current"])
    assert set(ours["current"]["indexes"][0]) == set(sample["current"]["indexes"][0])
    assert set(ours["current"]["standards"][0]) == set(sample["current"]["standards"][0])
    assert set(ours["current"]["values"][0]) == set(sample["current"]["values"][0])
    # Airly lists values in a fixed order that clients index by name; ours follows it.
    sample_order = [v["name"] for v in sample["current"]["values"]]
    our_order = [v["name"] for v in ours["current"]["values"]]
    assert our_order == [n for n in sample_order if n in our_order]
    for field in ("fromDateTime", "tillDateTime"):
        assert len(ours["current"][field]) == len(sample["current"][field])  # …T22:13:20.347Z

    installation = v2(client, f"installations/{town.id}", token).json()
    [airly_one] = recorded("installations_nearest_2020.json")[:1]
    assert set(airly_one) <= set(installation)
    for part in ("location", "address", "sponsor"):
        assert set(installation[part]) == set(airly_one[part])


def test_large_answers_are_gzipped_for_clients_that_accept_it(
    client: TestClient, town: Site, token: str
) -> None:
    path = f"/v2/measurements/installation?installationId={town.id}"
    plain = client.get(path, headers={"apikey": token, "Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    packed = client.get(path, headers={"apikey": token, "Accept-Encoding": "gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert int(packed.headers["Content-Length"]) < len(plain.content) / 4
    assert packed.json() == plain.json()  # the client unpacks it
    small = client.get("/v2/meta/standards", headers={"apikey": token, "Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers


def test_language_follows_accept_language(client: TestClient, town: Site, token: str) -> None:
    path = f"measurements/installation?installationId={town.id}"
    english = v2(client, path, token).json()["current"]["indexes"][0]
    polish = v2(client, path, token, **{"Accept-Language": "pl-PL,pl;q=0.9"}).json()
    polish_index = polish["current"]["indexes"][0]
    assert english["value"] == polish_index["value"]
    assert english["description"] != polish_index["description"]
    assert any(ch in polish_index["description"] + polish_index["advice"] for ch in "ąćęłńóśźż!")
    labels = v2(client, "meta/measurements", token, **{"Accept-Language": "pl"}).json()
    assert {m["name"]: m["label"] for m in labels}["HUMIDITY"] == "Wilgotność"


@pytest.mark.parametrize(
    ("index_type", "expected"),
    [
        ("AIRLY_CAQI", 8.78),
        ("CAQI", 8.78),
        ("PIJP", 0.0),
        ("EAQI", 1.0),
        ("US_AQI", 29.0),
    ],  # US: PM2.5 0–9 → 0–50 (EPA 2024)
)
def test_every_index_type(
    client: TestClient, town: Site, token: str, index_type: str, expected: float
) -> None:
    path = f"measurements/installation?installationId={town.id}&indexType={index_type}"
    [index] = v2(client, path, token).json()["current"]["indexes"]
    assert index["name"] == index_type
    assert index["value"] == pytest.approx(expected)
    assert index["level"] != "UNKNOWN"


# -- errors ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("measurements/installation", "installationId"),
        ("measurements/installation?installationId=abc", "installationId"),
        ("measurements/installation?installationId=1&indexType=AQI", "indexType"),
        ("measurements/point?lat=95&lng=21", "lat"),
        ("measurements/point?lat=52&lng=nan", "lng"),
        ("measurements/nearest?lat=52&lng=21&maxDistanceKM=far", "maxDistanceKM"),
        ("installations/nearest?lat=52&lng=21&maxResults=1.5", "maxResults"),
        ("installations/x1", "installationId"),
        ("installations/9223372036854775808", "installationId"),
        ("measurements/installation?installationId=-1", "installationId"),
        ("measurements/installation?installationId=1_0", "installationId"),
        ("measurements/location?locationId=99999999999999999999", "locationId"),
        ("installations/location?locationId=", "locationId"),
        ("installations/nearest?lat=52&lng=21&maxResults=100000", "maxResults"),
    ],
)
def test_bad_parameters_are_400_naming_the_parameter(
    client: TestClient, town: Site, token: str, path: str, parameter: str
) -> None:
    response = v2(client, path, token)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errorCode"] == "API_REQUEST_INVALID"
    [violation] = body["details"]["violations"]
    assert violation["parameter"] == parameter and violation["message"]


def test_unknown_installation_and_path_are_404(client: TestClient, token: str) -> None:
    for path in ("measurements/installation?installationId=999", "installations/999"):
        response = v2(client, path, token)
        assert response.status_code == 404
        assert response.json()["errorCode"] == "INSTALLATION_NOT_FOUND"
    assert v2(client, "nothing", token).status_code == 404


def test_keys_are_required_and_checked(client: TestClient, store: Store, town: Site) -> None:
    path = f"measurements/installation?installationId={town.id}"
    missing = v2(client, path, None)
    assert missing.status_code == 401
    assert missing.json() == {"message": "No API key found in request"}
    wrong = v2(client, path, "sd_nope.nope")
    assert wrong.status_code == 401
    assert wrong.json() == {"message": "Invalid authentication credentials"}
    writer = add_api_key(store, "gateway", scopes={"write"})[1]
    assert v2(client, path, writer).status_code == 401  # a write key cannot read
    reader = add_api_key(store, "reader")[1]
    assert client.get(f"/v2/{path}&apikey={reader}").status_code == 200  # key as query parameter


def test_rate_limits_per_key_with_airly_headers(
    client: TestClient, store: Store, town: Site
) -> None:
    path = f"measurements/installation?installationId={town.id}"
    small = add_api_key(store, "small", daily_limit=3, minute_limit=100)[1]
    other = add_api_key(store, "other")[1]
    remaining = []
    for _ in range(3):
        response = v2(client, path, small)
        assert response.status_code == 200
        assert response.headers["X-RateLimit-Limit-day"] == "3"
        remaining.append(int(response.headers["X-RateLimit-Remaining-day"]))
    assert remaining == [2, 1, 0]
    refused = v2(client, path, small)
    assert refused.status_code == 429
    assert refused.json() == {"message": "API rate limit exceeded"}
    assert refused.headers["X-RateLimit-Remaining-day"] == "0" and refused.headers["Retry-After"]
    assert v2(client, path, other).status_code == 200  # limits are per key

    per_minute = add_api_key(store, "burst", daily_limit=0, minute_limit=2)[1]
    codes = [v2(client, path, per_minute).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert "X-RateLimit-Limit-day" not in v2(client, path, per_minute).headers  # 0: unlimited


def test_cors_preflight_and_exposed_headers(client: TestClient, town: Site, token: str) -> None:
    preflight = client.options(
        "/v2/measurements/point",
        headers={"Origin": "https://example.org", "Access-Control-Request-Headers": "apikey"},
    )
    assert preflight.status_code == 204
    assert "apikey" in preflight.headers["Access-Control-Allow-Headers"]
    response = v2(client, f"installations/{town.id}", token, Origin="https://example.org")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-RateLimit-Remaining-day" in response.headers["Access-Control-Expose-Headers"]


# -- places ----------------------------------------------------------------------------------------
@pytest.fixture
def two_sites(store: Store, settings: Settings, town: Site, now: int) -> tuple[Site, Site]:
    other = site_with(store, settings, "sosnkowskiego", B, now, {"pm2_5": 25.27, "pm10": 27.06})
    return town, other


def test_point_interpolates_between_sites(
    client: TestClient, two_sites: tuple[Site, Site], token: str
) -> None:
    def pm25(lat: float, lng: float) -> float:
        body = v2(client, f"measurements/point?lat={lat}&lng={lng}", token).json()
        return {v["name"]: v["value"] for v in body["current"]["values"]}["PM25"]

    assert pm25(*A) == 5.27  # at a site: that site's values
    assert pm25(*B) == 25.27
    middle = pm25((A[0] + B[0]) / 2, (A[1] + B[1]) / 2)
    assert middle == pytest.approx(15.27, abs=0.05)  # equal distances: the mean
    near_a = pm25(A[0] + (B[0] - A[0]) / 4, A[1] + (B[1] - A[1]) / 4)
    assert 5.27 < near_a < middle  # inverse distance squared: 1/9 of the weight to B → 7.27
    assert near_a == pytest.approx(5.27 + 20 / 10, abs=0.05)


def test_point_without_sensors_answers_like_airly(
    client: TestClient, town: Site, token: str
) -> None:
    response = v2(client, f"measurements/point?lat={FAR[0]}&lng={FAR[1]}", token)
    assert response.status_code == 200
    body = response.json()
    index = body["current"]["indexes"][0]
    assert index["description"] == NO_SENSORS and index["value"] is None
    # Everything but the times equals Airly's recorded answer (Home Assistant compares the text).
    sample = recorded("measurements_no_station_2019.json")

    def untimed(element: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in element.items() if not k.endswith("DateTime")}

    for part in ("current", "history", "forecast"):
        ours = body[part] if part != "current" else [body[part]]
        theirs = sample[part] if part != "current" else [sample[part]]
        assert [untimed(e) for e in ours] == [untimed(e) for e in theirs]
    assert body["history"][-1]["tillDateTime"] == body["forecast"][0]["fromDateTime"]
    assert body["history"][-1]["tillDateTime"][:13] == body["current"]["tillDateTime"][:13]
    polish = v2(
        client, f"measurements/point?lat={FAR[0]}&lng={FAR[1]}", token, **{"Accept-Language": "pl"}
    )
    assert polish.json()["current"]["indexes"][0]["description"] != NO_SENSORS


def test_nearest_installation_and_its_measurements(
    client: TestClient, two_sites: tuple[Site, Site], token: str
) -> None:
    town, other = two_sites
    lat, lng = B[0] + 0.001, B[1]
    found = v2(client, f"installations/nearest?lat={lat}&lng={lng}&maxDistanceKM=5", token).json()
    assert [i["id"] for i in found] == [other.id]  # maxResults defaults to 1
    both = v2(
        client, f"installations/nearest?lat={lat}&lng={lng}&maxDistanceKM=-1&maxResults=-1", token
    ).json()
    assert [i["id"] for i in both] == [other.id, town.id]
    assert both[0]["distance"] == pytest.approx(0.111, abs=0.002)
    assert both[0]["location"] == {"latitude": B[0], "longitude": B[1]}
    assert both[0]["address"]["city"] == "Mińsk Mazowiecki"
    close = v2(
        client, f"installations/nearest?lat={lat}&lng={lng}&maxDistanceKM=0.05&maxResults=5", token
    ).json()
    assert close == []

    # The airly client sends an empty maxDistanceKM when none is given: the default (3 km).
    measured = v2(client, f"measurements/nearest?lat={lat}&lng={lng}&maxDistanceKM=", token)
    assert measured.status_code == 200
    pm25 = {v["name"]: v["value"] for v in measured.json()["current"]["values"]}["PM25"]
    assert pm25 == 25.27
    far = v2(client, f"measurements/nearest?lat={FAR[0]}&lng={FAR[1]}", token)
    assert far.status_code == 404 and far.json()["errorCode"] == "INSTALLATION_NOT_FOUND"


def test_meta_endpoints(client: TestClient, token: str) -> None:
    indexes = v2(client, "meta/indexes", token).json()
    assert [i["name"] for i in indexes] == ["AIRLY_CAQI", "CAQI", "PIJP", "EAQI", "US_AQI"]
    caqi_levels = indexes[0]["levels"]
    assert caqi_levels[0]["minValue"] == 0 and caqi_levels[0]["color"] == "#6BC926"
    sample = recorded("meta_indexes_2020.json")
    assert set(caqi_levels[0]) == set(sample[0]["levels"][0])
    measurements = v2(client, "meta/measurements", token).json()
    assert set(measurements[0]) == set(recorded("meta_measurements_2020.json")[0])
    assert {m["name"]: m["unit"] for m in measurements}["PM25"] == "µg/m³"
    [standard] = v2(client, "meta/standards", token).json()
    assert standard["name"] == "WHO" and standard["standardLimits"]["PM25"] == 25


def test_the_openapi_description_documents_v2(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v2/measurements/installation"]["get"]
    assert operation["security"] == [{"AirlyKey": []}]
    assert {p["name"] for p in operation["parameters"]} >= {"installationId", "indexType"}
    assert "429" in operation["responses"]


def test_answers_follow_new_data_after_the_cache_lifetime(
    store: Store, settings: Settings, now: int
) -> None:
    from dataclasses import replace

    from smartdistricts.api.app import create_app

    site = site_with(store, settings, "przemyslowa", A, now, {"pm2_5": 10.0})
    token = add_api_key(store, "t")[1]
    app = create_app(replace(settings, ingest_process=False), store=store)
    with TestClient(app) as client:
        path = f"measurements/installation?installationId={site.id}"
        first = v2(client, path, token).json()["current"]["values"]
        uid = f"esp8266-{abs(hash('przemyslowa')) % 10**8}"
        put(store, settings, uid, [(now - 60, "pm2_5", 40.0)])
        assert v2(client, path, token).json()["current"]["values"] == first  # cached
        app.state.ctx.air.invalidate()
        app.state.airly._cache.clear()
        values = v2(client, path, token).json()["current"]["values"]
        assert values == [{"name": "PM25", "value": 20.0}]


# -- the real client -------------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path: Any, now: int) -> Iterator[tuple[LiveServer, str, dict[str, int]]]:
    from smartdistricts.store import open_store

    url = f"sqlite:///{tmp_path}/live.db"
    store = open_store(url)
    settings = Settings(db=url)
    a = site_with(store, settings, "wyszynskiego", A, now, TOWN)
    b = site_with(store, settings, "sosnkowskiego", B, now, {"pm2_5": 25.27, "pm10": 27.06})
    token = add_api_key(store, "home-assistant", daily_limit=50)[1]
    store.close()
    server = LiveServer(url).start()
    try:
        yield server, token, {"a": a.id, "b": b.id}
    finally:
        server.stop()
        server.log.close()


def test_the_airly_python_client_works_against_our_server(
    served: tuple[LiveServer, str, dict[str, int]],
) -> None:
    """The ``airly`` package (used by Home Assistant) reads our server as it reads Airly's."""
    aiohttp = pytest.importorskip("aiohttp")
    from airly import Airly
    from airly.exceptions import AirlyError

    server, token, ids = served

    async def scenario() -> dict[str, Any]:
        async with aiohttp.ClientSession() as session:
            client = Airly(token, session, base_url=server.url + "/v2/", language="pl")
            installation = await client.load_installation_by_id(ids["a"])
            nearest = await client.load_installation_nearest(B[0], B[1], max_results=2)
            at_site = client.create_measurements_session_installation(ids["a"])
            await at_site.update()
            near = client.create_measurements_session_nearest(B[0], B[1])
            await near.update()
            point = client.create_measurements_session_point(*FAR)
            await point.update()
            try:
                await client.load_installation_by_id(ids["b"] + 100)
                missing = None
            except AirlyError as exc:
                missing = exc
            return {
                "installation": installation,
                "nearest": nearest,
                "at_site": at_site,
                "near": near,
                "point": point,
                "missing": missing,
                "per_day": client.requests_per_day,
                "remaining": client.requests_remaining,
            }

    got = asyncio.run(scenario())
    assert got["installation"].location.latitude == A[0]
    assert got["installation"].address.city == "Mińsk Mazowiecki"
    assert [i.id for i in got["nearest"]] == [ids["b"], ids["a"]]
    current = got["at_site"].current
    assert (current.pm1, current.pm25, current.pm10) == (4.03, 5.27, 7.06)
    assert (current.temperature, current.humidity, current.pressure) == (14.09, 71.97, 1004.05)
    assert current.indexes[0].value == 8.78 and current.indexes[0].name == "AIRLY_CAQI"
    assert current.fromDateTime is not None and current.tillDateTime > current.fromDateTime
    assert len(got["at_site"].history) == 24 and got["at_site"].forecast == []
    assert got["near"].current.pm25 == 25.27
    point_index = got["point"].current.indexes[0]
    assert point_index.value is None and point_index.level == "UNKNOWN"
    assert got["missing"] is not None and got["missing"].status_code == 404
    assert got["per_day"] == 50
    assert got["remaining"] == 50 - 6  # six requests so far, the 404 included


def test_index_values_are_finite_numbers_or_null(
    client: TestClient, two_sites: tuple[Site, Site], token: str
) -> None:
    body = v2(client, "measurements/point?lat=52.176&lng=21.56", token).json()
    for element in [body["current"], *body["history"]]:
        for index in element["indexes"]:
            assert index["value"] is None or math.isfinite(index["value"])

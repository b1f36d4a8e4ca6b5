"""The native read API (``/api/v1``): shapes, paging, caching, CORS, errors, exports, docs.

Runs on both backends against the demo town (4 sites, 2 days of readings every ~145 s).
"""

from __future__ import annotations

import calendar
import csv
import io
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest
from starlette.testclient import TestClient

from smartdistricts.api.app import create_app
from smartdistricts.api.limits import RateLimiter
from smartdistricts.api.native.docs import downgrade_openapi
from smartdistricts.config import Settings
from smartdistricts.services.demo import DemoResult, create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.store.base import Store

SITE_KEYS = {
    "id",
    "slug",
    "name",
    "latitude",
    "longitude",
    "elevation",
    "address",
    "district",
    "sponsor",
    "source",
    "approximate",
    "active",
    "latest",
}
ERROR_KEYS = {"status", "code", "message", "field", "details"}
SITE_PROPERTIES = [
    "id",
    "slug",
    "name",
    "district",
    "source",
    "active",
    "latest",
    "pm2_5",
    "pm10",
    "caqi",
]
DISTRICT_PROPERTIES = {*["id", "slug", "name", "approximate", "sites", "pm2_5", "caqi"]}


@pytest.fixture
def demo(store: Store, settings: Settings) -> DemoResult:
    return create_demo(IngestService(store, settings), days=2, now=time.time())


@pytest.fixture
def api(client: TestClient, demo: DemoResult) -> TestClient:
    """The application over the demo town, reads unlimited (tests come fast)."""
    client.app.state.read_limiter = RateLimiter(0)  # type: ignore[attr-defined]
    return client


def iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def assert_error(response: Any, status: int, field: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert {"status", "code", "message"} <= set(error) <= ERROR_KEYS
    assert error["status"] == status
    assert error.get("field") == field
    assert response.headers["access-control-allow-origin"] == "*"


# -- sites ------------------------------------------------------------------------------------
def test_sites_have_exact_keys(api: TestClient) -> None:
    body = api.get("/api/v1/sites").json()
    assert set(body) == {"count", "sites"}
    assert body["count"] == len(body["sites"]) == 4
    for site in body["sites"]:
        assert set(site) == SITE_KEYS
        assert set(site["address"]) == {"street", "number", "city"}
        assert site["latest"].endswith("Z")
    assert [s["id"] for s in body["sites"]] == sorted(s["id"] for s in body["sites"])


def test_sites_compose_filters_and_sort_by_distance(api: TestClient) -> None:
    every = api.get("/api/v1/sites").json()["sites"]
    first = every[0]
    near = api.get(
        "/api/v1/sites",
        params={"lat": first["latitude"], "lon": first["longitude"], "radius_km": 50},
    ).json()["sites"]
    assert near[0]["id"] == first["id"] and near[0]["distance_km"] == 0.0
    distances = [s["distance_km"] for s in near]
    assert distances == sorted(distances)
    assert set(near[0]) == SITE_KEYS | {"distance_km"}
    tiny = api.get(
        "/api/v1/sites",
        params={"lat": first["latitude"], "lon": first["longitude"], "radius_km": 0.001},
    ).json()
    assert [s["id"] for s in tiny["sites"]] == [first["id"]]
    district = api.get("/api/v1/sites", params={"district": first["district"]}).json()["sites"]
    assert district and all(s["district"] == first["district"] for s in district)
    assert api.get("/api/v1/sites", params={"active": "false"}).json()["count"] == 0
    assert api.get("/api/v1/sites", params={"source": "nowhere"}).json()["count"] == 0


def test_site_by_id_and_by_slug(api: TestClient) -> None:
    site = api.get("/api/v1/sites").json()["sites"][1]
    assert api.get(f"/api/v1/sites/{site['id']}").json() == site
    assert api.get(f"/api/v1/sites/{site['slug']}").json() == site


def test_sites_geojson_is_valid(api: TestClient) -> None:
    response = api.get("/api/v1/sites.geojson")
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert set(body) == {"type", "features"} and body["type"] == "FeatureCollection"
    sites = {s["id"]: s for s in api.get("/api/v1/sites").json()["sites"]}
    assert len(body["features"]) == len(sites)
    for feature in body["features"]:
        assert set(feature) == {"type", "id", "geometry", "properties"}
        assert feature["type"] == "Feature"
        lon, lat = feature["geometry"]["coordinates"]
        assert feature["geometry"]["type"] == "Point"
        site = sites[feature["id"]]
        assert (lon, lat) == (site["longitude"], site["latitude"])  # GeoJSON order: lon, lat
        props = feature["properties"]
        assert set(props) == {*SITE_PROPERTIES}
        assert set(props["caqi"]) == {"value", "level", "color"}
        assert props["pm2_5"] is not None and props["caqi"]["color"].startswith("#")


def test_sensors(api: TestClient) -> None:
    body = api.get("/api/v1/sensors", params={"site": "1"}).json()
    assert set(body) == {"count", "sensors"} and body["count"] == 2
    for sensor in body["sensors"]:
        assert set(sensor) == {
            "id",
            "device",
            "device_status",
            "site",
            "site_slug",
            "type",
            "interval_s",
            "variables",
            "latest",
        }
        assert sensor["site"] == 1
    pm = api.get("/api/v1/sensors", params={"variable": "pm2_5"}).json()["sensors"]
    assert len(pm) == 4 and all("pm2_5" in s["variables"] for s in pm)


def test_quarantined_devices_are_not_public(api: TestClient, store: Store) -> None:
    store.write(lambda tx: tx.execute("UPDATE devices SET status = 'quarantine' WHERE site_id = 1"))
    assert api.get("/api/v1/sensors", params={"site": "1"}).json()["count"] == 0
    assert api.get("/api/v1/measurements", params={"site": "1"}).json()["count"] == 0
    assert api.get("/api/v1/sites/1/hourly").json()["series"] == []


# -- latest values and indices ------------------------------------------------------------------
def test_latest_values_with_etag_and_304(api: TestClient) -> None:
    response = api.get("/api/v1/sites/1/latest")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"site", "slug", "name", "latest", "values", "current"}
    assert set(body["current"]) == {"from", "until", "values"}
    assert body["current"]["values"]["pm2_5"] > 0
    assert set(body["values"]["pm2_5"]) == {"value", "unit", "time", "sensor", "flags"}
    etag = response.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    assert response.headers["cache-control"] == "public, max-age=30"

    again = api.get("/api/v1/sites/1/latest", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["access-control-allow-origin"] == "*"
    weak = api.get("/api/v1/sites/1/latest", headers={"If-None-Match": f'"x", W/{etag}'})
    assert weak.status_code == 304
    other = api.get("/api/v1/sites/1/latest", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.headers["etag"] == etag

    every = api.get("/api/v1/latest")
    assert set(every.json()) == {"sites"} and len(every.json()["sites"]) == 4
    assert (
        api.get("/api/v1/latest", headers={"If-None-Match": every.headers["etag"]}).status_code
        == 304
    )
    only = api.get("/api/v1/latest", params={"site": "1", "variable": ["pm10"]}).json()
    assert [s["site"] for s in only["sites"]] == [1]
    assert list(only["sites"][0]["values"]) == ["pm10"]


def test_current_indices(api: TestClient) -> None:
    body = api.get("/api/v1/sites/1/indices").json()
    assert set(body) == {"site", "slug", "current", "indices"}
    names = [i["index"] for i in body["indices"]]
    assert names == ["AIRLY_CAQI", "CAQI", "PIJP", "EAQI", "US_AQI", "GIOS", "DAQI"]
    for index in body["indices"]:
        assert set(index) == {"index", "value", "level", "label", "description", "color"}
    caqi = body["indices"][0]
    assert caqi["value"] is not None and caqi["level"] != "UNKNOWN"
    polish = api.get("/api/v1/sites/1/indices", params={"index": "GIOS", "lang": "pl"}).json()
    assert [i["index"] for i in polish["indices"]] == ["GIOS"]
    assert_error(api.get("/api/v1/sites/1/indices", params={"lang": "de"}), 422, "lang")


# -- series ---------------------------------------------------------------------------------------
def test_hourly_series(api: TestClient, store: Store) -> None:
    body = api.get("/api/v1/sites/1/hourly", params={"variable": "pm2_5", "days": 3}).json()
    assert set(body) == {"site", "slug", "since", "until", "covered_from", "series"}
    assert body["covered_from"] == 0.75
    [series] = body["series"]
    assert set(series) == {"sensor", "variable", "unit", "data"}
    data = series["data"]
    assert set(data) == {"time", "mean", "min", "max", "n", "coverage", "flags"}
    assert len({len(column) for column in data.values()}) == 1
    assert 45 <= len(data["time"]) <= 49  # 2 days of readings, hourly
    assert data["time"] == sorted(data["time"])
    assert all(0 <= c <= 1 for c in data["coverage"])
    # The mean of one hour is the mean of its raw readings.
    hour = data["time"][5]
    start = calendar.timegm(time.strptime(hour, "%Y-%m-%dT%H:%M:%SZ"))
    raw = api.get(
        "/api/v1/measurements",
        params={
            "sensor": series["sensor"],
            "variable": "pm2_5",
            "since": iso(start),
            "until": iso(start + 3600),
        },
    ).json()["measurements"]
    values = [r["value"] for r in raw if not r["flags"] & 3]
    assert data["n"][5] == len(values)
    assert data["mean"][5] == pytest.approx(sum(values) / len(values))
    assert data["coverage"][5] == pytest.approx(min(1.0, len(values) * 145 / 3600))

    every = api.get("/api/v1/sites/1/hourly").json()  # default: every variable, 24 h
    assert len(every["series"]) == 6
    sensors = [s["sensor"] for s in every["series"]]
    assert sensors == sorted(sensors) and len(set(sensors)) == 2
    assert all(len(s["data"]["time"]) in (24, 25) for s in every["series"])


def test_daily_series(api: TestClient) -> None:
    body = api.get("/api/v1/sites/malopolska-11/daily", params={"variable": "pm10"}).json()
    assert set(body) == {"site", "slug", "since", "until", "series"}
    [series] = body["series"]
    data = series["data"]
    assert set(data) == {"day", "mean", "min", "max", "hours", "hours_in_day", "valid", "flags"}
    assert 2 <= len(data["day"]) <= 3
    assert all(isinstance(v, bool) for v in data["valid"])
    assert all(h in (23, 24, 25) for h in data["hours_in_day"])


# -- raw measurements: keyset paging ----------------------------------------------------------
def all_keys(store: Store) -> list[tuple[int, int, int]]:
    rows = store.read(
        lambda tx: tx.query(
            "SELECT sensor_id, variable_id, time FROM measurements"
            " ORDER BY sensor_id, variable_id, time"
        )
    )
    return [(int(s), int(v), int(t)) for s, v, t in rows]


def pages(api: TestClient, params: dict[str, Any], between: Any = None) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        query = {**params, "cursor": cursor} if cursor else params
        body = api.get("/api/v1/measurements", params=query).json()
        yield body
        cursor = body["next"]
        if cursor is None:
            return
        if between is not None:
            between()


def test_measurements_shape(api: TestClient) -> None:
    body = api.get("/api/v1/measurements", params={"limit": 3}).json()
    assert set(body) == {"count", "next", "measurements"} and body["count"] == 3
    for row in body["measurements"]:
        assert set(row) == {"site", "sensor", "variable", "time", "value", "flags"}


def test_paging_never_skips_or_repeats(api: TestClient, store: Store) -> None:
    variable_ids = {"pm2_5": 2, "pm10": 3, "temp_air": 4}
    expected = [k for k in all_keys(store) if k[1] in variable_ids.values()]
    seen = []
    for body in pages(api, {"variable": list(variable_ids), "limit": 997}):
        assert body["count"] <= 997
        seen += [
            (r["sensor"], variable_ids[r["variable"]], r["time"]) for r in body["measurements"]
        ]
    assert len(seen) == len(expected) > 5000
    times = [int(k[2]) for k in expected]
    assert [(s, v) for s, v, _t in seen] == [(s, v) for s, v, _t in expected]
    assert [t for _s, _v, t in seen] == [iso(t) for t in times]


def test_paging_under_concurrent_inserts(api: TestClient, store: Store) -> None:
    before = set(all_keys(store))
    newest = max(t for _s, _v, t in before)
    oldest = min(t for _s, _v, t in before)
    sensors = sorted({s for s, _v, _t in before})
    inserted = {"n": 0}

    def insert() -> None:  # readings before and after any cursor, in every series
        n = inserted["n"] = inserted["n"] + 1
        rows = [(s, 2, t, 1.0) for s in sensors for t in (oldest - n, newest + n)]
        rows = [r for r in rows if (r[0], 2, r[2]) not in before]
        store.write(
            lambda tx: tx.executemany(
                "INSERT INTO measurements (sensor_id, variable_id, time, value, flags,"
                " source_id) VALUES (?, ?, ?, ?, 0, 3) ON CONFLICT DO NOTHING",
                rows,
            )
        )

    seen: list[tuple[int, str, str]] = []
    for body in pages(api, {"variable": "pm2_5", "limit": 500}, between=insert):
        seen += [(r["sensor"], r["variable"], r["time"]) for r in body["measurements"]]
    assert inserted["n"] > 3
    assert len(seen) == len(set(seen))  # nothing repeated
    keys = [(s, t) for s, _v, t in seen]
    assert keys == sorted(keys)  # key order
    existing = {(s, iso(t)) for s, v, t in before if v == 2}
    assert existing <= set(keys)  # nothing that existed was skipped


def test_cursor_errors(api: TestClient) -> None:
    first = api.get("/api/v1/measurements", params={"limit": 2, "variable": "pm10"}).json()
    assert first["next"]
    assert_error(api.get("/api/v1/measurements", params={"cursor": "!!"}), 422, "cursor")
    assert_error(api.get("/api/v1/measurements", params={"cursor": "djEuMQ"}), 422, "cursor")
    other = api.get("/api/v1/measurements", params={"cursor": first["next"], "variable": "pm1"})
    assert_error(other, 422, "cursor")
    same = api.get("/api/v1/measurements", params={"cursor": first["next"], "variable": "pm10"})
    assert same.status_code == 200


# -- CORS and the rate limit -----------------------------------------------------------------------
def test_cors_open_for_reads_closed_for_writes(api: TestClient) -> None:
    read = api.get("/api/v1/sites")
    assert read.headers["access-control-allow-origin"] == "*"
    preflight = api.options(
        "/api/v1/sites/1/latest",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "GET" in preflight.headers["access-control-allow-methods"]
    assert "POST" not in preflight.headers["access-control-allow-methods"]
    assert "If-None-Match" in preflight.headers["access-control-allow-headers"]
    write = api.post("/api/v1/measurements", content=b"[]", headers={"Origin": "https://x.org"})
    assert write.status_code in (401, 422)
    assert "access-control-allow-origin" not in write.headers
    push_preflight = api.options(
        "/api/v1/push/sensor-community", headers={"Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in push_preflight.headers


def test_reads_are_rate_limited_per_address(api: TestClient) -> None:
    app = api.app
    app.state.read_limiter = RateLimiter(3, 60.0)  # type: ignore[attr-defined]
    statuses = [api.get("/api/v1/districts").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.get("/api/v1/districts")
    assert_error(limited, 429, None)
    assert int(limited.headers["retry-after"]) >= 1
    with TestClient(app, client=("127.0.0.1", 5000)) as local:  # the server itself: no limit
        assert local.get("/api/v1/districts").status_code == 200


def test_the_read_limit_is_a_setting(store: Store, settings: Settings) -> None:
    from dataclasses import replace

    app = create_app(replace(settings, reads_per_minute=2, ingest_process=False), store=store)
    with TestClient(app, client=("203.0.113.7", 4000)) as visitor:
        statuses = [visitor.get("/api/v1/districts").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    unlimited = create_app(replace(settings, reads_per_minute=0, ingest_process=False), store=store)
    with TestClient(unlimited, client=("203.0.113.7", 4000)) as visitor:
        assert {visitor.get("/api/v1/districts").status_code for _ in range(5)} == {200}


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/api/v1/sites/999", {}, 404, "site_id"),
        ("/api/v1/sites/no-such-site", {}, 404, "site_id"),
        ("/api/v1/sites/%C2%B2", {}, 422, "site_id"),
        ("/api/v1/sites", {"lat": 90.5, "lon": 21}, 422, "lat"),
        ("/api/v1/sites", {"lat": -91, "lon": 21}, 422, "lat"),
        ("/api/v1/sites", {"lat": 52, "lon": 180.01}, 422, "lon"),
        ("/api/v1/sites", {"lat": "north", "lon": 21}, 422, "lat"),
        ("/api/v1/sites", {"lat": 52}, 422, "lon"),
        ("/api/v1/sites", {"radius_km": 1}, 422, "radius_km"),
        ("/api/v1/sites.geojson", {"lat": 95, "lon": 0}, 422, "lat"),
        ("/api/v1/sensors", {"site": "999"}, 404, "site"),
        ("/api/v1/sensors", {"variable": "pm25"}, 422, "variable"),
        ("/api/v1/latest", {"site": "nowhere"}, 404, "site"),
        ("/api/v1/sites/1/latest", {"variable": "PM10"}, 422, "variable"),
        ("/api/v1/sites/1/hourly", {"variable": "pm25"}, 422, "variable"),
        ("/api/v1/sites/1/hourly", {"since": "yesterday"}, 422, "since"),
        ("/api/v1/sites/1/hourly", {"since": "2026-01-02", "until": "2026-01-01"}, 422, "since"),
        ("/api/v1/sites/1/hourly", {"since": "2020-01-01T00:00:00Z"}, 422, "since"),
        ("/api/v1/sites/1/hourly", {"days": 0}, 422, "days"),
        ("/api/v1/sites/1/hourly", {"days": 2, "since": "2026-01-01"}, 422, "days"),
        ("/api/v1/sites/1/hourly", {"sensor": 999}, 404, "sensor"),
        ("/api/v1/sites/1/daily", {"since": "2026-13-01"}, 422, "since"),
        ("/api/v1/sites/999/daily", {}, 404, "site_id"),
        ("/api/v1/measurements", {"sensor": 999999}, 404, "sensor"),
        ("/api/v1/measurements", {"sensor": 2**70}, 422, "sensor"),
        ("/api/v1/measurements", {"limit": 0}, 422, "limit"),
        ("/api/v1/measurements", {"limit": 10001}, 422, "limit"),
        ("/api/v1/measurements", {"since": "0001-01-01T00:00:00Z"}, 422, "since"),
        ("/api/v1/districts/nowhere/summary", {}, 404, "slug"),
        (
            "/api/v1/export.csv",
            {"since": "2026-01-01T00:00:00Z", "until": "2026-03-01"},
            422,
            "since",
        ),
        ("/api/v1/export.parquet", {"site": "nowhere"}, 404, "site"),
        ("/api/v1/nothing-here", {}, 404, None),
    ],
)
def test_errors_share_one_shape(
    api: TestClient, path: str, params: dict[str, Any], status: int, field: str | None
) -> None:
    response = api.get(path, params=params)
    if path == "/api/v1/nothing-here":  # not a read route: the app's own 404, same shape
        assert response.status_code == 404
        assert set(response.json()["error"]) >= {"status", "code", "message"}
        return
    assert_error(response, status, field)


# -- districts ------------------------------------------------------------------------------------
def test_districts(api: TestClient) -> None:
    body = api.get("/api/v1/districts").json()
    assert set(body) == {"count", "districts"} and body["count"] == 5
    for district in body["districts"]:
        assert set(district) == {"id", "slug", "name", "approximate", "sites"}
    geo = api.get("/api/v1/districts.geojson")
    assert geo.headers["content-type"] == "application/geo+json"
    features = geo.json()["features"]
    assert len(features) == 5
    for feature in features:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1]  # closed rings
        assert set(feature["properties"]) == DISTRICT_PROPERTIES


def test_district_summary_and_ranking(api: TestClient) -> None:
    districts = api.get("/api/v1/districts").json()["districts"]
    with_site = next(d for d in districts if d["sites"])
    body = api.get(f"/api/v1/districts/{with_site['slug']}/summary").json()
    assert set(body) == {"district", "sites", "current", "caqi", "ranking"}
    assert [s["id"] for s in body["sites"]] == with_site["sites"]
    assert set(body["sites"][0]) == {"id", "slug", "name", "active", "current"}
    site_pm = body["sites"][0]["current"]["values"]["pm2_5"]
    assert body["current"]["values"]["pm2_5"] == pytest.approx(site_pm, abs=0.01)
    ranking = body["ranking"]
    assert {r["slug"] for r in ranking} == {d["slug"] for d in districts}
    ranked = [r for r in ranking if r["rank"] is not None]
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert [r["pm2_5"] for r in ranked] == sorted(r["pm2_5"] for r in ranked)
    assert len(ranked) == 4  # one district has no site
    assert ranking[-1]["rank"] is None


# -- exports -------------------------------------------------------------------------------------
def test_exports_are_readable(api: TestClient) -> None:
    params = {"site": "1", "variable": ["pm2_5", "pm10"], "since": iso(time.time() - 6 * 3600)}
    count = 0
    for body in pages(api, {**params, "limit": 10000}):
        count += body["count"]
    assert count > 100

    text = api.get("/api/v1/export.csv", params=params)
    assert text.headers["content-type"].startswith("text/csv")
    assert text.headers["content-disposition"].startswith("attachment; filename=")
    assert text.headers["access-control-allow-origin"] == "*"
    rows = list(csv.reader(io.StringIO(text.text)))
    assert rows[0] == ["site", "sensor", "time", "variable", "value", "flags"]
    assert len(rows) - 1 == count
    assert {r[0] for r in rows[1:]} == {"malopolska-11"}
    assert {r[3] for r in rows[1:]} == {"pm2_5", "pm10"}

    parquet = api.get("/api/v1/export.parquet", params=params)
    assert parquet.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(parquet.content))
    assert table.column_names == ["site", "sensor", "time", "variable", "value", "flags"]
    assert table.num_rows == count
    assert table.schema.field("time").type.tz == "UTC"  # Parquet stores seconds as ms

    geo = api.get("/api/v1/export.geojson", params=params)
    assert geo.headers["content-type"] == "application/geo+json"
    collection = orjson.loads(geo.content)
    assert collection["type"] == "FeatureCollection"
    assert len(collection["features"]) == count
    feature = collection["features"][0]
    assert feature["geometry"]["type"] == "Point"
    assert set(feature["properties"]) == {"site", "sensor", "variable", "time", "value", "flags"}


def test_empty_exports_are_valid(api: TestClient) -> None:
    params = {"since": "2020-01-01T00:00:00Z", "until": "2020-01-02T00:00:00Z"}
    assert api.get("/api/v1/export.csv", params=params).text == (
        "site,sensor,time,variable,value,flags\n"
    )
    table = pq.read_table(io.BytesIO(api.get("/api/v1/export.parquet", params=params).content))
    assert table.num_rows == 0
    assert api.get("/api/v1/export.geojson", params=params).json() == {
        "type": "FeatureCollection",
        "features": [],
    }


# -- documentation --------------------------------------------------------------------------------
def test_docs_are_served_without_a_cdn(api: TestClient) -> None:
    page = api.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/static/swagger/swagger-ui-bundle.js" in page.text
    assert "https://" not in page.text and "http://" not in page.text
    script = api.get("/static/swagger/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text[:100000]
    assert api.get("/static/swagger/swagger-ui.css").status_code == 200
    assert api.get("/static/swagger/index.html").status_code == 404
    assert api.get("/static/swagger/..%2F__init__.py").status_code == 404
    described = api.get("/openapi.json").json()
    assert described["openapi"].startswith("3.1")
    assert "/api/v1/sites/{site_id}/hourly" in described["paths"]
    legacy = api.get("/docs/openapi-3.0.json").json()
    assert legacy["openapi"] == "3.0.3"
    assert set(legacy["paths"]) == set(described["paths"])
    text = orjson.dumps(legacy).decode()
    assert '{"type":"null"}' not in text and '"const"' not in text


def test_downgrade_rewrites_31_constructs() -> None:
    schema = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1", "summary": "s"},
        "paths": {},
        "components": {
            "schemas": {
                "A": {
                    "properties": {
                        "a": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "A"},
                        "b": {"anyOf": [{"$ref": "#/components/schemas/B"}, {"type": "null"}]},
                        "c": {"type": "number", "exclusiveMinimum": 0},
                        "d": {"const": "Point", "examples": ["Point"]},
                    }
                }
            }
        },
    }
    out = downgrade_openapi(schema)
    props = out["components"]["schemas"]["A"]["properties"]
    assert props["a"] == {"type": "string", "title": "A", "nullable": True}
    assert props["b"] == {"allOf": [{"$ref": "#/components/schemas/B"}], "nullable": True}
    assert props["c"] == {"type": "number", "minimum": 0, "exclusiveMinimum": True}
    assert props["d"] == {"enum": ["Point"], "example": "Point"}
    assert out["info"] == {"title": "t", "version": "1", "description": "s"}
    assert schema["openapi"] == "3.1.0"  # the input is left alone


def test_hourly_month_is_720_rows(client: TestClient, store: Store, settings: Settings) -> None:
    create_demo(IngestService(store, settings), days=31, now=time.time())
    body = client.get("/api/v1/sites/1/hourly", params={"variable": "pm2_5", "days": 30}).json()
    [series] = body["series"]
    assert len(series["data"]["time"]) == 720


def test_app_without_demo_data_answers_empty(store: Store, settings: Settings) -> None:
    with TestClient(create_app(settings, store=store)) as empty:
        assert empty.get("/api/v1/sites").json() == {"count": 0, "sites": []}
        assert empty.get("/api/v1/latest").json() == {"sites": []}
        assert empty.get("/api/v1/measurements").json() == {
            "count": 0,
            "next": None,
            "measurements": [],
        }
        assert empty.get("/api/v1/districts.geojson").json()["features"] == []

"""The Airly importer: parsing recorded answers, and whole rounds against a replaying server."""

from __future__ import annotations

import calendar
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.conftest import DATA
from tests.ingest.replay import RateLimit, ReplayServer

from smartdistricts.ingest.airly import (
    AirlyClient,
    RateLimitHeaders,
    device_uid,
    parse_installations,
    parse_measurements,
    parse_time,
    successor_of,
)
from smartdistricts.ingest.records import IngestError
from smartdistricts.nomenclature import variable
from smartdistricts.services.airly_import import (
    JOB,
    AirlyImporter,
    InstallationState,
)
from smartdistricts.services.import_state import get_state
from smartdistricts.services.ingest import IngestService
from smartdistricts.store.base import Store
from smartdistricts.store.sources import source_id

AIRLY = DATA / "airly"
VALID = AIRLY / "measurements_valid_station_2022.json"
NEAREST = AIRLY / "installations_nearest_2020.json"
KEY = "test-key-5f2b9c"
MEASUREMENTS = "/v2/measurements/installation"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return calendar.timegm((year, month, day, hour, minute, second))


def vid(name: str) -> int:
    return variable(name).id


def installation_json(ident: int) -> bytes:
    """The recorded installation 10216, renumbered when another id is needed."""
    obj = json.loads(NEAREST.read_text(encoding="utf-8"))[0]
    obj["id"] = ident
    return json.dumps(obj).encode()


# -- parsing ---------------------------------------------------------------------------------
def test_measurements_of_the_recorded_answer() -> None:
    payload = json.loads(VALID.read_text(encoding="utf-8"))
    r = parse_measurements(payload, 10216)
    assert r.sensors[0].device_uid == "airly.pl:installation:10216"
    assert len(r) == 10 + 24 * 10  # current and 24 history hours, 10 values each; no forecast
    current = utc(2022, 9, 6, 22, 43, 20)  # middle of 22:13:20.347Z–23:13:20.347Z
    first = utc(2022, 9, 5, 23)  # fromDateTime of history[0]

    def value(name: str, t: int) -> float:
        hit = (r.variable == vid(name)) & (r.time == t)
        assert hit.sum() == 1
        return float(r.value[hit][0])

    assert value("pm2_5", current) == 4.37
    assert value("pm10", current) == 6.06
    assert value("pressure", current) == 1019.86  # hPa, as Airly sends it
    assert value("co", current) == 162.49  # µg/m³
    assert value("relative_humidity", first) == 65.25
    assert value("temp_air", first) == 13.88
    assert value("pm1", utc(2022, 9, 6, 22)) == 2.96
    hours = sorted(set(r.time.tolist()) - {current})
    assert hours == [first + 3600 * k for k in range(24)]
    assert r.time.max() == current


def test_only_history_or_only_current() -> None:
    payload = json.loads(VALID.read_text(encoding="utf-8"))
    history = parse_measurements(payload, 1, include_current=False)
    current = parse_measurements(payload, 1, include_history=False)
    assert (len(history), len(current)) == (240, 10)
    assert set(current.time.tolist()) == {utc(2022, 9, 6, 22, 43, 20)}


def test_the_no_sensors_payload_has_no_readings() -> None:
    payload = json.loads((AIRLY / "measurements_no_station_2019.json").read_text("utf-8"))
    assert len(parse_measurements(payload, 1)) == 0


def test_installations_of_the_recorded_answer() -> None:
    found = parse_installations(json.loads(NEAREST.read_text(encoding="utf-8")))
    assert [i.id for i in found] == [10216, 8077, 10213]
    first = found[0]
    assert (first.latitude, first.longitude, first.elevation) == (50.062354, 19.944671, 216.26)
    assert (first.city, first.street, first.number) == ("Kraków", "Westerplatte", "31")
    assert first.sponsor == "LIFE URBANGREEN"
    assert first.name == "Airly Kraków, Westerplatte 31"
    assert (found[1].latitude, found[1].longitude) == (50.0, 19.0)  # integers in the file


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-09-06T23:13:20.347Z", utc(2022, 9, 6, 23, 13, 20)),
        ("2019-02-15T23:00:00Z", utc(2019, 2, 15, 23)),  # early 2019: no milliseconds
        ("2022-09-07T01:13:20.999+02:00", utc(2022, 9, 6, 23, 13, 20)),
    ],
)
def test_times(text: str, expected: int) -> None:
    assert parse_time(text, "t") == expected


def test_malformed_answers_name_the_field() -> None:
    payload = json.loads(VALID.read_text(encoding="utf-8"))
    payload["history"][1]["values"][2]["value"] = "high"
    with pytest.raises(IngestError, match=r"history\[1\]\.values\[2\]\.value"):
        parse_measurements(payload, 1)
    payload = json.loads(VALID.read_text(encoding="utf-8"))
    payload["current"]["tillDateTime"] = "2022-09-06 23:13"
    with pytest.raises(IngestError, match=r"current\.tillDateTime.*time zone"):
        parse_measurements(payload, 1)
    with pytest.raises(IngestError, match=r"installations\[0\]\.location\.latitude"):
        parse_installations([{"id": 1, "location": {"latitude": None, "longitude": 1}}])


def test_nulls_and_unknown_names_are_skipped() -> None:
    payload = json.loads(VALID.read_text(encoding="utf-8"))
    payload["current"]["values"] = [
        {"name": "PM25", "value": None},
        {"name": "H2S", "value": 3.0},
        {"name": "WIND_SPEED", "value": 12.5},
    ]
    r = parse_measurements(payload, 1, include_history=False)
    assert r.variable.tolist() == [vid("wind_speed")] and r.value.tolist() == [12.5]


def test_successor() -> None:
    body = {"errorCode": "INSTALLATION_REPLACED", "details": {"successorId": 1234}}
    assert successor_of(body, None) == 1234
    location = "https://airapi.airly.eu/v2/measurements/installation?installationId=77"
    assert successor_of(None, location) == 77
    assert successor_of({}, "https://airapi.airly.eu/v2/installations/78") == 78
    assert successor_of({"errorCode": "X"}, None) is None


def test_rate_limit_headers_any_case() -> None:
    limits = RateLimitHeaders.parse(
        {"x-ratelimit-limit-day": "100", "X-RateLimit-Remaining-day": "96", "Retry-After": "30"}
    )
    assert (limits.limit_day, limits.remaining_day, limits.retry_after) == (100, 96, 30.0)
    assert limits.limit_minute is None


# -- the importer against a replaying server -------------------------------------------------
@pytest.fixture
def server() -> Iterator[ReplayServer]:
    with ReplayServer() as s:
        yield s


Make = Callable[..., AirlyImporter]


@pytest.fixture
def importer(service: IngestService, server: ReplayServer) -> Iterator[Make]:
    """Makes importers talking to the replaying server; closes them after the test."""
    made: list[AirlyImporter] = []

    def make(**kwargs: Any) -> AirlyImporter:
        job = AirlyImporter(service, AirlyClient(server.url, KEY), **kwargs)
        made.append(job)
        return job

    yield make
    for job in made:
        job.close()


def serve_installation(server: ReplayServer, ident: int, measurements: Path | None = VALID) -> None:
    server.add(f"/v2/installations/{ident}", body=installation_json(ident))
    if measurements is not None:
        server.add(MEASUREMENTS, {"installationId": str(ident)}, file=measurements)


def rows_per_key(store: Store, uid: str) -> list[tuple[int, int, int]]:
    """(variable, time, count) of a device's stored readings."""
    return store.read(
        lambda tx: [
            (int(v), int(t), int(n))
            for v, t, n in tx.query(
                "SELECT m.variable_id, m.time, count(*) FROM measurements m"
                " JOIN sensors s ON s.id = m.sensor_id JOIN devices d ON d.id = s.device_id"
                " WHERE d.uid = ? GROUP BY m.variable_id, m.time ORDER BY 1, 2",
                (uid,),
            )
        ]
    )


NOW = float(utc(2026, 11, 27, 8, 30))


def test_stores_current_and_history_once(
    service: IngestService, server: ReplayServer, caplog: pytest.LogCaptureFixture, importer: Make
) -> None:
    caplog.set_level(logging.DEBUG)
    serve_installation(server, 10216)
    job = importer(installations=[10216])
    first = job.run(NOW)
    assert (first.stored, first.skipped) == (250, 0)
    assert server.count(MEASUREMENTS, installationId="10216") == 1
    assert all(r.headers["apikey"] == KEY for r in server.requests)
    assert all(KEY not in r.path and KEY not in str(r.query) for r in server.requests)
    store = service.store
    site = store.read(
        lambda tx: tx.one(
            "SELECT id, name, latitude, longitude, elevation, city, street, number, sponsor"
            " FROM sites WHERE source = 'airly.pl' AND external_id = '10216'"
        )
    )
    assert site is not None
    assert site[1:] == (
        "Airly Kraków, Westerplatte 31",
        50.062354,
        19.944671,
        216.26,
        "Kraków",
        "Westerplatte",
        "31",
        "LIFE URBANGREEN",
    )
    device = store.read(
        lambda tx: tx.one("SELECT site_id FROM devices WHERE uid = ?", (device_uid(10216),))
    )
    assert device == (site[0],)
    sources = store.read(lambda tx: tx.query("SELECT DISTINCT source_id FROM measurements"))
    assert sources == [(source_id("airly.pl"),)]
    keys = rows_per_key(store, device_uid(10216))
    assert len(keys) == 250 and {n for _v, _t, n in keys} == {1}
    # The site's air names Airly as the source (the widget credits it).
    from smartdistricts.services.airnow import compute_site
    from smartdistricts.services.registry import find_site

    air = store.read(lambda tx: compute_site(tx, find_site(tx, site[0]), utc(2022, 9, 6, 23, 15)))
    assert air.source == "airly.pl" and air.latest == utc(2022, 9, 6, 22, 43, 20)
    assert air.current.values["pm2_5"] == 4.37  # the only reading of the last 60 minutes
    hourly = store.read(
        lambda tx: tx.one(
            "SELECT n, total FROM hourly WHERE variable_id = ? AND hour = ?",
            (vid("pm2_5"), utc(2022, 9, 5, 23)),
        )
    )
    assert hourly == (1, 3.88)
    # A second round (forced, and a day later) stores nothing again.
    again = job.run_once(NOW + 86400)
    assert (again.stored, again.skipped) == (0, 250)
    assert rows_per_key(store, device_uid(10216)) == keys
    assert server.count("/v2/installations/10216") == 1  # metadata only the first time
    assert KEY not in caplog.text


def test_installations_near_a_point(
    service: IngestService, server: ReplayServer, importer: Make
) -> None:
    server.add("/v2/installations/nearest", file=NEAREST)
    for ident in (10216, 8077, 10213):
        server.add(MEASUREMENTS, {"installationId": str(ident)}, file=VALID)
    job = importer(point=(50.06, 19.94), radius_km=2.0)
    result = job.run(NOW)
    assert result.stored == 3 * 250
    (nearest,) = [r for r in server.requests if r.path == "/v2/installations/nearest"]
    assert nearest.query == {
        "lat": "50.06",
        "lng": "19.94",
        "maxDistanceKM": "2.0",
        "maxResults": "-1",
    }
    assert not any(r.path.startswith("/v2/installations/1") for r in server.requests)
    sites = service.store.read(
        lambda tx: tx.query(
            "SELECT external_id, latitude FROM sites WHERE source = 'airly.pl' ORDER BY 1"
        )
    )
    assert sites == [("10213", 50.064539), ("10216", 50.062354), ("8077", 50.0)]
    job.run(NOW + 600)  # the list is kept for a day
    assert server.count("/v2/installations/nearest") == 1


@pytest.mark.parametrize("hide_remaining", [False, True])
def test_a_simulated_day_stays_within_the_budget(
    service: IngestService, server: ReplayServer, hide_remaining: bool, importer: Make
) -> None:
    """Two days driven by a fake clock: calls spread out, never refused, nothing left unfetched
    for 24 hours."""
    clock = [NOW]
    server.clock = lambda: clock[0]
    server.rate_limit = RateLimit(per_day=40, per_minute=4, hide_remaining=hide_remaining)
    ids = [10216, 8077, 10213]
    for ident in ids:
        serve_installation(server, ident)
    job = importer(installations=ids)
    end = NOW + 2 * 86400
    rounds = 0
    while clock[0] < end:
        result = job.run(clock[0])
        assert result.next_run > clock[0]
        clock[0] = result.next_run
        rounds += 1
        assert rounds < 1000
    limit = server.rate_limit
    assert limit.refused == 0
    assert max(limit.day_counts.values()) <= 40
    assert max(limit.minute_counts.values()) <= 4
    full_day = int(NOW // 86400) + 1
    assert limit.day_counts[full_day] >= 36  # the budget is used, not hoarded
    for ident in ids:
        times = [r.time for r in server.requests if r.query.get("installationId") == str(ident)]
        gaps = np.diff([NOW, *times, end])
        assert gaps.max() < 86400 / 10, f"installation {ident} waited {gaps.max()} s"


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"Retry-After": "120"}, 120.0),
        ({"X-RateLimit-Remaining-minute": "0", "X-RateLimit-Limit-minute": "50"}, None),
        ({"X-RateLimit-Remaining-day": "0", "X-RateLimit-Limit-day": "100"}, None),
    ],
)
def test_429_waits_until_the_limit_resets(
    service: IngestService,
    server: ReplayServer,
    headers: dict[str, str],
    wait: float | None,
    importer: Make,
) -> None:
    server.add("/v2/installations/10216", body=installation_json(10216))
    server.add(
        MEASUREMENTS,
        {"installationId": "10216"},
        status=429,
        body='{"message":"API rate limit exceeded"}',
        headers=headers,
        times=1,
    )
    server.add(MEASUREMENTS, {"installationId": "10216"}, file=VALID)
    job = importer(installations=[10216])
    now = NOW + 17  # 08:30:17
    first = job.run(now)
    assert first.stored == 0 and "429" in first.message
    if wait is not None:
        expected = now + wait
    elif "X-RateLimit-Remaining-minute" in headers:
        expected = NOW + 61  # the next full minute
    else:
        expected = utc(2026, 11, 28) + 60  # a minute after 00:00 UTC
    assert first.next_run == expected
    calls = len(server.requests)
    blocked = job.run(now + 10)  # the worker may call early: still no request
    assert len(server.requests) == calls and blocked.next_run == expected
    done = job.run(expected)
    assert done.stored == 250


def test_replaced_installation_is_followed(
    service: IngestService, server: ReplayServer, importer: Make
) -> None:
    server.add("/v2/installations/1000", body=installation_json(1000))
    server.add(
        MEASUREMENTS,
        {"installationId": "1000"},
        status=301,
        body=json.dumps(
            {
                "errorCode": "INSTALLATION_REPLACED",
                "message": "Installation was replaced with another one",
                "details": {"successorId": 10216},
            }
        ),
        headers={"Location": f"{server.url}/v2/measurements/installation?installationId=10216"},
    )
    server.add(MEASUREMENTS, {"installationId": "10216"}, file=VALID)
    job = importer(installations=[1000])
    result = job.run(NOW)
    assert result.stored == 250 and "replaced by 10216" in result.message
    store = service.store
    state = store.read(lambda tx: get_state(tx, JOB, "installation:1000"))
    assert InstallationState.from_json(state).replaced_by == 10216
    # The successor took over the site; its readings hang on it.
    site = store.read(
        lambda tx: tx.query("SELECT id, external_id FROM sites WHERE source = 'airly.pl'")
    )
    assert [s[1] for s in site] == ["10216"]
    device = store.read(
        lambda tx: tx.one("SELECT site_id FROM devices WHERE uid = ?", (device_uid(10216),))
    )
    assert device == (site[0][0],)
    assert server.count("/v2/installations/10216") == 0
    job.run_once(NOW + 3600)
    assert server.count(MEASUREMENTS, installationId="1000") == 1  # never asked again
    assert server.count(MEASUREMENTS, installationId="10216") == 2


def test_gone_installation_is_not_retried_every_round(
    service: IngestService, server: ReplayServer, caplog: pytest.LogCaptureFixture, importer: Make
) -> None:
    serve_installation(server, 10216)
    serve_installation(server, 999, measurements=None)  # measurements answer 404
    job = importer(installations=[999, 10216])
    result = job.run(NOW)
    assert result.stored == 250 and "999 gone (404)" in result.message
    assert "installation 999 not found" in caplog.text
    for hours in (1, 24, 6 * 24):
        job.run_once(NOW + hours * 3600)
    assert server.count(MEASUREMENTS, installationId="999") == 1
    job.run_once(NOW + 8 * 86400)  # tried again after a week
    assert server.count(MEASUREMENTS, installationId="999") == 2


def test_a_refused_key_fails_the_round(server: ReplayServer, importer: Make) -> None:
    refusal = '{"message":"Invalid authentication credentials"}'
    server.add("/v2/installations/10216", status=401, body=refusal)
    job = importer(installations=[10216, 10213])
    with pytest.raises(RuntimeError, match=r"refused the API key \(HTTP 401 Invalid auth"):
        job.run(NOW)
    assert len(server.requests) == 1  # not tried for every installation


def test_unreachable_airly_fails_the_round(service: IngestService) -> None:
    from tests.conftest import free_port

    job = AirlyImporter(
        service, AirlyClient(f"http://127.0.0.1:{free_port()}", KEY), installations=[10216]
    )
    with pytest.raises(RuntimeError, match="unreachable"):
        job.run(NOW)
    job.close()


def test_from_settings(service: IngestService) -> None:
    from dataclasses import replace

    settings = service.settings
    assert AirlyImporter.from_settings(service, settings) is None  # no key: off
    on = replace(settings, airly_api_key=KEY, airly_installations="5, 7")
    job = AirlyImporter.from_settings(service, on)
    assert job is not None and job.installations == [5, 7] and job.point is None
    job.close()
    around = AirlyImporter.from_settings(service, replace(settings, airly_api_key=KEY))
    assert around is not None and around.point == (52.1772, 21.5591)  # the town point
    around.close()


def test_fetch_airly_command(db_url: str, server: ReplayServer) -> None:
    from click.testing import CliRunner

    from smartdistricts.cli.main import cli

    serve_installation(server, 10216)
    env = {"SMARTDISTRICTS_DB": db_url, "SMARTDISTRICTS_AIRLY_BASE_URL": server.url}
    off = CliRunner().invoke(cli, ["fetch", "airly", "--installation", "10216"], env=env)
    assert off.exit_code == 1 and "SMARTDISTRICTS_AIRLY_API_KEY" in off.output
    env["SMARTDISTRICTS_AIRLY_API_KEY"] = KEY
    args = ["fetch", "airly", "--installation", "10216"]
    first = CliRunner().invoke(cli, args, env=env)
    assert first.exit_code == 0, first.output
    assert "1 of 1 installation(s) fetched; 250 reading(s) stored, 0 already stored" in first.output
    again = CliRunner().invoke(cli, args, env=env)
    assert "0 reading(s) stored, 250 already stored" in again.output
    assert KEY not in first.output + again.output
    bad = CliRunner().invoke(cli, ["fetch", "airly", "--point", "north"], env=env)
    assert bad.exit_code == 2 and "airly_point" in bad.output

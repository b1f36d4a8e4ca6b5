"""data.sensor.community JSON: parsing the recorded answer (tests/data/sensor-community, the
python-luftdaten fixture of sensor 152) and the importer end to end against a replay server."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from tests.ingest.replay_public import PagedReplayServer

from smartdistricts.cli.main import cli
from smartdistricts.config import Settings
from smartdistricts.ingest.sensor_community_api import area_url, parse_records
from smartdistricts.nomenclature import variable
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.sensor_community_import import SensorCommunityImporter
from smartdistricts.store.base import Store

RECORDED = Path(__file__).parents[1] / "data" / "sensor-community"
RECORDED = RECORDED / "api_v1_sensor_152_response_python-luftdaten.json"
TEMP, RH = variable("temp_air").id, variable("relative_humidity").id
PM10, PM25, P = variable("pm10").id, variable("pm2_5").id, variable("pressure").id


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def recorded() -> list[Any]:
    body = orjson.loads(RECORDED.read_bytes())
    assert isinstance(body, list)
    return body


def record(sensor: int, kind: str, stamp: str, values: dict[str, Any], **where: Any) -> Any:
    """A record shaped like the recording, for another sensor of the same location."""
    out = copy.deepcopy(recorded()[0])
    out["sensor"]["id"] = sensor
    out["sensor"]["sensor_type"]["name"] = kind
    out["timestamp"] = stamp
    out["sensordatavalues"] = [{"value": v, "value_type": k} for k, v in values.items()]
    out["location"].update(where)
    return out


def test_the_recording() -> None:
    got = parse_records(recorded(), source="api")
    r = got.readings
    assert got.rejections == [] and got.records == 2
    assert [(s.device_uid, s.sensor_type, s.external_id, s.latitude) for s in r.sensors] == [
        ("sensor.community:location:68", "DHT22", "sensor.community:152", 48.792)
    ]
    rows = sorted(zip(r.time.tolist(), r.variable.tolist(), r.value.tolist(), strict=True))
    assert rows == [
        (utc(2021, 11, 7, 11, 14, 13), TEMP, 10.5),
        (utc(2021, 11, 7, 11, 14, 13), RH, 80.6),
        (utc(2021, 11, 7, 11, 16, 45), TEMP, 10.5),
        (utc(2021, 11, 7, 11, 16, 45), RH, 79.3),
    ]


def test_units_junk_indoor_and_unknown_types() -> None:
    body = [
        record(
            153,
            "BME280",
            "2021-11-07 11:16:40",
            {"pressure": "100101.00", "pressure_at_sealevel": 101500.0, "temperature": "nan"},
        ),
        record(154, "SDS011", "2021-11-07 11:16:41", {"P1": "12.30", "P2": 7, "min_micro": "1"}),
        record(155, "SDS011", "2021-11-07 11:16:42", {"P1": "1.0"}, indoor=1),
        record(156, "SDS011", "yesterday", {"P1": "1.0"}),
    ]
    got = parse_records(body, source="api")
    r = got.readings
    values = sorted(zip(r.variable.tolist(), r.value.tolist(), strict=True))
    assert (P, pytest.approx(1001.01)) in values  # Pa → hPa
    assert (variable("pressure_sealevel").id, 1015.0) in values
    assert (PM10, 12.3) in values and (PM25, 7.0) in values
    assert got.ignored == {"min_micro": 1}
    assert [(x.line, x.field) for x in got.rejections] == [
        (1, "temperature"),
        (3, "location.indoor"),
        (4, "sensor"),
    ]


def test_not_a_list_is_refused() -> None:
    with pytest.raises(ValueError, match="list"):
        parse_records({"error": "x"}, source="api")


POINT = (48.792, 9.164)  # the recording's location
NOW = utc(2021, 11, 7, 11, 18)


@pytest.fixture
def server() -> Iterator[PagedReplayServer]:
    with PagedReplayServer() as s:
        yield s


def feed_path(server: PagedReplayServer, settings: Settings) -> str:
    url = area_url(settings.sensor_community_base_url, *POINT, settings.sensor_community_radius_km)
    return url.removeprefix(server.url)


def test_import_rerun_and_errors(server: PagedReplayServer, store: Store, db_url: str) -> None:
    settings = Settings(
        db=db_url,
        town_point=f"{POINT[0]},{POINT[1]}",
        sensor_community_base_url=server.url,
        sensor_community_radius_km=2.0,
    )
    path = feed_path(server, settings)
    far = record(160, "SDS011", "2021-11-07 11:16:00", {"P1": "5"}, latitude="48.9", id=99)
    pm = record(154, "SDS011", "2021-11-07 11:16:41", {"P1": "12.30", "P2": "7.10"})
    server.add(path, status=500, body=b"upstream down", times=1)
    server.add(path, body=b"[{", times=1)
    server.add(path, status=429, headers={"Retry-After": "120"}, body=b"{}", times=1)
    server.add(path, body=orjson.dumps([*recorded(), far, pm]), times=1)
    newer = record(152, "DHT22", "2021-11-07 11:19:10", {"temperature": "10.4"})
    server.add(path, body=orjson.dumps([*recorded(), newer, pm]))
    with SensorCommunityImporter(IngestService(store, settings), settings=settings) as importer:
        failed = importer.fetch(NOW)
        assert "HTTP 500" in failed.failures[0] and failed.stored == 0
        malformed = importer.fetch(NOW)
        assert "malformed JSON" in malformed.failures[0]
        limited = importer.run(NOW)
        assert limited.stored == 0 and limited.next_run == NOW + 120
        first = importer.fetch(NOW)
        assert first.failures == [] and first.far == 1
        assert (first.stored, first.sensors) == (6, 2)
        second = importer.fetch(NOW + 240)
        # the four recorded readings and the PM pair are not stored again; the new one is
        assert (second.stored, second.seen) == (1, 6)
    rows = store.read(
        lambda tx: tx.query(
            "SELECT s.external_id, d.uid, m.variable_id, m.time, m.value, m.source_id"
            " FROM measurements m JOIN sensors s ON s.id = m.sensor_id"
            " JOIN devices d ON d.id = s.device_id ORDER BY m.time, m.variable_id"
        )
    )
    assert len(rows) == 7
    assert {int(r[5]) for r in rows} == {9}
    assert {str(r[1]) for r in rows} == {"sensor.community:location:68"}
    assert tuple(rows[-1])[:5] == (
        "sensor.community:152",
        "sensor.community:location:68",
        TEMP,
        utc(2021, 11, 7, 11, 19, 10),
        10.4,
    )
    site = store.read(lambda tx: tx.one("SELECT source, external_id, latitude FROM sites"))
    assert site is not None and tuple(site) == ("sensor.community", "68", 48.792)


def test_cli_fetch_sensor_community(server: PagedReplayServer, db_url: str) -> None:
    env = {
        "SMARTDISTRICTS_TOWN_POINT": f"{POINT[0]},{POINT[1]}",
        "SMARTDISTRICTS_SENSOR_COMMUNITY_BASE_URL": server.url,
        "SMARTDISTRICTS_SENSOR_COMMUNITY_RADIUS_KM": "2",
    }
    settings = Settings.from_env(env, db=db_url)
    server.add(feed_path(server, settings), body=orjson.dumps(recorded()))
    runner = CliRunner()
    result = runner.invoke(cli, ["--db", db_url, "fetch", "sensor-community"], env=env)
    assert result.exit_code == 0, result.output
    # the recording is from 2021: stored, not refused as too old or in the future
    assert "records: 2; sensors near the town: 1" in result.output
    assert "readings: 4; stored: 4; already stored: 0; refused: 0" in result.output
    again = runner.invoke(cli, ["--db", db_url, "fetch", "sensor-community"], env=env)
    assert "stored: 0; already stored: 4" in again.output

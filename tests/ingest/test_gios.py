"""GIOŚ pjp-api v1: parsing the recorded answers, local time → UTC, and the importer end to end
against a local server replaying them (tests/data/gios, recorded 2025-07-04 for station 552).

Expected UTC instants are written out from the Polish DST rules (CEST = UTC+2 from the last
Sunday of March 02:00 to the last Sunday of October 03:00; CET = UTC+1 otherwise); synthetic
pages are made with the standard library's zoneinfo, not with the code under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
import orjson
import pytest
from click.testing import CliRunner
from tests.ingest.replay_public import PagedReplayServer, Reply, envelope

from smartdistricts.cli.common import Env
from smartdistricts.cli.fetch_public import gios
from smartdistricts.cli.main import cli
from smartdistricts.config import Settings
from smartdistricts.ingest.gios import (
    ARCHIVE_KEY,
    DATA_KEY,
    SENSORS_KEY,
    local_to_utc,
    parse_index,
    parse_page,
    parse_sensors,
    parse_stations,
    parse_values,
)
from smartdistricts.ingest.records import SensorRef
from smartdistricts.nomenclature import variable
from smartdistricts.services.gios_import import GiosImporter, compare_index
from smartdistricts.services.ingest import IngestService
from smartdistricts.store.base import Store

DATA = Path(__file__).parents[1] / "data" / "gios"
WARSAW = ZoneInfo("Europe/Warsaw")
API = "/pjp-api/v1/rest"


def utc(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def body(name: str) -> Any:
    return orjson.loads((DATA / name).read_bytes())


# -- parsing ---------------------------------------------------------------------------------
def test_stations_of_the_recording() -> None:
    page = parse_page(body("station_findAll.json"), "Lista stacji pomiarowych")
    stations, refused = parse_stations(page.items, source="findAll")
    assert refused == [] and page.total_pages == 1
    assert [(s.id, s.code, s.latitude, s.longitude) for s in stations] == [
        (552, "MzWarKondrat", 52.290864, 21.042458),
        (562, "MzZyraRoosev", 52.053811, 20.429892),
    ]
    assert stations[1].name == "Żyrardów, ul. Roosevelta"
    assert stations[0].street == "ul. Kondratowicza 8"


def test_a_station_without_position_is_refused_with_its_position() -> None:
    items = [{"Identyfikator stacji": 1, "WGS84 φ N": "x", "WGS84 λ E": "21"}]
    stations, refused = parse_stations(items, source="findAll")
    assert stations == [] and refused[0].line == 1 and "x" in refused[0].reason


def test_sensors_map_to_canonical_variables() -> None:
    page = parse_page(body("station_sensors_552.json"), SENSORS_KEY)
    sensors, _ = parse_sensors(page.items, source="sensors")
    assert [(s.id, s.variable) for s in sensors] == [
        (3759, "no"),
        (3760, "no2"),
        (3761, "nox"),
        (3762, "o3"),
        (3764, "pm10"),
        (3765, "pm2_5"),
        (14688, "pm2_5"),
    ]
    # two PM2.5 sensors at one station stay two sensors
    assert len({s.sensor_type for s in sensors}) == 7
    odd = parse_sensors(
        [{"Identyfikator stanowiska": 1, "Identyfikator stacji": 2, "Wskaźnik - kod": "Hg"}],
        source="s",
    )[0]
    assert odd[0].variable is None


REF = SensorRef("gios:station:552", "NO2 #3760", "gios:3760")


def test_data_values_and_utc_times_exact() -> None:
    page = parse_page(body("data_getData_3760.json"), DATA_KEY)
    assert page.total_pages == 4 and len(page.items) == 20
    got = parse_values(page.items, REF, "no2", source="getData")
    r = got.readings
    assert len(r) == 20 and got.nulls == 0 and got.rejections == []
    assert set(r.variable.tolist()) == {variable("no2").id}
    # summer: 14:00 CEST = 12:00 UTC
    assert (int(r.time[0]), float(r.value[0])) == (utc(2025, 7, 4, 12), 5.1)
    assert (int(r.time[-1]), float(r.value[-1])) == (utc(2025, 7, 3, 17), 9.6)
    assert r.line.tolist() == list(range(1, 21))


def test_nulls_are_skipped_and_junk_refused() -> None:
    items = [
        {"Data": "2025-01-10 03:00:00", "Wartość": None},
        {"Data": "2025-01-10 02:00:00", "Wartość": "12"},
        {"Data": "10.01.2025 01:00", "Wartość": 3.0},
        {"Data": "2025-01-10 00:00:00", "Wartość": 0.0},
    ]
    got = parse_values(items, REF, "no2", source="p", first_line=501)
    assert got.nulls == 1
    assert [(x.line, x.field) for x in got.rejections] == [(502, "Wartość"), (503, "Data")]
    # winter: 00:00 CET = 23:00 UTC the day before; a zero is a value, not a null
    assert got.readings.time.tolist() == [utc(2025, 1, 9, 23)]
    assert got.readings.value.tolist() == [0.0]


def test_autumn_dst_day_newest_first() -> None:
    # 26 Oct 2025: 03:00 CEST → 02:00 CET; GIOŚ lists 02:00 twice, newest first.
    stamps = ["2025-10-26 04:00:00", "2025-10-26 03:00:00", "2025-10-26 02:00:00"]
    stamps += ["2025-10-26 02:00:00", "2025-10-26 01:00:00", "2025-10-26 00:00:00"]
    times, bad = local_to_utc(stamps)
    assert bad == []
    assert times.tolist() == [
        utc(2025, 10, 26, 3),
        utc(2025, 10, 26, 2),
        utc(2025, 10, 26, 1),  # 02:00 CET
        utc(2025, 10, 26, 0),  # 02:00 CEST
        utc(2025, 10, 25, 23),
        utc(2025, 10, 25, 22),
    ]


def test_autumn_dst_oldest_first_single_and_triple() -> None:
    times, bad = local_to_utc(["2025-10-26 02:00:00", "2025-10-26 02:00:00"])
    assert times.tolist() == [utc(2025, 10, 26, 0), utc(2025, 10, 26, 1)] and bad == []
    # once: the earlier (CEST) instant
    assert local_to_utc(["2025-10-26 02:00:00"])[0].tolist() == [utc(2025, 10, 26, 0)]
    _times, bad = local_to_utc(["2025-10-26 02:00:00"] * 3)
    assert [i for i, _ in bad] == [2]


def test_spring_dst_gap_is_refused() -> None:
    stamps = ["2025-03-30 03:00:00", "2025-03-30 02:00:00", "2025-03-30 01:00:00"]
    times, bad = local_to_utc(stamps)
    assert [i for i, _ in bad] == [1] and "does not exist" in bad[0][1]
    assert (int(times[0]), int(times[2])) == (utc(2025, 3, 30, 1), utc(2025, 3, 30, 0))
    got = parse_values(
        [{"Data": s, "Wartość": 1.0} for s in stamps], REF, "no2", source="p", first_line=1
    )
    assert [x.line for x in got.rejections] == [2] and len(got.readings) == 2


def test_index_with_the_key_typo() -> None:
    ix = parse_index(body("aqindex_getIndex_552.json"))
    assert (ix.station_id, ix.value, ix.category, ix.critical) == (552, 1, "Dobry", "OZON")
    assert ix.source_time == utc(2025, 7, 4, 12)
    assert ix.calculated_at == utc(2025, 7, 4, 12, 35, 10)
    assert ix.pollutants["o3"] == (1, "Dobry", utc(2025, 7, 4, 12))
    assert ix.pollutants["pm2_5"][:2] == (0, "Bardzo dobry")
    assert "so2" not in ix.pollutants  # not measured: null


def test_an_error_body_is_refused() -> None:
    with pytest.raises(ValueError, match="error_result"):
        parse_page({"error_result": "x", "error_reason": "bad id", "error_code": "1"}, DATA_KEY)


# -- the importer against the replay server --------------------------------------------------
NOW = utc(2025, 7, 4, 12, 30)  # 14:30 in Warsaw, just after the recording
SENSORS = {3759: "NO", 3760: "NO2", 3761: "NOx", 3762: "O3", 3764: "PM10", 3765: "PM2.5"}
SENSORS[14688] = "PM2.5"


def _recorded() -> dict[int, float]:
    items = orjson.loads((DATA / "data_getData_3760.json").read_bytes())[DATA_KEY]
    stamps = {
        int(
            datetime.strptime(i["Data"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=WARSAW).timestamp()
        ): i["Wartość"]
        for i in items
    }
    return stamps


RECORDED = _recorded()


def value(sensor: int, t: int) -> float | None:
    """Synthetic hourly values; NO2 (3760) agrees with the recording where they overlap."""
    if sensor == 3760 and t in RECORDED:
        return RECORDED[t]
    hour = t // 3600
    if hour % 23 == 0:
        return None
    return round(5 + hour % 17 + sensor % 7 + 0.1 * (sensor % 3), 1)


def local(t: int) -> str:
    return datetime.fromtimestamp(t, WARSAW).strftime("%Y-%m-%d %H:%M:%S")


def items(code: str, sensor: int, first: int, last: int, *, newest_first: bool) -> list[Any]:
    hours = range(first, last + 1, 3600)
    out = [
        {"Kod stanowiska": f"MzWarKondrat-{code}-1g", "Data": local(t), "Wartość": value(sensor, t)}
        for t in hours
    ]
    return out[::-1] if newest_first else out


LAST_HOUR = utc(2025, 7, 4, 12)
DATA_FIRST = LAST_HOUR - 71 * 3600  # getData: the last 72 hours
BACKFILL_DAYS = 4


def archive_range(now: int) -> tuple[int, int]:
    """Whole hours inside the archive query of a new sensor (local minutes, inclusive)."""
    start = now - BACKFILL_DAYS * 86400
    return start - start % 3600 + 3600, now - now % 3600


def expected_times(sensor: int) -> set[int]:
    first, last = archive_range(NOW)
    hours = set(range(first, last + 1, 3600)) | set(range(DATA_FIRST, LAST_HOUR + 1, 3600))
    if sensor == 3760:  # the recorded page and its three continuation pages
        hours = set(range(LAST_HOUR - 79 * 3600, LAST_HOUR + 1, 3600)) | set(
            range(first, last + 1, 3600)
        )
    return {t for t in hours if value(sensor, t) is not None}


@pytest.fixture
def server() -> Iterator[PagedReplayServer]:
    with PagedReplayServer() as s:
        s.add(f"{API}/station/findAll", file=DATA / "station_findAll.json")
        s.add(f"{API}/station/sensors/552", file=DATA / "station_sensors_552.json")
        s.add(f"{API}/aqindex/getIndex/552", file=DATA / "aqindex_getIndex_552.json")
        # getData/3760: the recorded page 0 (of 4), then three older pages of 20.
        s.add(
            f"{API}/data/getData/3760",
            {"page": "0", "size": "500"},
            file=DATA / "data_getData_3760.json",
        )
        for page in (1, 2, 3):
            newest = LAST_HOUR - 20 * page * 3600
            chunk = items("NO2", 3760, newest - 19 * 3600, newest, newest_first=True)
            s.add(
                f"{API}/data/getData/3760",
                {"page": str(page), "size": "500"},
                body=envelope(DATA_KEY, chunk, total_pages=4),
            )
        for sensor, code in SENSORS.items():
            if sensor != 3760:
                data = items(code, sensor, DATA_FIRST, LAST_HOUR, newest_first=True)
                path = f"{API}/data/getData/{sensor}"
                if sensor == 14688:
                    s.add(path, body=b'{"Lista danych pomiarowych": [', times=1)
                    s.add(path, body=envelope(DATA_KEY, data))
                elif sensor == 3762:
                    s.add(path, status=429, headers={"Retry-After": "1"}, body=b"{}", times=1)
                    s.add(path, body=envelope(DATA_KEY, data))
                else:
                    s.add_paged(path, DATA_KEY, items=data)
            first, last = archive_range(NOW)
            fail = (
                {2: Reply(500, b'{"error_result": "Internal error"}')} if sensor == 3764 else None
            )
            s.add_paged(
                f"{API}/archivalData/getDataBySensor/{sensor}",
                ARCHIVE_KEY,
                items=items(code, sensor, first - 86400, last + 3600, newest_first=False),
                max_size=20,
                dates=True,
                fail=fail,
            )
        yield s


def stored(store: Store) -> dict[str, set[int]]:
    rows = store.read(
        lambda tx: tx.query(
            "SELECT s.external_id, m.time FROM measurements m JOIN sensors s ON s.id = m.sensor_id"
        )
    )
    out: dict[str, set[int]] = {}
    for ext, t in rows:
        out.setdefault(str(ext), set()).add(int(t))
    return out


def count(store: Store) -> int:
    row = store.read(lambda tx: tx.one("SELECT count(*) FROM measurements"))
    assert row is not None
    return int(row[0])


def settings_for(server: PagedReplayServer, db_url: str) -> Settings:
    return Settings(
        db=db_url,
        town_point="52.25,21.0",
        gios_radius_km=20.0,
        gios_base_url=server.url + API,
        gios_backfill_days=BACKFILL_DAYS,
    )


def test_import_interrupted_and_rerun(server: PagedReplayServer, store: Store, db_url: str) -> None:
    settings = settings_for(server, db_url)
    with GiosImporter(IngestService(store, settings), settings=settings) as importer:
        check_rounds(importer, server, store)


def check_rounds(importer: GiosImporter, server: PagedReplayServer, store: Store) -> None:
    first = importer.fetch(NOW)
    assert first.stations == 1 and first.sensors == 7  # Żyrardów is 41 km away
    assert any("3764 archive" in f and "500" in f for f in first.failures)
    assert any("14688 data" in f and "malformed JSON" in f for f in first.failures)
    assert len(first.failures) == 2  # the 429 was waited out
    assert first.nulls > 0 and first.indices == 1
    got = stored(store)
    assert "gios:3764" not in got and "gios:14688" in got  # its archive got through
    for sensor in (3759, 3760, 3761, 3762, 3765):
        assert got[f"gios:{sensor}"] == expected_times(sensor), sensor
    # the recorded values, at their UTC instants
    no2 = store.read(
        lambda tx: tx.query(
            "SELECT m.time, m.value, m.source_id FROM measurements m"
            " JOIN sensors s ON s.id = m.sensor_id WHERE s.external_id = 'gios:3760'"
            " AND m.time >= ? ORDER BY m.time DESC LIMIT 2",
            (utc(2025, 7, 4, 11),),
        )
    )
    assert [tuple(r) for r in no2] == [(utc(2025, 7, 4, 12), 5.1, 8), (utc(2025, 7, 4, 11), 4.0, 8)]

    second = importer.fetch(NOW + 600)
    assert second.failures == []
    got = stored(store)
    for sensor in SENSORS:
        assert got[f"gios:{sensor}"] == expected_times(sensor), sensor
    assert count(store) == sum(len(expected_times(s)) for s in SENSORS)  # nothing twice
    # the archive is not asked again once the cursors are current
    archive_calls = server.count(f"{API}/archivalData/getDataBySensor/3765")
    third = importer.fetch(NOW + 1200)
    assert third.stored == 0 and third.duplicates == third.readings > 0
    assert server.count(f"{API}/archivalData/getDataBySensor/3765") == archive_calls


def test_sites_devices_and_the_index(server: PagedReplayServer, store: Store, db_url: str) -> None:
    settings = settings_for(server, db_url)
    with GiosImporter(IngestService(store, settings), settings=settings) as importer:
        importer.fetch(NOW)
    site = store.read(
        lambda tx: tx.one(
            "SELECT s.slug, s.source, s.external_id, s.latitude, d.uid, d.kind FROM sites s"
            " JOIN devices d ON d.site_id = s.id WHERE s.source = 'gios'"
        )
    )
    assert site is not None
    assert tuple(site) == ("gios-552", "gios", "552", 52.290864, "gios:station:552", "import")
    rows = compare_index(store)
    assert len(rows) == 1
    row = rows[0]
    assert (row.site, row.time, row.gios, row.gios_category) == ("gios-552", LAST_HOUR, 1, "Dobry")
    assert row.inputs["no2"] == pytest.approx(5.1)  # the recorded NO2 of that hour
    assert row.ours is not None
    index = store.read(lambda tx: tx.one("SELECT pm10, so2, o3, critical FROM gios_index"))
    assert index is not None and tuple(index) == (0, None, 1, "OZON")


def test_cli_prints_the_round_and_the_comparison(server: PagedReplayServer, db_url: str) -> None:
    settings = settings_for(server, db_url)

    # The real CLI's context settings: click caches a command's help option on first use, and
    # docs/cli.md (test_docs) is generated with ``-h, --help``.
    @click.group(context_settings=cli.context_settings)
    @click.pass_context
    def root(ctx: click.Context) -> None:
        ctx.obj = Env(settings)

    root.add_command(gios)
    result = CliRunner().invoke(root, ["gios"])
    assert result.exit_code == 1, result.output  # two failures on the first round
    assert "stations near the town: 1" in result.output
    assert "malformed JSON" in result.output
    result = CliRunner().invoke(root, ["gios", "--compare-index"])
    assert result.exit_code == 0, result.output
    assert "gios-552\t2025-07-04 14:00\tDobry" in result.output


def test_autumn_overlap_split_across_pages_is_kept_whole(store: Store, db_url: str) -> None:
    now = utc(2025, 10, 27, 12)
    first, last = now - 3 * 86400, now
    hours = range(first, last + 1, 3600)
    archive = [
        {"Kod stanowiska": "MzTest-PM10-1g", "Data": local(t), "Wartość": 20.0 + (t // 3600) % 9}
        for t in hours
    ][::-1]
    stamps = [i["Data"] for i in archive]
    split = stamps.index("2025-10-26 02:00:00") + 1  # page 0 ends with its first occurrence
    assert stamps[split] == "2025-10-26 02:00:00"
    sensors = [
        {
            "Identyfikator stanowiska": 77,
            "Identyfikator stacji": 552,
            "Wskaźnik": "pył zawieszony PM10",
            "Wskaźnik - kod": "PM10",
        }
    ]
    with PagedReplayServer() as s:
        s.add(f"{API}/station/findAll", file=DATA / "station_findAll.json")
        s.add(f"{API}/station/sensors/552", body=envelope(SENSORS_KEY, sensors))
        s.add(f"{API}/data/getData/77", body=envelope(DATA_KEY, []))
        s.add(f"{API}/aqindex/getIndex/552", file=DATA / "aqindex_getIndex_552.json")
        s.add_paged(
            f"{API}/archivalData/getDataBySensor/77",
            ARCHIVE_KEY,
            items=archive,
            max_size=split,
            dates=True,
        )
        settings = replace(settings_for(s, db_url), gios_backfill_days=3)
        with GiosImporter(IngestService(store, settings), settings=settings) as importer:
            report = importer.fetch(now)
    assert report.failures == [] and report.rejected == []
    assert stored(store)["gios:77"] == set(hours)  # 73 hours, 25 of them on 26 October

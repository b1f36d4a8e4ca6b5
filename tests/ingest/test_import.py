"""Bulk import of archive files (``services/bulk.py``) on SQLite and PostgreSQL.

The expected quality flags are computed here from the CSV files with the standard library, from
the rules the settings describe (pair a PM reading with the node's humidity reading nearest in
time within ``humidity_pairing_s``; HUMID from ``humid_threshold``, FOG from ``fog_threshold``;
STUCK once an unchanged value has lasted ``stuck_min_count`` readings and
``stuck_min_duration_s``), not with the platform's flagging functions.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import os
import shutil
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from smartdistricts.config import Settings
from smartdistricts.nomenclature import Flag, variable
from smartdistricts.services.bulk import ImportSummary, import_files
from smartdistricts.services.ingest import IngestService

DATA = Path(__file__).parents[1] / "data" / "sensor-community"
SDS = DATA / "2018-03-07_sds011_sensor_5331.csv"
DHT = DATA / "2018-03-07_dht22_sensor_5332.csv"
BME = DATA / "2020-01-01_bme280_sensor_141.EXCERPT_first40rows.csv"
MADAVI = DATA / "madavi_data-esp8266-3654427-2018-03-07.csv"

PM10, PM25 = variable("pm10").id, variable("pm2_5").id
TEMP, RH = variable("temp_air").id, variable("relative_humidity").id
HUMIDITY_BITS = int(Flag.HUMID | Flag.FOG)


def seconds(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())


def archive_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def humidity_bits(pm_times: list[int], rh: list[tuple[int, float]], s: Settings) -> list[int]:
    """Expected HUMID/FOG bits of PM readings at ``pm_times`` given (time, RH) readings."""
    rh = sorted(rh)
    times = [t for t, _ in rh]
    out = []
    for t in pm_times:
        i = bisect.bisect_left(times, t)
        near = [j for j in (i - 1, i) if 0 <= j < len(rh)]
        best = min(near, key=lambda j: (abs(times[j] - t), j), default=None)
        bits = 0
        if best is not None and abs(times[best] - t) <= s.humidity_pairing_s:
            value = rh[best][1]
            bits |= int(Flag.HUMID) if value >= s.humid_threshold else 0
            bits |= int(Flag.FOG) if value >= s.fog_threshold else 0
        out.append(bits)
    return out


def stuck_times(series: list[tuple[int, float]], s: Settings) -> set[int]:
    """Times of readings in a run of one unchanged value that is long enough to be stuck."""
    flagged = set()
    run_value, run_start, run_count = None, 0, 0
    for t, value in sorted(series):
        if value != run_value:
            run_value, run_start, run_count = value, t, 0
        run_count += 1
        if run_count >= s.stuck_min_count and t - run_start >= s.stuck_min_duration_s:
            flagged.add(t)
    return flagged


def stored(service: IngestService, sensor_type: str, variable_id: int) -> dict[int, tuple]:
    """time → (value, flags) of one sensor type's stored readings of one variable."""
    rows = service.store.read(
        lambda tx: tx.query(
            "SELECT m.time, m.value, m.flags FROM measurements m"
            " JOIN sensors s ON s.id = m.sensor_id WHERE s.type = ? AND m.variable_id = ?",
            (sensor_type, variable_id),
        )
    )
    return {int(t): (float(v), int(f)) for t, v, f in rows}


def query(service: IngestService, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
    return [tuple(row) for row in service.store.read(lambda tx: tx.query(sql, params))]


def count(service: IngestService, table: str) -> int:
    return int(query(service, f"SELECT count(*) FROM {table}")[0][0])


def run(service: IngestService, *paths: Path | str) -> ImportSummary:
    return import_files(service, [str(p) for p in paths])


# -- quality flags ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order", ["pm first", "humidity first", "one call", "one call, a batch per file"]
)
def test_humidity_flags_do_not_depend_on_import_order(service: IngestService, order: str) -> None:
    if order == "pm first":
        run(service, SDS)
        run(service, DHT)
    elif order == "humidity first":
        run(service, DHT)
        run(service, SDS)
    elif order == "one call":
        run(service, SDS, DHT)
    else:
        summary = import_files(service, [str(SDS), str(DHT)], batch_readings=1)
        assert summary.imported == 2336

    s = service.settings
    rh = [(seconds(r["timestamp"]), float(r["humidity"])) for r in archive_rows(DHT)]
    pm_times = [seconds(r["timestamp"]) for r in archive_rows(SDS)]
    expected = dict(zip(pm_times, humidity_bits(pm_times, rh, s), strict=True))
    for vid in (PM10, PM25):
        got = {
            t: flags & HUMIDITY_BITS for t, (_v, flags) in stored(service, "SDS011", vid).items()
        }
        assert got == expected
    # Sanity against the sample README's table (RH < 70 %: 48 rows; 204 rows at RH 99.9).
    tally = Counter(expected.values())
    assert tally[0] == 48
    assert tally[int(Flag.HUMID | Flag.FOG)] >= 204
    assert sum(tally.values()) == 584
    # Humidity readings themselves never get humidity bits.
    assert all(f & HUMIDITY_BITS == 0 for _v, f in stored(service, "DHT22", RH).values())


def _node_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A node's PM file for a morning and an afternoon, and its humidity in two files."""
    t0 = seconds("2024-01-10T08:00:00")
    afternoon = t0 + 6 * 3600
    prefix = "sensor_id;sensor_type;location;lat;lon;timestamp;"

    def stamp(t: int) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S")

    pm_times = [t0 + 145 * i for i in range(4)] + [afternoon + 145 * i for i in range(4)]
    sds = tmp_path / "sds.csv"
    sds.write_text(
        prefix
        + "P1;durP1;ratioP1;P2;durP2;ratioP2\n"
        + "".join(f"1;SDS011;500;52.18;21.56;{stamp(t)};20;;;10;;\n" for t in pm_times)
    )
    dht_header = prefix + "temperature;humidity\n"
    morning = tmp_path / "dht_morning.csv"  # fog all morning
    morning.write_text(
        dht_header
        + "".join(f"2;DHT22;500;52.18;21.56;{stamp(t + 1)};1.0;96.0\n" for t in pm_times[:4])
    )
    later = tmp_path / "dht_afternoon.csv"
    # 100.5 % is possible (kept) but implausible (OUT_OF_RANGE), so it must not pair; 50 %
    # 100 s later is the humidity to use.
    later.write_text(
        dht_header
        + f"2;DHT22;500;52.18;21.56;{stamp(afternoon)};1.0;100.5\n"
        + "".join(f"2;DHT22;500;52.18;21.56;{stamp(t + 100)};1.0;50.0\n" for t in pm_times[4:])
    )
    return sds, morning, later


@pytest.mark.parametrize(
    "calls",
    [
        ["sds", "morning", "afternoon"],
        ["morning", "afternoon", "sds"],
        ["morning", "sds+afternoon"],
        ["sds+morning+afternoon"],
    ],
)
def test_pairing_uses_stored_and_new_humidity_alike(
    service: IngestService, tmp_path: Path, calls: list[str]
) -> None:
    sds, morning, afternoon = _node_files(tmp_path)
    files = {"sds": sds, "morning": morning, "afternoon": afternoon}
    for call in calls:
        summary = run(service, *(files[name] for name in call.split("+")))
        assert summary.rejected == []
    flags = [f & HUMIDITY_BITS for _t, (_v, f) in sorted(stored(service, "SDS011", PM10).items())]
    assert flags == [int(Flag.HUMID | Flag.FOG)] * 4 + [0] * 4
    rh = stored(service, "DHT22", RH)
    assert sum(1 for v, f in rh.values() if v == 100.5 and f & Flag.OUT_OF_RANGE) == 1


def test_stuck_humidity_and_hourly_counts(service: IngestService) -> None:
    summary = run(service, DHT, SDS)
    assert summary.imported == 2336
    s = service.settings
    dht = archive_rows(DHT)
    series = {
        RH: [(seconds(r["timestamp"]), float(r["humidity"])) for r in dht],
        TEMP: [(seconds(r["timestamp"]), float(r["temperature"])) for r in dht],
    }
    stuck = {vid: stuck_times(rows, s) for vid, rows in series.items()}
    assert len(stuck[RH]) > 0  # the DHT22 sits at 99.90 for hours
    assert all(dict(series[RH])[t] == 99.9 for t in stuck[RH])
    for vid in (RH, TEMP):
        got = {t for t, (_v, f) in stored(service, "DHT22", vid).items() if f & Flag.STUCK}
        assert got == stuck[vid], variable(vid).name
    assert not any(f & Flag.OUT_OF_RANGE for _v, f in stored(service, "DHT22", RH).values())

    sds = archive_rows(SDS)
    readings = {("DHT22", vid): [t for t, _ in rows] for vid, rows in series.items()} | {
        ("SDS011", vid): [seconds(r["timestamp"]) for r in sds] for vid in (PM10, PM25)
    }
    hourly = {
        (sensor_type, vid, hour): (n, n_all)
        for sensor_type, vid, hour, n, n_all in query(
            service,
            "SELECT s.type, h.variable_id, h.hour, h.n, h.n_all FROM hourly h"
            " JOIN sensors s ON s.id = h.sensor_id",
        )
    }
    expected: dict[tuple[str, int, int], list[int]] = {}
    for (sensor_type, vid), times in readings.items():
        excluded = stuck.get(vid, set()) if sensor_type == "DHT22" else set()
        for t in times:
            cell = expected.setdefault((sensor_type, vid, t - t % 3600), [0, 0])
            cell[0] += t not in excluded
            cell[1] += 1
    assert hourly == {key: tuple(value) for key, value in expected.items()}
    assert len({hour for _s, _v, hour in hourly}) == 24

    latest = query(
        service,
        "SELECT s.type, l.variable_id, l.time FROM latest l JOIN sensors s ON s.id = l.sensor_id",
    )
    last = seconds(sds[-1]["timestamp"])
    assert ("SDS011", PM10, last) in latest
    assert len(latest) == 4


def test_a_stuck_run_continues_into_the_next_file(service: IngestService, tmp_path: Path) -> None:
    # The DHT22 sits at 99.90 from line 2 to line 205 (00:00–08:20); cut the day at line 100.
    lines = DHT.read_text().splitlines()
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("\n".join(lines[:99]) + "\n")
    second.write_text("\n".join([lines[0], *lines[99:]]) + "\n")
    run(service, first)
    run(service, second)
    series = [(seconds(r["timestamp"]), float(r["humidity"])) for r in archive_rows(DHT)]
    expected = stuck_times(series, service.settings)
    got = {t for t, (_v, f) in stored(service, "DHT22", RH).items() if f & Flag.STUCK}
    assert got == expected
    assert min(expected) < seconds(archive_rows(DHT)[98]["timestamp"]) < max(expected)
    # The stored run state is the run the series ends in.
    run_start, run_count, previous = 0, 0, None
    for t, value in series:
        if value != previous:
            run_start, run_count, previous = t, 0, value
        run_count += 1
    assert query(
        service,
        "SELECT l.run_start, l.run_count FROM latest l JOIN sensors s ON s.id = l.sensor_id"
        " WHERE s.type = 'DHT22' AND l.variable_id = ?",
        (RH,),
    ) == [(run_start, run_count)]


def test_madavi_pm_paired_with_its_own_humidity(service: IngestService) -> None:
    summary = run(service, MADAVI)
    assert (summary.rows_read, summary.imported, summary.rejected) == (588, 2352, [])
    with MADAVI.open(newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))[1:]
    s = service.settings
    # 22-field rows: Time is field 0, SDS_P1 field 7, Humidity field 12.
    when = [
        int(datetime.strptime(r[0], "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC).timestamp())
        for r in rows
    ]
    rh = [(t, float(r[12])) for t, r in zip(when, rows, strict=True)]
    expected = dict(zip(when, humidity_bits(when, rh, s), strict=True))
    got = {t: f & HUMIDITY_BITS for t, (_v, f) in stored(service, "SDS011", PM10).items()}
    assert got == expected
    assert set(expected.values()) >= {int(Flag.HUMID)}


# -- the summary, devices and sites ----------------------------------------------------------------


def test_summary_and_re_import_of_every_real_file(service: IngestService) -> None:
    first = run(service, SDS, DHT, BME, MADAVI)
    assert first.files == 4
    assert first.rows_read == 584 + 584 + 40 + 588
    assert first.readings == 1168 + 1168 + 120 + 2352
    assert (first.imported, first.duplicates) == (first.readings, 0)
    assert (first.rejected, first.failed_files) == ([], [])
    stored_rows = count(service, "measurements")
    assert stored_rows == first.readings
    hourly_before = query(service, "SELECT * FROM hourly ORDER BY 1, 2, 3")
    flags_before = query(service, "SELECT flags, count(*) FROM measurements GROUP BY 1 ORDER BY 1")

    again = run(service, SDS, DHT, BME, MADAVI)
    assert (again.rows_read, again.readings) == (first.rows_read, first.readings)
    assert (again.imported, again.duplicates) == (0, first.readings)
    assert count(service, "measurements") == stored_rows
    # Sums may differ in the last bit: a first import adds per-hour sums computed in NumPy, a
    # re-import recomputes them in SQL (another summation order).
    assert query(service, "SELECT * FROM hourly ORDER BY 1, 2, 3") == [
        tuple(pytest.approx(x, rel=1e-12) if isinstance(x, float) else x for x in row)
        for row in hourly_before
    ]
    assert (
        query(service, "SELECT flags, count(*) FROM measurements GROUP BY 1 ORDER BY 1")
        == flags_before
    )


def test_sites_devices_and_sensors_are_created(service: IngestService) -> None:
    run(service, SDS, DHT, BME, MADAVI)
    sites = query(
        service,
        "SELECT slug, latitude, longitude, source, external_id FROM sites ORDER BY slug",
    )
    assert sites == [
        ("sc-3121", 57.138, -2.077, "sensor.community", "3121"),
        ("sc-65", 48.778, 9.16, "sensor.community", "65"),
    ]
    sensors = query(
        service,
        "SELECT d.uid, st.slug, s.type, s.external_id FROM sensors s"
        " JOIN devices d ON d.id = s.device_id LEFT JOIN sites st ON st.id = d.site_id"
        " ORDER BY d.uid, s.type",
    )
    assert sensors == [
        ("esp8266-3654427", None, "DHT22", None),
        ("esp8266-3654427", None, "SDS011", None),
        ("sensor.community:location:3121", "sc-3121", "DHT22", "sensor.community:5332"),
        ("sensor.community:location:3121", "sc-3121", "SDS011", "sensor.community:5331"),
        ("sensor.community:location:65", "sc-65", "BME280", "sensor.community:141"),
    ]
    assert query(service, "SELECT DISTINCT status FROM devices") == [("active",)]
    pressure = stored(service, "BME280", variable("pressure").id)
    assert min(v for v, _f in pressure.values()) > 900  # hPa, not Pa


# -- files, folders and bad input ------------------------------------------------------------------


def test_folders_gzip_and_files_that_cannot_be_read(service: IngestService, tmp_path: Path) -> None:
    deep = tmp_path / "archive" / "2018-03-07" / "more"
    deep.mkdir(parents=True)
    (tmp_path / "archive" / "2018-03-07" / f"{SDS.name}.gz").write_bytes(
        gzip.compress(SDS.read_bytes())
    )
    shutil.copy(DHT, deep / DHT.name)
    (deep / "README.txt").write_text("not data\n")  # not .csv: not even tried
    shutil.copy(BME, deep / "BME280.CSV")  # upper-case extension
    unknown = tmp_path / "archive" / "other.csv"
    unknown.write_text("date,pm10\n2018-03-07,12\n")
    missing = tmp_path / "nowhere.csv"
    truncated = tmp_path / "archive" / "2018-03-07" / "cut.csv.gz"  # an interrupted download
    packed = gzip.compress(DHT.read_bytes())
    truncated.write_bytes(packed[: len(packed) // 2])
    seen: list[tuple[int, str]] = []

    summary = import_files(
        service,
        [str(tmp_path / "archive"), str(missing)],
        progress=lambda size, path: seen.append((size, path)),
    )
    assert summary.files == 6
    assert [path for path, _ in summary.failed_files] == [
        str(truncated),
        str(unknown),
        str(missing),
    ]
    assert "truncated gzip" in summary.failed_files[0][1]
    assert "unknown format" in summary.failed_files[1][1]
    assert summary.imported == 2336 + 120
    assert {s[1] for s in seen} == {
        str(tmp_path / "archive" / "2018-03-07" / f"{SDS.name}.gz"),
        str(deep / DHT.name),
        str(deep / "BME280.CSV"),
        str(truncated),
        str(unknown),
        str(missing),
    }
    assert (os.path.getsize(deep / DHT.name), str(deep / DHT.name)) in seen


def test_bad_lines_are_reported_and_the_rest_is_imported(
    service: IngestService, tmp_path: Path
) -> None:
    lines = SDS.read_text().splitlines()
    future = datetime.fromtimestamp(time.time() + 3 * 86400, UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def edit(number: int, column: int, value: str) -> None:
        fields = lines[number - 1].split(";")
        fields[column] = value
        lines[number - 1] = ";".join(fields)

    lines[4] = lines[4].rsplit(";", 3)[0]  # line 5: three fields short
    edit(10, 5, "2018-03-07T25:00:00")  # line 10: no such hour
    edit(20, 6, "abc")  # line 20: P1 not a number, P2 fine
    edit(30, 6, "2500")  # line 30: PM10 impossible
    edit(40, 5, future)  # line 40: three days ahead
    edit(50, 6, "nan")  # line 50: missing, not an error
    edit(51, 9, "unavailable")
    edit(52, 6, "")
    lines.insert(60, "")  # a blank line: later lines move down by one
    broken = tmp_path / "2018-03-07_sds011_sensor_5331.csv"
    broken.write_text("\r\n".join(lines) + "\r\n")

    summary = run(service, broken)
    where = [(r.source, r.line, r.field) for r in summary.rejected]
    assert sorted(where, key=lambda w: (w[1], w[2] or "")) == [
        (str(broken), 5, None),
        (str(broken), 10, "timestamp"),
        (str(broken), 20, "P1"),
        (str(broken), 30, "pm10"),
        (str(broken), 40, "time"),
        (str(broken), 40, "time"),
    ]
    reasons = {(r.line, r.field): r.reason for r in summary.rejected}
    assert reasons[(5, None)] == "expected 12 fields, found 9"
    assert "'2018-03-07T25:00:00'" in reasons[(10, "timestamp")]
    assert reasons[(20, "P1")] == "'abc' is not a number"
    assert "2500" in reasons[(30, "pm10")]
    assert "future" in reasons[(40, "time")]

    assert summary.rows_read == 584
    # 1168 readings, less: line 5 (2), line 10 (2), line 20's P1, line 30's PM10, line 40 (2),
    # and the three missing values of lines 50–52.
    assert summary.readings == summary.imported == 1168 - 2 - 2 - 1 - 1 - 2 - 3
    assert count(service, "measurements") == summary.imported
    original = archive_rows(SDS)
    pm25 = stored(service, "SDS011", PM25)
    line20 = original[20 - 2]
    assert pm25[seconds(line20["timestamp"])][0] == float(line20["P2"])
    last = original[-1]  # after the blank line: still imported with the right values
    assert stored(service, "SDS011", PM10)[seconds(last["timestamp"])][0] == float(last["P1"])


def test_an_empty_file_and_a_header_only_file(service: IngestService, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    header_only = tmp_path / "header.csv"
    header_only.write_text(SDS.read_text().splitlines()[0] + "\n")
    summary = run(service, empty, header_only)
    assert [path for path, _ in summary.failed_files] == [str(empty)]
    assert (summary.rows_read, summary.imported, summary.rejected) == (0, 0, [])


def test_a_file_of_only_bad_values_stores_nothing(service: IngestService, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    header = DHT.read_text().splitlines()[0]
    path.write_text(header + "\n5332;DHT22;3121;57.138;-2.077;2018-03-07T00:00:26;-95;150\n")
    summary = run(service, path)
    assert [(r.line, r.field) for r in summary.rejected] == [
        (2, "temp_air"),
        (2, "relative_humidity"),
    ]
    assert (summary.readings, summary.imported) == (0, 0)
    assert count(service, "measurements") == 0

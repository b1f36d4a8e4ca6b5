"""archive.sensor.community daily CSV files (formats reference §3).

Real files come from ``tests/data/sensor-community`` (origin and licence in
``tests/data/README.md``); the expected readings of a real file are computed here with the
standard ``csv`` module, an independent reader. Other sensor types' layouts are written to
``tmp_path`` by the tests.
"""

from __future__ import annotations

import csv
import gzip
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from smartdistricts.ingest.records import Readings, SensorRef, split_refused
from smartdistricts.ingest.sensor_community_archive import (
    ParsedFile,
    parse_archive_csv,
    read_archive_csv,
)
from smartdistricts.nomenclature import variable

DATA = Path(__file__).parents[1] / "data" / "sensor-community"
SDS = DATA / "2018-03-07_sds011_sensor_5331.csv"
DHT = DATA / "2018-03-07_dht22_sensor_5332.csv"
BME = DATA / "2020-01-01_bme280_sensor_141.EXCERPT_first40rows.csv"

VAR = {v: variable(v).id for v in ("pm1", "pm2_5", "pm4", "pm10", "temp_air")}


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


def naive_utc(text: str) -> int:
    """Seconds of an archive time ``YYYY-MM-DDTHH:MM:SS`` (UTC), with strptime."""
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())


def triples(readings: Readings) -> set[tuple[str, int, float, int]]:
    """(variable name, time, value, line) of every reading."""
    return {
        (variable(int(v)).name, int(t), float(x), int(line))
        for v, t, x, line in zip(
            readings.variable, readings.time, readings.value, readings.line, strict=True
        )
    }


def by_variable(readings: Readings, name: str) -> list[float]:
    return readings.value[readings.variable == variable(name).id].tolist()


def expected_from_csv(path: Path, columns: dict[str, tuple[str, float]]) -> set[tuple]:
    """What a correct parser must return for a clean archive file, via the ``csv`` module."""
    out = set()
    with path.open(newline="") as fh:
        for line, row in enumerate(csv.DictReader(fh, delimiter=";"), start=2):
            for column, (name, scale) in columns.items():
                if row[column] not in ("", "nan"):
                    value = float(row[column]) * scale
                    out.add((name, naive_utc(row["timestamp"]), round(value, 6), line))
    return out


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def parse(text: str, source: str = "f.csv") -> ParsedFile:
    return parse_archive_csv(text.encode(), source=source)


# -- real files ----------------------------------------------------------------------------------


def test_real_sds011_file() -> None:
    parsed = read_archive_csv(str(SDS))
    r = parsed.readings
    assert parsed.rows_read == 584
    assert len(r) == 1168
    assert parsed.rejections == []
    assert r.sensors == [
        SensorRef(
            device_uid="sensor.community:location:3121",
            sensor_type="SDS011",
            external_id="sensor.community:5331",
            latitude=57.138,
            longitude=-2.077,
            location="3121",
        )
    ]
    # P1 is PM10 and P2 is PM2.5 (formats reference §1.6).
    first = {name: value for name, t, value, line in triples(r) if line == 2}
    assert first == {"pm10": 167.63, "pm2_5": 33.97}
    assert set(r.time[r.line == 2].tolist()) == {utc(2018, 3, 7, 0, 0, 26)}
    assert max(by_variable(r, "pm10")) == 177.43
    assert triples(r) == expected_from_csv(SDS, {"P1": ("pm10", 1.0), "P2": ("pm2_5", 1.0)})


def test_real_dht22_file() -> None:
    parsed = read_archive_csv(str(DHT))
    r = parsed.readings
    assert (parsed.rows_read, len(r), parsed.rejections) == (584, 1168, [])
    assert [(s.sensor_type, s.external_id, s.device_uid) for s in r.sensors] == [
        ("DHT22", "sensor.community:5332", "sensor.community:location:3121")
    ]
    rh = np.asarray(by_variable(r, "relative_humidity"))
    assert (rh.min(), rh.max()) == (51.7, 99.9)
    assert int((rh == 99.9).sum()) == 204  # the saturated DHT22 (sample README)
    assert triples(r) == expected_from_csv(
        DHT, {"temperature": ("temp_air", 1.0), "humidity": ("relative_humidity", 1.0)}
    )


def test_real_bme280_excerpt_pressure_in_hpa() -> None:
    parsed = read_archive_csv(str(BME))
    r = parsed.readings
    assert parsed.rows_read == 40
    assert parsed.rejections == []
    first = {name: value for name, _t, value, line in triples(r) if line == 2}
    # 100101.00 Pa → 1001.01 hPa; altitude and pressure_sealevel are empty: nothing for them.
    assert first == {"pressure": 1001.01, "temp_air": 4.28, "relative_humidity": 78.38}
    assert "pressure_sealevel" not in {name for name, *_ in triples(r)}
    assert len(r) == 3 * 40
    assert triples(r) == expected_from_csv(
        BME,
        {
            "pressure": ("pressure", 0.01),
            "temperature": ("temp_air", 1.0),
            "humidity": ("relative_humidity", 1.0),
        },
    )
    assert r.sensors[0].device_uid == "sensor.community:location:65"


def test_gzipped_file_gives_the_same_readings(tmp_path: Path) -> None:
    packed = tmp_path / (SDS.name + ".gz")
    packed.write_bytes(gzip.compress(SDS.read_bytes()))
    plain, zipped = read_archive_csv(str(SDS)), read_archive_csv(str(packed))
    assert triples(zipped.readings) == triples(plain.readings)
    assert zipped.rows_read == plain.rows_read


def test_crlf_and_bom_copy_of_a_real_file_gives_the_same_readings() -> None:
    text = SDS.read_text(encoding="utf-8")
    crlf = ("\ufeff" + text.replace("\n", "\r\n")).encode()
    parsed = parse_archive_csv(crlf, source="copy.csv")
    assert triples(parsed.readings) == triples(read_archive_csv(str(SDS)).readings)
    assert parsed.rejections == []


# -- other sensor types (synthetic files in the archive layouts) --------------------------------

PREFIX = "sensor_id;sensor_type;location;lat;lon;timestamp;"
T1 = "2019-05-21T10:00:03"


def one_row(header: str, values: str, sensor_type: str, sensor_id: str = "7") -> ParsedFile:
    return parse(
        PREFIX + header + "\n" + f"{sensor_id};{sensor_type};99;52.18;21.56;{T1};{values}\n"
    )


@pytest.mark.parametrize(
    ("sensor_type", "header", "values", "expected"),
    [
        ("PMS7003", "P1;P2;P0", "12;8;5", {"pm10": 12.0, "pm2_5": 8.0, "pm1": 5.0}),
        ("PMS5003", "P1;P2;P0", "12;;5", {"pm10": 12.0, "pm1": 5.0}),
        ("HPM", "P1;P2", "20.5;11.25", {"pm10": 20.5, "pm2_5": 11.25}),
        (
            "BMP180",
            "pressure;altitude;pressure_sealevel;temperature",
            "98765.00;;;12.30",
            {"pressure": 987.65, "temp_air": 12.3},
        ),
        (
            "BMP280",
            "pressure;altitude;pressure_sealevel;temperature",
            "99012.00;110;100350.00;-3.50",
            {"pressure": 990.12, "pressure_sealevel": 1003.5, "temp_air": -3.5},
        ),
        (
            "HTU21D",
            "temperature;humidity",
            "21.04;45.10",
            {"temp_air": 21.04, "relative_humidity": 45.1},
        ),
        (
            "SHT31",
            "temperature;humidity",
            "-12.00;88.00",
            {"temp_air": -12.0, "relative_humidity": 88.0},
        ),
        ("DS18B20", "temperature", "4.06", {"temp_air": 4.06}),
        (
            "PPD42NS",
            "P1;durP1;ratioP1;P2;durP2;ratioP2",
            "2500.5;2831;9.44;320.1;451;1.50",
            # P1/P2 of a PPD42NS are particle counts, not µg/m³ (formats reference §1.6).
            {"ppd_p1_count": 2500.5, "ppd_p2_count": 320.1},
        ),
        (
            # SPS30: no layout in the feinstaub-api code examined; this header is the one quoted
            # in third-party archive readers (e.g. "sensor_id;…;timestamp;P1;P4;P2;P0;N10;N4;
            # N25;N1;N05;TS") — unverified against a real file, so columns are mapped by name.
            "SPS30",
            "P1;P4;P2;P0;N10;N4;N25;N1;N05;TS",
            "10.1;9.9;8.8;5.5;60.1;60.0;59.9;58.2;45.3;0.55",
            {
                "pm10": 10.1,
                "pm4": 9.9,
                "pm2_5": 8.8,
                "pm1": 5.5,
                "nc10": 60.1,
                "nc4": 60.0,
                "nc2_5": 59.9,
                "nc1": 58.2,
                "nc0_5": 45.3,
                "particle_size": 0.55,
            },
        ),
    ],
)
def test_sensor_type_layouts(
    sensor_type: str, header: str, values: str, expected: dict[str, float]
) -> None:
    parsed = one_row(header, values, sensor_type)
    assert parsed.rejections == []
    got = {name: value for name, t, value, line in triples(parsed.readings)}
    assert got == expected
    assert set(parsed.readings.time.tolist()) == {utc(2019, 5, 21, 10, 0, 3)}
    assert [s.sensor_type for s in parsed.readings.sensors] == [sensor_type]


def test_ppd42ns_counts_are_not_refused_as_impossible_pm() -> None:
    # 2500 would be refused as PM10 (> 2000 µg/m³) but is an ordinary particle count.
    parsed = one_row("P1;durP1;ratioP1;P2;durP2;ratioP2", "2500;1;1;2600;1;1", "PPD42NS")
    kept, refused = split_refused(parsed.readings, "f.csv", now=time.time())
    assert refused == []
    assert len(kept) == 2


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2018-03-07T00:00:26", utc(2018, 3, 7, 0, 0, 26)),
        ("2015-10-01T19:41:50.266431+00:00", utc(2015, 10, 1, 19, 41, 50)),
        ("2018-03-07T02:00:26+02:00", utc(2018, 3, 7, 0, 0, 26)),
        ("2018-03-06T19:00:26-05:00", utc(2018, 3, 7, 0, 0, 26)),
    ],
)
def test_both_timestamp_forms_and_offsets(stamp: str, expected: int) -> None:
    parsed = parse(PREFIX + "P1;P2\n" + f"1;HPM;2;;;{stamp};1;2\n")
    assert parsed.rejections == []
    assert parsed.readings.time.tolist() == [expected, expected]


def test_a_2015_file_with_fractions_and_offsets_throughout() -> None:
    rows = [
        f"12;PPD42NS;5;48.8;9.2;2015-10-01T19:4{i}:50.{i}66431+00:00;{100 + i};;;{10 + i};;"
        for i in range(5)
    ]
    parsed = parse(PREFIX + "P1;durP1;ratioP1;P2;durP2;ratioP2\n" + "\n".join(rows) + "\n")
    assert parsed.rejections == []
    counts = parsed.readings.time[parsed.readings.variable == variable("ppd_p1_count").id]
    assert counts.tolist() == [utc(2015, 10, 1, 19, 40 + i, 50) for i in range(5)]


def test_a_file_with_good_and_bad_lines(tmp_path: Path) -> None:
    future = datetime.fromtimestamp(time.time() + 86400, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    lines = [
        PREFIX + "P1;durP1;ratioP1;P2;durP2;ratioP2",  # 1
        "5331;SDS011;3121;57.138;-2.077;2018-03-07T00:00:26;167.63;;;33.97;;",  # 2 good
        "5331;SDS011;3121;57.138;-2.077;2018-03-07T00:02:54;170.07;;;34.19",  # 3 two fields short
        "",  # 4 blank
        "5331;SDS011;3121;57.138;-2.077;2018-03-07 T00:05:21;1;;;2;;",  # 5 bad timestamp
        "5331;SDS011;3121;57.138;-2.077;2018-03-07T00:07:48;abc;;;30.50;;",  # 6 bad P1 only
        "5331;SDS011;3121;57.138;-2.077;2018-03-07T00:10:15;nan;;;unavailable;;",  # 7 missing
        "5331;SDS011;3121;57.138;-2.077;2018-03-07T00:12:42;;;;;;",  # 8 all empty
        "5331;SDS011;3121;57.138;-2.077;2018-03-07T00:15:09;2500;;;40.00;;",  # 9 PM10 impossible
        f"5331;SDS011;3121;57.138;-2.077;{future};10;;;5;;",  # 10 a day ahead
        "5331;SDS011;3121;57.138;-2.077;2018-03-07T00:17:36;150.20;;;31.10;;",  # 11 good
    ]
    path = write(tmp_path, "mixed.csv", "\n".join(lines) + "\n")
    parsed = read_archive_csv(str(path))
    assert parsed.rows_read == 9  # non-blank lines after the header
    assert [(r.source, r.line, r.field) for r in parsed.rejections] == [
        (str(path), 3, None),
        (str(path), 5, "timestamp"),
        (str(path), 6, "P1"),
    ]
    assert parsed.rejections[0].reason == "expected 12 fields, found 10"
    assert "'2018-03-07 T00:05:21'" in parsed.rejections[1].reason
    assert parsed.rejections[2].reason == "'abc' is not a number"

    kept, refused = split_refused(parsed.readings, str(path))
    assert [(r.line, r.field) for r in refused] == [(9, "pm10"), (10, "time"), (10, "time")]
    assert "2500" in refused[0].reason
    assert "future" in refused[1].reason
    assert triples(kept) == {
        ("pm10", utc(2018, 3, 7, 0, 0, 26), 167.63, 2),
        ("pm2_5", utc(2018, 3, 7, 0, 0, 26), 33.97, 2),
        ("pm2_5", utc(2018, 3, 7, 0, 7, 48), 30.5, 6),  # the other column of line 6
        ("pm2_5", utc(2018, 3, 7, 0, 15, 9), 40.0, 9),  # the possible value of line 9
        ("pm10", utc(2018, 3, 7, 0, 17, 36), 150.2, 11),
        ("pm2_5", utc(2018, 3, 7, 0, 17, 36), 31.1, 11),
    }


def test_rows_of_several_sensors_in_one_file() -> None:
    text = (
        PREFIX
        + "temperature;humidity\n"
        + f"5332;DHT22;3121;57.138;-2.077;{T1};5.6;99.9\n"
        + f"9000;SHT31;3121;57.138;-2.077;{T1};5.8;97.0\n"
        + f"x;DHT22;3121;57.138;-2.077;{T1};5.6;99.9\n"  # malformed sensor id
        + "5332;DHT22;3121;57.138;-2.077;2019-05-21T10:02:30;5.7;99.9\n"
    )
    parsed = parse(text)
    r = parsed.readings
    assert [(s.sensor_type, s.external_id) for s in r.sensors] == [
        ("DHT22", "sensor.community:5332"),
        ("SHT31", "sensor.community:9000"),
    ]
    assert {s.device_uid for s in r.sensors} == {"sensor.community:location:3121"}
    sht = r.sensor == 1
    assert sorted(r.value[sht].tolist()) == [5.8, 97.0]
    assert r.line[~sht].tolist().count(5) == 2
    assert [(x.line, x.field) for x in parsed.rejections] == [(4, "sensor_id")]


def test_location_missing_makes_the_sensor_its_own_device() -> None:
    parsed = parse(PREFIX + "temperature\n" + f"77;DS18B20;;;;{T1};1.5\n")
    (ref,) = parsed.readings.sensors
    assert ref.device_uid == "sensor.community:sensor:77"
    assert (ref.latitude, ref.longitude, ref.location) == (None, None, None)


def test_unknown_columns_are_ignored_and_known_ones_read() -> None:
    parsed = parse(PREFIX + "temperature;brightness;humidity\n" + f"1;X;2;;;{T1};3;400;50\n")
    assert {name for name, *_ in triples(parsed.readings)} == {"temp_air", "relative_humidity"}


def test_not_an_archive_file() -> None:
    with pytest.raises(ValueError, match=r"x\.csv: not a Sensor\.Community archive file"):
        parse("Time;SDS_P1\n2018/03/07 00:00:00;1\n", source="x.csv")

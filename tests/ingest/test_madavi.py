"""Madavi per-node daily CSV files (formats reference §4).

The real 2018 file has a 20-column header but 22 fields in every row (``PMS_P1;PMS_P2`` sit after
``SDS_P2`` in the rows only). The expected values are read here with the ``csv`` module by
position, using the layout of madavi-api ``data.php`` written out below.
"""

from __future__ import annotations

import csv
import gzip
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smartdistricts.ingest.madavi import is_madavi, parse_madavi_csv, read_madavi_csv
from smartdistricts.ingest.records import Readings
from smartdistricts.nomenclature import variable

DATA = Path(__file__).parents[1] / "data" / "sensor-community"
MADAVI = DATA / "madavi_data-esp8266-3654427-2018-03-07.csv"

#: The row layout of the real file: the 20 header names with PMS_P1;PMS_P2 after SDS_P2.
ROW_LAYOUT = [
    "Time",
    "durP1",
    "ratioP1",
    "P1",
    "durP2",
    "ratioP2",
    "P2",
    "SDS_P1",
    "SDS_P2",
    "PMS_P1",
    "PMS_P2",
    "Temp",
    "Humidity",
    "BMP_temperature",
    "BMP_pressure",
    "BME280_temperature",
    "BME280_humidity",
    "BME280_pressure",
    "Samples",
    "Min_cycle",
    "Max_cycle",
    "Signal",
]
HEADER_20 = ";".join(c for c in ROW_LAYOUT if not c.startswith("PMS_")) + "\n"
HEADER_24 = ";".join([*ROW_LAYOUT, "HPM_P1", "HPM_P2"]) + "\n"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


def values(readings: Readings, sensor_type: str, name: str) -> list[tuple[int, float, int]]:
    """(time, value, line) of one sensor's variable, sorted by line."""
    types = [s.sensor_type for s in readings.sensors]
    if sensor_type not in types:
        return []
    mask = (readings.sensor == types.index(sensor_type)) & (readings.variable == variable(name).id)
    return sorted(
        zip(
            readings.time[mask].tolist(),
            readings.value[mask].tolist(),
            readings.line[mask].tolist(),
            strict=True,
        ),
        key=lambda row: row[2],
    )


def parse(text: str) -> Readings:
    parsed = parse_madavi_csv(text.encode(), source="m.csv", device_uid="esp8266-1")
    assert parsed.rejections == []
    return parsed.readings


def test_real_file_uses_the_22_field_layout() -> None:
    parsed = read_madavi_csv(str(MADAVI))
    r = parsed.readings
    assert parsed.rows_read == 588
    assert parsed.rejections == []
    assert [(s.device_uid, s.sensor_type) for s in r.sensors] == [
        ("esp8266-3654427", "SDS011"),
        ("esp8266-3654427", "DHT22"),
    ]
    first = utc(2018, 3, 7, 0, 2, 5)
    assert values(r, "SDS011", "pm10")[0] == (first, 194.83, 2)
    assert values(r, "SDS011", "pm2_5")[0] == (first, 37.27, 2)
    # Not shifted by two columns: Temp and Humidity, not BMP_*.
    assert values(r, "DHT22", "temp_air")[0] == (first, 7.0, 2)
    assert values(r, "DHT22", "relative_humidity")[0] == (first, 87.0, 2)


def test_real_file_matches_a_positional_csv_reading() -> None:
    columns = {
        "SDS_P1": ("SDS011", "pm10"),
        "SDS_P2": ("SDS011", "pm2_5"),
        "Temp": ("DHT22", "temp_air"),
        "Humidity": ("DHT22", "relative_humidity"),
    }
    expected: dict[tuple[str, str], list[tuple[int, float, int]]] = {
        k: [] for k in columns.values()
    }
    with MADAVI.open(newline="") as fh:
        rows = csv.reader(fh, delimiter=";")
        assert len(next(rows)) == 20
        for line, row in enumerate(rows, start=2):
            assert len(row) == 22
            fields = dict(zip(ROW_LAYOUT, row, strict=True))
            when = datetime.strptime(fields["Time"], "%Y/%m/%d %H:%M:%S").replace(tzinfo=UTC)
            for column, key in columns.items():
                if fields[column]:
                    expected[key].append((int(when.timestamp()), float(fields[column]), line))
    r = read_madavi_csv(str(MADAVI)).readings
    for (sensor_type, name), rows_expected in expected.items():
        assert values(r, sensor_type, name) == rows_expected, (sensor_type, name)
    assert len(r) == sum(len(v) for v in expected.values())


def test_rows_matching_a_20_column_header_are_not_shifted() -> None:
    row = "2018/03/07 00:02:05;;;;;;;194.83;37.27;7.00;87.00;;;;;;636454;226;26860;-92\n"
    r = parse(HEADER_20 + row)
    assert values(r, "DHT22", "temp_air") == [(utc(2018, 3, 7, 0, 2, 5), 7.0, 2)]
    assert values(r, "DHT22", "relative_humidity") == [(utc(2018, 3, 7, 0, 2, 5), 87.0, 2)]


def test_full_24_column_header_with_pms_bme280_and_hpm() -> None:
    row = "2019/01/02 03:04:05;;;;;;;;;11;12;;;;;5.5;60.25;100405.00;1;2;3;-70;20;10\n"
    r = parse(HEADER_24 + row)
    when = utc(2019, 1, 2, 3, 4, 5)
    assert {s.sensor_type for s in r.sensors} == {"PMSx003", "BME280", "HPM"}
    assert values(r, "PMSx003", "pm10") == [(when, 11.0, 2)]
    assert values(r, "PMSx003", "pm2_5") == [(when, 12.0, 2)]
    assert values(r, "BME280", "pressure") == [(when, 1004.05, 2)]  # Pa → hPa
    assert values(r, "BME280", "temp_air") == [(when, 5.5, 2)]
    assert values(r, "BME280", "relative_humidity") == [(when, 60.25, 2)]
    assert values(r, "HPM", "pm10") == [(when, 20.0, 2)]
    assert values(r, "HPM", "pm2_5") == [(when, 10.0, 2)]


def test_ppd42ns_and_bmp180_columns() -> None:
    fields = {
        "Time": "2018/03/07 00:02:05",
        "durP1": "2831",
        "ratioP1": "9.44",
        "P1": "2500",
        "durP2": "451",
        "ratioP2": "1.5",
        "P2": "320",
        "BMP_temperature": "4.5",
        "BMP_pressure": "99012.00",
    }
    header = HEADER_20.strip().split(";")
    row = ";".join(fields.get(c, "") for c in header) + "\n"
    r = parse(HEADER_20 + row)
    assert values(r, "PPD42NS", "ppd_p1_count") == [(utc(2018, 3, 7, 0, 2, 5), 2500.0, 2)]
    assert values(r, "PPD42NS", "ppd_p2_count") == [(utc(2018, 3, 7, 0, 2, 5), 320.0, 2)]
    assert values(r, "BMP180", "pressure") == [(utc(2018, 3, 7, 0, 2, 5), 990.12, 2)]
    assert values(r, "BMP180", "temp_air") == [(utc(2018, 3, 7, 0, 2, 5), 4.5, 2)]


def test_layout_is_not_decided_by_one_odd_first_row() -> None:
    good = "2018/03/07 00:0{m}:05;;;;;;;194.83;37.27;;;7.00;87.00;;;;;;636454;226;26860;-92\n"
    text = (
        HEADER_20
        + "\n"
        + "2018/03/07 00:00:05;truncated\n"
        + "".join(good.format(m=m) for m in range(1, 4))
    )
    parsed = parse_madavi_csv(text.encode(), source="m.csv", device_uid="esp8266-1")
    assert [(x.line, x.reason) for x in parsed.rejections] == [(3, "expected 22 fields, found 2")]
    assert [line for _t, _v, line in values(parsed.readings, "DHT22", "temp_air")] == [4, 5, 6]
    assert values(parsed.readings, "DHT22", "temp_air")[0][1] == 7.0


def test_bad_values_and_times_are_reported_per_line() -> None:
    rows = [
        "2018/03/07 00:02:05;;;;;;;194.83;37.27;;;7.00;87.00;;;;;;1;2;3;-92",
        "2018/03/07 00:04:32;;;;;;;x;35.27;;;7.00;87.00;;;;;;1;2;3;-92",
        "2018/02/30 00:06:59;;;;;;;1;2;;;7.00;87.00;;;;;;1;2;3;-92",
        "2018/03/07 00:09:26;;;;;;;150;30;;;nan;;;;;;;1;2;3;-92",
    ]
    parsed = parse_madavi_csv(
        (HEADER_20 + "\r\n".join(rows) + "\r\n").encode(), source="m.csv", device_uid="esp8266-1"
    )
    assert [(x.line, x.field) for x in parsed.rejections] == [(3, "SDS_P1"), (4, "Time")]
    assert [line for *_, line in values(parsed.readings, "SDS011", "pm2_5")] == [2, 3, 5]
    assert [line for *_, line in values(parsed.readings, "DHT22", "temp_air")] == [2, 3]


def test_device_uid_from_the_file_name(tmp_path: Path) -> None:
    packed = tmp_path / "data-esp32-a1b2c3-2018-03-07.csv.gz"
    packed.write_bytes(gzip.compress(MADAVI.read_bytes()))
    parsed = read_madavi_csv(str(packed))
    assert {s.device_uid for s in parsed.readings.sensors} == {"esp32-a1b2c3"}
    assert len(parsed.readings) == len(read_madavi_csv(str(MADAVI)).readings)
    renamed = tmp_path / "node.csv"
    renamed.write_bytes(MADAVI.read_bytes())
    with pytest.raises(ValueError, match="cannot tell the device"):
        read_madavi_csv(str(renamed))
    given = read_madavi_csv(str(renamed), device_uid="esp8266-9")
    assert {s.device_uid for s in given.readings.sensors} == {"esp8266-9"}


def test_is_madavi() -> None:
    assert is_madavi(HEADER_20.strip())
    assert is_madavi(HEADER_24.strip())
    assert not is_madavi("sensor_id;sensor_type;location;lat;lon;timestamp;P1;P2")

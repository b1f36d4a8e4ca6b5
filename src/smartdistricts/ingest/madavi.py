"""Madavi per-node daily CSV files (``data-esp8266-<chip id>-YYYY-MM-DD.csv``).

Madavi (api-rrd.madavi.de) keeps what airrohr nodes push in one file per node and day, with the
firmware's combined value names as columns and times ``YYYY/MM/DD HH:MM:SS`` in UTC::

    Time;durP1;ratioP1;P1;durP2;ratioP2;P2;SDS_P1;SDS_P2;Temp;Humidity;BMP_temperature;…

Quirk: real 2018 files have a 20-column header without ``PMS_P1;PMS_P2`` while every data row has
22 fields (the two PMS fields sit after ``SDS_P2``). Reading rows by the header would shift every
later column by two, so the layout is chosen per file from the header and the first data row.
Source: opendata-stuttgart/madavi-api ``data.php`` @ d19c06c, and the real file in ``tests/data``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from smartdistricts.ingest.records import Readings, SensorRef
from smartdistricts.ingest.sensor_community_archive import ParsedFile, _join
from smartdistricts.ingest.tabular import (
    ColumnSpec,
    collect,
    open_bytes,
    read_table,
    time_rejections,
)
from smartdistricts.nomenclature import variable

__all__ = ["VARIABLE_MAP", "is_madavi", "madavi_device", "parse_madavi_csv", "read_madavi_csv"]

_PA = 0.01

#: Madavi column → (sensor type, canonical variable, scale).
VARIABLE_MAP: dict[str, tuple[str, str, float]] = {
    "P1": ("PPD42NS", "ppd_p1_count", 1.0),
    "P2": ("PPD42NS", "ppd_p2_count", 1.0),
    "SDS_P1": ("SDS011", "pm10", 1.0),
    "SDS_P2": ("SDS011", "pm2_5", 1.0),
    "PMS_P0": ("PMSx003", "pm1", 1.0),
    "PMS_P1": ("PMSx003", "pm10", 1.0),
    "PMS_P2": ("PMSx003", "pm2_5", 1.0),
    "HPM_P1": ("HPM", "pm10", 1.0),
    "HPM_P2": ("HPM", "pm2_5", 1.0),
    "Temp": ("DHT22", "temp_air", 1.0),
    "Humidity": ("DHT22", "relative_humidity", 1.0),
    "BMP_temperature": ("BMP180", "temp_air", 1.0),
    "BMP_pressure": ("BMP180", "pressure", _PA),
    "BME280_temperature": ("BME280", "temp_air", 1.0),
    "BME280_humidity": ("BME280", "relative_humidity", 1.0),
    "BME280_pressure": ("BME280", "pressure", _PA),
}
_FILE = re.compile(r"data-(esp8266|esp32)-([0-9A-Za-z]+)-\d{4}-\d{2}-\d{2}\.csv(\.gz)?$")


def is_madavi(header: str) -> bool:
    """True when a header line looks like a Madavi per-node file."""
    return (header.startswith("Time;") and "SDS_P1" in header) or header.startswith("Time;durP1")


def _layout(header: list[str], first_row_fields: int) -> list[str]:
    """Column names matching the data rows (see the module docstring)."""
    if first_row_fields == len(header) + 2 and "PMS_P1" not in header and "SDS_P2" in header:
        at = header.index("SDS_P2") + 1
        return [*header[:at], "PMS_P1", "PMS_P2", *header[at:]]
    return header


def _usual_field_count(body: bytes, *, default: int, sample: int = 50) -> int:
    """The most common field count of the first ``sample`` non-blank lines of ``body``.

    One truncated or blank line at the top must not decide the layout of the whole file.
    """
    counts = Counter(
        line.count(b";") + 1
        for line in body[: 1 << 16].split(b"\n")[:sample]
        if line.strip(b" \t\r")
    )
    return counts.most_common(1)[0][0] if counts else default


def madavi_device(path: str) -> str:
    """The device uid a Madavi file name carries (``data-esp8266-<chip id>-YYYY-MM-DD.csv``)."""
    match = _FILE.search(Path(path).name)
    if match is None:
        raise ValueError(
            f"{path}: cannot tell the device from the file name"
            " (expected data-esp8266-<chip id>-YYYY-MM-DD.csv); pass the device uid"
        )
    return f"{match.group(1)}-{match.group(2)}"


def read_madavi_csv(path: str, *, device_uid: str | None = None) -> ParsedFile:
    """Read one Madavi file; the device comes from the file name unless given."""
    uid = device_uid if device_uid is not None else madavi_device(path)
    return parse_madavi_csv(open_bytes(path), source=path, device_uid=uid)


def parse_madavi_csv(data: bytes, *, source: str, device_uid: str) -> ParsedFile:
    """Parse the bytes of one Madavi file for device ``device_uid``."""
    head, _, body = data.partition(b"\n")
    header = [h.strip() for h in head.decode("utf-8", "replace").strip("\ufeff\r").split(";")]
    names = _layout(header, _usual_field_count(body, default=len(header)))
    mapped = [c for c in names if c in VARIABLE_MAP]
    table = read_table(
        data,
        source=source,
        numeric=mapped,
        text=[],
        time_column="Time",
        time_format="%Y/%m/%d %H:%M:%S",
        column_names=names,
    )
    rejections = table.rejections + time_rejections(table, source, "Time")
    row_ok = ~table.bad_time
    sensors: list[SensorRef] = []
    index: dict[str, int] = {}
    specs = []
    for column in mapped:
        stype, var, scale = VARIABLE_MAP[column]
        values = table.numeric[column]
        if not np.any(~np.isnan(values) | table.bad_numeric[column]):
            continue  # a column the node never filled: no sensor of that type
        if stype not in index:
            index[stype] = len(sensors)
            sensors.append(SensorRef(device_uid=device_uid, sensor_type=stype))
        specs.append(ColumnSpec(column, variable(var).id, scale, sensor=index[stype]))
    parts, bad = collect(table, specs, row_sensor=None, row_ok=row_ok, source=source)
    rejections.extend(bad)
    readings: Readings = _join(parts, sensors)
    return ParsedFile(readings, table.rows_read, sorted(rejections, key=lambda r: r.line or 0))

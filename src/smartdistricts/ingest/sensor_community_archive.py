"""archive.sensor.community daily CSV files, every sensor type.

One file per sensor and day, ``;``-separated, one header line, e.g.::

    sensor_id;sensor_type;location;lat;lon;timestamp;P1;durP1;ratioP1;P2;durP2;ratioP2
    5331;SDS011;3121;57.138;-2.077;2018-03-07T00:00:26;167.63;;;33.97;;

Columns are mapped by header name, so every sensor type's layout works (SDS011, PMS*, HPM,
SPS30, NextPM, BME280, BMP180/280, DHT22, HTU21D, SHT*, DS18B20, DNMS …). Timestamps are UTC,
either ``2018-03-07T00:00:26`` or (2015–2016 files) ``2015-10-01T19:41:50.266431+00:00``.
Pressure is in pascals and converted to hPa. Sensors of one node share a ``location`` id, which
becomes the device. Licence of the data: ODbL 1.0 / DbCL 1.0 (attribute Sensor.Community).
Format: opendata-stuttgart/feinstaub-api ``export_as_csv.py`` and the real files in ``tests/data``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow.compute as pc
from numpy.typing import NDArray

from smartdistricts.ingest.records import LineMap, Readings, Rejection, SensorRef
from smartdistricts.ingest.tabular import (
    ColumnSpec,
    collect,
    open_bytes,
    read_table,
    time_rejections,
)
from smartdistricts.nomenclature import variable

__all__ = [
    "VARIABLE_MAP",
    "ParsedFile",
    "header_of",
    "parse_archive_csv",
    "parse_archive_group",
    "read_archive_csv",
]

_PA = 0.01  # Pa → hPa

#: Archive column → (canonical variable, scale). PPD42NS's P1/P2 are particle counts instead.
VARIABLE_MAP: dict[str, tuple[str, float]] = {
    "P0": ("pm1", 1.0),
    "P1": ("pm10", 1.0),
    "P2": ("pm2_5", 1.0),
    "P4": ("pm4", 1.0),
    "N05": ("nc0_5", 1.0),
    "N1": ("nc1", 1.0),
    "N25": ("nc2_5", 1.0),
    "N4": ("nc4", 1.0),
    "N10": ("nc10", 1.0),
    "TS": ("particle_size", 1.0),
    "temperature": ("temp_air", 1.0),
    "humidity": ("relative_humidity", 1.0),
    "pressure": ("pressure", _PA),
    "pressure_sealevel": ("pressure_sealevel", _PA),
    "noise_LAeq": ("noise_laeq", 1.0),
    "noise_LA_min": ("noise_la_min", 1.0),
    "noise_LA_max": ("noise_la_max", 1.0),
    "co2_ppm": ("co2", 1.0),
}
_PPD = {"P1": ("ppd_p1_count", 1.0), "P2": ("ppd_p2_count", 1.0)}
_IDENTITY = ["sensor_id", "sensor_type", "location", "lat", "lon"]
#: Columns the archive carries that are not readings.
IGNORED = frozenset({"durP1", "ratioP1", "durP2", "ratioP2", "altitude"})


@dataclass(slots=True)
class ParsedFile:
    """Readings of one file plus everything that was not imported."""

    readings: Readings
    rows_read: int
    rejections: list[Rejection] = field(default_factory=list)


def parse_archive_group(files: list[tuple[str, bytes]]) -> tuple[ParsedFile, LineMap]:
    """Parse several archive files that share one header as one table.

    Small daily files spend more time in per-file overhead than in parsing; reading a few
    hundred at once is several times faster. Rejections name the right file and line; the
    readings' ``line`` numbers refer to the joined text (``LineMap.locate`` maps them back).
    """
    header, _, _ = files[0][1].partition(b"\n")
    parts = [header.rstrip(b"\r") + b"\n"]
    starts = []
    line = 2
    for _path, data in files:
        _head, _, body = data.partition(b"\n")
        if body and not body.endswith(b"\n"):
            body += b"\n"
        starts.append(line)
        line += body.count(b"\n")
        parts.append(body)
    lines = LineMap(tuple(p for p, _d in files), np.asarray(starts, dtype=np.int64))
    parsed = parse_archive_csv(b"".join(parts), source=files[0][0])
    parsed.rejections = lines.relocate(parsed.rejections)
    return parsed, lines


def header_of(data: bytes) -> bytes:
    """A file's header line, as compared to group files (BOM and line ending removed)."""
    head = data.partition(b"\n")[0].rstrip(b"\r")
    return head[3:] if head.startswith(b"\xef\xbb\xbf") else head


def read_archive_csv(path: str) -> ParsedFile:
    """Read one archive file (``.csv`` or ``.csv.gz``)."""
    return parse_archive_csv(open_bytes(path), source=path)


def parse_archive_csv(data: bytes, *, source: str) -> ParsedFile:
    """Parse the bytes of one archive file; ``source`` names it in rejections.

    >>> text = (b"sensor_id;sensor_type;location;lat;lon;timestamp;pressure;altitude;"
    ...         b"pressure_sealevel;temperature;humidity\\n"
    ...         b"141;BME280;65;48.778;9.160;2020-01-01T00:00:28;100101.00;;;4.28;78.38\\n")
    >>> parsed = parse_archive_csv(text, source="example.csv")
    >>> sorted(zip(parsed.readings.variable.tolist(), parsed.readings.value.tolist()))
    [(4, 4.28), (5, 78.38), (6, 1001.01)]
    """
    header = data[: data.find(b"\n")].decode("utf-8", "replace").strip("\ufeff\r")
    names = [h.strip() for h in header.split(";")]
    missing = [c for c in ("sensor_id", "sensor_type", "timestamp") if c not in names]
    if missing:
        raise ValueError(
            f"{source}: not a Sensor.Community archive file (no {', '.join(missing)} column)"
        )
    numeric = [c for c in names if c in VARIABLE_MAP]
    table = read_table(
        data,
        source=source,
        numeric=[*numeric, "lat", "lon"],
        text=["sensor_id", "sensor_type", "location"],
        time_column="timestamp",
    )
    rejections = table.rejections + time_rejections(table, source, "timestamp")
    row_ok = ~table.bad_time
    n = len(table.time)

    # Identity of each row: one sensor per (sensor_id, sensor_type, location). Each text column
    # is dictionary-encoded (Arrow), so rows are grouped by integer codes, never per row in Python.
    lat = table.numeric.get("lat", np.full(n, np.nan))
    lon = table.numeric.get("lon", np.full(n, np.nan))
    columns = [table.text.get(c) for c in ("sensor_id", "sensor_type", "location")]
    codes = np.zeros(n, dtype=np.int64)
    values: list[list[str | None]] = []
    for column in columns:
        if column is None:
            words: list[str | None] = [None]
            index = np.zeros(n, dtype=np.int64)
        else:
            encoded = pc.dictionary_encode(column)
            words = [*encoded.dictionary.to_pylist(), None]
            index = np.asarray(
                encoded.indices.fill_null(len(words) - 1).to_numpy(zero_copy_only=False),
                dtype=np.int64,
            )
        codes = codes * len(words) + index
        values.append(words)
    unique, first_row, inverse = np.unique(codes, return_index=True, return_inverse=True)
    sensors: list[SensorRef] = []
    number = np.full(len(unique), -1, dtype=np.int64)
    for u, (code, row) in enumerate(zip(unique.tolist(), first_row.tolist(), strict=True)):
        parts_of_code = []
        for words in reversed(values):
            code, rest = divmod(code, len(words))
            parts_of_code.append(words[rest])
        location, stype, sid = parts_of_code
        key = _identity(sid, stype, location)
        if key is not None:
            number[u] = len(sensors)
            sensors.append(_sensor_ref(key, lat, lon, row))
    row_sensor = number[inverse.ravel()] if n else np.zeros(0, dtype=np.int64)
    for i in np.flatnonzero((row_sensor < 0) & row_ok).tolist():
        rejections.append(
            Rejection(
                source,
                int(table.line[i]) or None,
                "sensor_id or sensor_type missing or malformed",
                "sensor_id",
            )
        )
    row_ok = row_ok & (row_sensor >= 0)
    row_sensor = np.maximum(row_sensor, 0)

    parts: list[Readings] = []
    # PPD42NS sensors read P1/P2 as particle counts; every other type as mass concentrations.
    ppd = np.array([ref.sensor_type.upper().startswith("PPD") for ref in sensors], dtype=bool)
    for counts in (False, True):
        members = np.flatnonzero(ppd == counts)
        if not len(members):
            continue
        mapping = {**VARIABLE_MAP, **_PPD} if counts else VARIABLE_MAP
        specs = [
            ColumnSpec(c, variable(mapping[c][0]).id, mapping[c][1])
            for c in numeric
            if c in mapping
        ]
        mine = row_ok & (np.isin(row_sensor, members) if len(members) < len(sensors) else True)
        got, bad = collect(table, specs, row_sensor=row_sensor, row_ok=mine, source=source)
        parts.extend(got)
        rejections.extend(bad)
    readings = _join(parts, sensors)
    return ParsedFile(readings, table.rows_read, sorted(rejections, key=_line_key))


def _identity(
    sid: str | None, stype: str | None, loc: str | None
) -> tuple[str, str, str | None] | None:
    if not sid or not stype or not sid.strip().isdigit() or not stype.strip():
        return None
    return (sid.strip(), stype.strip(), loc.strip() if loc and loc.strip() else None)


def _sensor_ref(
    key: tuple[str, str, str | None],
    lat: NDArray[np.float64],
    lon: NDArray[np.float64],
    row: int,
) -> SensorRef:
    sid, stype, loc = key
    device = f"sensor.community:location:{loc}" if loc else f"sensor.community:sensor:{sid}"
    return SensorRef(
        device_uid=device,
        sensor_type=stype,
        external_id=f"sensor.community:{sid}",
        latitude=None if len(lat) <= row or np.isnan(lat[row]) else float(lat[row]),
        longitude=None if len(lon) <= row or np.isnan(lon[row]) else float(lon[row]),
        location=loc,
    )


def _join(parts: list[Readings], sensors: list[SensorRef]) -> Readings:
    if not parts:
        return Readings(sensors)
    return Readings(
        sensors,
        np.concatenate([p.sensor for p in parts]),
        np.concatenate([p.variable for p in parts]),
        np.concatenate([p.time for p in parts]),
        np.concatenate([p.value for p in parts]),
        np.concatenate([p.line for p in parts]),
    )


def _line_key(r: Rejection) -> tuple[int, str]:
    return (r.line or 0, r.field or "")

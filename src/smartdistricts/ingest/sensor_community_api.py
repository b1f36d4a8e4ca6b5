"""data.sensor.community read API (JSON): the last minutes of every sensor near a point.

``/airrohr/v1/filter/area=lat,lon,dist_km`` (v1: one record per measurement, last 5 minutes) and
the ``/static/v2/data*.json`` files (averages, one record per sensor) share one record shape::

    {"id": 7706863277, "timestamp": "2021-11-07 11:16:45",
     "location": {"id": 68, "latitude": "48.792", "longitude": "9.164", "indoor": 0, …},
     "sensor": {"id": 152, "sensor_type": {"name": "DHT22", …}, …},
     "sensordatavalues": [{"value": "10.50", "value_type": "temperature"}, …]}

Timestamps are UTC without an offset; coordinates and values are strings (v2 may send numbers:
both are read). Pressure is in pascals and converted to hPa. Junk values such as ``"nan"`` are
refused with the record's position; unknown value types are counted, not stored; indoor sensors
are skipped. The node is the Sensor.Community *location*, named as the archive importer names it
(``sensor.community:location:<id>``), so API and archive readings of a node share one device
and site. There is no history API: missed minutes can only come from the daily archive.
Licence of the data: ODbL 1.0 / DbCL 1.0 (attribute Sensor.Community).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np

from smartdistricts.ingest.gios import get_json
from smartdistricts.ingest.records import IngestError, Readings, Rejection, SensorRef
from smartdistricts.ingest.sensor_community_archive import VARIABLE_MAP as ARCHIVE_MAP
from smartdistricts.nomenclature import variable

__all__ = [
    "DEFAULT_BASE_URL",
    "VARIABLE_MAP",
    "ApiReadings",
    "area_url",
    "fetch_area",
    "parse_records",
]

DEFAULT_BASE_URL = "https://data.sensor.community"

#: ``value_type`` → (canonical variable, scale): the archive's column names, plus the
#: server-added sea-level pressure (Pa).
VARIABLE_MAP: dict[str, tuple[str, float]] = {
    **ARCHIVE_MAP,
    "pressure_at_sealevel": ("pressure_sealevel", 0.01),
}
#: PPD42NS sensors report P1/P2 as particle counts, not mass concentrations.
_PPD_MAP = {"P1": ("ppd_p1_count", 1.0), "P2": ("ppd_p2_count", 1.0)}


@dataclass(slots=True)
class ApiReadings:
    """Readings of an answer, and what was not taken."""

    readings: Readings
    records: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    rejections: list[Rejection] = field(default_factory=list)


def area_url(base_url: str, latitude: float, longitude: float, radius_km: float) -> str:
    """The v1 filter URL for sensors within ``radius_km`` of a point."""
    area = f"{latitude:.4f},{longitude:.4f},{radius_km:g}"
    return f"{base_url.rstrip('/')}/airrohr/v1/filter/area={area}"


def fetch_area(
    client: httpx.Client, base_url: str, latitude: float, longitude: float, radius_km: float
) -> Any:
    """The decoded records of the sensors near a point (raises ``FetchError``)."""
    return get_json(client, area_url(base_url, latitude, longitude, radius_km))


def _number(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        out = float(value.strip())
    else:
        raise ValueError(f"{value!r} is not a number")
    if not math.isfinite(out):
        raise ValueError(f"{value!r} is not a finite number")
    return out


def _time(text: object) -> int:
    if not isinstance(text, str):
        raise ValueError(f"timestamp {text!r} is not text")
    stamp = datetime.strptime(text.strip().replace("T", " ")[:19], "%Y-%m-%d %H:%M:%S")
    return int(stamp.replace(tzinfo=UTC).timestamp())


def _identity(record: Mapping[str, Any]) -> tuple[SensorRef, bool]:
    """The sensor a record names and whether it is indoors (ValueError when unusable)."""
    location = record.get("location")
    sensor = record.get("sensor")
    if not isinstance(location, dict) or not isinstance(sensor, dict):
        raise ValueError("location or sensor missing")
    stype = sensor.get("sensor_type")
    name = stype.get("name") if isinstance(stype, dict) else None
    sid, loc = sensor.get("id"), location.get("id")
    if not isinstance(sid, int) or not isinstance(name, str) or not name.strip():
        raise ValueError("sensor id or sensor_type name missing")
    lat, lon = _number(location.get("latitude")), _number(location.get("longitude"))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"position {lat}, {lon} out of range")
    device = (
        f"sensor.community:location:{loc}" if loc is not None else f"sensor.community:sensor:{sid}"
    )
    ref = SensorRef(
        device_uid=device,
        sensor_type=name.strip(),
        external_id=f"sensor.community:{sid}",
        latitude=lat,
        longitude=lon,
        location=None if loc is None else str(loc),
    )
    return ref, bool(location.get("indoor") or 0)


def parse_records(body: Any, *, source: str) -> ApiReadings:
    """Readings of a list of records; ``line`` numbers are record positions (from 1)."""
    if not isinstance(body, list):
        raise IngestError("$", "expected a JSON list of records")
    refs: dict[SensorRef, int] = {}
    sensor, var, times, values, lines = [], [], [], [], []
    out = ApiReadings(Readings(), records=len(body))
    for n, record in enumerate(body, start=1):
        if not isinstance(record, dict):
            out.rejections.append(Rejection(source, n, "record is not an object"))
            continue
        try:
            ref, indoor = _identity(record)
            t = _time(record.get("timestamp"))
        except (ValueError, TypeError) as exc:
            out.rejections.append(Rejection(source, n, f"record skipped: {exc}", "sensor"))
            continue
        if indoor:
            out.rejections.append(Rejection(source, n, "indoor sensor skipped", "location.indoor"))
            continue
        mapping = _PPD_MAP if ref.sensor_type.upper().startswith("PPD") else {}
        entries = record.get("sensordatavalues")
        if not isinstance(entries, list):
            out.rejections.append(
                Rejection(source, n, "no sensordatavalues list", "sensordatavalues")
            )
            continue
        for entry in entries:
            kind = entry.get("value_type") if isinstance(entry, dict) else None
            target = mapping.get(str(kind)) or VARIABLE_MAP.get(str(kind))
            if target is None:
                out.ignored[str(kind)] = out.ignored.get(str(kind), 0) + 1
                continue
            assert isinstance(entry, dict)
            try:
                value = _number(entry.get("value")) * target[1]
            except ValueError as exc:
                out.rejections.append(Rejection(source, n, str(exc), str(kind)))
                continue
            sensor.append(refs.setdefault(ref, len(refs)))
            var.append(variable(target[0]).id)
            times.append(t)
            values.append(value)
            lines.append(n)
    out.readings = Readings(
        list(refs),
        np.asarray(sensor, dtype=np.int64),
        np.asarray(var, dtype=np.int64),
        np.asarray(times, dtype=np.int64),
        np.asarray(values, dtype=np.float64),
        np.asarray(lines, dtype=np.int64),
    )
    return out

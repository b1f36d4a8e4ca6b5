"""Sensor.Community "airrohr" firmware pushes ("send to own API") and their MQTT twin.

The firmware POSTs ``{"esp8266id": "…", "software_version": "…", "sensordatavalues":
[{"value_type": "SDS_P1", "value": "7.06"}, …]}`` with ``X-Sensor: esp8266-<chip id>``; every
value is a string, pressure is in pascals, and there is no timestamp (the receiver stamps the
receipt time). Per-sensor pushes (the format the firmware sends to Sensor.Community itself) carry
an ``X-PIN`` header and unprefixed names (``P1``); both forms are accepted.

Source of the value types: opendata-stuttgart/sensors-software ``airrohr-firmware`` @ e43cf8f
(firmware NRZ-2024-135); docs/api.md shows the request.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import orjson

from smartdistricts.ingest.records import IngestError
from smartdistricts.nomenclature import Variable, variable

__all__ = [
    "COMBINED",
    "PER_PIN",
    "AirrohrPush",
    "device_uid_from_body",
    "parse_push",
]

#: Largest accepted request body [bytes].
MAX_BODY = 1_000_000
MAX_VALUES = 200
_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
#: What the firmware prints: a plain decimal (``"7.06"``, ``"-67"``, ``"1.2e3"``). Python's
#: ``float`` alone would also take ``"1_0"``, non-ASCII digits and ``"nan"``.
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)


@dataclass(frozen=True, slots=True)
class ValueType:
    """How one firmware value type maps to a sensor and a canonical variable."""

    sensor_type: str
    variable: str
    scale: float = 1.0  # multiply the sent value by this to get the canonical unit


def _pm(sensor: str, **names: str) -> dict[str, ValueType]:
    return {name: ValueType(sensor, var) for name, var in names.items()}


_PA = 0.01  # Pa → hPa

#: Value types of the combined payload (custom API, Madavi, MQTT) → sensor and variable.
COMBINED: dict[str, ValueType] = {
    **_pm("SDS011", SDS_P1="pm10", SDS_P2="pm2_5"),
    **_pm("PMSx003", PMS_P0="pm1", PMS_P1="pm10", PMS_P2="pm2_5"),
    **_pm("HPM", HPM_P1="pm10", HPM_P2="pm2_5"),
    **_pm(
        "NextPM",
        NPM_P0="pm1",
        NPM_P1="pm10",
        NPM_P2="pm2_5",
        NPM_N1="nc1",
        NPM_N10="nc10",
        NPM_N25="nc2_5",
    ),
    **_pm("IPS-7100", IPS_P0="pm1", IPS_P1="pm10", IPS_P2="pm2_5"),
    **_pm(
        "SPS30",
        SPS30_P0="pm1",
        SPS30_P2="pm2_5",
        SPS30_P4="pm4",
        SPS30_P1="pm10",
        SPS30_N05="nc0_5",
        SPS30_N1="nc1",
        SPS30_N25="nc2_5",
        SPS30_N4="nc4",
        SPS30_N10="nc10",
        SPS30_TS="particle_size",
    ),
    # PPD42NS reports particle counts, not mass concentrations, under unprefixed names.
    "P1": ValueType("PPD42NS", "ppd_p1_count"),
    "P2": ValueType("PPD42NS", "ppd_p2_count"),
    "temperature": ValueType("DHT22", "temp_air"),
    "humidity": ValueType("DHT22", "relative_humidity"),
    "HTU21D_temperature": ValueType("HTU21D", "temp_air"),
    "HTU21D_humidity": ValueType("HTU21D", "relative_humidity"),
    "BMP_temperature": ValueType("BMP180", "temp_air"),
    "BMP_pressure": ValueType("BMP180", "pressure", _PA),
    "BMP280_temperature": ValueType("BMP280", "temp_air"),
    "BMP280_pressure": ValueType("BMP280", "pressure", _PA),
    "BME280_temperature": ValueType("BME280", "temp_air"),
    "BME280_pressure": ValueType("BME280", "pressure", _PA),
    "BME280_humidity": ValueType("BME280", "relative_humidity"),
    "SHT3X_temperature": ValueType("SHT3X", "temp_air"),
    "SHT3X_humidity": ValueType("SHT3X", "relative_humidity"),
    "SCD30_temperature": ValueType("SCD30", "temp_air"),
    "SCD30_humidity": ValueType("SCD30", "relative_humidity"),
    "SCD30_co2_ppm": ValueType("SCD30", "co2"),
    "DS18B20_temperature": ValueType("DS18B20", "temp_air"),
    "DNMS_noise_LAeq": ValueType("DNMS", "noise_laeq"),
    "DNMS_noise_LA_min": ValueType("DNMS", "noise_la_min"),
    "DNMS_noise_LA_max": ValueType("DNMS", "noise_la_max"),
}

#: Value types of per-sensor pushes, by ``X-PIN`` slot (firmware ``ext_def.h``).
PER_PIN: dict[str, dict[str, ValueType]] = {
    "1": {
        **_pm("PM", P0="pm1", P1="pm10", P2="pm2_5", P4="pm4"),
        **_pm("PM", N05="nc0_5", N1="nc1", N25="nc2_5", N4="nc4", N10="nc10", TS="particle_size"),
    },
    "3": {
        "temperature": ValueType("BMP", "temp_air"),
        "pressure": ValueType("BMP", "pressure", _PA),
    },
    "5": {"P1": ValueType("PPD42NS", "ppd_p1_count"), "P2": ValueType("PPD42NS", "ppd_p2_count")},
    "7": {
        "temperature": ValueType("THSENSOR", "temp_air"),
        "humidity": ValueType("THSENSOR", "relative_humidity"),
    },
    "11": {
        "temperature": ValueType("BME280", "temp_air"),
        "pressure": ValueType("BME280", "pressure", _PA),
        "humidity": ValueType("BME280", "relative_humidity"),
    },
    "13": {"temperature": ValueType("DS18B20", "temp_air")},
    "15": {
        "noise_LAeq": ValueType("DNMS", "noise_laeq"),
        "noise_LA_min": ValueType("DNMS", "noise_la_min"),
        "noise_LA_max": ValueType("DNMS", "noise_la_max"),
    },
    "17": {
        "temperature": ValueType("SCD30", "temp_air"),
        "humidity": ValueType("SCD30", "relative_humidity"),
        "co2_ppm": ValueType("SCD30", "co2"),
    },
}

#: The value-type tables with their variables looked up once: id(table) → type → (sensor
#: type, variable, scale).
_RESOLVED: dict[int, dict[str, tuple[str, Variable, float]]] = {
    id(table): {k: (t.sensor_type, variable(t.variable), t.scale) for k, t in table.items()}
    for table in (COMBINED, *PER_PIN.values())
}

#: Device status values of the combined payload (not measurements).
STATUS = frozenset({"samples", "min_micro", "max_micro", "interval", "signal"})
#: Sent by the firmware but not stored as readings (durations, ratios, GPS fixes).
IGNORED = frozenset(
    {"durP1", "ratioP1", "durP2", "ratioP2", "GPS_lat", "GPS_lon", "GPS_height", "GPS_timestamp"}
)


@dataclass(slots=True)
class AirrohrPush:
    """A validated push: readings as (sensor type, variable id, value) in canonical units."""

    device_uid: str
    software_version: str | None
    values: list[tuple[str, int, float]]
    status: dict[str, float] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)


def device_uid_from_body(doc: dict[str, object]) -> str | None:
    """The device uid a combined payload names in ``esp8266id``/``esp32id``, if any."""
    for key, prefix in (("esp8266id", "esp8266"), ("esp32id", "esp32")):
        raw = doc.get(key)
        if isinstance(raw, str | int) and not isinstance(raw, bool) and str(raw).strip():
            return f"{prefix}-{str(raw).strip()}"
    return None


def _number(raw: object, where: str, *, unit: str = "") -> float:
    """A firmware value: a JSON string (or number) holding a finite decimal.

    ``unit`` is a suffix old firmware appended (``"-42 dBm"``) and that is tolerated.
    """
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise IngestError(where, "must be a number or a string holding a number")
    if isinstance(raw, str):
        text = raw.strip()
        if unit and text.endswith(unit):
            text = text[: -len(unit)].strip()
        if not _DECIMAL.fullmatch(text):
            raise IngestError(where, f"{raw[:40]!r} is not a finite decimal number")
        number = float(text)
    else:
        number = float(raw)
    if not math.isfinite(number):
        raise IngestError(where, f"{raw!r} is not a finite number")
    return number


def load_json(body: bytes) -> object:
    """Parse a JSON body strictly (no NaN/Infinity, valid UTF-8), raising ``IngestError``."""
    if len(body) > MAX_BODY:
        raise IngestError("body", f"larger than {MAX_BODY} bytes", status=413)
    if not body.strip():
        raise IngestError("body", "is empty; expected a JSON object", status=400)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as ude:
            raise IngestError(
                "body", f"is not valid UTF-8 (byte {ude.start})", status=400
            ) from None
        raise IngestError("body", f"is not valid JSON ({exc})", status=400) from None


def parse_push(
    body: bytes,
    *,
    x_sensor: str | None,
    x_pin: str | None = None,
) -> AirrohrPush:
    """Validate an airrohr push and map it to canonical variables.

    Raises :class:`IngestError` naming the header or JSON field at fault; nothing is partially
    accepted. Unknown value types are not an error: they are listed in ``ignored``.

    >>> p = parse_push(b'{"esp8266id": "13597771", "sensordatavalues": ['
    ...     b'{"value_type": "SDS_P2", "value": "5.27"},'
    ...     b'{"value_type": "BME280_pressure", "value": "100405.00"}]}',
    ...     x_sensor="esp8266-13597771")
    >>> p.values
    [('SDS011', 2, 5.27), ('BME280', 6, 1004.05)]
    """
    doc = load_json(body)
    uid = (x_sensor or "").strip()
    if not isinstance(doc, dict):
        raise IngestError("body", "must be a JSON object with 'sensordatavalues'")
    if not uid:
        uid = device_uid_from_body(doc) or ""
        if not uid:
            raise IngestError(
                "X-Sensor", "header is missing (e.g. X-Sensor: esp8266-13597771)", status=400
            )
    if not _UID.match(uid):
        raise IngestError(
            "X-Sensor" if (x_sensor or "").strip() else "esp8266id",
            f"{uid[:70]!r} is not a device id like esp8266-13597771",
            status=400,
        )
    named = device_uid_from_body(doc)
    if named is not None and x_sensor and named.split("-", 1)[1] != uid.split("-", 1)[-1]:
        raise IngestError("esp8266id", f"{named!r} does not match the X-Sensor header {uid!r}")
    version = doc.get("software_version")
    if version is not None and not isinstance(version, str):
        raise IngestError("software_version", "must be a string")
    items = doc.get("sensordatavalues")
    if items is None:
        raise IngestError("sensordatavalues", "is missing")
    if not isinstance(items, list):
        raise IngestError("sensordatavalues", "must be a list")
    if not items:
        raise IngestError("sensordatavalues", "is empty")
    if len(items) > MAX_VALUES:
        raise IngestError("sensordatavalues", f"has more than {MAX_VALUES} values")
    table = COMBINED
    pin = (x_pin or "").strip()
    if pin and pin != "0":
        if pin not in PER_PIN:
            raise IngestError("X-PIN", f"unknown sensor slot {pin!r}", status=400)
        table = PER_PIN[pin]
    push = AirrohrPush(uid, version, [])
    seen: set[str] = set()
    resolved = _RESOLVED[id(table)]
    decimal = _DECIMAL.fullmatch
    for i, item in enumerate(items):
        # The common case runs without building error messages; the field names are made
        # only when something is wrong.
        if not isinstance(item, dict):
            raise IngestError(
                f"sensordatavalues[{i}]", "must be an object with value_type and value"
            )
        kind = item.get("value_type")
        if not isinstance(kind, str) or not kind:
            raise IngestError(f"sensordatavalues[{i}].value_type", "is missing or not a string")
        if "value" not in item:
            raise IngestError(f"sensordatavalues[{i}].value", "is missing")
        if kind in seen:
            raise IngestError(f"sensordatavalues[{i}].value_type", f"{kind!r} appears twice")
        seen.add(kind)
        raw = item["value"]
        mapped = resolved.get(kind)
        if mapped is None:
            if kind in STATUS:
                unit = "dBm" if kind == "signal" else ""
                push.status[kind] = _number(raw, f"sensordatavalues[{i}].value", unit=unit)
            else:
                # Unknown types (and IGNORED ones: GPS fixes, PPD42NS durations) are listed,
                # not read: their values need not be numbers (GPS_timestamp is a date).
                push.ignored.append(kind)
            continue
        sensor_type, var, scale = mapped
        if type(raw) is str and decimal(raw):
            number = float(raw)  # the firmware's own form: "7.06"
        else:
            number = _number(raw, f"sensordatavalues[{i}].value")
        value = round(number * scale, 6) if scale != 1.0 else number
        if not var.hard_min <= value <= var.hard_max or value != value:
            raise IngestError(
                f"sensordatavalues[{i}].value",
                f"{kind} = {raw!s:.20} gives {var.name} {value:g} {var.unit}, outside"
                f" the possible range {var.hard_min:g}–{var.hard_max:g} {var.unit}",
            )
        push.values.append((sensor_type, var.id, value))
    if not push.values and not push.status:
        raise IngestError("sensordatavalues", "holds no known value type")
    return push

"""Airly API v2: installations and measurements → canonical readings; the HTTP calls.

Airly (https://airapi.airly.eu/v2/) serves, per installation, ``current`` (the mean of the last
60 minutes), ``history`` (the last 24 full hours, oldest first) and ``forecast``. This module
parses the first two into :class:`~smartdistricts.ingest.records.Readings` and installations into
:class:`Installation`; the importer (``services/airly_import.py``) decides what to fetch and when.

Times: Airly sends ISO-8601 UTC, with or without milliseconds (``2022-09-06T23:13:20.347Z``,
``2019-02-15T23:00:00Z``). A history element is stamped at the start of its hour
(``fromDateTime``), so it lands in that hour of the ``hourly`` table. ``current`` is a moving
60-minute mean (08:27–09:27 at 09:27); it is stamped at the middle of its window (08:57), the
time it best describes, so it counts in the hour it mostly covers rather than biasing the next
one. Fractions of a second are dropped.

Units (``/v2/meta/measurements``): particulates and gases in µg/m³ (CO too), temperature °C,
humidity %, pressure hPa, wind km/h and degrees — all already the platform's units, so the map
below only renames. Values Airly reports that have no canonical variable (``H2S``) are ignored;
``null`` values are skipped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import orjson

from smartdistricts.ingest.records import IngestError, Readings, SensorRef
from smartdistricts.nomenclature import variable

__all__ = [
    "AIRLY_VARIABLES",
    "SENSOR_TYPE",
    "AirlyClient",
    "AirlyResponse",
    "Installation",
    "RateLimitHeaders",
    "device_uid",
    "parse_installation",
    "parse_installations",
    "parse_measurements",
    "parse_time",
    "successor_of",
]

#: Airly measurement name → canonical variable (units already agree, see the module docstring).
AIRLY_VARIABLES: dict[str, str] = {
    "PM1": "pm1",
    "PM25": "pm2_5",
    "PM10": "pm10",
    "TEMPERATURE": "temp_air",
    "HUMIDITY": "relative_humidity",
    "PRESSURE": "pressure",
    "NO2": "no2",
    "O3": "o3",
    "SO2": "so2",
    "CO": "co",
    "NO": "no",
    "WIND_SPEED": "wind_speed",
    "WIND_BEARING": "wind_bearing",
}
_VARIABLE_IDS = {name: variable(canonical).id for name, canonical in AIRLY_VARIABLES.items()}

#: The sensor type of an imported installation (one "sensor" carrying every variable).
SENSOR_TYPE = "Airly"


def device_uid(installation_id: int) -> str:
    """The platform's device uid of an Airly installation."""
    return f"airly.pl:installation:{installation_id}"


# -- installations ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Installation:
    """An Airly installation (``/v2/installations/…``): where it is and who sponsors it."""

    id: int
    latitude: float
    longitude: float
    elevation: float | None = None
    city: str | None = None
    street: str | None = None
    number: str | None = None
    sponsor: str | None = None
    #: False for stations of other networks that Airly relays (e.g. GIOŚ).
    airly: bool = True

    @property
    def name(self) -> str:
        """A site name: ``Airly Kraków, Westerplatte 31`` (``Airly 10216`` without address)."""
        street = " ".join(p for p in (self.street, self.number) if p)
        place = ", ".join(p for p in (self.city, street) if p)
        return f"Airly {place}" if place else f"Airly {self.id}"


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise IngestError(field, f"expected a number, got {value!r}")
    return float(value)


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise IngestError(field, f"expected an object, got {type(value).__name__}")
    return value


def parse_installation(obj: Any, field: str = "installation") -> Installation:
    """One installation object; :class:`IngestError` names the field at fault."""
    obj = _object(obj, field)
    ident = obj.get("id")
    if isinstance(ident, bool) or not isinstance(ident, int):
        raise IngestError(f"{field}.id", f"expected an integer id, got {ident!r}")
    location = _object(obj.get("location"), f"{field}.location")
    lat = _number(location.get("latitude"), f"{field}.location.latitude")
    lon = _number(location.get("longitude"), f"{field}.location.longitude")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise IngestError(f"{field}.location", f"position {lat}, {lon} is out of range")
    address = obj.get("address") if isinstance(obj.get("address"), dict) else {}
    sponsor = obj.get("sponsor") if isinstance(obj.get("sponsor"), dict) else {}
    elevation = obj.get("elevation")
    return Installation(
        id=ident,
        latitude=lat,
        longitude=lon,
        elevation=None if elevation is None else _number(elevation, f"{field}.elevation"),
        city=_text(address.get("city")),
        street=_text(address.get("street")),
        number=_text(address.get("number")),
        sponsor=_text(sponsor.get("name")),
        airly=obj.get("airly") is not False,
    )


def parse_installations(payload: Any) -> list[Installation]:
    """The array answered by ``/v2/installations/nearest`` (``[]`` when none is in range)."""
    if not isinstance(payload, list):
        raise IngestError("installations", "expected an array of installations")
    return [parse_installation(obj, f"installations[{i}]") for i, obj in enumerate(payload)]


# -- measurements ----------------------------------------------------------------------------
def parse_time(text: Any, field: str) -> int:
    """``2022-09-06T23:13:20.347Z`` → Unix seconds (UTC, fraction dropped)."""
    if not isinstance(text, str):
        raise IngestError(field, f"expected an ISO-8601 time, got {text!r}")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise IngestError(field, f"{text!r} is not an ISO-8601 time") from None
    if when.utcoffset() is None:
        raise IngestError(field, f"{text!r} has no time zone (Airly sends UTC with Z)")
    return math.floor(when.timestamp())


def _element(
    obj: Any, field: str, stamp: str, out: tuple[list[int], list[int], list[float]]
) -> None:
    element = _object(obj, field)
    values = element.get("values")
    if not isinstance(values, list):
        raise IngestError(f"{field}.values", "expected an array")
    if not values:  # an hour without data, or the "no sensors" payload
        return
    if stamp == "middle":
        till = parse_time(element.get("tillDateTime"), f"{field}.tillDateTime")
        since = element.get("fromDateTime")
        start = till if since is None else parse_time(since, f"{field}.fromDateTime")
        time = (start + till) // 2
    else:
        time = parse_time(element.get(stamp), f"{field}.{stamp}")
    variables, times, numbers = out
    for k, item in enumerate(values):
        where = f"{field}.values[{k}]"
        entry = _object(item, where)
        vid = _VARIABLE_IDS.get(str(entry.get("name")))
        if vid is None or entry.get("value") is None:
            continue
        numbers.append(_number(entry.get("value"), f"{where}.value"))
        variables.append(vid)
        times.append(time)


def parse_measurements(
    payload: Any,
    installation: int,
    *,
    include_current: bool = True,
    include_history: bool = True,
) -> Readings:
    """Readings of one ``/v2/measurements/installation`` answer: ``current`` and ``history``.

    ``installation`` is the installation id (it names the device, see :func:`device_uid`).
    The forecast is not a measurement and is left out. Raises :class:`IngestError` naming the
    field (``history[3].values[1].value``) when the payload is malformed.
    """
    body = _object(payload, "body")
    variables: list[int] = []
    times: list[int] = []
    numbers: list[float] = []
    out = (variables, times, numbers)
    if include_current and body.get("current") is not None:
        _element(body["current"], "current", "middle", out)
    history = body.get("history", []) if include_history else []
    if not isinstance(history, list):
        raise IngestError("history", "expected an array")
    for i, element in enumerate(history):
        _element(element, f"history[{i}]", "fromDateTime", out)
    n = len(times)
    return Readings(
        [SensorRef(device_uid(installation), SENSOR_TYPE)],
        np.zeros(n, dtype=np.int64),
        np.asarray(variables, dtype=np.int64),
        np.asarray(times, dtype=np.int64),
        np.asarray(numbers, dtype=np.float64),
        np.zeros(n, dtype=np.int64),
    )


def successor_of(body: Any, location: str | None) -> int | None:
    """The installation that replaced another, from a 301 answer.

    Airly names it in the body (``{"errorCode": "INSTALLATION_REPLACED", "details":
    {"successorId": 1234}}``) and in the ``Location`` header (the new URL).
    """
    if isinstance(body, dict) and isinstance(body.get("details"), dict):
        successor = body["details"].get("successorId")
        if isinstance(successor, int) and not isinstance(successor, bool):
            return successor
        if isinstance(successor, str) and successor.isdigit():
            return int(successor)
    if location:
        parts = urlsplit(location)
        ids = parse_qs(parts.query).get("installationId")
        if ids and ids[0].isdigit():
            return int(ids[0])
        last = parts.path.rstrip("/").rpartition("/")[2]
        if last.isdigit():
            return int(last)
    return None


# -- HTTP ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    """Airly's ``X-RateLimit-*`` and ``Retry-After`` headers (None when absent or unreadable)."""

    limit_day: int | None = None
    remaining_day: int | None = None
    limit_minute: int | None = None
    remaining_minute: int | None = None
    retry_after: float | None = None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RateLimitHeaders:
        lower = {k.lower(): v for k, v in headers.items()}

        def number(name: str) -> int | None:
            raw = lower.get(name, "").strip()
            return int(raw) if raw.lstrip("-").isdigit() else None

        retry = number("retry-after")
        return cls(
            number("x-ratelimit-limit-day"),
            number("x-ratelimit-remaining-day"),
            number("x-ratelimit-limit-minute"),
            number("x-ratelimit-remaining-minute"),
            None if retry is None else float(max(retry, 0)),
        )


@dataclass(frozen=True, slots=True)
class AirlyResponse:
    """One answer: status, the JSON body (None when not JSON), rate limits, ``Location``."""

    status: int
    body: Any
    limits: RateLimitHeaders
    location: str | None = None

    @property
    def error_code(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("errorCode"), str):
            return str(self.body["errorCode"])
        return None

    def describe(self) -> str:
        """``HTTP 404 INSTALLATION_NOT_FOUND: …`` for logs (never contains the API key)."""
        message = self.body.get("message") if isinstance(self.body, dict) else None
        code = self.error_code
        return " ".join(
            p for p in (f"HTTP {self.status}", code and f"{code}:", message and str(message)) if p
        )


class AirlyClient:
    """Calls to Airly's API v2 with the key in the ``apikey`` header (never in the URL, so it
    stays out of logs). Redirects are not followed: a 301 means an installation was replaced,
    which the caller records."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={
                "apikey": api_key,
                "Accept": "application/json",
                "Accept-Language": "en",
            },
            timeout=timeout,
            follow_redirects=False,
            transport=transport,
        )

    def get(
        self, path: str, params: Mapping[str, str | int | float] | None = None
    ) -> AirlyResponse:
        """GET ``/v2/…``; transport errors raise :class:`httpx.HTTPError`."""
        response = self.client.get(path, params=dict(params or {}))
        try:
            body = orjson.loads(response.content) if response.content else None
        except orjson.JSONDecodeError:
            body = None
        return AirlyResponse(
            response.status_code,
            body,
            RateLimitHeaders.parse(response.headers),
            response.headers.get("location"),
        )

    def fetch_measurements(self, installation_id: int) -> AirlyResponse:
        """``/v2/measurements/installation``: current, 24 h history and forecast."""
        return self.get("/v2/measurements/installation", {"installationId": installation_id})

    def fetch_installation(self, installation_id: int) -> AirlyResponse:
        """``/v2/installations/{id}``: one installation's position and address."""
        return self.get(f"/v2/installations/{installation_id}")

    def fetch_nearest(self, latitude: float, longitude: float, radius_km: float) -> AirlyResponse:
        """``/v2/installations/nearest``: every installation within ``radius_km``."""
        return self.get(
            "/v2/installations/nearest",
            {"lat": latitude, "lng": longitude, "maxDistanceKM": radius_km, "maxResults": -1},
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> AirlyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

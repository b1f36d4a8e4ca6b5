"""Airly API v2 shapes, computed from the platform's own data.

Shapes follow Airly's documentation and recorded responses (tests/data/airly): a measurements
response is ``{"current", "history", "forecast"}``, each element ``{"fromDateTime",
"tillDateTime", "values", "indexes", "standards"}`` with values in Airly's order and names
(``PM1, PM25, PM10, PRESSURE, HUMIDITY, TEMPERATURE``, then gases), one index of the requested
type, and one entry per pollutant of the configured standard set (``WHO``). Index values are
rounded to two decimals and percents computed from unrounded concentrations, as Airly does.
Descriptions and advice are the platform's own texts (``calc/data/levels.json``); only the
English "no sensors" sentence is Airly's, because clients compare it byte for byte.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from smartdistricts.calc.geo import haversine_km
from smartdistricts.indices import (
    airly_caqi,
    caqi,
    eaqi,
    gios_index,
    half_up,
    index_levels,
    levels_of,
    standard_limit,
    standard_percent,
    unknown_level,
    us_aqi,
)
from smartdistricts.nomenclature import variable
from smartdistricts.services.airnow import SiteAir, Window
from smartdistricts.services.registry import Site

__all__ = [
    "INDEX_TYPES",
    "MEASUREMENT_NAMES",
    "Windows",
    "distance_km",
    "elements",
    "idw",
    "index_value",
    "index_values",
    "installation",
    "measurements",
    "measurements_of",
    "meta_indexes",
    "meta_measurements",
    "no_sensors",
]

#: Canonical variable → Airly name, in the order Airly lists values (clients index by position).
MEASUREMENT_NAMES: dict[str, str] = {
    "pm1": "PM1",
    "pm2_5": "PM25",
    "pm10": "PM10",
    "pressure": "PRESSURE",
    "relative_humidity": "HUMIDITY",
    "temp_air": "TEMPERATURE",
    "no2": "NO2",
    "o3": "O3",
    "so2": "SO2",
    "co": "CO",
    "wind_speed": "WIND_SPEED",
    "wind_bearing": "WIND_BEARING",
    "no": "NO",
}
_ORDER = tuple(MEASUREMENT_NAMES)
#: ``indexType`` → level table in ``calc/data/levels.json``.
INDEX_TYPES: dict[str, str] = {
    "AIRLY_CAQI": "AIRLY_CAQI",
    "CAQI": "CAQI",
    "PIJP": "PIJP",
    "EAQI": "EAQI_2024",
    "US_AQI": "US_AQI",
}
#: Standards entries: Airly name and the averaging label Airly prints.
_STANDARD_POLLUTANTS = (
    ("pm2_5", "PM25"),
    ("pm10", "PM10"),
    ("no2", "NO2"),
    ("o3", "O3"),
    ("so2", "SO2"),
    ("co", "CO"),
)
_UNITS_LABEL = {
    "pl": {
        "PM1": "PM1",
        "PM25": "PM2.5",
        "PM10": "PM10",
        "TEMPERATURE": "Temperatura",
        "HUMIDITY": "Wilgotność",
        "PRESSURE": "Ciśnienie",
        "WIND_SPEED": "Prędkość wiatru",
        "WIND_BEARING": "Kierunek wiatru",
        "NO2": "NO₂",
        "O3": "O₃",
        "SO2": "SO₂",
        "CO": "CO",
        "NO": "NO",
    },
    "en": {
        "PM1": "PM1",
        "PM25": "PM2.5",
        "PM10": "PM10",
        "TEMPERATURE": "Temperature",
        "HUMIDITY": "Humidity",
        "PRESSURE": "Pressure",
        "WIND_SPEED": "Wind speed",
        "WIND_BEARING": "Wind bearing",
        "NO2": "NO₂",
        "O3": "O₃",
        "SO2": "SO₂",
        "CO": "CO",
        "NO": "NO",
    },
}


@functools.lru_cache(maxsize=8192)
def iso_ms(t: float) -> str:
    """Airly's timestamp form: ``2019-05-21T20:30:00.000Z``."""
    when = datetime.fromtimestamp(t, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Windows:
    """Consecutive windows as a matrix: ``values[w, j]`` is variable ``names[j]`` in window
    ``w`` over ``[start[w], end[w])`` (Unix seconds), NaN where there is no value."""

    start: NDArray[np.int64]
    end: NDArray[np.int64]
    names: tuple[str, ...]
    values: NDArray[np.float64]

    @staticmethod
    def of(windows: Sequence[Window]) -> Windows:
        present = {k for w in windows for k in w.values}
        names = tuple(v for v in _ORDER if v in present)
        matrix = np.array(
            [[w.values.get(v, math.nan) for v in names] for w in windows], dtype=np.float64
        ).reshape(len(windows), len(names))
        return Windows(
            np.array([w.start for w in windows], dtype=np.int64),
            np.array([w.end for w in windows], dtype=np.int64),
            names,
            matrix,
        )

    def column(self, name: str) -> NDArray[np.float64] | None:
        return self.values[:, self.names.index(name)] if name in self.names else None


def index_values(index_type: str, windows: Windows) -> NDArray[np.float64]:
    """The index of ``index_type`` of each window (NaN where its pollutants are missing).

    Sub-indices come from each window's mean concentrations (the hourly grids); see
    :func:`index_value` for a single window.
    """
    col = windows.column
    pm25, pm10 = col("pm2_5"), col("pm10")
    n = len(windows.start)
    if index_type == "AIRLY_CAQI":
        if pm25 is None and pm10 is None:
            return np.full(n, math.nan)
        return np.asarray(airly_caqi(pm2_5=pm25, pm10=pm10), dtype=np.float64).reshape(n)
    no2, o3, so2, co = col("no2"), col("o3"), col("so2"), col("co")
    if all(v is None for v in (pm25, pm10, no2, o3, so2)):
        return np.full(n, math.nan)
    if index_type == "CAQI":
        out = half_up(caqi(pm2_5=pm25, pm10=pm10, no2=no2, o3=o3, so2=so2, co=co), 2)
    elif index_type == "PIJP":
        out = gios_index(pm2_5=pm25, pm10=pm10, no2=no2, o3=o3, so2=so2)
    elif index_type == "EAQI":
        out = eaqi(pm2_5=pm25, pm10=pm10, no2=no2, o3=o3, so2=so2)
    else:  # US_AQI, from the window's (hourly) concentrations; EPA defines 24-h PM
        out = us_aqi(pm2_5=pm25, pm10=pm10, no2=no2, so2=so2, co=co, o3_1h=o3)
    return np.broadcast_to(np.asarray(out, dtype=np.float64), (n,)).astype(np.float64)


def index_value(index_type: str, values: dict[str, float]) -> float | None:
    """The index of ``index_type`` for one window's values, or None without the pollutants."""
    if index_type not in INDEX_TYPES:
        raise ValueError(f"indexType {index_type!r}: use one of {', '.join(INDEX_TYPES)}")
    result = float(index_values(index_type, Windows.of([Window(0, 0, values)]))[0])
    return None if math.isnan(result) else result


def _standard_columns(windows: Windows, standard: str) -> list[tuple[str, float, str, list[float]]]:
    """(Airly pollutant name, limit, averaging, percent per window) of each measured pollutant."""
    out = []
    for var, name in _STANDARD_POLLUTANTS:
        column = windows.column(var)
        if column is None:
            continue
        limit, averaging = standard_limit(var, standard)
        if math.isnan(limit):
            continue
        percent = standard_percent(column, variable=var, standard=standard)
        out.append((name, limit, averaging, np.atleast_1d(percent).tolist()))
    return out


def elements(
    windows: Windows, *, index_type: str, lang: str, standard: str
) -> list[dict[str, Any]]:
    """Airly's ``{fromDateTime, tillDateTime, values, indexes, standards}`` for each window."""
    table = INDEX_TYPES[index_type]
    index = index_values(index_type, windows)
    levels = levels_of(table, index)
    index_list = index.tolist()
    rounded = np.round(windows.values, 2).tolist()
    names = [MEASUREMENT_NAMES[v] for v in windows.names]
    standards = _standard_columns(windows, standard)
    label = "WHO" if standard.startswith("WHO") else standard
    out = []
    bounds = zip(windows.start.tolist(), windows.end.tolist(), strict=True)
    for w, (start, end) in enumerate(bounds):
        lv, value = levels[w], index_list[w]
        known = not math.isnan(value)
        lines = lv.advice[lang]
        out.append(
            {
                "fromDateTime": iso_ms(start),
                "tillDateTime": iso_ms(end),
                "values": [
                    {"name": n, "value": x}
                    for n, x in zip(names, rounded[w], strict=True)
                    if not math.isnan(x)
                ],
                "indexes": [
                    {
                        "name": index_type,
                        "value": value if known else None,
                        "level": lv.code,
                        "description": lv.description[lang],
                        "advice": lines[(start // 3600) % len(lines)] if known and lines else None,
                        "color": lv.color,
                    }
                ],
                "standards": [
                    {
                        "name": label,
                        "pollutant": name,
                        "limit": limit,
                        "percent": percents[w],
                        "averaging": averaging,
                    }
                    for name, limit, averaging, percents in standards
                    if not math.isnan(percents[w])
                ],
            }
        )
    return out


def measurements(
    current: Window,
    history: tuple[Window, ...],
    *,
    index_type: str,
    lang: str,
    standard: str,
    forecast: Sequence[Window] = (),
) -> dict[str, Any]:
    """A measurements response; ``forecast`` holds the forecast hours (PM2.5 and PM10, see
    ``services/forecast.py``), empty when the site has none."""
    return measurements_of(
        Windows.of([current, *history]),
        index_type=index_type,
        lang=lang,
        standard=standard,
        forecast=forecast,
    )


def measurements_of(
    windows: Windows,
    *,
    index_type: str,
    lang: str,
    standard: str,
    forecast: Sequence[Window] = (),
) -> dict[str, Any]:
    """A measurements response from the current window followed by the history windows, and
    the forecast windows."""
    out = elements(windows, index_type=index_type, lang=lang, standard=standard)
    ahead = (
        elements(Windows.of(forecast), index_type=index_type, lang=lang, standard=standard)
        if forecast
        else []
    )
    return {"current": out[0], "history": out[1:], "forecast": ahead}


def no_sensors(now: float, *, index_type: str, lang: str) -> dict[str, Any]:
    """Airly's answer for a point without sensors nearby (HTTP 200)."""
    lv = unknown_level(INDEX_TYPES[index_type])

    def element(start: float, end: float) -> dict[str, Any]:
        return {
            "fromDateTime": iso_ms(start),
            "tillDateTime": iso_ms(end),
            "values": [],
            "indexes": [
                {
                    "name": index_type,
                    "value": None,
                    "level": "UNKNOWN",
                    "description": lv.description[lang],
                    "advice": None,
                    "color": lv.color,
                }
            ],
            "standards": [],
        }

    hour = int(now) - int(now) % 3600
    return {
        "current": element(now - 3600, now),
        "history": [element(h, h + 3600) for h in range(hour - 24 * 3600, hour, 3600)],
        "forecast": [element(h, h + 3600) for h in range(hour, hour + 24 * 3600, 3600)],
    }


def installation(site: Site, *, distance: float | None = None) -> dict[str, Any]:
    """An Airly installation object for a site."""
    street = site.street or ""
    address = {
        "country": "Poland",
        "city": site.city,
        "street": site.street,
        "number": site.number,
        "displayAddress1": site.city,
        "displayAddress2": " ".join(x for x in (street, site.number or "") if x) or site.name,
    }
    out: dict[str, Any] = {
        "id": site.id,
        "locationId": site.id,
        "location": {"latitude": site.latitude, "longitude": site.longitude},
        "address": address,
        "elevation": site.elevation,
        "airly": False,
        "sponsor": {
            "id": site.id,
            "name": site.sponsor or site.source,
            "description": f"{site.name} — {site.source}",
            "logo": None,
            "link": None,
        },
    }
    if distance is not None:
        out["distance"] = round(distance, 3)
    return out


def distance_km(site: Site, lat: float, lng: float) -> float:
    return float(haversine_km(lat, lng, site.latitude, site.longitude))


def idw(airs: list[tuple[SiteAir, float]], power: float = 2.0) -> Windows:
    """Inverse-distance-weighted current and history windows of sites at given distances [km].

    Weights are ``1 / d**power``; a site at (almost) the point itself (< 10 m) is taken alone.
    Each variable of each window is weighted over the sites that have it there. Returns the
    current window followed by the history windows of the first site's time grid.
    """
    if not airs:
        raise ValueError("idw needs at least one site")
    near = [(a, d) for a, d in airs if d < 0.01]
    chosen = near[:1] if near else airs
    grids = [Windows.of([a.current, *a.history]) for a, _d in chosen]
    names = tuple(v for v in _ORDER if any(v in g.names for g in grids))
    stack = np.full((len(grids), len(grids[0].start), len(names)), math.nan)
    for k, g in enumerate(grids):
        for j, name in enumerate(g.names):
            stack[k, :, names.index(name)] = g.values[:, j]
    weights = np.array([1.0 if d < 0.01 else 1.0 / d**power for _a, d in chosen])
    has = ~np.isnan(stack)
    weight = np.where(has, weights[:, None, None], 0.0)
    total = weight.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (np.where(has, stack, 0.0) * weight).sum(axis=0) / total
    return Windows(grids[0].start, grids[0].end, names, values)


def meta_indexes(lang: str) -> list[dict[str, Any]]:
    """``/v2/meta/indexes``: every index type with its levels."""
    return [
        {"name": name, "levels": [lv.meta(lang) for lv in index_levels(table)]}
        for name, table in INDEX_TYPES.items()
    ]


def meta_measurements(lang: str) -> list[dict[str, Any]]:
    """``/v2/meta/measurements``: names, labels and units."""
    return [
        {"name": name, "label": _UNITS_LABEL[lang][name], "unit": variable(var).unit}
        for var, name in MEASUREMENT_NAMES.items()
    ]


def meta_standards(standard: str) -> list[dict[str, Any]]:
    """``/v2/meta/standards``: the configured standard's limits [µg/m³]."""
    limits = {}
    for var, name in _STANDARD_POLLUTANTS:
        limit, _avg = standard_limit(var, standard)
        if not math.isnan(limit):
            limits[name] = limit
    return [{"name": "WHO" if standard.startswith("WHO") else standard, "standardLimits": limits}]

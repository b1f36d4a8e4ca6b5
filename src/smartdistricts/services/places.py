"""The portal's places as data: the map, a site's page, the districts and their ranking.

Every function returns plain dictionaries and lists (the pages' JSON twins are these, with the
pages' links added by :mod:`smartdistricts.web.places`). They build on the other services and
compute nothing new:

* current values and indices — the data service (:class:`~smartdistricts.services.airnow.AirNow`,
  60-minute means cached 30 s) and the air box (:func:`~smartdistricts.services.widget.
  widget_data`: the same items, percentages of the configured standard and index colour as the
  widget);
* history — the ``hourly`` and ``daily`` aggregates (:mod:`smartdistricts.services.series`), never
  raw readings, read once per site and kept for :data:`HISTORY_TTL` seconds
  (:class:`HistoryCache`);
* districts — a district's value is the mean, per variable, of its active sites' 60-minute means
  (each site counts once); the ranking orders districts by that PM2.5, cleanest first, as
  ``/api/v1/districts/{slug}/summary`` does (both call :func:`district_means` and
  :func:`rank_districts`).

Site series are the mean of the site's public sensors' hourly (daily) means for each hour (day);
the 24-hour and 7-day charts use hourly means of full UTC hours, the 30-day chart the town's
daily means. "Days over the norm" counts this year's valid daily means (at least 18 covered hours,
:data:`~smartdistricts.services.rollup.DAILY_COVERAGE`) strictly above the configured standard's
24-hour limit, per pollutant; a standard without a 24-hour limit for a pollutant (EU2008 has only
an annual PM2.5 limit) gives no count.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from smartdistricts.config import Settings
from smartdistricts.indices import index_levels, level, levels_of, standard_limit, unknown_level
from smartdistricts.nomenclature import variable
from smartdistricts.services.airly import INDEX_TYPES, Windows, index_value, index_values
from smartdistricts.services.airnow import AirNow, SiteAir, Window
from smartdistricts.services.forecast import site_forecast
from smartdistricts.services.series import daily_series, hourly_series
from smartdistricts.services.sites_query import (
    DistrictRow,
    SiteFilter,
    SiteRow,
    list_district_rows,
    list_site_rows,
    site_by_key,
    site_sensors,
)
from smartdistricts.services.widget import INDEX, text_color, widget_data
from smartdistricts.store.base import Store, Tx

__all__ = [
    "CHART_VARIABLES",
    "HISTORY_TTL",
    "INDEX",
    "PM",
    "WEATHER",
    "DistrictNow",
    "HistoryCache",
    "SiteHistory",
    "days_over",
    "district_data",
    "district_means",
    "districts_now",
    "index_json",
    "index_legend",
    "level_label",
    "map_data",
    "rank_districts",
    "ranking_data",
    "read_history",
    "site_data",
]

log = logging.getLogger(__name__)
HOUR = 3600
DAY = 86400
#: Seconds a site's history (charts, days over the norm) is kept before it is read again.
HISTORY_TTL = 60.0
#: Particulate matter with a norm line on the charts.
PM = ("pm2_5", "pm10")
#: Weather variables, each on its own chart.
WEATHER = ("temp_air", "relative_humidity", "pressure")
#: Every variable the site page charts.
CHART_VARIABLES = ("pm1", *PM, *WEATHER)
#: Chart ranges: name → (hours of hourly means) or None for the 30 daily means.
RANGES: dict[str, int | None] = {"24h": 24, "7d": 168, "30d": None}
_DAYS_30 = 30


# -- indices ------------------------------------------------------------------------------
def index_json(values: dict[str, float], lang: str) -> dict[str, Any]:
    """The map's index (:data:`INDEX`, Airly's hourly CAQI) of some means: value, level code,
    label, colour and the text colour that contrasts with it; ``UNKNOWN`` without PM."""
    value = index_value(INDEX, values)
    lv = unknown_level(INDEX) if value is None else level(INDEX, value)
    return {
        "name": INDEX,
        "value": None if value is None else round(value, 2),
        "level": lv.code,
        "label": lv.label[lang],
        "color": lv.color,
        "text_color": text_color(lv.color),
    }


def level_label(code: str, lang: str) -> str:
    """The name of a level of :data:`INDEX` ("Bardzo niski", "Very low", …) by its code."""
    for lv in (*index_levels(INDEX), unknown_level(INDEX)):
        if lv.code == code:
            return lv.label[lang]
    raise ValueError(f"code: no level {code!r} of {INDEX}")


def index_legend(lang: str) -> list[dict[str, str]]:
    """The levels of :data:`INDEX` for a legend: code, label, range and colour."""
    return [
        {"level": lv.code, "label": lv.label[lang], "values": lv.values, "color": lv.color}
        for lv in index_levels(INDEX)
    ]


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None or math.isnan(x) else round(x, digits)


# -- districts -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DistrictNow:
    """A district with its active sites' air and the mean of their 60-minute means."""

    district: DistrictRow
    airs: tuple[SiteAir, ...]
    #: Sites with current data.
    sites_with_data: int
    #: Mean per variable of the sites' 60-minute means, rounded to 2 decimals, sorted by name.
    values: dict[str, float]


def district_means(airs: Sequence[SiteAir]) -> tuple[int, dict[str, float]]:
    """(sites with current data, mean per variable of their 60-minute means); each site counts
    once whatever its number of sensors. Means are rounded to 2 decimals."""
    sums: dict[str, list[float]] = {}
    with_data = 0
    for air in airs:
        with_data += bool(air.current.values)
        for name, value in air.current.values.items():
            sums.setdefault(name, []).append(value)
    return with_data, {k: round(sum(v) / len(v), 2) for k, v in sorted(sums.items())}


def districts_now(air: AirNow, districts: Sequence[DistrictRow]) -> list[DistrictNow]:
    """Each district's current air (its active sites, from the data service's cache)."""
    out = []
    for d in districts:
        airs = tuple(a for s in d.site_ids if (a := air.site(s)) is not None)
        with_data, values = district_means(airs)
        out.append(DistrictNow(d, airs, with_data, values))
    return out


def rank_districts(current: Sequence[DistrictNow]) -> list[tuple[int | None, DistrictNow]]:
    """Districts by current PM2.5, lowest first (ties by slug), numbered from 1; districts
    without PM2.5 follow, unranked (None), in their given order."""
    ranked = sorted(
        (d for d in current if "pm2_5" in d.values),
        key=lambda d: (d.values["pm2_5"], d.district.slug),
    )
    out: list[tuple[int | None, DistrictNow]] = [(n, d) for n, d in enumerate(ranked, start=1)]
    out += [(None, d) for d in current if "pm2_5" not in d.values]
    return out


def _district_ref(d: DistrictRow) -> dict[str, Any]:
    return {"id": d.id, "slug": d.slug, "name": d.name, "approximate": d.approximate}


def _ranking_rows(current: Sequence[DistrictNow], lang: str) -> list[dict[str, Any]]:
    return [
        {
            "rank": rank,
            **_district_ref(d.district),
            "sites": len(d.district.site_ids),
            "sites_with_data": d.sites_with_data,
            "pm2_5": d.values.get("pm2_5"),
            "pm10": d.values.get("pm10"),
            "index": index_json(d.values, lang),
        }
        for rank, d in rank_districts(current)
    ]


def ranking_data(store: Store, air: AirNow, lang: str) -> dict[str, Any]:
    """The districts' ranking page: every district by current PM2.5 (and its CAQI)."""
    current = districts_now(air, store.read(list_district_rows))
    return {
        "lang": lang,
        "index": INDEX,
        "ranking": _ranking_rows(current, lang),
        "legend": index_legend(lang),
    }


def district_data(
    store: Store, air: AirNow, settings: Settings, slug: str, lang: str
) -> dict[str, Any] | None:
    """A district's page: its sites now, their mean, its rank; None for an unknown slug."""
    districts = store.read(list_district_rows)
    current = districts_now(air, districts)
    mine = next((d for d in current if d.district.slug == slug), None)
    if mine is None:
        return None
    rows = store.read(lambda tx: list_site_rows(tx, SiteFilter(district=slug)))
    airs = {a.site.id: a for a in mine.airs}
    ranking = _ranking_rows(current, lang)
    rank = next(r["rank"] for r in ranking if r["slug"] == slug)
    ranked = sum(r["rank"] is not None for r in ranking)
    return {
        "lang": lang,
        "district": {**_district_ref(mine.district), "geometry": mine.district.geometry},
        "sites": [_site_summary(s, airs.get(s.id), settings, lang) for s in rows],
        "current": {
            "sites_with_data": mine.sites_with_data,
            "values": mine.values,
            "index": index_json(mine.values, lang),
        },
        "rank": rank,
        "of": ranked,
        "ranking": ranking,
        "legend": index_legend(lang),
    }


def _site_summary(s: SiteRow, air: SiteAir | None, settings: Settings, lang: str) -> dict[str, Any]:
    values = {} if air is None else air.current.values
    return {
        "id": s.id,
        "slug": s.slug,
        "name": s.name,
        "active": s.active,
        "latest": s.newest,
        "values": {k: round(v, 2) for k, v in sorted(values.items())},
        "index": index_json(values, lang),
    }


# -- the map ---------------------------------------------------------------------------------------
def _box(air: SiteAir, settings: Settings, lang: str, now: float) -> dict[str, Any]:
    """The air box (the widget's data: items with percentages of the standard, the index and
    its colours, the footer), as the map's popup and the site page show it."""
    return widget_data(air, settings, lang=lang, now=now)


def map_data(store: Store, air: AirNow, settings: Settings, lang: str) -> dict[str, Any]:
    """The map: every active site with its box's values and index colour, the district
    boundaries with their mean PM2.5 and index, the legend and the tile layer's settings."""
    now = air.clock()
    districts = store.read(list_district_rows)
    names = {d.id: d for d in districts}
    sites = []
    for site_air in air.sites():
        s = site_air.site
        d = names.get(s.district_id) if s.district_id is not None else None
        box = _box(site_air, settings, lang, now)
        sites.append(
            {
                "id": s.id,
                "slug": s.slug,
                "name": s.name,
                "latitude": s.latitude,
                "longitude": s.longitude,
                "district": None if d is None else {"slug": d.slug, "name": d.name},
                "latest": site_air.latest,
                "level_label": level_label(box["index"]["level"], lang),
                "box": box,
            }
        )
    features = [
        {
            "type": "Feature",
            "id": d.district.id,
            "geometry": d.district.geometry,
            "properties": {
                **_district_ref(d.district),
                "pm2_5": d.values.get("pm2_5"),
                "index": index_json(d.values, lang),
            },
        }
        for d in districts_now(air, districts)
    ]
    return {
        "lang": lang,
        "index": INDEX,
        "standard": settings.standard,
        "sites": sites,
        "districts": {"type": "FeatureCollection", "features": features},
        "legend": index_legend(lang),
        "tiles": {"url": settings.tile_url, "attribution": settings.tile_attribution},
    }


# -- a site's history ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SiteHistory:
    """A site's means from the aggregates (NaN where there is no value).

    ``hours`` are the starts of the last 168 full UTC hours and ``hourly[name]`` the site's
    hourly means; ``days`` the last 30 local days (``YYYYMMDD``, today last) and ``daily[name]``
    the daily means; ``over`` the days over the norm this year by pollutant.
    """

    hours: list[int]
    hourly: dict[str, list[float]]
    days: list[int]
    day_starts: list[int]
    daily: dict[str, list[float]]
    over: list[dict[str, Any]]
    computed_at: float


def _site_means(rows: Sequence[Sequence[Any]], keys: Sequence[int]) -> dict[str, list[float]]:
    """Per variable, the mean across sensors of each key's mean (rows ``(sensor, variable, key,
    mean, …)``); NaN for a key without a value."""
    sums: dict[tuple[int, int], list[float]] = {}
    for row in rows:
        if row[3] is not None:
            sums.setdefault((int(row[1]), int(row[2])), []).append(float(row[3]))
    out = {}
    for name in CHART_VARIABLES:
        vid = variable(name).id
        out[name] = [sum(v) / len(v) if (v := sums.get((vid, k))) else math.nan for k in keys]
    return out


def _ymd(d: date) -> int:
    return d.year * 10000 + d.month * 100 + d.day


def days_over(
    daily: dict[int, dict[str, float]], standard: str, pollutants: Sequence[str] = PM
) -> list[dict[str, Any]]:
    """Days whose (valid) daily mean is strictly above the standard's 24-hour limit.

    Parameters
    ----------
    daily : dict of int to dict of str to float
        Valid daily means by day ``YYYYMMDD`` and variable [µg/m³].
    standard : str
        ``WHO2005``, ``WHO2021``, ``EU2008`` or ``EU2030``.
    pollutants : sequence of str
        Variables to count.

    Returns
    -------
    list of dict
        Per pollutant: ``variable``, ``limit`` [µg/m³] and ``averaging`` of the standard,
        ``days`` over the limit and ``valid_days`` counted; ``limit``/``days`` None when the
        standard has no 24-hour limit for it.
    """
    out: list[dict[str, Any]] = []
    for name in pollutants:
        limit, averaging = standard_limit(name, standard)
        values = [v[name] for v in daily.values() if name in v]
        if math.isnan(limit) or averaging != "24h":
            out.append(
                {
                    "variable": name,
                    "limit": None,
                    "averaging": averaging or None,
                    "days": None,
                    "valid_days": len(values),
                }
            )
            continue
        out.append(
            {
                "variable": name,
                "limit": limit,
                "averaging": averaging,
                "days": sum(1 for v in values if v > limit),
                "valid_days": len(values),
            }
        )
    return out


def _valid_daily(rows: Sequence[Sequence[Any]]) -> dict[int, dict[str, float]]:
    """Site daily means by day and variable from valid sensor days (rows of daily_series)."""
    sums: dict[tuple[int, int], list[float]] = {}
    for row in rows:
        if row[3] is not None and row[8]:
            sums.setdefault((int(row[2]), int(row[1])), []).append(float(row[3]))
    out: dict[int, dict[str, float]] = {}
    for (day, vid), values in sums.items():
        out.setdefault(day, {})[variable(vid).name] = sum(values) / len(values)
    return out


def read_history(tx: Tx, site_id: int, now: float, tz: ZoneInfo, standard: str) -> SiteHistory:
    """A site's history at ``now`` from the hourly and daily aggregates (three queries)."""
    found = site_sensors(tx, str(site_id))
    sensors = sorted(found[2]) if found is not None else []
    vids = [variable(n).id for n in CHART_VARIABLES]
    end_hour = int(now) - int(now) % HOUR
    hours = list(range(end_hour - 168 * HOUR, end_hour, HOUR))
    hourly_rows = [
        r for _s, _v, rows in hourly_series(tx, sensors, vids, hours[0], end_hour) for r in rows
    ]
    hourly = _site_means(hourly_rows, hours)
    today = datetime.fromtimestamp(now, tz).date()
    days = [_ymd(today - timedelta(days=k)) for k in range(_DAYS_30 - 1, -1, -1)]
    end_day = _ymd(today + timedelta(days=1))
    daily_rows = [
        r for _s, _v, rows in daily_series(tx, sensors, vids, days[0], end_day) for r in rows
    ]
    daily = _site_means(daily_rows, days)
    starts = [
        int(datetime(d // 10000, d // 100 % 100, d % 100, tzinfo=tz).timestamp()) for d in days
    ]
    pm_ids = [variable(n).id for n in PM]
    year_rows = [
        r
        for _s, _v, rows in daily_series(tx, sensors, pm_ids, today.year * 10000 + 101, end_day)
        for r in rows
    ]
    over = days_over(_valid_daily(year_rows), standard)
    return SiteHistory(hours, hourly, days, starts, daily, over, now)


@dataclass
class HistoryCache:
    """Site histories kept for ``ttl`` seconds (thread-safe; a page view costs a dict look-up)."""

    ttl: float = HISTORY_TTL
    _items: dict[tuple[int, str], SiteHistory] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(
        self, store: Store, site_id: int, now: float, tz: ZoneInfo, standard: str
    ) -> SiteHistory:
        key = (site_id, standard)
        hit = self._items.get(key)
        if hit is not None and 0 <= now - hit.computed_at < self.ttl:
            return hit
        history = store.read(lambda tx: read_history(tx, site_id, now, tz, standard))
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = history
        return history

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _column(values: list[float]) -> list[float | None]:
    return [None if math.isnan(v) else round(v, 2) for v in values]


def _charts(h: SiteHistory) -> dict[str, Any]:
    charts: dict[str, Any] = {}
    for name, hours in RANGES.items():
        if hours is None:
            charts[name] = {
                "step": DAY,
                "time": h.day_starts,
                "day": [f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}" for d in h.days],
                "values": {n: _column(h.daily[n]) for n in CHART_VARIABLES},
            }
        else:
            charts[name] = {
                "step": HOUR,
                "time": h.hours[-hours:],
                "values": {n: _column(h.hourly[n][-hours:]) for n in CHART_VARIABLES},
            }
    return charts


def _index_history(h: SiteHistory, lang: str) -> dict[str, Any]:
    """The hourly :data:`INDEX` of the last 7 days with each hour's level and colour."""
    windows = Windows.of(
        [
            Window(t, t + HOUR, {n: h.hourly[n][i] for n in PM if not math.isnan(h.hourly[n][i])})
            for i, t in enumerate(h.hours)
        ]
    )
    values = index_values(INDEX, windows) if len(h.hours) else np.empty(0)
    levels = levels_of(INDEX_TYPES[INDEX], values)
    return {
        "index": INDEX,
        "time": h.hours,
        "value": [None if math.isnan(v) else round(float(v), 2) for v in values.tolist()],
        "level": [lv.code for lv in levels],
        "color": [lv.color for lv in levels],
        "label": [lv.label[lang] for lv in levels],
    }


def _forecast(store: Store, site_id: int, now: float, tz: ZoneInfo) -> list[dict[str, Any]] | None:
    """The next 24 hours' PM forecast (services/forecast.py) as ``{"time", "pm2_5", "pm10"}``
    points at each hour's start; None when the site has too little history.

    A failing forecast is logged and left out: the page shows without it.
    """
    try:
        hours = site_forecast(store, site_id, now, tz=tz)
    except Exception:  # the forecast is an extra, never a reason for a 500
        log.exception("forecast of site %s failed", site_id)
        return None
    out = [{"time": h.from_ts, **{v: _rounded(h.values.get(v)) for v in PM}} for h in hours]
    return out or None


def _rounded(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 2)


def site_data(
    store: Store,
    air: AirNow,
    cache: HistoryCache,
    settings: Settings,
    key: str,
    lang: str,
) -> dict[str, Any] | None:
    """A site's page: where it is, its box now, charts, index history, days over the norm
    this year; None for an unknown site (id or slug)."""
    site = store.read(lambda tx: site_by_key(tx, key))
    if site is None:
        return None
    now = air.clock()
    district = None
    if site.district is not None:
        d = store.read(
            lambda tx: next((x for x in list_district_rows(tx) if x.slug == site.district), None)
        )
        if d is not None:
            district = {"slug": d.slug, "name": d.name}
    site_air = air.site(site.id) if site.active else None
    history = cache.get(store, site.id, now, settings.tz, settings.standard)
    norms = {}
    for name in PM:
        limit, averaging = standard_limit(name, settings.standard)
        norms[name] = {
            "limit": None if math.isnan(limit) else limit,
            "averaging": averaging or None,
        }
    address = " ".join(x for x in (site.street, site.number) if x)
    return {
        "lang": lang,
        "site": {
            "id": site.id,
            "slug": site.slug,
            "name": site.name,
            "address": ", ".join(x for x in (address, site.city) if x) or None,
            "latitude": site.latitude,
            "longitude": site.longitude,
            "district": district,
            "sponsor": site.sponsor,
            "active": site.active,
            "latest": site.newest,
        },
        "current": None if site_air is None else _box(site_air, settings, lang, now),
        "standard": settings.standard,
        "norms": norms,
        "charts": _charts(history),
        "index_history": _index_history(history, lang),
        "legend": index_legend(lang),
        "days_over": {
            "year": datetime.fromtimestamp(now, settings.tz).year,
            "standard": settings.standard,
            "pollutants": history.over,
        },
        "forecast": _forecast(store, site.id, now, settings.tz),
        "generated": int(now),
    }

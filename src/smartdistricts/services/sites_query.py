"""Read-side queries of the native API about places: sites, sensors, districts, latest values.

Every function takes a :class:`~smartdistricts.store.base.Tx` (run them inside
``store.read``) and returns plain tuples or small dataclasses, never ORM-like objects per
reading. Public reads never show devices in quarantine; "current" answers (latest values) show
only active devices, as :mod:`smartdistricts.services.airnow` does.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from smartdistricts.calc.geo import haversine_km
from smartdistricts.nomenclature import variable
from smartdistricts.store.base import Tx

__all__ = [
    "PUBLIC_DEVICE",
    "DistrictRow",
    "LatestRow",
    "SensorRow",
    "SiteFilter",
    "SiteRow",
    "district_by_slug",
    "latest_rows",
    "list_district_rows",
    "list_sensor_rows",
    "list_site_rows",
    "sensor_exists",
    "site_by_key",
    "site_has_sensor",
    "site_ref",
    "site_sensors",
]

#: SQL condition on ``devices d`` for readings the public may see (quarantine stays private).
PUBLIC_DEVICE = "d.status <> 'quarantine'"
_ID = re.compile(r"[0-9]{1,15}")
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")

_SITE_SQL = (
    "SELECT st.id, st.slug, st.name, st.latitude, st.longitude, st.elevation, st.street,"
    " st.number, st.city, di.slug, st.sponsor, st.source, st.approximate, st.active"
    " FROM sites st LEFT JOIN districts di ON di.id = st.district_id"
)


@dataclass(frozen=True, slots=True)
class SiteRow:
    """A site as the API shows it; ``newest`` is the time of its newest public reading."""

    id: int
    slug: str
    name: str
    latitude: float
    longitude: float
    elevation: float | None
    street: str | None
    number: str | None
    city: str | None
    district: str | None
    sponsor: str | None
    source: str
    approximate: bool
    active: bool
    newest: int | None = None
    distance_km: float | None = None


@dataclass(frozen=True, slots=True)
class SiteFilter:
    """Composable filters of site lists; all optional, combined with AND."""

    district: str | None = None
    source: str | None = None
    active: bool | None = None
    #: With ``longitude`` and ``radius_km``: only sites that close, nearest first.
    latitude: float | None = None
    longitude: float | None = None
    radius_km: float | None = None


def _site(row: Sequence[Any], newest: int | None) -> SiteRow:
    return SiteRow(
        int(row[0]),
        row[1],
        row[2],
        float(row[3]),
        float(row[4]),
        None if row[5] is None else float(row[5]),
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        row[11],
        bool(row[12]),
        bool(row[13]),
        newest,
    )


def _newest_by_site(tx: Tx, site_id: int | None = None) -> dict[int, int]:
    where, params = ("AND d.site_id = ?", (site_id,)) if site_id is not None else ("", ())
    rows = tx.query(
        "SELECT d.site_id, max(l.time) FROM latest l JOIN sensors s ON s.id = l.sensor_id"
        f" JOIN devices d ON d.id = s.device_id WHERE d.status = 'active' {where}"
        " AND d.site_id IS NOT NULL GROUP BY d.site_id",
        params,
    )
    return {int(s): int(t) for s, t in rows}


def list_site_rows(tx: Tx, filters: SiteFilter = SiteFilter()) -> list[SiteRow]:
    """Sites matching ``filters``, by id (or by distance when a position is given)."""
    where: list[str] = []
    params: list[Any] = []
    if filters.district is not None:
        where.append("di.slug = ?")
        params.append(filters.district)
    if filters.source is not None:
        where.append("st.source = ?")
        params.append(filters.source)
    if filters.active is not None:
        where.append("st.active = ?")
        params.append(int(filters.active))
    sql = _SITE_SQL + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY st.id"
    newest = _newest_by_site(tx)
    sites = [_site(r, newest.get(int(r[0]))) for r in tx.query(sql, params)]
    lat, lon = filters.latitude, filters.longitude
    if lat is None or lon is None:
        return sites
    radius = math.inf if filters.radius_km is None else filters.radius_km
    near = []
    for site in sites:
        km = float(haversine_km(lat, lon, site.latitude, site.longitude))
        if km <= radius:
            near.append((km, site))
    near.sort(key=lambda pair: (pair[0], pair[1].id))
    return [_with_distance(s, km) for km, s in near]


def _with_distance(site: SiteRow, km: float) -> SiteRow:
    return replace(site, distance_km=round(km, 3))


def site_by_key(tx: Tx, key: str) -> SiteRow | None:
    """A site by id (digits) or slug; None when there is none (or the key cannot be one)."""
    if _ID.fullmatch(key):
        row = tx.one(_SITE_SQL + " WHERE st.id = ?", (int(key),))
    elif _SLUG.fullmatch(key):
        row = tx.one(_SITE_SQL + " WHERE st.slug = ?", (key,))
    else:
        return None
    if row is None:
        return None
    return _site(row, _newest_by_site(tx, int(row[0])).get(int(row[0])))


def site_ref(tx: Tx, key: str) -> tuple[int, str] | None:
    """(id, slug) of the site with this id or slug (one indexed lookup); None if there is none."""
    if _ID.fullmatch(key):
        row = tx.one("SELECT id, slug FROM sites WHERE id = ?", (int(key),))
    elif _SLUG.fullmatch(key):
        row = tx.one("SELECT id, slug FROM sites WHERE slug = ?", (key,))
    else:
        return None
    return None if row is None else (int(row[0]), str(row[1]))


def site_sensors(tx: Tx, key: str) -> tuple[int, str, dict[int, float]] | None:
    """(id, slug, {sensor id: interval [s]}) of a site by id or slug, with its public sensors,
    in one query; None when there is no such site."""
    param: int | str
    if _ID.fullmatch(key):
        where, param = "st.id = ?", int(key)
    elif _SLUG.fullmatch(key):
        where, param = "st.slug = ?", key
    else:
        return None
    rows = tx.query(
        "SELECT st.id, st.slug, s.id, s.interval_s FROM sites st"
        f" LEFT JOIN devices d ON d.site_id = st.id AND {PUBLIC_DEVICE}"
        f" LEFT JOIN sensors s ON s.device_id = d.id WHERE {where} ORDER BY s.id",
        (param,),
    )
    if not rows:
        return None
    sensors = {int(r[2]): float(r[3]) for r in rows if r[2] is not None}
    return int(rows[0][0]), str(rows[0][1]), sensors


def site_has_sensor(tx: Tx, site_id: int, sensor_id: int) -> bool:
    """True when the sensor is a public sensor of the site."""
    return (
        tx.one(
            "SELECT 1 FROM sensors s JOIN devices d ON d.id = s.device_id"
            f" WHERE s.id = ? AND d.site_id = ? AND {PUBLIC_DEVICE}",
            (sensor_id, site_id),
        )
        is not None
    )


# -- sensors ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SensorRow:
    id: int
    device: str
    device_status: str
    site_id: int | None
    site: str | None
    type: str
    interval_s: float
    variables: tuple[str, ...]
    newest: int | None


def sensor_exists(tx: Tx, sensor_id: int) -> bool:
    """True when a public sensor has this id."""
    return (
        tx.one(
            "SELECT 1 FROM sensors s JOIN devices d ON d.id = s.device_id"
            f" WHERE s.id = ? AND {PUBLIC_DEVICE}",
            (sensor_id,),
        )
        is not None
    )


def list_sensor_rows(
    tx: Tx, *, site_id: int | None = None, variable_id: int | None = None
) -> list[SensorRow]:
    """Public sensors (of one site, measuring one variable), by id, with what they measure."""
    where = [PUBLIC_DEVICE]
    params: list[Any] = []
    if site_id is not None:
        where.append("d.site_id = ?")
        params.append(site_id)
    rows = tx.query(
        "SELECT s.id, d.uid, d.status, d.site_id, st.slug, s.type, s.interval_s"
        " FROM sensors s JOIN devices d ON d.id = s.device_id"
        " LEFT JOIN sites st ON st.id = d.site_id"
        f" WHERE {' AND '.join(where)} ORDER BY s.id",
        params,
    )
    measured: dict[int, list[tuple[int, int]]] = {}
    for sid, vid, t in tx.query(
        "SELECT l.sensor_id, l.variable_id, l.time FROM latest l"
        " JOIN sensors s ON s.id = l.sensor_id JOIN devices d ON d.id = s.device_id"
        f" WHERE {' AND '.join(where)} ORDER BY l.sensor_id, l.variable_id",
        params,
    ):
        measured.setdefault(int(sid), []).append((int(vid), int(t)))
    out = []
    for sid, uid, status, site, slug, kind, interval in rows:
        mine = measured.get(int(sid), [])
        if variable_id is not None and all(v != variable_id for v, _t in mine):
            continue
        out.append(
            SensorRow(
                int(sid),
                uid,
                status,
                None if site is None else int(site),
                slug,
                kind,
                float(interval),
                tuple(variable(v).name for v, _t in mine),
                max((t for _v, t in mine), default=None),
            )
        )
    return out


# -- latest values ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LatestRow:
    """The newest reading of one variable at one site (the newest of its sensors)."""

    site_id: int
    variable: str
    sensor_id: int
    time: int
    value: float
    flags: int


def latest_rows(
    tx: Tx, *, site_id: int | None = None, variable_ids: Sequence[int] = ()
) -> list[LatestRow]:
    """Per site and variable, the newest reading of the site's active devices."""
    where = ["d.status = 'active'", "d.site_id IS NOT NULL"]
    params: list[Any] = []
    if site_id is not None:
        where.append("d.site_id = ?")
        params.append(site_id)
    if variable_ids:
        where.append(f"l.variable_id IN ({','.join('?' * len(variable_ids))})")
        params.extend(variable_ids)
    rows = tx.query(
        "SELECT d.site_id, l.variable_id, l.sensor_id, l.time, l.value, l.flags FROM latest l"
        " JOIN sensors s ON s.id = l.sensor_id JOIN devices d ON d.id = s.device_id"
        f" WHERE {' AND '.join(where)}"
        " ORDER BY d.site_id, l.variable_id, l.time DESC, l.sensor_id",
        params,
    )
    out: list[LatestRow] = []
    seen: set[tuple[int, int]] = set()
    for site, vid, sid, t, value, flags in rows:
        key = (int(site), int(vid))
        if key in seen:
            continue
        seen.add(key)
        out.append(
            LatestRow(int(site), variable(int(vid)).name, int(sid), int(t), float(value), flags)
        )
    return out


# -- districts --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DistrictRow:
    id: int
    slug: str
    name: str
    approximate: bool
    geometry: dict[str, Any]
    site_ids: tuple[int, ...]


def list_district_rows(tx: Tx) -> list[DistrictRow]:
    """Every district with the ids of its sites (active or not), by id."""
    members: dict[int, list[int]] = {}
    for district_id, site_id in tx.query(
        "SELECT district_id, id FROM sites WHERE district_id IS NOT NULL ORDER BY id"
    ):
        members.setdefault(int(district_id), []).append(int(site_id))
    return [
        DistrictRow(
            int(i), slug, name, bool(approx), json.loads(geometry), tuple(members.get(i, ()))
        )
        for i, slug, name, geometry, approx in tx.query(
            "SELECT id, slug, name, geometry, approximate FROM districts ORDER BY id"
        )
    ]


def district_by_slug(tx: Tx, slug: str) -> DistrictRow | None:
    for district in list_district_rows(tx):
        if district.slug == slug:
            return district
    return None

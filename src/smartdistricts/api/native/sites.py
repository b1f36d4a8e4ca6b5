"""Sites, their sensors, latest values and current indices (``/api/v1/sites…``, ``/sensors``,
``/latest``).

Lists come from one query each (:mod:`smartdistricts.services.sites_query`); current means and
indices from the data service's 30-second cache (``ctx.air``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from smartdistricts.api.context import AppContext, context
from smartdistricts.api.errors import ApiError
from smartdistricts.api.native.common import (
    CACHED,
    ERRORS,
    NOT_FOUND,
    GeoJsonResponse,
    ReadRoute,
    SiteKey,
    SitePath,
    VariableName,
    cached_answer,
    iso,
    json_answer,
    json_errors,
    require_site,
    variable_ids,
)
from smartdistricts.indices import level, unknown_level
from smartdistricts.nomenclature import variable
from smartdistricts.services.airly import index_value
from smartdistricts.services.airnow import SiteAir
from smartdistricts.services.current_indices import INDEXES, current_indices
from smartdistricts.services.sites_query import (
    LatestRow,
    SiteFilter,
    SiteRow,
    latest_rows,
    list_sensor_rows,
    list_site_rows,
)

__all__ = ["current_json", "router", "site_json"]

router = APIRouter(prefix="/api/v1", tags=["sites"], route_class=ReadRoute)


# -- schema ---------------------------------------------------------------------------------------
class Address(BaseModel):
    street: str | None
    number: str | None
    city: str | None


class SiteOut(BaseModel):
    id: int
    slug: str
    name: str
    latitude: float
    longitude: float
    elevation: float | None
    address: Address
    district: str | None = Field(description="The district's slug")
    sponsor: str | None
    source: str
    approximate: bool = Field(description="The position is approximate (rounded)")
    active: bool
    latest: str | None = Field(description="Time of the newest reading (UTC), null without")
    distance_km: float | None = Field(None, description="Only with lat/lon: distance [km]")


class SiteList(BaseModel):
    count: int
    sites: list[SiteOut]


class Point(BaseModel):
    type: Literal["Point"]
    coordinates: list[float] = Field(min_length=2, max_length=3)


class Caqi(BaseModel):
    value: float | None
    level: str
    color: str


class SiteProperties(BaseModel):
    id: int
    slug: str
    name: str
    district: str | None
    source: str
    active: bool
    latest: str | None
    pm2_5: float | None = Field(description="60-minute mean [µg/m³]")
    pm10: float | None = Field(description="60-minute mean [µg/m³]")
    caqi: Caqi = Field(description="Current AIRLY_CAQI with its level and colour")


class SiteFeature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: Point
    properties: SiteProperties


class SiteCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[SiteFeature]


class SensorOut(BaseModel):
    id: int
    device: str
    device_status: str
    site: int | None
    site_slug: str | None
    type: str
    interval_s: float
    variables: list[str]
    latest: str | None


class SensorList(BaseModel):
    count: int
    sensors: list[SensorOut]


class LatestValue(BaseModel):
    value: float
    unit: str
    time: str
    sensor: int
    flags: int


class Current(BaseModel):
    from_: str = Field(alias="from")
    until: str
    values: dict[str, float]


class SiteLatest(BaseModel):
    site: int
    slug: str
    name: str
    latest: str | None
    values: dict[str, LatestValue]
    current: Current | None


class LatestList(BaseModel):
    sites: list[SiteLatest]


class IndexOut(BaseModel):
    index: str
    value: float | None
    level: str
    label: str
    description: str
    color: str


class SiteIndices(BaseModel):
    site: int
    slug: str
    current: Current | None
    indices: list[IndexOut]


# -- shaping -------------------------------------------------------------------------------------
def site_json(s: SiteRow) -> dict[str, Any]:
    out = {
        "id": s.id,
        "slug": s.slug,
        "name": s.name,
        "latitude": s.latitude,
        "longitude": s.longitude,
        "elevation": s.elevation,
        "address": {"street": s.street, "number": s.number, "city": s.city},
        "district": s.district,
        "sponsor": s.sponsor,
        "source": s.source,
        "approximate": s.approximate,
        "active": s.active,
        "latest": iso(s.newest),
    }
    if s.distance_km is not None:
        out["distance_km"] = s.distance_km
    return out


def current_json(air: SiteAir | None) -> dict[str, Any] | None:
    """The 60-minute means of a site (None for a site the data service does not serve)."""
    if air is None:
        return None
    return {
        "from": iso(air.current.start),
        "until": iso(air.current.end),
        "values": {k: round(v, 2) for k, v in sorted(air.current.values.items())},
    }


def caqi_json(values: dict[str, float]) -> dict[str, Any]:
    value = index_value("AIRLY_CAQI", values)
    lv = unknown_level("AIRLY_CAQI") if value is None else level("AIRLY_CAQI", value)
    return {"value": value, "level": lv.code, "color": lv.color}


def _site_filter(
    district: str | None,
    source: str | None,
    active: bool | None,
    lat: float | None,
    lon: float | None,
    radius_km: float | None,
) -> SiteFilter:
    if (lat is None) != (lon is None):
        raise ApiError(422, "give both lat and lon", field="lon" if lon is None else "lat")
    if radius_km is not None and lat is None:
        raise ApiError(422, "radius_km needs lat and lon", field="radius_km")
    return SiteFilter(district, source, active, lat, lon, radius_km)


_District = Annotated[str | None, Query(max_length=100, description="A district's slug")]
_Source = Annotated[str | None, Query(max_length=100, description="smartdistricts, airly.pl, …")]
_Active = Annotated[bool | None, Query(description="Only active (true) or inactive sites")]
_Lat = Annotated[float | None, Query(ge=-90, le=90, description="Latitude [°] of a point")]
_Lon = Annotated[float | None, Query(ge=-180, le=180, description="Longitude [°] of a point")]
_Radius = Annotated[
    float | None, Query(gt=0, le=20_000, description="Only sites within this distance [km]")
]


def _sites(request: Request, filters: SiteFilter) -> list[SiteRow]:
    return context(request).store.read(lambda tx: list_site_rows(tx, filters))


# -- routes --------------------------------------------------------------------------------------
@router.get("/sites", response_model=SiteList, responses=ERRORS)
async def get_sites(
    request: Request,
    district: _District = None,
    source: _Source = None,
    active: _Active = None,
    lat: _Lat = None,
    lon: _Lon = None,
    radius_km: _Radius = None,
) -> Response:
    """Sites by id — or, with `lat` and `lon`, nearest first (within `radius_km`)."""
    sites = _sites(request, _site_filter(district, source, active, lat, lon, radius_km))
    return json_answer({"count": len(sites), "sites": [site_json(s) for s in sites]})


@router.get(
    "/sites.geojson",
    response_model=SiteCollection,
    response_class=GeoJsonResponse,
    responses=json_errors(ERRORS),
)
async def get_sites_geojson(
    request: Request,
    district: _District = None,
    source: _Source = None,
    active: _Active = None,
    lat: _Lat = None,
    lon: _Lon = None,
    radius_km: _Radius = None,
) -> Response:
    """The sites as a GeoJSON FeatureCollection of Points, with current PM and CAQI for maps."""
    air = context(request).air
    features = []
    for s in _sites(request, _site_filter(district, source, active, lat, lon, radius_km)):
        now = air.site(s.id) if s.active else None
        values = now.current.values if now is not None else {}
        features.append(
            {
                "type": "Feature",
                "id": s.id,
                "geometry": {"type": "Point", "coordinates": [s.longitude, s.latitude]},
                "properties": {
                    "id": s.id,
                    "slug": s.slug,
                    "name": s.name,
                    "district": s.district,
                    "source": s.source,
                    "active": s.active,
                    "latest": iso(s.newest),
                    "pm2_5": _round(values.get("pm2_5")),
                    "pm10": _round(values.get("pm10")),
                    "caqi": caqi_json(values),
                },
            }
        )
    return json_answer(
        {"type": "FeatureCollection", "features": features}, media_type=GeoJsonResponse.media_type
    )


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


@router.get("/sites/{site_id}", response_model=SiteOut, responses={**NOT_FOUND, **ERRORS})
async def get_site(request: Request, site_id: SitePath) -> Response:
    """One site, by id or slug."""
    return json_answer(site_json(require_site(context(request), site_id)))


@router.get("/sensors", response_model=SensorList, responses={**NOT_FOUND, **ERRORS})
async def get_sensors(
    request: Request, site: SiteKey = None, variable: VariableName | None = None
) -> Response:
    """Public sensors (of a site; measuring a variable), with what they measure."""
    ctx = context(request)
    site_id = None if site is None else require_site(ctx, site, field="site").id
    vids = variable_ids(None if variable is None else [variable])
    rows = ctx.store.read(
        lambda tx: list_sensor_rows(tx, site_id=site_id, variable_id=vids[0] if vids else None)
    )
    sensors = [
        {
            "id": r.id,
            "device": r.device,
            "device_status": r.device_status,
            "site": r.site_id,
            "site_slug": r.site,
            "type": r.type,
            "interval_s": r.interval_s,
            "variables": list(r.variables),
            "latest": iso(r.newest),
        }
        for r in rows
    ]
    return json_answer({"count": len(sensors), "sensors": sensors})


def _latest_site(ctx: AppContext, site: SiteRow, rows: list[LatestRow]) -> dict[str, Any]:
    values = {
        r.variable: {
            "value": r.value,
            "unit": variable(r.variable).unit,
            "time": iso(r.time),
            "sensor": r.sensor_id,
            "flags": r.flags,
        }
        for r in rows
    }
    return {
        "site": site.id,
        "slug": site.slug,
        "name": site.name,
        "latest": iso(max((r.time for r in rows), default=None)),
        "values": values,
        "current": current_json(ctx.air.site(site.id) if site.active else None),
    }


_Variables = Annotated[
    list[VariableName] | None, Query(description="Only these variables (repeat the parameter)")
]


@router.get("/latest", response_model=LatestList, responses={**CACHED, **NOT_FOUND, **ERRORS})
async def get_latest(
    request: Request, site: SiteKey = None, variable: _Variables = None
) -> Response:
    """Every active site's newest reading per variable and 60-minute means (ETag, 30 s cache)."""
    ctx = context(request)
    vids = variable_ids(variable)
    if site is not None:
        sites = [require_site(ctx, site, field="site")]
    else:
        sites = ctx.store.read(lambda tx: list_site_rows(tx, SiteFilter(active=True)))
    rows = ctx.store.read(
        lambda tx: latest_rows(
            tx, site_id=sites[0].id if site is not None else None, variable_ids=vids
        )
    )
    by_site: dict[int, list[LatestRow]] = {}
    for r in rows:
        by_site.setdefault(r.site_id, []).append(r)
    data = {"sites": [_latest_site(ctx, s, by_site.get(s.id, [])) for s in sites]}
    return cached_answer(request, data)


@router.get(
    "/sites/{site_id}/latest",
    response_model=SiteLatest,
    responses={**CACHED, **NOT_FOUND, **ERRORS},
)
async def get_site_latest(
    request: Request, site_id: SitePath, variable: _Variables = None
) -> Response:
    """One site's newest reading per variable and 60-minute means (ETag, 30 s cache)."""
    ctx = context(request)
    site = require_site(ctx, site_id)
    vids = variable_ids(variable)
    rows = ctx.store.read(lambda tx: latest_rows(tx, site_id=site.id, variable_ids=vids))
    return cached_answer(request, _latest_site(ctx, site, rows))


IndexName = Literal["AIRLY_CAQI", "CAQI", "PIJP", "GIOS", "EAQI", "US_AQI", "DAQI"]
assert set(get_args(IndexName)) == set(INDEXES)


@router.get(
    "/sites/{site_id}/indices",
    response_model=SiteIndices,
    responses={**CACHED, **NOT_FOUND, **ERRORS},
)
async def get_site_indices(
    request: Request,
    site_id: SitePath,
    index: Annotated[list[IndexName] | None, Query(description="Only these indices")] = None,
    lang: Annotated[Literal["pl", "en"], Query(description="Language of the texts")] = "en",
) -> Response:
    """Current indices of a site with level codes, colours and texts (ETag, 30 s cache)."""
    ctx = context(request)
    site = require_site(ctx, site_id)
    air = ctx.air.site(site.id) if site.active else None
    indices = current_indices(air, list(dict.fromkeys(index or INDEXES)), lang)
    data = {"site": site.id, "slug": site.slug, "current": current_json(air), "indices": indices}
    return cached_answer(request, data)

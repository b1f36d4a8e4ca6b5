"""Districts: list, GeoJSON and a per-district summary (``/api/v1/districts…``).

A district's current values are the means, per variable, of its active sites' 60-minute means
(each site counts once, whatever its number of sensors); the ranking orders districts by that
PM2.5, cleanest first.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from smartdistricts.api.context import AppContext, context
from smartdistricts.api.errors import ApiError
from smartdistricts.api.native.common import (
    ERRORS,
    NOT_FOUND,
    GeoJsonResponse,
    ReadRoute,
    json_answer,
    json_errors,
)
from smartdistricts.api.native.sites import Caqi, caqi_json, current_json
from smartdistricts.services.airnow import SiteAir
from smartdistricts.services.places import district_means, districts_now, rank_districts
from smartdistricts.services.sites_query import (
    DistrictRow,
    SiteFilter,
    list_district_rows,
    list_site_rows,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["districts"], route_class=ReadRoute)


class DistrictOut(BaseModel):
    id: int
    slug: str
    name: str
    approximate: bool = Field(description="The boundary is approximate")
    sites: list[int] = Field(description="Ids of the district's sites")


class DistrictList(BaseModel):
    count: int
    districts: list[DistrictOut]


class DistrictProperties(BaseModel):
    id: int
    slug: str
    name: str
    approximate: bool
    sites: int
    pm2_5: float | None = Field(description="Mean of its sites' 60-minute means [µg/m³]")
    caqi: Caqi


class DistrictFeature(BaseModel):
    type: Literal["Feature"]
    id: int
    geometry: dict[str, Any] = Field(description="A GeoJSON Polygon or MultiPolygon")
    properties: DistrictProperties


class DistrictCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[DistrictFeature]


class SummarySite(BaseModel):
    id: int
    slug: str
    name: str
    active: bool
    current: dict[str, Any] | None = Field(description="60-minute means: from, until, values")


class DistrictMeans(BaseModel):
    sites: int = Field(description="Sites with current data")
    values: dict[str, float]


class RankEntry(BaseModel):
    rank: int | None = Field(description="1 = lowest PM2.5; null without data")
    slug: str
    name: str
    pm2_5: float | None


class Summary(BaseModel):
    district: DistrictOut
    sites: list[SummarySite]
    current: DistrictMeans
    caqi: Caqi
    ranking: list[RankEntry]


def _district_json(d: DistrictRow) -> dict[str, Any]:
    return {
        "id": d.id,
        "slug": d.slug,
        "name": d.name,
        "approximate": d.approximate,
        "sites": list(d.site_ids),
    }


def _airs(ctx: AppContext, district: DistrictRow) -> list[SiteAir]:
    return [a for s in district.site_ids if (a := ctx.air.site(s)) is not None]


def _means(airs: list[SiteAir]) -> dict[str, Any]:
    with_data, values = district_means(airs)
    return {"sites": with_data, "values": values}


def _districts(ctx: AppContext) -> list[DistrictRow]:
    return ctx.store.read(list_district_rows)


@router.get("/districts", response_model=DistrictList, responses=ERRORS)
async def get_districts(request: Request) -> Response:
    """Every district with the ids of its sites."""
    districts = _districts(context(request))
    return json_answer(
        {"count": len(districts), "districts": [_district_json(d) for d in districts]}
    )


@router.get(
    "/districts.geojson",
    response_model=DistrictCollection,
    response_class=GeoJsonResponse,
    responses=json_errors(ERRORS),
)
async def get_districts_geojson(request: Request) -> Response:
    """Districts as GeoJSON polygons with their current PM2.5 and CAQI (for choropleth maps)."""
    ctx = context(request)
    features = []
    for d in _districts(ctx):
        means = _means(_airs(ctx, d))["values"]
        features.append(
            {
                "type": "Feature",
                "id": d.id,
                "geometry": d.geometry,
                "properties": {
                    "id": d.id,
                    "slug": d.slug,
                    "name": d.name,
                    "approximate": d.approximate,
                    "sites": len(d.site_ids),
                    "pm2_5": means.get("pm2_5"),
                    "caqi": caqi_json(means),
                },
            }
        )
    return json_answer(
        {"type": "FeatureCollection", "features": features}, media_type=GeoJsonResponse.media_type
    )


def _ranking(ctx: AppContext, districts: list[DistrictRow]) -> list[dict[str, Any]]:
    return [
        {
            "rank": rank,
            "slug": d.district.slug,
            "name": d.district.name,
            "pm2_5": d.values.get("pm2_5"),
        }
        for rank, d in rank_districts(districts_now(ctx.air, districts))
    ]


@router.get("/districts/{slug}/summary", response_model=Summary, responses={**NOT_FOUND, **ERRORS})
async def get_district_summary(
    request: Request,
    slug: Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")],
) -> Response:
    """A district now: its sites, the mean of their current values, and the districts' ranking."""
    ctx = context(request)
    districts = _districts(ctx)
    district = next((d for d in districts if d.slug == slug), None)
    if district is None:
        raise ApiError(404, f"no district {slug!r}", field="slug")
    airs = {a.site.id: a for a in _airs(ctx, district)}
    rows = ctx.store.read(lambda tx: list_site_rows(tx, SiteFilter(district=slug)))
    summary_sites = [
        {
            "id": s.id,
            "slug": s.slug,
            "name": s.name,
            "active": s.active,
            "current": current_json(airs.get(s.id)),
        }
        for s in rows
    ]
    means = _means(list(airs.values()))
    return json_answer(
        {
            "district": _district_json(district),
            "sites": summary_sites,
            "current": means,
            "caqi": caqi_json(means["values"]),
            "ranking": _ranking(ctx, districts),
        }
    )

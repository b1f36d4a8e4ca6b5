"""The native read API, ``/api/v1``, and its documentation at ``/docs`` (docs/api.md).

Resource routers: sites (with sensors, latest values and indices), series (hourly, daily),
measurements (raw, cursor-paged), districts, exports; ``docs`` serves Swagger UI. Every read
route is a :class:`~smartdistricts.api.native.common.ReadRoute`: CORS open, rate-limited per
client address, errors in the one JSON shape.
"""

from __future__ import annotations

from fastapi import APIRouter

from smartdistricts.api.native import districts, docs, exports, measurements, series, sites

__all__ = ["router"]

router = APIRouter()
for _module in (sites, series, measurements, districts, exports, docs):
    router.include_router(_module.router)

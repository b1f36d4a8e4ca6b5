"""Raw readings, cursor-paged (``GET /api/v1/measurements``; the batch write is
``api/measurements.py``).

Readings come in key order — sensor, variable, time — with an opaque ``next`` cursor: pass it
back as ``cursor`` with the same filters for the next page. Paging never repeats or skips a
reading that existed when paging began (keyset paging, :mod:`smartdistricts.services.series`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from smartdistricts.api.context import context
from smartdistricts.api.errors import ApiError
from smartdistricts.api.native.common import (
    ERRORS,
    NOT_FOUND,
    ReadRoute,
    SensorId,
    SiteKey,
    VariableName,
    json_answer,
    require_site,
    unix_param,
    variable_ids,
)
from smartdistricts.nomenclature import variable as variable_of
from smartdistricts.services.series import Key, ReadingFilter, reading_page
from smartdistricts.services.sites_query import sensor_exists

__all__ = ["decode_cursor", "encode_cursor", "reading_filter", "router"]

router = APIRouter(prefix="/api/v1", tags=["measurements"], route_class=ReadRoute)

#: Most readings one page may hold.
MAX_LIMIT = 10_000
_CURSOR = re.compile(r"v1\.([0-9]{1,18})\.([0-9]{1,5})\.(-?[0-9]{1,18})\.([0-9a-f]{8})")


class Reading(BaseModel):
    site: int | None = Field(description="The site's id; null for a device not placed")
    sensor: int
    variable: str
    time: str
    value: float
    flags: int = Field(description="Quality flags (docs/nomenclature.md)")


class Page(BaseModel):
    count: int
    next: str | None = Field(description="Cursor of the next page; null on the last")
    measurements: list[Reading]


def _fingerprint(filters: ReadingFilter) -> str:
    text = repr((filters.site_id, filters.sensor_id, filters.variable_ids))
    text += repr((filters.since, filters.until))
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def encode_cursor(key: Key, filters: ReadingFilter) -> str:
    """An opaque cursor: the last key returned and a fingerprint of the filters."""
    text = f"v1.{key[0]}.{key[1]}.{key[2]}.{_fingerprint(filters)}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, filters: ReadingFilter) -> Key:
    """The key a cursor continues after; 422 (``cursor``) when malformed or for other filters."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    match = _CURSOR.fullmatch(text)
    if match is None:
        raise ApiError(422, "malformed cursor; use the 'next' value of a page", field="cursor")
    if match.group(4) != _fingerprint(filters):
        raise ApiError(
            422, "this cursor belongs to other filters; repeat the same filters", field="cursor"
        )
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def reading_filter(
    request: Request,
    site: str | None,
    sensor: int | None,
    variable: list[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> ReadingFilter:
    """The filters of a measurements or export request; 404/422 for unknown or bad values."""
    ctx = context(request)
    site_id = None if site is None else require_site(ctx, site, field="site").id
    if sensor is not None and not ctx.store.read(lambda tx: sensor_exists(tx, sensor)):
        raise ApiError(404, f"no sensor {sensor}", field="sensor")
    start, end = unix_param(since, "since"), unix_param(until, "until")
    if start is not None and end is not None and start >= end:
        raise ApiError(422, "since must be earlier than until", field="since")
    return ReadingFilter(site_id, sensor, variable_ids(variable), start, end)


Variables = Annotated[
    list[VariableName] | None, Query(description="Only these variables (repeat the parameter)")
]
Since = Annotated[
    datetime | None, Query(description="From this time on (ISO 8601 or Unix seconds)")
]
Until = Annotated[datetime | None, Query(description="Before this time (exclusive)")]


@router.get("/measurements", response_model=Page, responses={**NOT_FOUND, **ERRORS})
async def get_measurements(
    request: Request,
    site: SiteKey = None,
    sensor: SensorId = None,
    variable: Variables = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Readings per page")] = 1000,
    cursor: Annotated[
        str | None, Query(max_length=200, description="The previous page's `next`")
    ] = None,
) -> Response:
    """Raw readings in key order (sensor, variable, time), a page at a time."""
    filters = reading_filter(request, site, sensor, variable, since, until)
    after = decode_cursor(cursor, filters) if cursor else None
    page, last = context(request).store.read(lambda tx: reading_page(tx, filters, limit, after))
    rows: list[dict[str, Any]] = []
    for series, readings in page:
        name = variable_of(series.variable_id).name
        rows.extend(
            {
                "site": series.site_id,
                "sensor": series.sensor_id,
                "variable": name,
                "time": t,
                "value": value,
                "flags": flags,
            }
            for t, value, flags in readings
        )
    return json_answer(
        {
            "count": len(rows),
            "next": None if last is None else encode_cursor(last, filters),
            "measurements": rows,
        }
    )

"""Exports of raw readings: CSV, Parquet and GeoJSON (``/api/v1/export.{csv,parquet,geojson}``).

The filters are those of ``GET /api/v1/measurements``; the window defaults to the last 7 days
and may span at most 31 days (the CLI's ``smartdistricts export`` has no limit). Answers are
streamed: each chunk of 50,000 readings is read in its own short transaction, so a slow
download holds no database snapshot open. CSV and Parquet have the columns of
``smartdistricts export`` (``services/export.py``) with ``flags``.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import StreamingResponse

from smartdistricts.api.context import context
from smartdistricts.api.errors import ApiError
from smartdistricts.api.native.common import (
    ERRORS,
    NOT_FOUND,
    GeoJsonResponse,
    ReadRoute,
    SensorId,
    SiteKey,
    iso,
    json_errors,
)
from smartdistricts.api.native.measurements import Since, Until, Variables, reading_filter
from smartdistricts.nomenclature import variable
from smartdistricts.services.export import COLUMNS
from smartdistricts.services.series import ReadingFilter, iter_readings
from smartdistricts.store.base import Store

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["exports"], route_class=ReadRoute)

DEFAULT_DAYS = 7
MAX_DAYS = 31
CHUNK = 50_000
EXPORT_COLUMNS = [*COLUMNS, "flags"]


class CsvResponse(StreamingResponse):
    media_type = "text/csv; charset=utf-8"


class ParquetResponse(StreamingResponse):
    media_type = "application/vnd.apache.parquet"


class GeoJsonStream(StreamingResponse):
    media_type = "application/geo+json"


class ReadingPoint(BaseModel):
    type: Literal["Point"]
    coordinates: list[float]


class ReadingProperties(BaseModel):
    site: str | None
    sensor: str = Field(description="<device uid>/<sensor type>")
    variable: str
    time: str
    value: float
    flags: int


class ReadingFeature(BaseModel):
    type: Literal["Feature"]
    geometry: ReadingPoint | None = Field(description="The site; null for a device not placed")
    properties: ReadingProperties


class ReadingCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[ReadingFeature]


def _filters(
    request: Request,
    site: str | None,
    sensor: int | None,
    variable_names: list[str] | None,
    since: Any,
    until: Any,
) -> ReadingFilter:
    f = reading_filter(request, site, sensor, variable_names, since, until)
    end = f.until if f.until is not None else int(time.time()) + 1
    start = f.since if f.since is not None else end - DEFAULT_DAYS * 86400
    if start >= end:
        raise ApiError(422, "since must be earlier than until", field="since")
    if end - start > MAX_DAYS * 86400:
        raise ApiError(
            422,
            f"an export may span at most {MAX_DAYS} days; use several requests"
            " or 'smartdistricts export'",
            field="since",
        )
    return ReadingFilter(f.site_id, f.sensor_id, f.variable_ids, start, end)


async def _export_filters(
    request: Request,
    site: SiteKey = None,
    sensor: SensorId = None,
    variable: Variables = None,
    since: Since = None,
    until: Until = None,
) -> ReadingFilter:
    """The filters every export takes (one dependency, so the three routes share them)."""
    return _filters(request, site, sensor, variable, since, until)


#: The export routes' query parameters, parsed and checked.
Filters = Annotated[ReadingFilter, Depends(_export_filters)]


def _disposition(f: ReadingFilter, suffix: str) -> dict[str, str]:
    assert f.since is not None and f.until is not None
    name = f"smartdistricts-{iso(f.since)}-{iso(f.until)}".replace(":", "")
    return {"Content-Disposition": f'attachment; filename="{name}.{suffix}"'}


def _csv(store: Store, f: ReadingFilter) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buf.getvalue().encode()
    for page in iter_readings(store, f, CHUNK):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for series, rows in page:
            site, sensor, name = series.site or "", series.sensor, variable(series.variable_id).name
            writer.writerows((site, sensor, t, name, repr(v), fl) for t, v, fl in rows)
        yield buf.getvalue().encode()


_PARQUET_SCHEMA = pa.schema(
    [
        pa.field("site", pa.string()),
        pa.field("sensor", pa.string()),
        pa.field("time", pa.timestamp("s", tz="UTC")),
        pa.field("variable", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("flags", pa.int16()),
    ]
)


class _Sink:
    """A write-only file for ParquetWriter whose bytes are taken out after each row group."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0
        self.closed = False

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readable(self) -> bool:
        return False

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self.parts.append(chunk)
        self.position += len(chunk)
        return len(chunk)

    def take(self) -> bytes:
        out = b"".join(self.parts)
        self.parts.clear()
        return out


def _parquet(store: Store, f: ReadingFilter) -> Iterator[bytes]:
    sink = _Sink()
    with pq.ParquetWriter(sink, _PARQUET_SCHEMA, compression="zstd") as writer:
        written = 0
        for page in iter_readings(store, f, CHUNK, iso=False):
            cols: list[list[Any]] = [[], [], [], [], [], []]
            for series, rows in page:
                n = len(rows)
                cols[0] += [series.site] * n
                cols[1] += [series.sensor] * n
                cols[3] += [variable(series.variable_id).name] * n
                for t, v, fl in rows:
                    cols[2].append(t)
                    cols[4].append(v)
                    cols[5].append(fl)
            arrays = [
                pa.array(cols[0], pa.string()),
                pa.array(cols[1], pa.string()),
                pa.array(cols[2], pa.int64()).cast(pa.timestamp("s", tz="UTC")),
                pa.array(cols[3], pa.string()),
                pa.array(cols[4], pa.float64()),
                pa.array(cols[5], pa.int16()),
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=_PARQUET_SCHEMA))
            written += len(cols[0])
            yield sink.take()
        if written == 0:
            writer.write_table(_PARQUET_SCHEMA.empty_table())
    yield sink.take()


def _geojson(store: Store, f: ReadingFilter) -> Iterator[bytes]:
    yield b'{"type":"FeatureCollection","features":['
    first = True
    for page in iter_readings(store, f, CHUNK):
        parts: list[bytes] = []
        for series, rows in page:
            geometry = (
                None
                if series.longitude is None or series.latitude is None
                else {"type": "Point", "coordinates": [series.longitude, series.latitude]}
            )
            name = variable(series.variable_id).name
            parts.extend(
                orjson.dumps(
                    {
                        "type": "Feature",
                        "geometry": geometry,
                        "properties": {
                            "site": series.site,
                            "sensor": series.sensor,
                            "variable": name,
                            "time": t,
                            "value": v,
                            "flags": fl,
                        },
                    }
                )
                for t, v, fl in rows
            )
        if parts:
            yield (b"" if first else b",") + b",".join(parts)
            first = False
    yield b"]}"


_DOC = json_errors({**NOT_FOUND, **ERRORS})


@router.get("/export.csv", response_class=CsvResponse, responses=_DOC)
async def export_csv(request: Request, f: Filters) -> CsvResponse:
    """Raw readings as CSV: `site, sensor, time, variable, value, flags` (≤ 31 days)."""
    store = context(request).store
    return CsvResponse(_csv(store, f), headers=_disposition(f, "csv"))


@router.get("/export.parquet", response_class=ParquetResponse, responses=_DOC)
async def export_parquet(request: Request, f: Filters) -> ParquetResponse:
    """Raw readings as Parquet (zstd), the columns of the CSV export (≤ 31 days)."""
    store = context(request).store
    return ParquetResponse(_parquet(store, f), headers=_disposition(f, "parquet"))


@router.get(
    "/export.geojson",
    response_class=GeoJsonResponse,  # documents the shape; the answer is a GeoJsonStream
    response_model=ReadingCollection,
    responses=_DOC,
)
async def export_geojson(request: Request, f: Filters) -> GeoJsonStream:
    """Raw readings as a GeoJSON FeatureCollection: one Point feature per reading (≤ 31 days)."""
    store = context(request).store
    return GeoJsonStream(_geojson(store, f), headers=_disposition(f, "geojson"))

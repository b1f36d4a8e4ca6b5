"""The Airly API v2, served from the platform's own data (``/v2/…``).

Clients written for Airly (Home Assistant's integration and its ``airly`` package, dashboards,
scripts) can point at ``https://<this server>/v2/`` and keep working: the same paths, query
parameters, JSON shapes, ``apikey`` header or query parameter, ``Accept-Language`` (``pl``/``en``),
``X-RateLimit-*`` headers, and Airly's error bodies (``{"errorCode", "message", "details"}`` for
400/404, ``{"message": …}`` for 401/429). Limits are per key and per UTC day and minute.

It is a plain ASGI application dispatched before the router (``api/app.py``): answers come from
a cache per site, index type and language that follows the data service's 30-second refresh.
The routes below exist for the OpenAPI description; they hand the request to the same code.
"""

from __future__ import annotations

import gzip
import math
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import orjson
from fastapi import APIRouter
from numpy.typing import NDArray
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from smartdistricts.api.context import AppContext
from smartdistricts.calc.geo import haversine_km
from smartdistricts.services import airly
from smartdistricts.services.airnow import Window
from smartdistricts.services.forecast import site_forecast
from smartdistricts.services.registry import ApiKey, Site

__all__ = ["AirlyAPI", "AirlyEndpoint", "router"]

PREFIX = "/v2/"
_JSON = (b"content-type", b"application/json;charset=UTF-8")
_CORS = [
    (b"access-control-allow-origin", b"*"),
    (
        b"access-control-expose-headers",
        b"X-RateLimit-Limit-day, X-RateLimit-Remaining-day,"
        b" X-RateLimit-Limit-minute, X-RateLimit-Remaining-minute",
    ),
]
_PREFLIGHT = [
    *_CORS,
    (b"access-control-allow-methods", b"GET, OPTIONS"),
    (b"access-control-allow-headers", b"apikey, Accept-Language, Accept, Content-Type"),
    (b"access-control-max-age", b"86400"),
]
_GZIP = (b"content-encoding", b"gzip")
_VARY = (b"vary", b"Accept-Encoding, Accept-Language")
_GZIP_FROM = 1024  # bytes: smaller answers are sent as they are
_NO_KEY = orjson.dumps({"message": "No API key found in request"})
_BAD_KEY = orjson.dumps({"message": "Invalid authentication credentials"})
_LIMITED = orjson.dumps({"message": "API rate limit exceeded"})


class Problem(Exception):
    """An Airly error answer."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body


def _invalid(parameter: str, message: str, rejected: object) -> Problem:
    return Problem(
        400,
        {
            "errorCode": "API_REQUEST_INVALID",
            "message": "API Request was not valid",
            "details": {
                "violations": [
                    {"parameter": parameter, "message": message, "rejectedValue": rejected}
                ]
            },
        },
    )


def _not_found(code: str, message: str, **details: object) -> Problem:
    return Problem(404, {"errorCode": code, "message": message, "details": details})


@dataclass
class _Counter:
    day: int
    day_count: int
    minute: int
    minute_count: int


class _Limits:
    """Per-key request counters: UTC day and wall-clock minute (fixed windows, as Airly)."""

    def __init__(self) -> None:
        self._counters: dict[str, _Counter] = {}

    def take(
        self, key: ApiKey, daily: int, per_minute: int
    ) -> tuple[bool, list[tuple[bytes, bytes]]]:
        now = time.time()
        day, minute = int(now // 86400), int(now // 60)
        c = self._counters.get(key.prefix)
        if c is None:
            c = self._counters[key.prefix] = _Counter(day, 0, minute, 0)
        if c.day != day:
            c.day, c.day_count = day, 0
        if c.minute != minute:
            c.minute, c.minute_count = minute, 0
        allowed = (not daily or c.day_count < daily) and (
            not per_minute or c.minute_count < per_minute
        )
        c.day_count += 1  # every request counts, allowed or not (as Airly)
        c.minute_count += 1
        headers = []
        if daily:
            headers += [
                (b"x-ratelimit-limit-day", b"%d" % daily),
                (b"x-ratelimit-remaining-day", b"%d" % max(0, daily - c.day_count)),
            ]
        if per_minute:
            headers += [
                (b"x-ratelimit-limit-minute", b"%d" % per_minute),
                (b"x-ratelimit-remaining-minute", b"%d" % max(0, per_minute - c.minute_count)),
            ]
        return allowed, headers


def _language(header: str | None) -> str:
    """``pl`` or ``en`` from an Accept-Language header (Airly's default: English)."""
    if header:
        for part in header.split(","):
            tag = part.split(";")[0].strip().lower()
            if tag.startswith("pl"):
                return "pl"
            if tag.startswith("en"):
                return "en"
    return "en"


def _one(query: dict[str, list[str]], *names: str) -> str | None:
    for name in names:
        values = query.get(name)
        if values:
            return values[-1]
    return None


def _number(
    query: dict[str, list[str]],
    name: str,
    low: float,
    high: float,
    *aliases: str,
    default: float | None = None,
) -> float:
    raw = _one(query, name, *aliases)
    if raw is None or raw.strip() == "":
        if default is None:
            raise _invalid(name, f"{name} is required", None)
        return default
    try:
        value = float(raw)
    except ValueError:
        raise _invalid(name, f"{name} must be a number", raw) from None
    if not math.isfinite(value) or not low <= value <= high:
        raise _invalid(name, f"{name} value must be between {low} and {high}", raw)
    return value


_INT64 = 2**63 - 1
_INTEGER = re.compile(r"\s*[+-]?[0-9]{1,30}\s*")


def _integer(
    query: dict[str, list[str]],
    name: str,
    default: int | None = None,
    *,
    low: int = -_INT64,
    high: int = _INT64,
) -> int:
    raw = _one(query, name)
    if raw is None or raw.strip() == "":
        if default is None:
            raise _invalid(name, f"{name} is required", None)
        return default
    if not _INTEGER.fullmatch(raw):
        raise _invalid(name, f"{name} must be an integer", raw)
    value = int(raw)
    if not low <= value <= high:
        raise _invalid(name, f"{name} value must be between {low} and {high}", raw)
    return value


def _identifier(query: dict[str, list[str]], name: str) -> int:
    """An installation or location id: a non-negative 64-bit integer."""
    return _integer(query, name, low=0, high=_INT64)


class AirlyAPI:
    """The request handling, independent of the web framework."""

    def __init__(self, ctx: AppContext) -> None:
        from smartdistricts.services.access import KeyDirectory

        self.ctx = ctx
        self.keys = KeyDirectory(ctx.store)
        self.limits = _Limits()
        self._cache: dict[tuple[Any, ...], tuple[float, bytes]] = {}
        self._gzipped: dict[bytes, bytes] = {}
        self._positions: tuple[tuple[Site, ...], NDArray[np.float64]] | None = None

    def _cached(self, key: tuple[Any, ...], build: Any) -> bytes:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now < hit[0]:
            return hit[1]
        body = orjson.dumps(build())
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[key] = (now + self.ctx.air.ttl, body)
        return body

    def handle(
        self, method: str, path: str, query_string: str, headers: dict[str, str]
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Answer one request: (status, headers, body)."""
        if method == "OPTIONS":
            return 204, _PREFLIGHT, b""
        query = parse_qs(query_string, keep_blank_values=True)
        token = headers.get("apikey") or _one(query, "apikey")
        if not token:
            return 401, _CORS, _NO_KEY
        key = self.keys.get(token.strip())
        if key is None or not key.scopes & {"read", "admin"}:
            return 401, _CORS, _BAD_KEY
        settings = self.ctx.settings
        daily = key.daily_limit if key.daily_limit is not None else settings.api_daily_limit
        minute = key.minute_limit if key.minute_limit is not None else settings.api_minute_limit
        allowed, limit_headers = self.limits.take(key, daily, minute)
        out_headers = _CORS + limit_headers
        if not allowed:
            return 429, [*out_headers, (b"retry-after", b"60")], _LIMITED
        if method != "GET":
            return (
                405,
                out_headers,
                orjson.dumps(
                    {"errorCode": "METHOD_NOT_ALLOWED", "message": "Use GET", "details": {}}
                ),
            )
        try:
            body = self._route(path, query, _language(headers.get("accept-language")))
        except Problem as problem:
            return problem.status, out_headers, orjson.dumps(problem.body)
        if len(body) >= _GZIP_FROM and "gzip" in headers.get("accept-encoding", ""):
            return 200, [*out_headers, _GZIP, _VARY], self._gzip(body)
        return 200, [*out_headers, _VARY], body

    def _gzip(self, body: bytes) -> bytes:
        """The body gzipped; kept as long as the same cached body is served (bytes cache their
        hash, so the look-up costs one dictionary probe)."""
        packed = self._gzipped.get(body)
        if packed is None:
            if len(self._gzipped) > 2_000:
                self._gzipped.clear()
            packed = self._gzipped[body] = gzip.compress(body, compresslevel=6, mtime=0)
        return packed

    def _index_type(self, query: dict[str, list[str]]) -> str:
        value = (_one(query, "indexType") or "AIRLY_CAQI").strip() or "AIRLY_CAQI"
        if value not in airly.INDEX_TYPES:
            raise _invalid("indexType", f"use one of {', '.join(airly.INDEX_TYPES)}", value)
        return value

    def _route(self, path: str, query: dict[str, list[str]], lang: str) -> bytes:
        air, standard = self.ctx.air, self.ctx.settings.standard
        if path in ("/v2/measurements/installation", "/v2/measurements/location"):
            name = "installationId" if path.endswith("installation") else "locationId"
            site_id, index_type = _identifier(query, name), self._index_type(query)

            def build() -> dict[str, Any]:
                site = air.site(site_id)
                if site is None:
                    raise _not_found("INSTALLATION_NOT_FOUND", "Installation not found", id=site_id)
                return airly.measurements(
                    site.current,
                    site.history,
                    index_type=index_type,
                    lang=lang,
                    standard=standard,
                    forecast=self._forecast(site_id),
                )

            return self._cached(("installation", site_id, index_type, lang), build)
        if path == "/v2/measurements/nearest":
            lat, lng = _number(query, "lat", -90, 90), _number(query, "lng", -180, 180)
            limit = _number(
                query, "maxDistanceKM", -math.inf, math.inf, "maxDistanceKm", default=3.0
            )
            index_type = self._index_type(query)
            found = self._nearest(lat, lng, limit, 1)
            if not found:
                raise _not_found(
                    "INSTALLATION_NOT_FOUND",
                    "No installation within maxDistanceKM",
                    lat=lat,
                    lng=lng,
                    maxDistanceKM=limit,
                )
            site_id = found[0][0].id
            return self._route(
                "/v2/measurements/installation",
                {"installationId": [str(site_id)], "indexType": [index_type]},
                lang,
            )
        if path == "/v2/measurements/point":
            lat, lng = _number(query, "lat", -90, 90), _number(query, "lng", -180, 180)
            index_type = self._index_type(query)
            key = ("point", round(lat, 4), round(lng, 4), index_type, lang)
            return self._cached(key, lambda: self._point(lat, lng, index_type, lang))
        if path == "/v2/installations/nearest":
            lat, lng = _number(query, "lat", -90, 90), _number(query, "lng", -180, 180)
            limit = _number(
                query, "maxDistanceKM", -math.inf, math.inf, "maxDistanceKm", default=3.0
            )
            results = _integer(query, "maxResults", default=1, low=-1, high=10_000)
            found = self._nearest(lat, lng, limit, results)
            return orjson.dumps([airly.installation(s, distance=d) for s, d in found])
        if path == "/v2/installations/location":
            return self._installation(_identifier(query, "locationId"))
        if path.startswith("/v2/installations/"):
            raw = path.removeprefix("/v2/installations/")
            return self._installation(_identifier({"installationId": [raw]}, "installationId"))
        if path == "/v2/meta/indexes":
            return self._cached(("meta-indexes", lang), lambda: airly.meta_indexes(lang))
        if path == "/v2/meta/measurements":
            return self._cached(("meta-measurements", lang), lambda: airly.meta_measurements(lang))
        if path == "/v2/meta/standards":
            return orjson.dumps(airly.meta_standards(standard))
        raise _not_found("NOT_FOUND", "Resource not found", path=path)

    def _forecast(self, site_id: int) -> list[Window]:
        """The site's forecast hours (cached per site and hour by ``services/forecast.py``)."""
        hours = site_forecast(self.ctx.store, site_id, tz=self.ctx.settings.tz)
        return [Window(f.from_ts, f.till_ts, f.values) for f in hours]

    def _installation(self, site_id: int) -> bytes:
        for site in self.ctx.air.site_list():
            if site.id == site_id:
                return orjson.dumps(airly.installation(site))
        raise _not_found("INSTALLATION_NOT_FOUND", "Installation not found", id=site_id)

    def _nearest(
        self, lat: float, lng: float, limit: float, results: int
    ) -> list[tuple[Any, float]]:
        sites = self.ctx.air.site_list()
        if self._positions is None or self._positions[0] is not sites:
            lat_lng = np.array([(s.latitude, s.longitude) for s in sites]).reshape(-1, 2)
            self._positions = (sites, lat_lng)
        distance = haversine_km(lat, lng, self._positions[1][:, 0], self._positions[1][:, 1])
        order = np.argsort(distance, kind="stable")
        if limit >= 0:
            order = order[distance[order] <= limit]
        if results >= 0:
            order = order[:results]
        return [(sites[i], float(distance[i])) for i in order.tolist()]

    def _point(self, lat: float, lng: float, index_type: str, lang: str) -> dict[str, Any]:
        air, settings = self.ctx.air, self.ctx.settings
        near = self._nearest(lat, lng, settings.point_radius_km, -1)
        airs = [(a, d) for s, d in near if (a := air.site(s.id)) is not None]
        if not airs:
            return airly.no_sensors(time.time(), index_type=index_type, lang=lang)
        return airly.measurements_of(
            airly.idw(airs), index_type=index_type, lang=lang, standard=settings.standard
        )


class AirlyEndpoint:
    """``/v2/…`` as a bare ASGI application."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        app = scope["app"]
        api: AirlyAPI | None = getattr(app.state, "airly", None)
        if api is None:
            api = app.state.airly = AirlyAPI(app.state.ctx)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        status, extra, body = api.handle(
            scope["method"], scope["path"], scope["query_string"].decode("latin-1"), headers
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [_JSON, (b"content-length", b"%d" % len(body)), *extra],
            }
        )
        await send({"type": "http.response.body", "body": body})


# -- the OpenAPI description -----------------------------------------------------------------------
class Value(BaseModel):
    name: str
    value: float


class Index(BaseModel):
    name: str
    value: float | None
    level: str
    description: str
    advice: str | None
    color: str


class StandardEntry(BaseModel):
    name: str
    pollutant: str
    limit: float
    percent: float
    averaging: str


class AveragedValues(BaseModel):
    fromDateTime: str  # noqa: N815 (Airly's names)
    tillDateTime: str  # noqa: N815
    values: list[Value]
    indexes: list[Index]
    standards: list[StandardEntry]


class Measurements(BaseModel):
    current: AveragedValues
    history: list[AveragedValues]
    forecast: list[AveragedValues]


class Location(BaseModel):
    latitude: float
    longitude: float


class Address(BaseModel):
    country: str | None = None
    city: str | None = None
    street: str | None = None
    number: str | None = None
    displayAddress1: str | None = None  # noqa: N815
    displayAddress2: str | None = None  # noqa: N815


class Sponsor(BaseModel):
    id: int
    name: str | None
    description: str | None
    logo: str | None
    link: str | None


class Installation(BaseModel):
    id: int
    locationId: int  # noqa: N815
    location: Location
    address: Address
    elevation: float | None
    airly: bool
    sponsor: Sponsor
    distance: float | None = None


class AirlyError(BaseModel):
    errorCode: str  # noqa: N815
    message: str
    details: dict[str, Any]


class Message(BaseModel):
    message: str


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": AirlyError, "description": "Invalid parameters"},
    401: {"model": Message, "description": "No or invalid API key"},
    404: {"model": AirlyError, "description": "Not found"},
    429: {"model": Message, "description": "Rate limit exceeded"},
}


def _parameters(*specs: tuple[str, str, bool]) -> list[dict[str, Any]]:
    types = {"int": {"type": "integer"}, "float": {"type": "number"}, "str": {"type": "string"}}
    return [{"name": n, "in": "query", "required": r, "schema": types[t]} for n, t, r in specs]


_INDEX = ("indexType", "str", False)
router = APIRouter(tags=["Airly API v2 (compatible)"])
_SECURITY: dict[str, Any] = {"security": [{"AirlyKey": []}]}


async def _delegate(request: Request) -> Response:
    api: AirlyAPI | None = getattr(request.app.state, "airly", None)
    if api is None:
        api = request.app.state.airly = AirlyAPI(request.app.state.ctx)
    headers = {k.lower(): v for k, v in request.headers.items()}
    status, extra, body = api.handle(request.method, request.url.path, request.url.query, headers)
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={k.decode(): v.decode() for k, v in extra},
    )


def _document(path: str, model: Any, *params: tuple[str, str, bool]) -> None:
    parameters = _parameters(*params)
    if "{installationId}" in path:
        parameters.append(
            {
                "name": "installationId",
                "in": "path",
                "required": True,
                "schema": {"type": "integer"},
            }
        )
    router.add_api_route(
        path,
        _delegate,
        methods=["GET"],
        responses={200: {"model": model, "description": "OK"}, **_ERRORS},
        openapi_extra={"parameters": parameters, **_SECURITY},
    )


_document("/v2/measurements/installation", Measurements, ("installationId", "int", True), _INDEX)
_document("/v2/measurements/location", Measurements, ("locationId", "int", True), _INDEX)
_document(
    "/v2/measurements/nearest",
    Measurements,
    ("lat", "float", True),
    ("lng", "float", True),
    ("maxDistanceKM", "float", False),
    _INDEX,
)
_document(
    "/v2/measurements/point", Measurements, ("lat", "float", True), ("lng", "float", True), _INDEX
)
_document(
    "/v2/installations/nearest",
    list[Installation],
    ("lat", "float", True),
    ("lng", "float", True),
    ("maxDistanceKM", "float", False),
    ("maxResults", "int", False),
)
_document("/v2/installations/location", Installation, ("locationId", "int", True))
_document("/v2/installations/{installationId}", Installation)
_document("/v2/meta/indexes", list[dict[str, Any]])
_document("/v2/meta/measurements", list[dict[str, Any]])
_document("/v2/meta/standards", list[dict[str, Any]])

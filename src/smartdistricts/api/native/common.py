"""What the native read API's routers share: the route class, errors, parameters, answers.

* :class:`ReadRoute` — every route of the read API: CORS open (``Access-Control-Allow-Origin:
  *`` on answers and errors, ``OPTIONS`` preflight for GET), a per-address rate limit, and
  errors rendered in the one JSON shape of :mod:`smartdistricts.api.errors` before the CORS
  headers are added. Write routes live elsewhere and get none of this.
* Parameter types and parsers (site keys, variable names, time windows) that answer bad input
  with a 4xx naming the parameter.
* :func:`json_answer` and :func:`cached_answer` (``ETag`` + ``Cache-Control``, 304 on
  ``If-None-Match``), built with ``orjson`` from plain dicts and tuples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Path, Query
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import WithJsonSchema
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from smartdistricts.api.context import AppContext, client_address
from smartdistricts.api.errors import (
    ApiError,
    ErrorBody,
    api_error_handler,
    error_response,
    http_exception_handler,
    validation_error_handler,
)
from smartdistricts.api.limits import RateLimiter
from smartdistricts.nomenclature import VARIABLES, variable
from smartdistricts.services.sites_query import SiteRow, site_by_key

__all__ = [
    "CACHE_SECONDS",
    "ERRORS",
    "ErrorBody",
    "GeoJsonResponse",
    "ReadRoute",
    "SiteKey",
    "SitePath",
    "VariableName",
    "cached_answer",
    "iso",
    "json_answer",
    "json_errors",
    "require_site",
    "to_unix",
    "variable_ids",
]

#: ``Cache-Control: max-age`` of current values: the data service refreshes every 30 s.
CACHE_SECONDS = 30
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "ETag, Retry-After, Content-Disposition",
}
_PREFLIGHT = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, OPTIONS"),
    (b"access-control-allow-headers", b"Accept, Accept-Language, Content-Type, If-None-Match"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


#: Error answers every read route may give.
ERRORS: dict[int | str, dict[str, Any]] = {
    422: _error("A parameter is invalid; `field` names it"),
    429: _error("Too many requests from this address; see Retry-After"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _error("No such site, sensor or district")}


def json_errors(errors: dict[int | str, dict[str, Any]]) -> dict[int | str, dict[str, Any]]:
    """Error answers documented as JSON for a route whose ``response_class`` is not JSON
    (FastAPI would document a ``model`` under the route's media type)."""
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    return {
        status: {
            "description": spec["description"],
            "content": {"application/json": {"schema": ref}},
        }
        for status, spec in errors.items()
    }


# -- the route class ------------------------------------------------------------------------------
def read_limiter(app: Any) -> RateLimiter:
    """The read API's per-address limiter (``app.state.read_limiter``; replace it to tune)."""
    limiter: RateLimiter | None = getattr(app.state, "read_limiter", None)
    if limiter is None:
        per_minute = app.state.ctx.settings.reads_per_minute
        limiter = app.state.read_limiter = RateLimiter(per_minute, 60.0)
    return limiter


def _loopback(address: str) -> bool:
    """The server itself (health checks, benchmarks, a proxy that sends no client address):
    not limited — limiting it would throttle every client behind a misconfigured proxy."""
    return address.startswith("127.") or address == "::1"


async def _as_response(request: Request, exc: Exception) -> Response:
    if isinstance(exc, ApiError):
        return await api_error_handler(request, exc)
    if isinstance(exc, RequestValidationError):
        return await validation_error_handler(request, exc)
    return await http_exception_handler(request, exc)


class ReadRoute(APIRoute):
    """A route of the public read API: CORS, rate limit, errors in the common shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def read_handler(request: Request) -> Response:
            limiter = read_limiter(request.app)
            address = client_address(request)
            if not _loopback(address) and not limiter.allow(address):
                response = error_response(
                    429,
                    "too many requests from this address; slow down",
                    headers={"Retry-After": str(limiter.retry_after(address))},
                )
            else:
                try:
                    response = await handler(request)
                except (ApiError, RequestValidationError, HTTPException) as exc:
                    response = await _as_response(request, exc)
            response.headers.update(CORS)
            return response

        return read_handler

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            await send({"type": "http.response.start", "status": 204, "headers": _PREFLIGHT})
            await send({"type": "http.response.body", "body": b""})
            return
        await super().handle(scope, receive, send)


# -- answers ----------------------------------------------------------------------------------
class GeoJsonResponse(JSONResponse):
    """A GeoJSON answer (``application/geo+json``). As a route's ``response_class`` it makes
    the OpenAPI description show the route's model under that media type."""

    media_type = "application/geo+json"


def json_answer(
    data: Any, *, headers: dict[str, str] | None = None, media_type: str = "application/json"
) -> Response:
    return Response(orjson.dumps(data), media_type=media_type, headers=headers)


def _etag_matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    return any(part.strip().removeprefix("W/") == tag for part in header.split(","))


def cached_answer(request: Request, data: Any) -> Response:
    """A JSON answer with ``ETag`` (a hash of the body) and ``Cache-Control``; 304 if unchanged."""
    body = orjson.dumps(data)
    tag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    headers = {"ETag": tag, "Cache-Control": f"public, max-age={CACHE_SECONDS}"}
    if _etag_matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


CACHED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the `If-None-Match` ETag is current"}
}


# -- parameters ---------------------------------------------------------------------------------
_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
_KEY_HELP = "A site id (digits) or slug (`malopolska-11`)"
#: A site in a path: id or slug.
SitePath = Annotated[
    str, Path(description=_KEY_HELP, pattern=_KEY_PATTERN, examples=["1", "malopolska-11"])
]
#: A site as a filter: id or slug.
SiteKey = Annotated[str | None, Query(description=_KEY_HELP, pattern=_KEY_PATTERN)]
#: A variable name (docs/nomenclature.md); the schema lists them, the handler checks them.
VariableName = Annotated[
    str, WithJsonSchema({"type": "string", "enum": [v.name for v in VARIABLES]})
]
#: A sensor id filter.
SensorId = Annotated[int | None, Query(ge=1, le=2**53, description="A sensor id")]


def require_site(ctx: AppContext, key: str, *, field: str = "site_id") -> SiteRow:
    """The site with this id or slug, or a 404 naming ``field``."""
    site = ctx.store.read(lambda tx: site_by_key(tx, key))
    if site is None:
        raise ApiError(404, f"no site {key!r}", field=field)
    return site


def variable_ids(names: Sequence[str] | None, *, field: str = "variable") -> tuple[int, ...]:
    """Ids of the named variables (in the order given, without repeats); 422 for an unknown."""
    ids: list[int] = []
    for name in names or ():
        try:
            vid = variable(name).id
        except KeyError:
            raise ApiError(
                422,
                f"{name!r} is not a known variable (see docs/nomenclature.md)",
                field=field,
            ) from None
        if vid not in ids:
            ids.append(vid)
    return tuple(ids)


def to_unix(when: datetime) -> int:
    """Unix seconds of a datetime; one without a time zone is taken as UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp())


def iso(t: int | None) -> str | None:
    """``2026-11-28T13:00:00Z`` for Unix seconds (None stays None)."""
    return None if t is None else datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: The times the API accepts: 1970-01-01 to 9999-12-31 (UTC).
_LATEST_TIME = 253_402_300_799


def _in_range(t: int, field: str) -> int:
    if not 0 <= t <= _LATEST_TIME:
        raise ApiError(422, "times must lie between 1970 and 9999", field=field)
    return t


def unix_param(when: datetime | None, field: str) -> int | None:
    """Unix seconds of an optional time parameter; 422 naming ``field`` outside 1970–9999."""
    return None if when is None else _in_range(to_unix(when), field)


def window(
    since: datetime | None,
    until: datetime | None,
    *,
    default_span: int,
    max_span: int | None,
    default_until: int,
    days: int | None = None,
) -> tuple[int, int]:
    """``[since, until)`` in Unix seconds with defaults; 422 when empty or too long.

    ``days`` (instead of ``since``): the window is that many days ending at ``until``.
    """
    if since is not None and days is not None:
        raise ApiError(422, "give since or days, not both", field="days")
    end = default_until if until is None else _in_range(to_unix(until), "until")
    start = end - default_span if since is None else _in_range(to_unix(since), "since")
    if start >= end:
        raise ApiError(422, "since must be earlier than until", field="since")
    if max_span is not None and end - start > max_span:
        raise ApiError(422, f"the window may span at most {max_span // 86400} days", field="since")
    return start, end

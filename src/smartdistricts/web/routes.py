"""The portal's pages (the full portal is built on these in later work).

Every page has a JSON twin built from the same query (``/`` and ``/index.json``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from smartdistricts.api.context import context
from smartdistricts.services.current import SiteNow, current_values

__all__ = ["routes"]

_env = Environment(
    loader=PackageLoader("smartdistricts.web", "templates"),
    autoescape=select_autoescape(["html"]),
)


def _site_json(item: SiteNow, tz: Any) -> dict[str, Any]:
    when = (
        datetime.fromtimestamp(item.latest_time, UTC).astimezone(tz).isoformat()
        if item.latest_time
        else None
    )
    return {
        "id": item.site.id,
        "slug": item.site.slug,
        "name": item.site.name,
        "latitude": item.site.latitude,
        "longitude": item.site.longitude,
        "values": {k: round(v, 2) for k, v in sorted(item.values.items())},
        "latest": when,
    }


def _home_data(request: Request) -> dict[str, Any]:
    ctx = context(request)
    tz = ctx.settings.tz
    return {"sites": [_site_json(s, tz) for s in current_values(ctx.store)]}


async def home(request: Request) -> Response:
    data = _home_data(request)
    html = _env.get_template("home.html").render(**data)
    return HTMLResponse(html)


async def home_json(request: Request) -> Response:
    return Response(orjson.dumps(_home_data(request)), media_type="application/json")


def routes() -> list[Route]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/index.json", home_json, methods=["GET"]),
    ]

"""The portal's pages (the full portal is built on these in later work).

Every page has a JSON twin built from the same function (``/`` and ``/index.json``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from smartdistricts.api.context import context
from smartdistricts.services.airnow import SiteAir

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_env = Environment(
    loader=PackageLoader("smartdistricts.web", "templates"),
    autoescape=select_autoescape(["html"]),
)


def _site_json(air: SiteAir, tz: Any) -> dict[str, Any]:
    newest = air.latest if air.current.values else None
    when = datetime.fromtimestamp(newest, UTC).astimezone(tz).isoformat() if newest else None
    return {
        "id": air.site.id,
        "slug": air.site.slug,
        "name": air.site.name,
        "latitude": air.site.latitude,
        "longitude": air.site.longitude,
        "values": {k: round(v, 2) for k, v in sorted(air.current.values.items())},
        "latest": when,
    }


def home_data(request: Request) -> dict[str, Any]:
    """What the home page shows: each active site's 60-minute means."""
    ctx = context(request)
    return {"sites": [_site_json(a, ctx.settings.tz) for a in ctx.air.sites()]}


@router.get("/")
async def home(request: Request) -> Response:
    html = _env.get_template("home.html").render(**home_data(request))
    return HTMLResponse(html)


@router.get("/index.json")
async def home_json(request: Request) -> dict[str, Any]:
    return home_data(request)

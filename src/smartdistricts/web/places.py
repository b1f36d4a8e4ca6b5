"""The portal's place pages: the map, site pages, the districts' ranking and district pages.

Polish at the root, English under ``/en/`` (:mod:`smartdistricts.web.pages`); every page has a
JSON twin at the same path + ``.json`` built by the same function, so the two cannot disagree:

* ``/mapa``, ``/en/map`` — every active site coloured by its CAQI level with its air box in a
  popup, the district boundaries, and the same sites as a plain table (works without
  JavaScript). Leaflet comes from the installed ``XStatic-Leaflet`` package, served under
  ``/static/leaflet/``; the tiles from the ``tile_url`` setting (empty: no base map).
* ``/stanowiska/{id}``, ``/en/sites/{id}`` — a site (id or slug): its box now, charts of 24 h,
  7 days and 30 days with the norm lines (SVG, :mod:`smartdistricts.web.charts`), the CAQI
  history, days over the norm this year and CSV downloads.
* ``/dzielnice``, ``/en/districts`` — districts ranked by current PM2.5 (and their CAQI).
* ``/dzielnice/{slug}``, ``/en/districts/{slug}`` — a district: its sites, their mean, its rank.

The data comes from :mod:`smartdistricts.services.places`; this module adds the links, renders
and caches. A built page is kept for :data:`PAGE_TTL` seconds (of the data service's clock).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import orjson
import xstatic.pkg.leaflet as xl  # type: ignore[import-untyped]
from fastapi import APIRouter
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from smartdistricts.api.context import AppContext, context
from smartdistricts.api.errors import ApiError
from smartdistricts.nomenclature import variable
from smartdistricts.services import places
from smartdistricts.web import charts, i18n
from smartdistricts.web.pages import paths, render_html

__all__ = ["PAGE_TTL", "router"]

router = APIRouter(include_in_schema=False)

#: Seconds a built page (HTML and JSON) is reused.
PAGE_TTL = 30.0
_HTML = "text/html; charset=utf-8"
_JSON = "application/json"
_CSP = (
    "default-src 'self'; img-src 'self' data:{tiles}; style-src 'self' 'unsafe-inline';"
    " script-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
_COLORS = {
    "pm1": "#6a3d9a",
    "pm2_5": "#1f4e99",
    "pm10": "#a84300",
    "temp_air": "#b2182b",
    "relative_humidity": "#1b7837",
    "pressure": "#4d4d4d",
}


def _range_title(name: str, lang: str) -> str:
    if name == "24h":
        return i18n.gettext(lang, "Ostatnie 24 godziny")
    if name == "7d":
        return i18n.gettext(lang, "Ostatnie 7 dni")
    return i18n.gettext(lang, "Ostatnie 30 dni")


# -- state: caches per application ----------------------------------------------------------------
@dataclass
class PlacesState:
    """The application's site histories and built pages (bytes), by page and language."""

    ctx: AppContext
    history: places.HistoryCache = field(default_factory=places.HistoryCache)
    pages: dict[tuple[str, ...], tuple[float, bytes, bytes]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def get(
        self, key: tuple[str, ...], now: float, build: Callable[[], tuple[bytes, bytes] | None]
    ) -> tuple[bytes, bytes] | None:
        hit = self.pages.get(key)
        if hit is not None and 0 <= now - hit[0] < PAGE_TTL:
            return hit[1], hit[2]
        built = build()
        if built is not None:
            with self.lock:
                if len(self.pages) > 5000:
                    self.pages.clear()
                self.pages[key] = (now, *built)
        return built


def state(request: Request) -> PlacesState:
    """The place pages' caches of this application (``app.state.places``)."""
    ctx = context(request)
    found: PlacesState | None = getattr(request.app.state, "places", None)
    if found is None or found.ctx is not ctx:
        found = request.app.state.places = PlacesState(ctx)
    return found


def _tile_origin(url: str) -> str:
    """The origin the map's tiles come from, for the page's Content-Security-Policy."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    host = parts.netloc.replace("{s}", "*")
    return f" {parts.scheme}://{host}"


def _headers(ctx: AppContext, *, tiles: bool = False) -> dict[str, str]:
    origin = _tile_origin(ctx.settings.tile_url) if tiles else ""
    return {
        "cache-control": "public, max-age=30",
        "content-security-policy": _CSP.format(tiles=origin),
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
    }


def _when(lang: str, ctx: AppContext) -> Callable[[int | None], str]:
    tz = ctx.settings.tz

    def when(ts: int | None) -> str:
        return "—" if ts is None else i18n.format_datetime(ts, lang, tz)

    return when


def _label(name: str, lang: str) -> str:
    """A variable's name for people (PM2.5, Temperatura, …)."""
    v = variable(name)
    return v.label_pl if lang == "pl" else v.label_en


def _json_script(data: Any) -> Markup:
    """``data`` as JSON safe inside ``<script type="application/json">``."""
    text = orjson.dumps(data).decode()
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 (JSON with <, > and & escaped cannot close the element)


def _respond(
    request: Request,
    key: tuple[str, ...],
    build: Callable[[], tuple[bytes, bytes] | None],
    as_json: bool,
    missing: tuple[str, str],
    *,
    tiles: bool = False,
) -> Response:
    st = state(request)
    built = st.get(key, st.ctx.air.clock(), build)
    if built is None:
        message, field_name = missing
        raise ApiError(404, message, field=field_name)
    html, data = built
    body, media = (data, _JSON) if as_json else (html, _HTML)
    headers = _headers(st.ctx, tiles=tiles and not as_json)
    headers["etag"] = f'"{hashlib.blake2b(body, digest_size=10).hexdigest()}"'
    return Response(body, media_type=media, headers=headers)


def _not_found_html(request: Request, lang: str, message: str) -> Response:
    html = render_html(request, "not_found.html", lang, message=message)
    return Response(html, status_code=404, media_type=_HTML, headers=_headers(context(request)))


# -- the map --------------------------------------------------------------------------------------
def map_page_data(ctx: AppContext, lang: str) -> dict[str, Any]:
    """The map's data (its JSON twin) with the pages' links."""
    p = paths(lang)
    data = places.map_data(ctx.store, ctx.air, ctx.settings, lang)
    for site in data["sites"]:
        site["url"] = p.site(site["id"])
        if site["district"] is not None:
            site["district"]["url"] = p.district(site["district"]["slug"])
    for feature in data["districts"]["features"]:
        feature["properties"]["url"] = p.district(feature["properties"]["slug"])
    return data


def _map_texts(lang: str) -> dict[str, str]:
    return {
        "open": i18n.gettext(lang, "Zobacz stanowisko"),
        "map": i18n.gettext(lang, "Mapa stanowisk pomiarowych"),
        "district": i18n.gettext(lang, "Dzielnica"),
        "index": i18n.gettext(lang, "Indeks CAQI"),
        "no_pm": i18n.gettext(lang, "brak danych"),
    }


def _map(request: Request, lang: str, as_json: bool) -> Response:
    ctx = context(request)
    p = paths(lang)

    def build() -> tuple[bytes, bytes]:
        data = map_page_data(ctx, lang)
        payload = _json_script({"data": data, "texts": _map_texts(lang)})
        html = render_html(
            request,
            "map.html",
            lang,
            d=data,
            payload=payload,
            when=_when(lang, ctx),
            leaflet=leaflet_url,
            map_js=map_js_url(),
            json_url=p.json(p.map),
        )
        return html.encode(), orjson.dumps(data)

    return _respond(request, ("map", lang), build, as_json, ("", "path"), tiles=True)


# -- a site ---------------------------------------------------------------------------------------
def site_page_data(
    ctx: AppContext, cache: places.HistoryCache, key: str, lang: str
) -> dict[str, Any] | None:
    """A site page's data (its JSON twin) with the links; None for an unknown site."""
    data = places.site_data(ctx.store, ctx.air, cache, ctx.settings, key, lang)
    if data is None:
        return None
    p = paths(lang)
    site = data["site"]
    site["url"] = p.site(site["id"])
    if site["district"] is not None:
        site["district"]["url"] = p.district(site["district"]["slug"])
    if data["current"] is not None:
        data["current"]["site"] = {"id": site["id"], "slug": site["slug"], "url": site["url"]}
    since = data["charts"]["30d"]["time"][0]
    data["csv"] = {
        "7d": "/api/v1/export.csv?" + urlencode({"site": site["id"]}),
        "30d": "/api/v1/export.csv?"
        + urlencode({"site": site["id"], "since": datetime.fromtimestamp(since, UTC).isoformat()}),
    }
    data["map"] = p.map
    return data


def _norm_label(name: str, limit: float, averaging: str | None, standard: str, lang: str) -> str:
    text = i18n.gettext(lang, "Norma {name} ({standard}, {averaging}): {limit} µg/m³")
    return text.format(
        name=_label(name, lang),
        standard=standard,
        averaging=averaging or "",
        limit=i18n.format_number(limit, lang, 0),
    )


def _summary(lang: str, lines: list[charts.Line], unit: str, digits: int) -> str:
    """``PM2.5: od 3,1 do 45,2 µg/m³, ostatnio 12,0 µg/m³. …`` for a chart's ``<desc>``."""
    out = []
    for ln in lines:
        vals = [v for v in ln.values if v is not None]
        if not vals:
            out.append(i18n.gettext(lang, "{name}: brak danych.").format(name=ln.label))
            continue
        text = i18n.gettext(lang, "{name}: od {low} do {high} {unit}, ostatnio {last} {unit}.")
        out.append(
            text.format(
                name=ln.label,
                low=i18n.format_number(min(vals), lang, digits),
                high=i18n.format_number(max(vals), lang, digits),
                last=i18n.format_number(vals[-1], lang, digits),
                unit=unit,
            )
        )
    return " ".join(out)


def _site_charts(ctx: AppContext, data: dict[str, Any], lang: str) -> dict[str, Any]:
    """The site page's SVG charts from its data: per range PM and weather, the index bars."""
    tz = ctx.settings.tz
    out: dict[str, Any] = {}
    for name, series in data["charts"].items():
        times: list[int] = series["time"]
        step = series["step"]
        start, end = (times[0], times[-1] + step) if times else (0, step)
        mid = [t + step // 2 for t in times] if step > 3600 else times
        period = _range_title(name, lang)
        pm_lines = [
            charts.Line(v, _label(v, lang), mid, series["values"][v], _COLORS[v]) for v in places.PM
        ]
        if name == "24h" and data.get("forecast"):
            points = data["forecast"]
            pm_lines.append(
                charts.Line(
                    "forecast",
                    i18n.gettext(lang, "Prognoza PM2.5"),
                    [pt["time"] for pt in points],
                    [pt.get("pm2_5") for pt in points],
                    _COLORS["pm2_5"],
                    dash="6 4",
                )
            )
            end = max(end, max(pt["time"] for pt in points))
        norms = [
            charts.Norm(
                v,
                _norm_label(v, n["limit"], n["averaging"], data["standard"], lang),
                n["limit"],
                _COLORS[v],
            )
            for v, n in data["norms"].items()
            if n["limit"] is not None
        ]
        means = (
            i18n.gettext(lang, "średnie dobowe")
            if step > 3600
            else i18n.gettext(lang, "średnie godzinowe")
        )
        desc = _summary(lang, pm_lines[:2], "µg/m³", 1)
        if norms:
            desc += " " + " ".join(n.label + "." for n in norms)
        particulates = i18n.gettext(lang, "Pył zawieszony")
        pm = charts.line_chart(
            chart_id=f"pm-{name}",
            title=f"{particulates}: {period} ({means})",
            desc=desc,
            start=start,
            end=end,
            lines=pm_lines,
            norms=norms,
            unit="µg/m³",
            lang=lang,
            tz=tz,
        )
        weather = []
        for v in places.WEATHER:
            unit = variable(v).unit
            line = charts.Line(v, _label(v, lang), mid, series["values"][v], _COLORS[v])
            weather.append(
                (
                    f"{v}-{name}",
                    charts.line_chart(
                        chart_id=f"{v}-{name}",
                        title=f"{_label(v, lang)}: {period} ({means})",
                        desc=_summary(lang, [line], unit, 1),
                        start=start,
                        end=end,
                        lines=[line],
                        unit=unit,
                        lang=lang,
                        tz=tz,
                        zero_based=False,
                        height=150,
                    ),
                )
            )
        out[name] = {"title": period, "pm": (f"pm-{name}", pm), "weather": weather}
    history = data["index_history"]
    bars = [
        charts.Bar(t, v, c, label)
        for t, v, c, label in zip(
            history["time"], history["value"], history["color"], history["label"], strict=True
        )
    ]
    counts: dict[str, int] = {}
    for b in bars:
        if b.value is not None:
            counts[b.label] = counts.get(b.label, 0) + 1
    desc = (
        i18n.gettext(lang, "Godziny na poszczególnych poziomach:")
        + " "
        + (", ".join(f"{k}: {n}" for k, n in counts.items()) or i18n.gettext(lang, "brak danych"))
    )
    legend = [(f"{lv['label']} ({lv['values']})", lv["color"]) for lv in data["legend"]]
    out["index"] = (
        "index-7d",
        charts.bar_chart(
            chart_id="index-7d",
            title=i18n.gettext(lang, "Indeks CAQI godzina po godzinie, ostatnie 7 dni"),
            desc=desc,
            step=3600,
            bars=bars,
            legend=legend,
            unit="CAQI",
            lang=lang,
            tz=tz,
        ),
    )
    return out


def _site(request: Request, lang: str, as_json: bool, site_id: str) -> Response:
    key = site_id
    ctx = context(request)
    st = state(request)
    p = paths(lang)

    def build() -> tuple[bytes, bytes] | None:
        data = site_page_data(ctx, st.history, key, lang)
        if data is None:
            return None
        html = render_html(
            request,
            "site.html",
            lang,
            d=data,
            svg=_site_charts(ctx, data, lang),
            when=_when(lang, ctx),
            label=lambda name: _label(name, lang),
            json_url=p.json(p.site(data["site"]["id"])),
        )
        return html.encode(), orjson.dumps(data)

    message = i18n.gettext(lang, "Nie ma stanowiska „{key}”.").format(key=key)
    if as_json:
        return _respond(request, ("site", key, lang), build, True, (message, "id"))
    try:
        return _respond(request, ("site", key, lang), build, False, (message, "id"))
    except ApiError:
        return _not_found_html(request, lang, message)


# -- districts ------------------------------------------------------------------------------------
def _district_links(rows: list[dict[str, Any]], lang: str) -> None:
    p = paths(lang)
    for row in rows:
        row["url"] = p.district(row["slug"])


def ranking_page_data(ctx: AppContext, lang: str) -> dict[str, Any]:
    data = places.ranking_data(ctx.store, ctx.air, lang)
    _district_links(data["ranking"], lang)
    return data


def district_page_data(ctx: AppContext, slug: str, lang: str) -> dict[str, Any] | None:
    data = places.district_data(ctx.store, ctx.air, ctx.settings, slug, lang)
    if data is None:
        return None
    p = paths(lang)
    data["district"]["url"] = p.district(slug)
    _district_links(data["ranking"], lang)
    for site in data["sites"]:
        site["url"] = p.site(site["id"])
    data["districts_url"] = p.districts
    return data


def _ranking(request: Request, lang: str, as_json: bool) -> Response:
    ctx = context(request)
    p = paths(lang)

    def build() -> tuple[bytes, bytes]:
        data = ranking_page_data(ctx, lang)
        html = render_html(request, "districts.html", lang, d=data, json_url=p.json(p.districts))
        return html.encode(), orjson.dumps(data)

    return _respond(request, ("ranking", lang), build, as_json, ("", "path"))


def _district(request: Request, lang: str, as_json: bool, slug: str) -> Response:
    ctx = context(request)
    p = paths(lang)

    def build() -> tuple[bytes, bytes] | None:
        data = district_page_data(ctx, slug, lang)
        if data is None:
            return None
        html = render_html(
            request,
            "district.html",
            lang,
            d=data,
            when=_when(lang, ctx),
            label=lambda name: _label(name, lang),
            unit=lambda name: variable(name).unit,
            order=[
                *places.CHART_VARIABLES,
                *sorted(set(data["current"]["values"]) - set(places.CHART_VARIABLES)),
            ],
            json_url=p.json(p.district(slug)),
        )
        return html.encode(), orjson.dumps(data)

    message = i18n.gettext(lang, "Nie ma dzielnicy „{slug}”.").format(slug=slug)
    if as_json:
        return _respond(request, ("district", slug, lang), build, True, (message, "slug"))
    try:
        return _respond(request, ("district", slug, lang), build, False, (message, "slug"))
    except ApiError:
        return _not_found_html(request, lang, message)


# -- routes ---------------------------------------------------------------------------------------
View = Callable[..., Response]


def _route(path: str, view: View, lang: str, as_json: bool) -> None:
    async def endpoint(request: Request) -> Response:
        return view(request, lang, as_json, **request.path_params)

    endpoint.__name__ = f"{view.__name__.lstrip('_')}_{lang}{'_json' if as_json else ''}"
    router.add_api_route(path, endpoint, methods=["GET"])


for _pl, _en, _view in (
    ("/mapa", "/en/map", _map),
    ("/stanowiska/{site_id}", "/en/sites/{site_id}", _site),
    ("/dzielnice", "/en/districts", _ranking),
    ("/dzielnice/{slug}", "/en/districts/{slug}", _district),
):
    for _lang, _path in (("pl", _pl), ("en", _en)):
        _route(_path + ".json", _view, _lang, True)  # first: "{site_id}" would match "3.json"
        _route(_path, _view, _lang, False)


# -- static: Leaflet (from the XStatic-Leaflet package) and map.js --------------------------------
def _leaflet_dir() -> Path:
    return Path(xl.BASE_DIR)


_LEAFLET_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                  ".png": "image/png"}  # fmt: skip
_IMMUTABLE = {"cache-control": "public, max-age=86400", "x-content-type-options": "nosniff"}


def _leaflet_files() -> dict[str, Path]:
    """Leaflet's servable files by their path under ``/static/leaflet/`` (no source maps)."""
    root = _leaflet_dir()
    return {
        f.relative_to(root).as_posix(): f
        for f in root.rglob("*")
        if f.is_file() and f.suffix in _LEAFLET_TYPES and "esm" not in f.name
    }


_LEAFLET = _leaflet_files()


def leaflet_url(name: str) -> str:
    """``/static/leaflet/<name>?v=<Leaflet's version>``."""
    if name not in _LEAFLET:
        raise ValueError(f"no Leaflet file {name!r}")
    return f"/static/leaflet/{name}?v={xl.VERSION}"


@router.get("/static/leaflet/{name:path}")
async def leaflet(name: str) -> Response:
    """Leaflet's script, stylesheet and images, from the installed package."""
    found = _LEAFLET.get(name)
    if found is None:
        raise ApiError(404, f"no Leaflet file {name!r}", field="name")
    return FileResponse(found, media_type=_LEAFLET_TYPES[found.suffix], headers=_IMMUTABLE)


def _map_js() -> bytes:
    return resources.files("smartdistricts.web").joinpath("static", "map.js").read_bytes()


_MAP_JS = _map_js()
_MAP_JS_VERSION = hashlib.blake2b(_MAP_JS, digest_size=6).hexdigest()


def map_js_url() -> str:
    return f"/static/map.js?v={_MAP_JS_VERSION}"


@router.get("/static/map.js")
async def map_js() -> Response:
    """The map page's script (draws the map from the page's embedded data)."""
    headers = {**_IMMUTABLE, "cache-control": "public, max-age=31536000, immutable"}
    return Response(_MAP_JS, media_type=_LEAFLET_TYPES[".js"], headers=headers)

"""The embeddable air widget: ``/widget/{id}`` (HTML for an iframe), its JSON twin
``/widget/{id}.json`` and ``/widget.js`` (a script that draws the box into a host page).

All three answer from :class:`Widgets`, which renders each (path, query) at most once per data
refresh (``ctx.air.ttl``) and keeps the finished bytes and headers. :class:`WidgetEndpoint` is
the bare ASGI application the app dispatches before its router (prefix ``/widget/`` and the
exact path ``/widget.js``); the routes below serve the same answers through FastAPI and
describe them in OpenAPI, so both ways give identical bodies and headers.

Answers: ``?lang=pl`` (default) or ``?lang=en``, anything else 422 naming ``lang``; an unknown
or inactive installation 404, both in the API's error shape. Pages may be cached for a minute
(``ETag``, ``If-None-Match`` → 304); the HTML forbids every external request through its
``Content-Security-Policy`` and may be framed by any site; the JSON allows any origin.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from smartdistricts.api.context import AppContext
from smartdistricts.api.errors import error_body
from smartdistricts.services.widget import LANGUAGES, widget_data

__all__ = ["SCRIPT_PATH", "WidgetEndpoint", "Widgets", "router", "script_source"]

PREFIX = "/widget/"
SCRIPT_PATH = "/widget.js"
#: Largest cache before it is emptied (a flood of distinct query strings cannot grow it).
MAX_CACHED = 10_000
_MAX_ID_DIGITS = 12
_CSP = b"default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_COMMON = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
_CORS = (b"access-control-allow-origin", b"*")
_PAGE_CACHE = (b"cache-control", b"public, max-age=60")
_SCRIPT_CACHE = (b"cache-control", b"public, max-age=604800")
_JSON = b"application/json"
_ALLOW = (b"allow", b"GET, HEAD")

_env = Environment(
    loader=PackageLoader("smartdistricts.web", "templates"),
    autoescape=select_autoescape(["html"]),
)

Headers = list[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class Answer:
    """A finished response: status, raw headers (with Content-Length) and body."""

    status: int
    headers: Headers
    body: bytes
    etag: bytes | None = None
    expires: float = 0.0

    def not_modified(self) -> Answer:
        """The 304 twin: the same headers without the body's length and type."""
        kept = [(k, v) for k, v in self.headers if k not in (b"content-length", b"content-type")]
        return Answer(304, kept, b"", self.etag)


def _answer(
    status: int, content_type: bytes, body: bytes, extra: Headers, expires: float = 0.0
) -> Answer:
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    etag = None
    if status == 200:
        etag = b'"%s"' % hashlib.blake2b(body, digest_size=10).hexdigest().encode()
        headers.append((b"etag", etag))
    return Answer(status, [*headers, *extra, *_COMMON], body, etag, expires)


def _error(status: int, message: str, field: str, extra: Headers | None = None) -> Answer:
    body = error_body(status, message, field=field)
    return _answer(status, _JSON, body, [(b"cache-control", b"no-store"), _CORS, *(extra or [])])


def _css() -> str:
    template = _env.get_template("widget.html")
    return "".join(template.blocks["css"](template.new_context({}))).strip()


def script_source() -> str:
    """The text of ``/widget.js``: the package file with the box's stylesheet filled in."""
    text = resources.files("smartdistricts.web").joinpath("static/widget.js").read_text("utf-8")
    return text.replace('"@WIDGET_CSS@"', orjson.dumps(_css()).decode())


class Widgets:
    """Renders and caches the widget's answers for one application."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._cache: dict[tuple[str, bytes], Answer] = {}
        self._script = _answer(
            200,
            b"text/javascript; charset=utf-8",
            script_source().encode(),
            [_SCRIPT_CACHE, _CORS],
        )

    def answer(self, path: str, query: bytes) -> Answer:
        """The answer to ``GET path?query`` (cached while the data service's values are)."""
        if path == SCRIPT_PATH:
            return self._script
        key = (path, query)
        hit = self._cache.get(key)
        if hit is not None and time.monotonic() < hit.expires:
            return hit
        fresh = self._render(path, query)
        if fresh.status == 200:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[key] = fresh
        return fresh

    def respond(self, method: str, path: str, query: bytes, if_none_match: bytes | None) -> Answer:
        """The full answer, with methods, conditional requests and HEAD handled."""
        if method not in ("GET", "HEAD"):
            return _error(405, f"use GET, not {method}", "method", [_ALLOW])
        found = self.answer(path, query)
        if found.etag is not None and if_none_match is not None:
            tags = {tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b",")}
            if found.etag in tags or b"*" in tags:
                return found.not_modified()
        return found

    def _render(self, path: str, query: bytes) -> Answer:
        name = path.removeprefix(PREFIX)
        as_json = name.endswith(".json")
        digits = name.removesuffix(".json")
        if not path.startswith(PREFIX) or not (
            digits.isascii() and digits.isdigit() and len(digits) <= _MAX_ID_DIGITS
        ):
            return _error(404, "no such widget; use /widget/{installation_id}", "installation_id")
        lang = _language(query)
        if lang is None:
            return _error(422, f"lang: use one of {', '.join(LANGUAGES)}", "lang")
        site_id = int(digits)
        air = self.ctx.air.site(site_id)
        if air is None:
            return _error(404, f"no installation {site_id}", "installation_id")
        data = widget_data(air, self.ctx.settings, lang=lang, now=self.ctx.air.clock())
        expires = time.monotonic() + self.ctx.air.ttl
        if as_json:
            return _answer(200, _JSON, orjson.dumps(data), [_PAGE_CACHE, _CORS], expires)
        html = _env.get_template("widget.html").render(w=data).encode()
        extra = [_PAGE_CACHE, (b"content-security-policy", _CSP)]
        return _answer(200, b"text/html; charset=utf-8", html, extra, expires)


def _language(query: bytes) -> str | None:
    """``pl`` (also when absent or empty), ``en``, or None for anything else."""
    if not query:
        return LANGUAGES[0]
    values = parse_qs(query.decode("latin-1"), keep_blank_values=True).get("lang")
    raw = values[-1].strip().lower() if values else ""
    if not raw:
        return LANGUAGES[0]
    return raw if raw in LANGUAGES else None


def _widgets(app: Any) -> Widgets:
    state = app.state
    found: Widgets | None = getattr(state, "widgets", None)
    if found is None or found.ctx is not state.ctx:
        found = state.widgets = Widgets(state.ctx)
    return found


def _if_none_match(headers: Headers) -> bytes | None:
    for key, value in headers:
        if key == b"if-none-match":
            return value
    return None


class WidgetEndpoint:
    """``/widget/…`` and ``/widget.js`` as a bare ASGI application (the app's hot path)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _widgets(scope["app"]).respond(
            scope["method"], scope["path"], scope["query_string"], _if_none_match(scope["headers"])
        )
        await send(
            {"type": "http.response.start", "status": found.status, "headers": found.headers}
        )
        body = b"" if scope["method"] == "HEAD" else found.body
        await send({"type": "http.response.body", "body": body})


# -- the same answers through the router, and their OpenAPI description --------------------------
class Installation(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int
    name: str


class Temperature(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    value: float
    text: str


class Index(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    label: str
    value: float | None
    text: str
    level: str
    color: str
    text_color: str
    description: str
    advice: str | None


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    label: str
    value: float
    unit: str
    percent: float | None
    display: str
    text: str


class Widget(BaseModel):
    """The widget's content: what ``/widget/{installation_id}`` shows, as data."""

    model_config = ConfigDict(extra="forbid")
    installation: Installation
    lang: Literal["pl", "en"]
    state: Literal["ok", "no_data"]
    title: str
    temperature: Temperature | None
    index: Index
    message: str | None
    items: list[Item]
    standard: str
    window: dict[str, str] | None
    updated: str | None
    source: str | None
    footer: str | None


class Error(BaseModel):
    error: dict[str, Any]


router = APIRouter(tags=["widget"])
_LANG = {
    "name": "lang",
    "in": "query",
    "required": False,
    "schema": {"type": "string", "enum": list(LANGUAGES), "default": LANGUAGES[0]},
}
_ID = {"name": "installation_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": Error, "description": "No such installation (or it is inactive)"},
    422: {"model": Error, "description": "Invalid lang"},
}


async def _delegate(request: Request) -> Response:
    scope = request.scope
    found = _widgets(request.app).respond(
        scope["method"], scope["path"], scope["query_string"], _if_none_match(scope["headers"])
    )
    response = Response(found.body, status_code=found.status)
    response.raw_headers = list(found.headers)
    return response


router.add_api_route(
    "/widget/{installation_id}.json",
    _delegate,
    methods=["GET"],
    summary="The air widget's content as JSON",
    responses={200: {"model": Widget, "description": "OK"}, **_ERRORS},
    openapi_extra={"parameters": [_ID, _LANG]},
)
router.add_api_route(
    "/widget/{installation_id}", _delegate, methods=["GET"], include_in_schema=False
)
router.add_api_route(SCRIPT_PATH, _delegate, methods=["GET"], include_in_schema=False)

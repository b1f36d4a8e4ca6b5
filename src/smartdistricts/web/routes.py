"""The portal's home and news pages, their JSON twins, the news feed and ``/static/``.

Polish at the root, English under ``/en/`` (see :mod:`smartdistricts.web.pages`):

* ``/`` and ``/en/`` — the home page; ``/index.json``, ``/en/index.json`` its data.
* ``/aktualnosci``, ``/en/news`` — the news list (``?page=N``); ``.json`` twins.
* ``/aktualnosci/{slug}``, ``/en/news/{slug}`` — an article; ``.json`` twins.
* ``/aktualnosci.atom``, ``/en/news.atom`` — the Atom feed.
* ``/static/{name}`` — the portal's stylesheet and images.

The home page, the first page of the news list and the feed are built once and kept while the
data they show is unchanged (:class:`~smartdistricts.web.portal.PageCache`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from smartdistricts.api.context import context
from smartdistricts.api.errors import ApiError, error_body
from smartdistricts.web import i18n, portal
from smartdistricts.web.feed import ATOM_TYPE
from smartdistricts.web.pages import (
    STATIC_TYPES,
    not_found,
    paths,
    render_html,
    static_file,
)

__all__ = ["CSP", "HOME_PATHS", "HomeEndpoint", "router"]

router = APIRouter(include_in_schema=False)

#: Pages load nothing from other origins (inline styles: the index colour of the air box).
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline';"
    " script-src 'self'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)
_HTML = "text/html; charset=utf-8"
_JSON = "application/json"
_PAGE_HEADERS = {
    "cache-control": "public, max-age=30",
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}


def _cache(request: Request) -> portal.PageCache:
    state = request.app.state
    found: portal.PageCache | None = getattr(state, "portal_pages", None)
    ctx = context(request)
    if found is None or found.ctx is not ctx:
        found = state.portal_pages = portal.PageCache(ctx)
    return found


def _etag(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=10).hexdigest()}"'


def _matches(scope: Scope, tag: bytes) -> bool:
    for key, value in scope["headers"]:
        if key == b"if-none-match":
            tags = {t.strip().removeprefix(b"W/") for t in value.split(b",")}
            return tag in tags or b"*" in tags
    return False


def _bytes(body: bytes, media_type: str, etag: bool = True) -> Response:
    headers = dict(_PAGE_HEADERS)
    if etag:
        headers["etag"] = _etag(body)
    return Response(body, media_type=media_type, headers=headers)


def _page(request: Request, template: str, lang: str, data: dict[str, Any], json_url: str) -> bytes:
    return render_html(request, template, lang, d=data, json_url=json_url).encode()


def _cached(
    request: Request, name: tuple[str, ...], build: Callable[[], tuple[bytes, bytes]]
) -> tuple[bytes, bytes]:
    found: tuple[bytes, bytes] = _cache(request).get(name, build)
    return found


# -- home --------------------------------------------------------------------------------------
_RAW_HEADERS = [(k.encode(), v.encode()) for k, v in _PAGE_HEADERS.items()]


@dataclass(frozen=True, slots=True)
class _Body:
    """A finished body with its ETag and raw response headers."""

    body: bytes
    etag: bytes
    headers: list[tuple[bytes, bytes]]

    @classmethod
    def of(cls, body: bytes, media_type: str) -> _Body:
        tag = _etag(body).encode()
        headers = [(b"content-type", media_type.encode()), (b"content-length", b"%d" % len(body)),
                   (b"etag", tag), *_RAW_HEADERS]  # fmt: skip
        return cls(body, tag, headers)

    def response(self) -> Response:
        response = Response(self.body)
        response.raw_headers = list(self.headers)
        return response


def _home_answer(request: Request, lang: str) -> tuple[_Body, _Body]:
    p = paths(lang)

    def build() -> tuple[_Body, _Body]:
        data = portal.home_data(context(request), lang)
        html = _page(request, "home.html", lang, data, p.json(p.home))
        return _Body.of(html, _HTML), _Body.of(orjson.dumps(data), _JSON)

    found: tuple[_Body, _Body] = _cache(request).get(("home", lang), build)
    return found


def _home(request: Request, lang: str, as_json: bool) -> Response:
    html, json = _home_answer(request, lang)
    return (json if as_json else html).response()


#: The home page's paths: (language, JSON twin?).
HOME_PATHS = {
    "/": ("pl", False),
    "/index.json": ("pl", True),
    "/en/": ("en", False),
    "/en/index.json": ("en", True),
}


class HomeEndpoint:
    """The home page and its JSON twin as a bare ASGI application, dispatched by the app
    before its router (:data:`HOME_PATHS`): the same answers as the routes below, served
    from the page cache without the router's and middleware's overhead."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await Response(
                error_body(405, f"use GET, not {method}", field="method"),
                status_code=405,
                media_type=_JSON,
                headers={"allow": "GET, HEAD"},
            )(scope, receive, send)
            return
        lang, as_json = HOME_PATHS[scope["path"]]
        html, json = _home_answer(Request(scope, receive), lang)
        found = json if as_json else html
        status, headers, body = 200, found.headers, found.body
        if _matches(scope, found.etag):
            status, headers, body = 304, [(b"etag", found.etag), *_RAW_HEADERS], b""
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})


@router.get("/")
async def home(request: Request) -> Response:
    return _home(request, "pl", as_json=False)


@router.get("/index.json")
async def home_json(request: Request) -> Response:
    return _home(request, "pl", as_json=True)


@router.get("/en/")
async def home_en(request: Request) -> Response:
    return _home(request, "en", as_json=False)


@router.get("/en")
async def home_en_bare() -> Response:
    return RedirectResponse("/en/", status_code=308)


@router.get("/en/index.json")
async def home_en_json(request: Request) -> Response:
    return _home(request, "en", as_json=True)


# -- news list ---------------------------------------------------------------------------------
def _page_number(request: Request) -> int:
    raw = request.query_params.get("page")
    if raw is None or raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or len(raw) > 6:
        raise ApiError(422, "page: use a whole number from 1", field="page")
    return int(raw)


def _news_list(request: Request, lang: str, as_json: bool) -> Response:
    p = paths(lang)
    page = _page_number(request)

    def build() -> tuple[bytes, bytes]:
        data = portal.news_list_data(context(request), lang, page)
        if data is None:
            return b"", b""
        twin = p.json(p.news_list) + ("" if page == 1 else f"?page={page}")
        html = _page(request, "news_list.html", lang, data, twin)
        return html, orjson.dumps(data)

    html, json = _cached(request, ("news", lang, str(page)), build)
    if not json:
        message = i18n.gettext(lang, "Nie ma takiej strony aktualności.")
        if as_json:
            raise ApiError(404, f"no news page {page}", field="page")
        return not_found(request, lang, message)
    return _bytes(json, _JSON) if as_json else _bytes(html, _HTML)


@router.get("/aktualnosci")
async def news_list(request: Request) -> Response:
    return _news_list(request, "pl", as_json=False)


@router.get("/aktualnosci.json")
async def news_list_json(request: Request) -> Response:
    return _news_list(request, "pl", as_json=True)


@router.get("/en/news")
async def news_list_en(request: Request) -> Response:
    return _news_list(request, "en", as_json=False)


@router.get("/en/news.json")
async def news_list_en_json(request: Request) -> Response:
    return _news_list(request, "en", as_json=True)


# -- feed --------------------------------------------------------------------------------------
def _feed(request: Request, lang: str) -> Response:
    def build() -> tuple[bytes, bytes]:
        return portal.news_feed(context(request), lang), b""

    body, _ = _cached(request, ("feed", lang), build)
    return _bytes(body, ATOM_TYPE)


@router.get("/aktualnosci.atom")
async def news_feed(request: Request) -> Response:
    return _feed(request, "pl")


@router.get("/en/news.atom")
async def news_feed_en(request: Request) -> Response:
    return _feed(request, "en")


# -- articles ----------------------------------------------------------------------------------
def _article(request: Request, lang: str, slug: str, as_json: bool) -> Response:
    p = paths(lang)

    def build() -> tuple[bytes, bytes]:
        data = portal.article_data(context(request), lang, slug)
        if data is None:
            return b"", b""
        switch = data["translation"] or paths(p.other).news_list
        twin = p.json(p.article(slug))
        html = render_html(request, "article.html", lang, d=data, json_url=twin, switch=switch)
        return html.encode(), orjson.dumps(data)

    html, json = _cached(request, ("article", lang, slug), build)
    if not json:
        if as_json:
            raise ApiError(404, f"no article {slug!r}", field="slug")
        return not_found(request, lang, i18n.gettext(lang, "Nie ma takiego artykułu."))
    return _bytes(json, _JSON) if as_json else _bytes(html, _HTML)


@router.get("/aktualnosci/{slug}.json")
async def article_json(request: Request, slug: str) -> Response:
    return _article(request, "pl", slug, as_json=True)


@router.get("/aktualnosci/{slug}")
async def article(request: Request, slug: str) -> Response:
    return _article(request, "pl", slug, as_json=False)


@router.get("/en/news/{slug}.json")
async def article_en_json(request: Request, slug: str) -> Response:
    return _article(request, "en", slug, as_json=True)


@router.get("/en/news/{slug}")
async def article_en(request: Request, slug: str) -> Response:
    return _article(request, "en", slug, as_json=False)


# -- static files ------------------------------------------------------------------------------
_static: dict[str, Response] = {}


@router.get("/static/{name}")
async def static(name: str) -> Response:
    """The portal's stylesheet and images (``?v=`` in their URLs changes with the content)."""
    found = _static.get(name)
    if found is None:
        body = static_file(name)
        if body is None:
            raise ApiError(404, f"no static file {name!r}", field="name")
        kind = STATIC_TYPES[name[name.rfind(".") :]]
        headers = {
            "cache-control": "public, max-age=31536000, immutable",
            "x-content-type-options": "nosniff",
        }
        found = _static[name] = Response(body, media_type=kind, headers=headers)
    return found

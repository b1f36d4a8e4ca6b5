"""What every portal page shares: the template environment, the URL map and ``render_page``.

* :data:`templates` — the one Jinja2 environment of the portal (templates in
  ``smartdistricts/web/templates``, HTML autoescaped, ``jinja2.ext.i18n`` installed new-style:
  ``{{ _("Tekst") }}`` translates into the page's ``lang``).
* :func:`paths` — the portal's URLs in one language (Polish at the root, English under
  ``/en/``) and :meth:`Paths.switch`, the same page in the other language.
* :func:`render_page` — renders a template that ``{% extends "base.html" %}`` with the
  language, the paths, the Atom feed link, the language switch and the footer's data sources.
* :func:`json_page` — the JSON twin of a page (the same data, as JSON).

Templates get ``lang``, ``p`` (the paths), ``switch`` (URL of this page in the other
language), ``other_lang``, ``sources`` (the networks the data comes from, for the footer),
``alerts`` (the smog alert banner's data; None unless a provider is registered with
:func:`add_context_provider`) and ``settings``, plus the page's own data.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from smartdistricts.api.context import AppContext, context
from smartdistricts.services.widget import source_label
from smartdistricts.web import i18n

__all__ = [
    "Paths",
    "add_context_provider",
    "context_versions",
    "data_sources",
    "json_page",
    "not_found",
    "page_context",
    "paths",
    "render_html",
    "render_page",
    "site_sources",
    "static_file",
    "static_url",
    "templates",
]

#: Each language's prefix: Polish at the root, English under /en/.
_PREFIX = {"pl": "", "en": "/en"}
#: Path segments that differ by language (Polish, English).
_SEGMENTS = (
    ("/aktualnosci.atom", "/news.atom"),
    ("/aktualnosci", "/news"),
    ("/mapa", "/map"),
    ("/stanowiska", "/sites"),
    ("/dzielnice", "/districts"),
    ("/alerty.atom", "/alerts.atom"),
    ("/alerty", "/alerts"),
)
#: Seconds the footer's list of data sources is kept.
_SOURCES_TTL = 30.0


@pass_context
def _gettext(ctx: Context, message: str) -> str:
    return i18n.gettext(ctx.get("lang") or i18n.DEFAULT, message)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(ctx.get("lang") or i18n.DEFAULT, singular, plural, n)


def _number(value: float, lang: str, digits: int = 0) -> str:
    return i18n.format_number(value, lang, digits)


templates = Environment(
    loader=PackageLoader("smartdistricts.web", "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
templates.filters["number"] = _number

#: Files served under ``/static/`` from ``smartdistricts/web/static`` and their types.
STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
}
_static_versions: dict[str, str] = {}


def static_file(name: str) -> bytes | None:
    """The bytes of ``web/static/<name>`` when it is a servable file, else None."""
    suffix = name[name.rfind(".") :] if "." in name else ""
    if suffix not in STATIC_TYPES or "/" in name or "\\" in name or name.startswith("."):
        return None
    file = resources.files("smartdistricts.web").joinpath("static", name)
    return file.read_bytes() if file.is_file() else None


def static_url(name: str) -> str:
    """``/static/<name>?v=<hash of its content>`` (browsers may keep it for a year)."""
    version = _static_versions.get(name)
    if version is None:
        body = static_file(name)
        if body is None:
            raise ValueError(f"no static file {name!r}")
        version = _static_versions[name] = hashlib.blake2b(body, digest_size=6).hexdigest()
    return f"/static/{name}?v={version}"


templates.globals["static_url"] = static_url


@dataclass(frozen=True, slots=True)
class Paths:
    """The portal's URLs in one language (``paths("en").map == "/en/map"``)."""

    lang: str

    def _url(self, polish: str) -> str:
        """The URL of a page given its Polish path (``/mapa`` → ``/en/map`` in English)."""
        if self.lang == "pl":
            return polish
        return _PREFIX[self.lang] + _swap(polish, 0)

    @property
    def other(self) -> str:
        """The other language."""
        return i18n.LANGS[1] if self.lang == i18n.LANGS[0] else i18n.LANGS[0]

    @property
    def home(self) -> str:
        return "/" if self.lang == "pl" else "/en/"

    @property
    def news_list(self) -> str:
        return self._url("/aktualnosci")

    def news_page(self, page: int) -> str:
        """The news list's page ``page`` (1 = the first, without a query)."""
        return self.news_list if page <= 1 else f"{self.news_list}?page={page}"

    def article(self, slug: str) -> str:
        return self._url(f"/aktualnosci/{slug}")

    @property
    def feed(self) -> str:
        return self._url("/aktualnosci.atom")

    @property
    def map(self) -> str:
        return self._url("/mapa")

    def site(self, site_id: int | str) -> str:
        return self._url(f"/stanowiska/{site_id}")

    @property
    def districts(self) -> str:
        return self._url("/dzielnice")

    def district(self, slug: str) -> str:
        return self._url(f"/dzielnice/{slug}")

    @property
    def alerts(self) -> str:
        return self._url("/alerty")

    @property
    def alerts_feed(self) -> str:
        return self._url("/alerty.atom")

    def json(self, path: str) -> str:
        """The JSON twin of the page at ``path`` (``/`` → ``/index.json``)."""
        bare = path.split("?", 1)[0]
        return (bare + "index.json") if bare.endswith("/") else bare + ".json"

    def switch(self, path: str) -> str:
        """The page at ``path`` (a URL of this language) in the other language."""
        polish = _to_polish(path, self.lang)
        return Paths(self.other)._url(polish) if polish != "/" else Paths(self.other).home


def _swap(path: str, side: int) -> str:
    """``path`` with its first segment translated from ``_SEGMENTS[…][side]`` to the other
    side (the query and a ``.json`` suffix are kept)."""
    bare, mark, query = path.partition("?")
    suffix = ".json" if bare.endswith(".json") else ""
    bare = bare.removesuffix(suffix)
    for pair in _SEGMENTS:
        source, target = pair[side], pair[1 - side]
        if bare == source or bare.startswith(source + "/"):
            bare = target + bare[len(source) :]
            break
    return bare + suffix + mark + query


def _to_polish(path: str, lang: str) -> str:
    """The Polish path of a page given its path in ``lang``."""
    if lang == "pl":
        return path or "/"
    prefix = _PREFIX[lang]
    rest = path[len(prefix) :] if path.startswith(prefix + "/") or path == prefix else path
    if not rest or rest == "/":
        return "/"
    return _swap(rest, 1)


_PATHS = {lang: Paths(lang) for lang in i18n.LANGS}


def paths(lang: str) -> Paths:
    """The portal's URLs in ``lang`` (``"pl"`` or ``"en"``)."""
    found = _PATHS.get(lang)
    if found is None:
        raise ValueError(f"lang: use one of {', '.join(i18n.LANGS)}, got {lang!r}")
    return found


# -- data sources in the footer ------------------------------------------------------------------
_sources_cache: dict[int, tuple[float, list[str]]] = {}


def site_sources(ctx: AppContext) -> list[str]:
    """The networks the sites' current data comes from (``airly.pl``, ``GIOŚ``,
    ``Sensor.Community``), after the town's own credit (``attribution``); cached 30 s."""
    now = time.monotonic()
    hit = _sources_cache.get(id(ctx))
    if hit is not None and now - hit[0] < _SOURCES_TTL:
        return hit[1]
    attribution = ctx.settings.attribution
    names = {source_label(a.source, attribution) for a in ctx.air.sites() if a.source}
    found = [attribution, *sorted(n for n in names if n != attribution)]
    _sources_cache.clear()
    _sources_cache[id(ctx)] = (now, found)
    return found


def data_sources(request: Request) -> list[str]:
    """:func:`site_sources` of the request's application."""
    return site_sources(context(request))


# -- rendering ------------------------------------------------------------------------------------
ContextProvider = Callable[[Request, str], dict[str, Any]]
_providers: list[ContextProvider] = []
_versions: list[Callable[[], Hashable]] = []


def add_context_provider(
    provider: ContextProvider, *, version: Callable[[], Hashable] | None = None
) -> None:
    """Add ``provider(request, lang) -> dict`` whose items every page's template receives
    (e.g. ``{"alerts": …}`` for the smog alert banner). Registering one twice is a no-op.

    Pages kept in a cache (the home page, the news list, articles) are rebuilt when
    ``version()`` changes (checked at most once a second): pass it when the provider's data
    can change while the rest of the page does not (a new alert).
    """
    if provider not in _providers:
        _providers.append(provider)
        if version is not None:
            _versions.append(version)


def context_versions() -> tuple[Hashable, ...]:
    """The current ``version()`` of every registered provider (part of cached pages' keys)."""
    return tuple(v() for v in _versions)


def page_context(request: Request, lang: str) -> dict[str, Any]:
    """The variables every page template gets (see the module's description)."""
    p = paths(lang)
    shared: dict[str, Any] = {
        "lang": lang,
        "other_lang": p.other,
        "p": p,
        "switch": p.switch(request.url.path),
        "request_path": request.url.path,
        "sources": data_sources(request),
        "settings": context(request).settings,
        "alerts": None,
    }
    for provider in _providers:
        shared.update(provider(request, lang))
    return shared


def render_page(
    request: Request, template: str, lang: str, *, status_code: int = 200, **data: Any
) -> HTMLResponse:
    """Render ``template`` (which extends ``base.html``) for ``lang`` with ``data``.

    ``data`` may override the shared variables, e.g. ``switch=`` when the page in the other
    language lives at another address (an article's translation).
    """
    return HTMLResponse(render_html(request, template, lang, **data), status_code=status_code)


def render_html(request: Request, template: str, lang: str, **data: Any) -> str:
    """The text :func:`render_page` sends (for pages that cache their HTML)."""
    values = page_context(request, lang)
    values.update(data)
    return templates.get_template(template).render(values)


def not_found(request: Request, lang: str, message: str) -> HTMLResponse:
    """The portal's 404 page in ``lang`` (``message`` is already translated)."""
    return render_page(request, "not_found.html", lang, status_code=404, message=message)


def json_page(data: Any, *, status_code: int = 200) -> Response:
    """The JSON twin of a page: ``data`` as JSON (UTF-8, not escaped to ASCII)."""
    return Response(
        orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        status_code=status_code,
        media_type="application/json",
    )

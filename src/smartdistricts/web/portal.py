"""The data of the portal's home and news pages (each page and its JSON twin render it).

* :func:`home_data` — the air box of the default site (the widget's data, so the box shows
  what ``/widget/{id}.json`` and ``/api/v1/sites/{id}/latest`` do), the lead article, further
  articles, share links and the data sources.
* :func:`news_list_data`, :func:`article_data` — the paged list and one article.
* :func:`news_feed` — the Atom feed of the newest articles.

:class:`PageCache` keeps each built page for as long as the air data it shows is unchanged
and no article was published, edited or became due (checked at most once a second), so the
home page costs a dictionary look-up per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from smartdistricts.api.context import AppContext
from smartdistricts.services import news
from smartdistricts.services.airnow import SiteAir
from smartdistricts.services.widget import widget_data
from smartdistricts.store.base import Store
from smartdistricts.web import i18n
from smartdistricts.web.feed import FeedEntry, atom_feed
from smartdistricts.web.pages import context_versions, paths, site_sources

__all__ = [
    "FEED_ENTRIES",
    "HOME_OTHERS",
    "PER_PAGE",
    "PageCache",
    "article_data",
    "default_site",
    "home_data",
    "news_feed",
    "news_list_data",
    "news_version",
]

#: Articles under "Inne aktualności" on the home page (after the lead article).
HOME_OTHERS = 5
#: Articles per page of the news list.
PER_PAGE = 10
#: Entries in the Atom feed.
FEED_ENTRIES = 20
#: Seconds between checks whether the articles changed.
NEWS_CHECK_S = 1.0


# -- pieces ------------------------------------------------------------------------------------
def default_site(ctx: AppContext) -> SiteAir | None:
    """The air at the ``default_site`` setting's site (id or slug), else the first active."""
    sites = ctx.air.site_list()
    wanted = ctx.settings.default_site.strip()
    chosen = next((s for s in sites if wanted and wanted in (str(s.id), s.slug)), None)
    if chosen is None and sites:
        chosen = sites[0]
    return None if chosen is None else ctx.air.site(chosen.id)


def _iso(ts: int | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _article_summary(a: news.Article, lang: str, ctx: AppContext) -> dict[str, Any]:
    p = paths(lang)
    photo = None
    if a.photo_url:
        photo = {"url": a.photo_url, "thumb": a.photo_thumb_url or a.photo_url, "alt": a.photo_alt}
    return {
        "slug": a.slug,
        "title": a.title,
        "lead": a.lead,
        "url": p.article(a.slug),
        "published": _iso(a.published_at),
        "updated": _iso(a.updated_at),
        "date": (
            ""
            if a.published_at is None
            else i18n.format_date(a.published_at, lang, ctx.settings.tz)
        ),
        "photo": photo,
        "credit": a.credit,
        "author": a.author,
        "tags": list(a.tags),
    }


def _share(ctx: AppContext, path: str) -> dict[str, str]:
    url = ctx.settings.base_url + path
    return {
        "url": url,
        "facebook": "https://www.facebook.com/sharer/sharer.php?u=" + quote(url, safe=""),
    }


def _site_row(air: SiteAir, lang: str, ctx: AppContext) -> dict[str, Any]:
    """One site's 60-minute means for the home page's list of sites."""
    newest = air.latest if air.current.values else None
    when = None
    if newest is not None:
        when = datetime.fromtimestamp(newest, UTC).astimezone(ctx.settings.tz).isoformat()
    return {
        "id": air.site.id,
        "slug": air.site.slug,
        "name": air.site.name,
        "url": paths(lang).site(air.site.id),
        "latitude": air.site.latitude,
        "longitude": air.site.longitude,
        "values": {k: round(v, 2) for k, v in sorted(air.current.values.items())},
        "latest": when,
        "latest_text": (
            None
            if newest is None
            else i18n.format_recent(newest, lang, ctx.settings.tz, now=ctx.air.clock())
        ),
    }


# -- pages -------------------------------------------------------------------------------------
def home_data(ctx: AppContext, lang: str) -> dict[str, Any]:
    """What the home page shows (``/`` and ``/index.json``; ``/en/`` in English): the air box,
    every active site's 60-minute means, the lead article and the next ones."""
    p = paths(lang)
    air = default_site(ctx)
    box = None
    if air is not None:
        box = widget_data(air, ctx.settings, lang=lang, now=ctx.air.clock())
        box["site"] = {"id": air.site.id, "slug": air.site.slug, "url": p.site(air.site.id)}
    found = news.published_articles(ctx.store, lang=lang, limit=HOME_OTHERS + 2)
    articles = [_article_summary(a, lang, ctx) for a in found]
    lead = articles[0] if articles else None
    others = articles[1 : HOME_OTHERS + 1]
    return {
        "lang": lang,
        "air": box,
        "sites": [_site_row(a, lang, ctx) for a in ctx.air.sites()],
        "lead": lead,
        "others": others,
        "more": p.news_page(1) if len(articles) > HOME_OTHERS + 1 else None,
        "share": _share(ctx, p.home),
        "feed": ctx.settings.base_url + p.feed,
        "sources": site_sources(ctx),
    }


def news_list_data(ctx: AppContext, lang: str, page: int) -> dict[str, Any] | None:
    """One page of the news list (newest first); None for a page past the last."""
    p = paths(lang)
    total = news.count_published(ctx.store, lang=lang)
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        return None
    found = news.published_articles(
        ctx.store, lang=lang, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    return {
        "lang": lang,
        "page": page,
        "pages": pages,
        "total": total,
        "articles": [_article_summary(a, lang, ctx) for a in found],
        "previous": p.news_page(page - 1) if page > 1 else None,
        "next": p.news_page(page + 1) if page < pages else None,
        "feed": ctx.settings.base_url + p.feed,
    }


def article_data(ctx: AppContext, lang: str, slug: str) -> dict[str, Any] | None:
    """One published article with its body, share links and OpenGraph fields; None if none."""
    found = news.published_article(ctx.store, slug, lang=lang)
    if found is None:
        return None
    p = paths(lang)
    other = p.other
    translated = news.published_article(ctx.store, slug, lang=other) is not None
    data = _article_summary(found, lang, ctx)
    base = ctx.settings.base_url
    data.update(
        lang=lang,
        body_html=found.body_html,
        share=_share(ctx, p.article(slug)),
        image=base + found.photo_url if found.photo_url else None,
        translation=paths(other).article(slug) if translated else None,
        datetime=(
            ""
            if found.published_at is None
            else i18n.format_datetime(found.published_at, lang, ctx.settings.tz)
        ),
    )
    return data


def news_feed(ctx: AppContext, lang: str) -> bytes:
    """The Atom feed of the newest articles in ``lang`` (absolute URLs from ``base_url``)."""
    p = paths(lang)
    base = ctx.settings.base_url
    entries = [
        FeedEntry(
            id=base + p.article(a.slug),
            title=a.title,
            url=base + p.article(a.slug),
            updated=a.updated_at,
            published=a.published_at,
            summary=a.lead,
            content_html=a.body_html,
            author=a.author,
            categories=a.tags,
        )
        for a in news.published_articles(ctx.store, lang=lang, limit=FEED_ENTRIES)
    ]
    return atom_feed(
        feed_id=base + p.feed,
        title=f"{i18n.gettext(lang, 'Aktualności')} · {ctx.settings.attribution}",
        self_url=base + p.feed,
        alternate_url=base + p.news_list,
        author=ctx.settings.attribution,
        lang=lang,
        entries=entries,
    )


# -- caching -----------------------------------------------------------------------------------
def news_version(store: Store, now: float | None = None) -> tuple[Any, ...]:
    """Changes whenever an article is saved, published, withdrawn, deleted or becomes due."""
    cutoff = int(time.time() if now is None else now)
    row = store.read(
        lambda tx: tx.one(
            "SELECT count(*), max(updated_at), sum(CASE WHEN published_at IS NOT NULL"
            " AND published_at <= ? THEN 1 ELSE 0 END) FROM articles",
            (cutoff,),
        )
    )
    return tuple(row) if row else ()


@dataclass(slots=True)
class _Entry:
    key: tuple[Any, ...]
    value: Any
    built: float
    checked: float


class PageCache:
    """Built pages by name, valid while the air data and the articles are unchanged."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self._entries: dict[Any, _Entry] = {}
        self._lock = threading.Lock()
        self._version: tuple[float, tuple[Any, ...]] | None = None

    def _news(self, now: float) -> tuple[Any, ...]:
        cached = self._version
        if cached is None or now - cached[0] >= NEWS_CHECK_S:
            cached = self._version = (now, news_version(self.ctx.store))
        return cached[1]

    def _air_stamp(self) -> tuple[Any, ...]:
        air = default_site(self.ctx)
        return () if air is None else (air.site.id, air.computed_at)

    def get(self, name: Any, build: Callable[[], Any]) -> Any:
        """The page ``name``, built by ``build()`` when missing or stale."""
        now = time.monotonic()
        hit = self._entries.get(name)
        if hit is not None and now - hit.checked < NEWS_CHECK_S:
            return hit.value
        key = (self._news(now), self._air_stamp(), context_versions())
        if hit is not None and hit.key == key and now - hit.built < self.ctx.air.ttl:
            hit.checked = now
            return hit.value
        value = build()
        with self._lock:
            if len(self._entries) > 1_000:
                self._entries.clear()
            self._entries[name] = _Entry(key, value, now, now)
        return value

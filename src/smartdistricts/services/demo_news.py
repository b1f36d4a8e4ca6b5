"""The demo news (:mod:`smartdistricts.demo.articles`) stored and published like an editor's."""

from __future__ import annotations

from pathlib import Path

from smartdistricts.demo.articles import AUTHOR, CREDIT, DEMO_ARTICLES, illustration
from smartdistricts.services import news, photos
from smartdistricts.store.base import Store

__all__ = ["create_demo_articles"]


def create_demo_articles(
    store: Store, media_dir: str | Path, *, now: float, max_bytes: int = 8_000_000
) -> int:
    """Publish the demo articles not there yet (by language and slug); how many were added.

    Each article's drawing goes through :func:`~smartdistricts.services.photos.save_photo`
    (checked, re-encoded, resized) into ``media_dir``; both languages share the photo.
    """
    added = 0
    for item in DEMO_ARTICLES:
        photo: photos.Photo | None = None
        for index, lang in enumerate(("pl", "en")):
            if news.draft_article_by_slug(store, item.slug, lang=lang) is not None:
                continue
            title, lead, body, alt = item.pl if lang == "pl" else item.en
            if photo is None:
                photo = photos.save_photo(store, media_dir, illustration(item), max_bytes=max_bytes)
            saved = news.save_article(
                store, user_id=None, lang=lang, title=title, lead=lead, body_md=body,
                tags=item.tags[index], photo_id=photo.id, photo_alt=alt, credit=CREDIT[lang],
                author=AUTHOR[lang], slug=item.slug,
            )  # fmt: skip
            news.publish_article(store, saved.id, user_id=None, at=now - item.days_ago * 86400)
            added += 1
    return added

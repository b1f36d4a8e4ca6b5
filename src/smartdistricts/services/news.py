"""News articles: storage, Markdown rendering, slugs, scheduling, tags.

An article is written in Markdown (``body_md``) and stored together with its rendering
(``body_html``): Markdown → HTML with markdown-it-py (raw HTML disabled), then cleaned with nh3
against an allow-list of tags, attributes and URL schemes, so neither the editor's text nor a
pasted snippet can put script into a page. Portal pages only ever read ``body_html``.

Publication: ``published_at`` NULL is a draft (or a withdrawn article); a time in the future
schedules it — it stays invisible until then. Each language (``pl``, ``en``) has its own
articles; an English version usually reuses the Polish slug so the language switch finds it.

Photos are handled by :mod:`smartdistricts.services.photos`; an article points at one.
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import nh3
from markdown_it import MarkdownIt

from smartdistricts.errors import FieldError
from smartdistricts.services.accounts import audit
from smartdistricts.store.base import Store, Tx

__all__ = [
    "LANGS",
    "Article",
    "DraftArticle",
    "NewsError",
    "count_published",
    "credit_line",
    "delete_article",
    "draft_article",
    "draft_article_by_slug",
    "list_articles",
    "publish_article",
    "published_article",
    "published_articles",
    "render_markdown",
    "save_article",
    "slugify",
    "unpublish_article",
]

LANGS = ("pl", "en")
MAX_TITLE = 200
MAX_LEAD = 1_000
MAX_BODY = 100_000
MAX_TAGS = 10
MAX_TAG = 40
_CREDIT_PREFIX = {"pl": "Opracowanie/foto", "en": "Text/photo"}


class NewsError(FieldError):
    """Bad input for an article or a photo: an HTTP status and the form field at fault."""


@dataclass(frozen=True, slots=True)
class Article:
    """A published article as the portal shows it (``body_html`` is sanitised)."""

    id: int
    slug: str
    lang: str
    title: str
    lead: str
    body_html: str
    photo_url: str | None
    photo_thumb_url: str | None
    photo_alt: str
    credit: str  #: the whole line, "Opracowanie/foto: …" (English: "Text/photo: …")
    author: str
    tags: tuple[str, ...]
    published_at: int | None
    updated_at: int


@dataclass(frozen=True, slots=True)
class DraftArticle:
    """An article as the editors' area sees it, whatever its state."""

    id: int
    slug: str
    lang: str
    title: str
    lead: str
    body_md: str
    body_html: str
    photo_id: int | None
    photo_url: str | None
    photo_thumb_url: str | None
    photo_alt: str
    credit: str  #: who wrote it / took the photo (without the "Opracowanie/foto:" prefix)
    author: str
    tags: tuple[str, ...]
    published_at: int | None
    created_at: int
    updated_at: int

    def state(self, now: float | None = None) -> str:
        """``draft``, ``scheduled`` or ``published``."""
        if self.published_at is None:
            return "draft"
        return (
            "scheduled"
            if self.published_at > (time.time() if now is None else now)
            else ("published")
        )


# -- Markdown ----------------------------------------------------------------------------------
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable(["table", "strikethrough"])
#: HTML the rendered Markdown may contain; everything else is dropped (and script/style with
#: their content). Links and images: http, https, mailto or relative URLs only.
_BLOCKS = {"p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "ul", "ol", "li"}
_INLINE = {"strong", "em", "s", "del", "code", "a", "img"}
_TABLES = {"table", "thead", "tbody", "tr", "th", "td"}
_TAGS = _BLOCKS | _INLINE | _TABLES
_cleaner = nh3.Cleaner(
    tags=_TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}},
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
    strip_comments=True,
)


def render_markdown(text: str) -> str:
    """Markdown → sanitised HTML (no raw HTML, no script, only http(s)/mailto/relative links).

    >>> render_markdown("**Czujniki** [mapa](/mapa) <script>alert(1)</script>")
    '<p><strong>Czujniki</strong> <a href="/mapa" rel="noopener noreferrer nofollow">mapa</a> \
&lt;script&gt;alert(1)&lt;/script&gt;</p>\\n'
    """
    # Level-1 headings are the page's title; an article's own headings start at level 2.
    html = _markdown.render(text).replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return _cleaner.clean(html)


# -- slugs and fields --------------------------------------------------------------------------
def slugify(title: str) -> str:
    """A URL slug with Polish letters transliterated.

    >>> slugify("Żółte czujniki na ulicy Łąkowej — źródło: miasto")
    'zolte-czujniki-na-ulicy-lakowej-zrodlo-miasto'
    """
    text = title.replace("ł", "l").replace("Ł", "L")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:80].rstrip("-") or "artykul"


_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def credit_line(lang: str, credit: str) -> str:
    """The credit line shown under a photo: ``Opracowanie/foto: …`` ("" when no credit)."""
    credit = credit.strip()
    return f"{_CREDIT_PREFIX.get(lang, _CREDIT_PREFIX['pl'])}: {credit}" if credit else ""


def parse_tags(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Tags from a comma-separated string: trimmed, lower case, unique, in order."""
    items = text.split(",") if isinstance(text, str) else list(text)
    tags: list[str] = []
    for item in items:
        tag = " ".join(item.split()).lower()
        if not tag:
            continue
        if len(tag) > MAX_TAG:
            raise NewsError("tags", f"a tag may have at most {MAX_TAG} characters: {tag[:50]!r}")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise NewsError("tags", f"at most {MAX_TAGS} tags")
    return tuple(tags)


def _text(field: str, value: str, limit: int, *, required: bool = False) -> str:
    value = value.replace("\r\n", "\n").strip()
    if required and not value:
        raise NewsError(field, "must not be empty")
    if len(value) > limit:
        raise NewsError(field, f"at most {limit} characters, got {len(value)}")
    if "\x00" in value:
        raise NewsError(field, "contains a NUL character")
    return value


# -- reading -----------------------------------------------------------------------------------
_PUBLIC_COLS = (
    "a.id, a.slug, a.lang, a.title, a.lead, a.body_html, m.file_name, m.thumb_name, a.photo_alt,"
    " a.credit, a.author, a.published_at, a.updated_at"
)
_DRAFT_COLS = (
    "a.id, a.slug, a.lang, a.title, a.lead, a.body_md, a.body_html, a.photo_id, m.file_name,"
    " m.thumb_name, a.photo_alt, a.credit, a.author, a.published_at, a.created_at, a.updated_at"
)


def _media_url(name: str | None) -> str | None:
    return f"/media/{name}" if name else None


def _tags(tx: Tx, ids: list[int]) -> dict[int, tuple[str, ...]]:
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    found: dict[int, list[str]] = {i: [] for i in ids}
    for article_id, tag in tx.query(
        f"SELECT article_id, tag FROM article_tags WHERE article_id IN ({marks})"
        " ORDER BY article_id, tag",
        ids,
    ):
        found[int(article_id)].append(tag)
    return {k: tuple(v) for k, v in found.items()}


def _article(row: tuple[Any, ...], tags: tuple[str, ...]) -> Article:
    return Article(
        id=int(row[0]),
        slug=row[1],
        lang=row[2],
        title=row[3],
        lead=row[4],
        body_html=row[5],
        photo_url=_media_url(row[6]),
        photo_thumb_url=_media_url(row[7]),
        photo_alt=row[8],
        credit=credit_line(row[2], row[9]),
        author=row[10],
        tags=tags,
        published_at=None if row[11] is None else int(row[11]),
        updated_at=int(row[12]),
    )


def _draft(row: tuple[Any, ...], tags: tuple[str, ...]) -> DraftArticle:
    return DraftArticle(
        id=int(row[0]),
        slug=row[1],
        lang=row[2],
        title=row[3],
        lead=row[4],
        body_md=row[5],
        body_html=row[6],
        photo_id=None if row[7] is None else int(row[7]),
        photo_url=_media_url(row[8]),
        photo_thumb_url=_media_url(row[9]),
        photo_alt=row[10],
        credit=row[11],
        author=row[12],
        tags=tags,
        published_at=None if row[13] is None else int(row[13]),
        created_at=int(row[14]),
        updated_at=int(row[15]),
    )


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise NewsError("lang", f"use one of {', '.join(LANGS)}, got {lang!r}")


def published_articles(
    store: Store,
    *,
    lang: str,
    limit: int,
    offset: int = 0,
    now: float | None = None,
    tag: str | None = None,
) -> list[Article]:
    """Published articles of one language, newest first (scheduled ones are not yet shown)."""
    _check_lang(lang)
    cutoff = int(time.time() if now is None else now)
    sql = (
        f"SELECT {_PUBLIC_COLS} FROM articles a LEFT JOIN media m ON m.id = a.photo_id"
        " WHERE a.lang = ? AND a.published_at IS NOT NULL AND a.published_at <= ?"
    )
    params: list[Any] = [lang, cutoff]
    if tag is not None:
        sql += " AND EXISTS (SELECT 1 FROM article_tags t WHERE t.article_id = a.id AND t.tag = ?)"
        params.append(tag.strip().lower())
    sql += " ORDER BY a.published_at DESC, a.id DESC LIMIT ? OFFSET ?"
    params += [max(0, int(limit)), max(0, int(offset))]

    def read(tx: Tx) -> list[Article]:
        rows = tx.query(sql, params)
        tags = _tags(tx, [int(r[0]) for r in rows])
        return [_article(r, tags[int(r[0])]) for r in rows]

    return store.read(read)


def count_published(store: Store, *, lang: str, now: float | None = None) -> int:
    """How many articles of one language are visible now."""
    _check_lang(lang)
    cutoff = int(time.time() if now is None else now)
    row = store.read(
        lambda tx: tx.one(
            "SELECT count(*) FROM articles WHERE lang = ? AND published_at IS NOT NULL"
            " AND published_at <= ?",
            (lang, cutoff),
        )
    )
    return int(row[0]) if row else 0


def published_article(
    store: Store, slug: str, *, lang: str, now: float | None = None
) -> Article | None:
    """The visible article with this slug in this language, or None (drafts, scheduled)."""
    _check_lang(lang)
    cutoff = int(time.time() if now is None else now)

    def read(tx: Tx) -> Article | None:
        row = tx.one(
            f"SELECT {_PUBLIC_COLS} FROM articles a LEFT JOIN media m ON m.id = a.photo_id"
            " WHERE a.lang = ? AND a.slug = ? AND a.published_at IS NOT NULL"
            " AND a.published_at <= ?",
            (lang, slug, cutoff),
        )
        if row is None:
            return None
        return _article(row, _tags(tx, [int(row[0])])[int(row[0])])

    return store.read(read)


def draft_article(store: Store, article_id: int) -> DraftArticle | None:
    """Any article by id (the editors' view)."""

    def read(tx: Tx) -> DraftArticle | None:
        row = tx.one(
            f"SELECT {_DRAFT_COLS} FROM articles a LEFT JOIN media m ON m.id = a.photo_id"
            " WHERE a.id = ?",
            (article_id,),
        )
        return None if row is None else _draft(row, _tags(tx, [article_id])[article_id])

    return store.read(read)


def draft_article_by_slug(store: Store, slug: str, *, lang: str) -> DraftArticle | None:
    """Any article by language and slug (the editors' view)."""
    row = store.read(
        lambda tx: tx.one("SELECT id FROM articles WHERE lang = ? AND slug = ?", (lang, slug))
    )
    return None if row is None else draft_article(store, int(row[0]))


def list_articles(store: Store, *, limit: int = 200, offset: int = 0) -> list[DraftArticle]:
    """Every article, the most recently changed first (the editors' list)."""

    def read(tx: Tx) -> list[DraftArticle]:
        rows = tx.query(
            f"SELECT {_DRAFT_COLS} FROM articles a LEFT JOIN media m ON m.id = a.photo_id"
            " ORDER BY a.updated_at DESC, a.id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        tags = _tags(tx, [int(r[0]) for r in rows])
        return [_draft(r, tags[int(r[0])]) for r in rows]

    return store.read(read)


# -- writing -----------------------------------------------------------------------------------
def _unique_slug(tx: Tx, lang: str, slug: str, article_id: int | None) -> str:
    candidate = slug
    n = 2
    while True:
        row = tx.one("SELECT id FROM articles WHERE lang = ? AND slug = ?", (lang, candidate))
        if row is None or (article_id is not None and int(row[0]) == article_id):
            return candidate
        candidate = f"{slug}-{n}"
        n += 1


def save_article(
    store: Store,
    *,
    user_id: int | None,
    lang: str,
    title: str,
    lead: str = "",
    body_md: str = "",
    tags: str | list[str] | tuple[str, ...] = "",
    photo_id: int | None = None,
    photo_alt: str = "",
    credit: str = "",
    author: str = "",
    slug: str = "",
    article_id: int | None = None,
    now: float | None = None,
) -> DraftArticle:
    """Create (``article_id`` None) or update an article; publication state is unchanged.

    ``author`` defaults to the account's display name.
    The slug defaults to one made from the title (made unique within the language with
    ``-2``, ``-3``…); a slug given explicitly must be free. Raises :class:`NewsError`.
    """
    _check_lang(lang)
    title = _text("title", title, MAX_TITLE, required=True)
    lead = _text("lead", lead, MAX_LEAD)
    body_md = _text("body", body_md, MAX_BODY)
    photo_alt = _text("photo_alt", photo_alt, 300)
    credit = _text("credit", credit, 200)
    author = _text("author", author, 200)
    tag_list = parse_tags(tags)
    slug = slug.strip().lower()
    if slug and not _SLUG.match(slug):
        raise NewsError("slug", "use lower-case letters a-z, digits and single hyphens")
    if len(slug) > 100:
        raise NewsError("slug", "at most 100 characters")
    body_html = render_markdown(body_md)
    stamp = int(time.time() if now is None else now)

    def write(tx: Tx) -> int:
        if photo_id is not None and tx.one("SELECT 1 FROM media WHERE id = ?", (photo_id,)) is None:
            raise NewsError("photo", f"no uploaded photo with id {photo_id}", 404)
        if slug:
            row = tx.one("SELECT id FROM articles WHERE lang = ? AND slug = ?", (lang, slug))
            if row is not None and int(row[0]) != article_id:
                raise NewsError("slug", f"another {lang} article already uses {slug!r}", 409)
            final = slug
        else:
            final = _unique_slug(tx, lang, slugify(title), article_id)
        shown = author
        if not shown and user_id is not None:
            row = tx.one("SELECT display_name FROM users WHERE id = ?", (user_id,))
            shown = row[0] if row else ""
        values = (final, lang, title, lead, body_md, body_html, photo_id, photo_alt, credit, shown)
        if article_id is None:
            new_id = tx.insert_id(
                "INSERT INTO articles (slug, lang, title, lead, body_md, body_html, photo_id,"
                " photo_alt, credit, author, author_id, created_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (*values, user_id, stamp, stamp),
            )
            action = "article.create"
        else:
            changed = tx.execute(
                "UPDATE articles SET slug = ?, lang = ?, title = ?, lead = ?, body_md = ?,"
                " body_html = ?, photo_id = ?, photo_alt = ?, credit = ?, author = ?,"
                " updated_at = ? WHERE id = ?",
                (*values, stamp, article_id),
            )
            if not changed:
                raise NewsError("id", f"no article with id {article_id}", 404)
            new_id = article_id
            action = "article.update"
            tx.execute("DELETE FROM article_tags WHERE article_id = ?", (new_id,))
        tx.executemany(
            "INSERT INTO article_tags (article_id, tag) VALUES (?, ?)",
            [(new_id, t) for t in tag_list],
        )
        audit(tx, user_id, action, f"article:{new_id}", {"slug": final, "lang": lang})
        return new_id

    saved = store.write(write)
    article = draft_article(store, saved)
    assert article is not None
    return article


def publish_article(
    store: Store, article_id: int, *, user_id: int | None, at: float | None = None
) -> DraftArticle:
    """Publish now, or at ``at`` (Unix seconds; in the future = scheduled)."""
    when = int(time.time() if at is None else at)

    def write(tx: Tx) -> None:
        stamp = int(time.time())
        if not tx.execute(
            "UPDATE articles SET published_at = ?, updated_at = ? WHERE id = ?",
            (when, stamp, article_id),
        ):
            raise NewsError("id", f"no article with id {article_id}", 404)
        action = "article.schedule" if when > stamp else "article.publish"
        audit(tx, user_id, action, f"article:{article_id}", {"published_at": when})

    store.write(write)
    article = draft_article(store, article_id)
    assert article is not None
    return article


def unpublish_article(store: Store, article_id: int, *, user_id: int | None) -> DraftArticle:
    """Withdraw an article (it becomes a draft again)."""

    def write(tx: Tx) -> None:
        if not tx.execute(
            "UPDATE articles SET published_at = NULL, updated_at = ? WHERE id = ?",
            (int(time.time()), article_id),
        ):
            raise NewsError("id", f"no article with id {article_id}", 404)
        audit(tx, user_id, "article.unpublish", f"article:{article_id}")

    store.write(write)
    article = draft_article(store, article_id)
    assert article is not None
    return article


def delete_article(store: Store, article_id: int, *, user_id: int | None) -> None:
    """Delete an article for good (its photo stays in the media folder)."""

    def write(tx: Tx) -> None:
        tx.execute("DELETE FROM article_tags WHERE article_id = ?", (article_id,))
        if not tx.execute("DELETE FROM articles WHERE id = ?", (article_id,)):
            raise NewsError("id", f"no article with id {article_id}", 404)
        audit(tx, user_id, "article.delete", f"article:{article_id}")

    store.write(write)

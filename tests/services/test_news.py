"""News: storage, hostile Markdown, slugs, scheduling, tags and photo uploads (both backends)."""

from __future__ import annotations

import io
import struct
import time
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from smartdistricts.services import accounts, news, photos
from smartdistricts.services.news import NewsError
from smartdistricts.store.base import Store

NOW = 1_790_000_000


class _Elements(HTMLParser):
    """Every start tag of an HTML fragment with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))


def elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Elements()
    parser.feed(html)
    parser.close()
    return parser.found


def assert_harmless(html: str) -> None:
    """No script-capable element, no event handler, no script or data URL survives."""
    for tag, attrs in elements(html):
        assert tag not in {"script", "style", "iframe", "object", "embed", "svg", "math", "form"}
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert name not in {"style", "srcdoc", "formaction"}, (tag, name)
            squeezed = "".join(value.split()).lower()
            assert not squeezed.startswith(("javascript:", "data:", "vbscript:")), (tag, value)


HOSTILE = [
    "<script>alert(1)</script>",
    "Tekst <img src=x onerror=alert(1)> dalej",
    "[kliknij](javascript:alert(1))",
    "[kliknij](JaVaScRiPt&#58;alert(1))",
    "[kliknij]( javascript:alert(1) )",
    "![obraz](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[dane](data:text/html,<script>alert(1)</script>)",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src=//evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<svg onload=alert(1)>",
    '<p onclick="alert(1)">x</p>',
    "[x](vbscript:msgbox)",
    "<<script>script>alert(1)<</script>/script>",
    '![a](x" onerror="alert(1))',
    "<details open ontoggle=alert(1)>",
    "<!-- <script>alert(1)</script> -->",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_cannot_inject_script(text: str) -> None:
    html = news.render_markdown(text)
    assert_harmless(html)
    assert "<script" not in html.lower()


def test_markdown_keeps_what_editors_write() -> None:
    html = news.render_markdown(
        "# Tytuł\n\n**Czujniki** i *mapa*: [mapa](/mapa), [GIOŚ](https://powietrze.gios.gov.pl)"
        "\n\n- jeden\n- dwa\n\n![Czujnik](/media/abc.jpg)"
    )
    found = elements(html)
    tags = [t for t, _ in found]
    assert tags[:1] == ["h2"]  # the page's title is the only h1
    assert {"strong", "em", "ul", "li", "img"} <= set(tags)
    links = [a["href"] for t, a in found if t == "a"]
    assert links == ["/mapa", "https://powietrze.gios.gov.pl"]
    assert all(a.get("rel") == "noopener noreferrer nofollow" for t, a in found if t == "a")
    assert [a["src"] for t, a in found if t == "img"] == ["/media/abc.jpg"]


def test_hostile_article_is_stored_sanitised(store: Store) -> None:
    body = "\n\n".join(HOSTILE)
    saved = news.save_article(store, user_id=None, lang="pl", title="<b>Test</b>", body_md=body)
    news.publish_article(store, saved.id, user_id=None, at=NOW)
    article = news.published_article(store, saved.slug, lang="pl", now=NOW + 1)
    assert article is not None
    assert article.title == "<b>Test</b>"  # plain text: templates escape it
    assert_harmless(article.body_html)
    assert article.slug == "b-test-b"


def test_slugs_transliterate_polish_and_stay_unique(store: Store) -> None:
    assert (
        news.slugify("Źródła smogu: ŁÓDŹ, Żyrardów i Mińsk") == "zrodla-smogu-lodz-zyrardow-i-minsk"
    )
    assert news.slugify("!!!") == "artykul"
    first = news.save_article(store, user_id=None, lang="pl", title="Nowe czujniki")
    second = news.save_article(store, user_id=None, lang="pl", title="Nowe czujniki")
    english = news.save_article(
        store, user_id=None, lang="en", title="New sensors", slug="nowe-czujniki"
    )
    assert (first.slug, second.slug, english.slug) == (
        "nowe-czujniki",
        "nowe-czujniki-2",
        "nowe-czujniki",
    )
    with pytest.raises(NewsError) as taken:
        news.save_article(store, user_id=None, lang="pl", title="X", slug="nowe-czujniki")
    assert (taken.value.field, taken.value.status) == ("slug", 409)
    with pytest.raises(NewsError) as bad:
        news.save_article(store, user_id=None, lang="pl", title="X", slug="../etc/passwd")
    assert bad.value.field == "slug"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "T", "lang": "de"}, "lang"),
        ({"title": "T", "tags": ",".join(f"t{i}" for i in range(11))}, "tags"),
        ({"title": "T", "tags": "x" * 41}, "tags"),
        ({"title": "T", "lead": "\x00"}, "lead"),
        ({"title": "T", "photo_id": 999}, "photo"),
    ],
)
def test_bad_articles_are_refused_naming_the_field(
    store: Store, kwargs: dict[str, object], field: str
) -> None:
    arguments: dict[str, object] = {"lang": "pl", **kwargs}
    with pytest.raises(NewsError) as caught:
        news.save_article(store, user_id=None, **arguments)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert 400 <= caught.value.status < 500
    assert news.list_articles(store) == []


def test_scheduling_publishing_and_withdrawing(store: Store) -> None:
    editor = accounts.add_user(store, "ewa", "haslo-redakcji-1", display_name="Ewa Nowak")
    old = news.save_article(store, user_id=editor.id, lang="pl", title="Stary", credit="UM")
    new = news.save_article(store, user_id=editor.id, lang="pl", title="Nowy", tags="Smog, Mapa")
    later = news.save_article(store, user_id=editor.id, lang="pl", title="Jutro")
    draft = news.save_article(store, user_id=editor.id, lang="pl", title="Szkic")
    english = news.save_article(store, user_id=editor.id, lang="en", title="English")
    news.publish_article(store, old.id, user_id=editor.id, at=NOW - 200)
    news.publish_article(store, new.id, user_id=editor.id, at=NOW - 100)
    news.publish_article(store, english.id, user_id=editor.id, at=NOW - 100)
    scheduled = news.publish_article(store, later.id, user_id=editor.id, at=time.time() + 3600)
    assert scheduled.state() == "scheduled"
    assert draft.state() == "draft"

    visible = news.published_articles(store, lang="pl", limit=10, now=NOW)
    assert [a.title for a in visible] == ["Nowy", "Stary"]  # newest first; no draft, no future
    assert news.count_published(store, lang="pl", now=NOW) == 2
    assert news.count_published(store, lang="en", now=NOW) == 1
    assert [
        a.title for a in news.published_articles(store, lang="pl", limit=1, offset=1, now=NOW)
    ] == ["Stary"]
    assert news.published_articles(store, lang="pl", limit=10, now=NOW, tag="SMOG")[0].id == new.id
    assert news.published_articles(store, lang="pl", limit=10, now=NOW, tag="inne") == []
    assert news.published_article(store, later.slug, lang="pl") is None
    assert news.published_article(store, later.slug, lang="pl", now=time.time() + 3601) is not None
    assert news.published_article(store, new.slug, lang="en", now=NOW) is None

    top = visible[0]
    assert (top.author, top.tags, top.published_at, top.lang) == (
        "Ewa Nowak",
        ("mapa", "smog"),  # tags come back sorted
        NOW - 100,
        "pl",
    )
    assert visible[1].credit == "Opracowanie/foto: UM"
    assert top.credit == ""

    news.unpublish_article(store, new.id, user_id=editor.id)
    assert [a.title for a in news.published_articles(store, lang="pl", limit=10, now=NOW)] == [
        "Stary"
    ]
    actions = [(e.actor, e.action, e.subject) for e in accounts.audit_entries(store, limit=3)]
    assert actions[0] == ("ewa", "article.unpublish", f"article:{new.id}")
    assert ("ewa", "article.schedule", f"article:{later.id}") in actions


def test_editing_keeps_the_publication_and_replaces_tags(store: Store) -> None:
    saved = news.save_article(store, user_id=None, lang="pl", title="Raz", tags="a, b")
    news.publish_article(store, saved.id, user_id=None, at=NOW)
    edited = news.save_article(
        store, user_id=None, lang="pl", title="Dwa", body_md="*nowa* treść", tags="c",
        article_id=saved.id,
    )  # fmt: skip
    assert (edited.slug, edited.tags, edited.published_at) == ("dwa", ("c",), NOW)
    assert edited.body_html == "<p><em>nowa</em> treść</p>\n"
    with pytest.raises(NewsError) as caught:
        news.save_article(store, user_id=None, lang="pl", title="X", article_id=999)
    assert caught.value.status == 404


# -- photos ------------------------------------------------------------------------------------
@pytest.fixture
def media(tmp_path: Path) -> Path:
    """The media folder (created by the first upload)."""
    return tmp_path / "media"


def image_bytes(fmt: str, size: tuple[int, int] = (2400, 1200), mode: str = "RGB") -> bytes:
    image = Image.new(mode, size, (30, 120, 200) if mode == "RGB" else (30, 120, 200, 128))
    out = io.BytesIO()
    if fmt == "JPEG":
        exif = Image.Exif()
        exif[0x010F] = "Camera maker"  # Make
        exif[0x8825] = {2: (52.0, 10.0, 0.0)}  # GPS latitude
        image.save(out, fmt, exif=exif, comment=b"secret comment")
    else:
        image.save(out, fmt)
    return out.getvalue()


def png_bomb(width: int, height: int) -> bytes:
    """A valid PNG of one-bit black pixels: tiny on disk, huge once decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    compressed = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", compressed)
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(("fmt", "mode"), [("JPEG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGB")])
def test_photos_are_reencoded_resized_and_stripped(
    store: Store, media: Path, fmt: str, mode: str
) -> None:
    data = image_bytes(fmt, mode=mode)
    photo = photos.save_photo(store, media, data, max_bytes=8_000_000, original_name="a.x")
    assert (photo.width, photo.height) == (1600, 800)
    stored = sorted(p.name for p in media.iterdir())
    assert stored == sorted([photo.file_name, photo.thumb_name])
    assert "a.x" not in stored
    with Image.open(media / photo.file_name) as big:
        assert (big.format, big.size, big.mode) == ("JPEG", (1600, 800), "RGB")
        assert not big.getexif()
        assert "comment" not in big.info and "icc_profile" not in big.info
    with Image.open(media / photo.thumb_name) as thumb:
        assert thumb.size == (600, 300)
    assert b"secret comment" not in (media / photo.file_name).read_bytes()
    assert photo.url == f"/media/{photo.file_name}"
    assert photos.media_file(media, photo.file_name) == media / photo.file_name


def hostile_uploads() -> list[tuple[str, bytes, int]]:
    png = image_bytes("PNG", (40, 40))
    return [
        ("php", b"<?php system($_GET['c']); ?>", 415),
        ("html", b"<html><script>alert(1)</script></html>", 415),
        ("svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', 415),
        ("gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", 415),
        ("truncated", png[: len(png) // 2], 422),
        ("polyglot", png[:-12] + b"<script>alert(1)</script>", 422),
        ("empty", b"", 422),
    ]


@pytest.mark.parametrize(
    ("kind", "data", "status"), hostile_uploads(), ids=[u[0] for u in hostile_uploads()]
)
def test_hostile_uploads_are_refused_and_nothing_is_stored(
    store: Store, media: Path, kind: str, data: bytes, status: int
) -> None:
    with pytest.raises(NewsError) as caught:
        photos.save_photo(store, media, data, max_bytes=8_000_000, original_name="x.jpg")
    assert (caught.value.field, caught.value.status) == ("photo", status)
    assert not media.exists() or list(media.iterdir()) == []
    assert store.read(lambda tx: tx.one("SELECT count(*) FROM media")) == (0,)


def test_a_png_named_jpg_is_accepted_as_what_it_is(store: Store, media: Path) -> None:
    photo = photos.save_photo(
        store, media, image_bytes("PNG", (100, 50)), max_bytes=10**6, original_name="x.jpg"
    )
    assert (photo.width, photo.height) == (100, 50)
    with Image.open(media / photo.file_name) as stored:
        assert stored.format == "JPEG"


@pytest.mark.parametrize(("width", "height"), [(7_000, 7_000), (40_000, 40_000)])
def test_decompression_bombs_are_refused_before_decoding(
    store: Store, media: Path, width: int, height: int
) -> None:
    bomb = png_bomb(width, height)
    assert len(bomb) < 1_000_000
    started = time.perf_counter()
    with pytest.raises(NewsError) as caught:
        photos.save_photo(store, media, bomb, max_bytes=8_000_000)
    assert (caught.value.field, caught.value.status) == ("photo", 413)
    assert "pixels" in caught.value.message
    assert time.perf_counter() - started < 2.0
    assert not media.exists() or list(media.iterdir()) == []


def test_oversize_uploads_are_refused(store: Store, media: Path) -> None:
    data = image_bytes("PNG", (400, 400))
    with pytest.raises(NewsError) as caught:
        photos.save_photo(store, media, data, max_bytes=len(data) - 1)
    assert (caught.value.field, caught.value.status) == ("photo", 413)
    assert not media.exists() or list(media.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["../test.db", "..%2Ftest.db", "/etc/passwd", "x.php", "a/b.jpg", ".jpg", "x.jpg\x00"]
)
def test_media_names_cannot_leave_the_folder(tmp_path: Path, name: str) -> None:
    (tmp_path / "media").mkdir()
    (tmp_path / "test.db").write_text("secret")
    assert photos.media_file(tmp_path / "media", name) is None


def test_article_with_photo_has_urls_and_credit(store: Store, media: Path) -> None:
    photo = photos.save_photo(store, media, image_bytes("JPEG"), max_bytes=8_000_000)
    saved = news.save_article(
        store, user_id=None, lang="en", title="Sensors", photo_id=photo.id,
        photo_alt="A sensor", credit="Jan Kowalski",
    )  # fmt: skip
    news.publish_article(store, saved.id, user_id=None, at=NOW)
    [article] = news.published_articles(store, lang="en", limit=5, now=NOW)
    assert (article.photo_url, article.photo_thumb_url, article.photo_alt, article.credit) == (
        photo.url,
        photo.thumb_url,
        "A sensor",
        "Text/photo: Jan Kowalski",
    )

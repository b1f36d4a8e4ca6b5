"""The portal's home and news pages, their JSON twins, the feed and the translations.

In process (Starlette's test client) on both database backends. Pages are checked through
their HTML elements (a small parser below), JSON twins with exact keys, the feed as XML.
"""

from __future__ import annotations

import io
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from starlette.testclient import TestClient

from smartdistricts.api.app import create_app
from smartdistricts.config import Settings
from smartdistricts.services import news
from smartdistricts.services.demo import create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import list_sites
from smartdistricts.store.base import Store
from smartdistricts.web import i18n, portal
from smartdistricts.web.pages import paths

from .conftest import ARTICLES, publish_articles

WEB = Path(i18n.__file__).parent
ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://powietrze.example.pl"
VOID = {"meta", "link", "img", "br", "hr", "input", "source", "area", "col", "wbr"}
ARTICLE_KEYS = {"slug", "title", "lead", "url", "published", "updated", "date", "photo",
                "credit", "author", "tags"}  # fmt: skip
HOME_KEYS = {"lang", "air", "sites", "lead", "others", "more", "share", "feed", "sources"}
LIST_KEYS = {"lang", "page", "pages", "total", "articles", "previous", "next", "feed"}


# -- a small HTML tree -------------------------------------------------------------------------
@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        parts = [c if isinstance(c, str) else c.text for c in self.children]
        return " ".join("".join(parts).split())

    def iter(self) -> Iterator[Node]:
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.iter()

    def find_all(self, tag: str, **attrs: str) -> list[Node]:
        want = {k.rstrip("_"): v for k, v in attrs.items()}
        return [
            n
            for n in self.iter()
            if n.tag == tag and all(n.attrs.get(k) == v for k, v in want.items())
        ]

    def find(self, tag: str, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}>"
        return found[0]

    def by_class(self, name: str) -> list[Node]:
        return [n for n in self.iter() if name in n.attrs.get("class", "").split()]


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root


def meta(doc: Node, key: str) -> str:
    for n in doc.find_all("meta"):
        if n.attrs.get("property") == key or n.attrs.get("name") == key:
            return n.attrs["content"]
    raise AssertionError(f"no meta {key}")


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return replace(settings, base_url=BASE, ingest_process=False)


@pytest.fixture
def client(store: Store, app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, store=store)) as c:
        yield c


@pytest.fixture
def published(store: Store) -> list[news.DraftArticle]:
    return publish_articles(store)


@pytest.fixture
def town(store: Store, app_settings: Settings) -> int:
    """One day of the demo town; the id of its first site."""
    create_demo(IngestService(store, app_settings), days=1, now=time.time())
    return list_sites(store)[0].id


def _pages(slug: str) -> list[tuple[str, str]]:
    return [
        ("pl", "/"),
        ("en", "/en/"),
        ("pl", "/aktualnosci"),
        ("en", "/en/news"),
        ("pl", f"/aktualnosci/{slug}"),
        ("en", f"/en/news/{slug}"),
    ]


# -- every page --------------------------------------------------------------------------------
def test_every_page_in_both_languages_has_the_shared_frame(
    client: TestClient, published: list[news.DraftArticle]
) -> None:
    slug = ARTICLES[0]["slug"]
    for lang, path in _pages(slug):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'self'" in r.headers["content-security-policy"]
        doc = parse(r.text)
        assert doc.find("html").attrs["lang"] == lang
        feed = doc.find("link", rel="alternate", type="application/atom+xml")
        assert feed.attrs["href"] == paths(lang).feed
        switch = doc.by_class("lang")[0]
        other = "en" if lang == "pl" else "pl"
        assert switch.attrs["hreflang"] == other
        assert client.get(switch.attrs["href"]).status_code == 200
        assert paths(other).switch(switch.attrs["href"]) == path
        assert doc.find("a", class_="skip").attrs["href"] == "#main"
        assert doc.find("main").attrs["id"] == "main"
        footer = doc.find("footer").text
        assert ("Data sources" if lang == "en" else "Źródła danych") in footer
        css = doc.find("link", rel="stylesheet").attrs["href"]
        assert client.get(css).headers["content-type"] == "text/css; charset=utf-8"
        twin = [a for a in doc.find("footer").find_all("a") if "JSON" in a.text]
        assert client.get(twin[0].attrs["href"]).headers["content-type"] == "application/json"
    assert client.get("/en", follow_redirects=False).headers["location"] == "/en/"


def test_home_shows_the_widget_and_api_values(
    client: TestClient, published: list[news.DraftArticle], town: int
) -> None:
    for lang, path in (("pl", "/"), ("en", "/en/")):
        for _attempt in range(3):  # each answer is cached 30 s on its own: read all three again
            data = client.get(paths(lang).json(path)).json()  # if one refreshed in between
            widget = client.get(f"/widget/{town}.json", params={"lang": lang}).json()
            latest = client.get(f"/api/v1/sites/{town}/latest").json()["current"]["values"]
            box = dict(data["air"])
            shown = {item["name"]: item["value"] for item in data["air"]["items"]}
            if box.pop("site") and box == widget and all(latest[k] == shown[k] for k in shown):
                break
        assert set(data) == HOME_KEYS
        assert data["air"]["site"] == {"id": town, "slug": list_sites_slug(client, town),
                                       "url": paths(lang).site(town)}  # fmt: skip
        assert box == widget
        assert shown == {k: v for k, v in latest.items() if k in shown}
        assert {"pm2_5", "pm10", "temp_air", "pressure", "relative_humidity"} <= set(shown)
        doc = parse(client.get(path).text)
        box_html = doc.by_class("air")[0]
        for item in data["air"]["items"]:
            assert box_html.find("dd", **{"data-name": item["name"]}).text == item["display"]
        assert doc.by_class("air-idx")[0].text.endswith(data["air"]["index"]["text"])
        assert doc.by_class("air-foot")[0].text == data["air"]["footer"]
        assert data["air"]["footer"].startswith("Dane z " if lang == "pl" else "Data from ")
        # every active site's means, in the page's number format
        rows = doc.find("section", class_="sites").find("tbody").find_all("tr")
        assert [r.find("a").text for r in rows] == [s["name"] for s in data["sites"]]
        for row, site in zip(rows, data["sites"], strict=True):
            cells = [c.text for c in row.find_all("td")]
            pm = [i18n.format_number(site["values"][k], lang, 2) for k in ("pm2_5", "pm10")]
            assert cells[1:3] == pm
            assert ("," if lang == "pl" else ".") in pm[0]
            assert cells[3] == site["latest_text"]


def list_sites_slug(client: TestClient, site_id: int) -> str:
    slug: str = client.get(f"/api/v1/sites/{site_id}").json()["slug"]
    return slug


def test_home_lead_article_others_and_share_links(
    client: TestClient, published: list[news.DraftArticle]
) -> None:
    data = client.get("/index.json").json()
    first = published[0]
    lead = data["lead"]
    assert set(lead) == ARTICLE_KEYS
    assert lead["title"] == first.title
    assert lead["credit"] == f"Opracowanie/foto: {ARTICLES[0]['credit']}"
    assert lead["date"] == i18n.format_date(first.published_at or 0, "pl", "Europe/Warsaw")
    assert [a["title"] for a in data["others"]] == [ARTICLES[1]["title"], ARTICLES[2]["title"]]
    assert data["share"]["url"] == BASE + "/"
    assert data["share"]["facebook"] == (
        "https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fpowietrze.example.pl%2F"
    )
    doc = parse(client.get("/").text)
    article = doc.find("article", class_="lead-article")
    assert article.find("h2").text == first.title
    assert article.find("time").text == lead["date"]
    assert article.by_class("credit")[0].text == lead["credit"]
    assert any(a.text.startswith("Czytaj dalej") and a.attrs["href"] == lead["url"]
               for a in article.find_all("a"))  # fmt: skip
    others = doc.find("section", class_="others")
    assert others.find("h2").text == "Inne aktualności"
    assert [h.text for h in others.find_all("h3")] == [a["title"] for a in data["others"]]
    links = [a.attrs["href"] for a in doc.by_class("share")[0].find_all("a")]
    assert links == [data["share"]["facebook"], data["share"]["url"]]
    # nothing on the page is loaded from another origin
    for node in doc.iter():
        for attr in ("src", "href"):
            if node.tag in ("img", "script", "link") and attr in node.attrs:
                assert node.attrs[attr].startswith("/"), node.attrs
    english = client.get("/en/index.json").json()
    assert english["lead"]["title"] == ARTICLES[3]["title"]
    assert english["lead"]["credit"] == f"Text/photo: {ARTICLES[3]['credit']}"
    assert english["others"] == []
    text = client.get("/en/").text
    assert "Read more" in text and "Czytaj dalej" not in text


def test_home_without_sites_or_news(client: TestClient) -> None:
    data = client.get("/index.json").json()
    assert data["air"] is None and data["lead"] is None and data["others"] == []
    doc = parse(client.get("/en/").text)
    assert "There is no news yet." in doc.find("main").text


def test_home_follows_the_default_site_setting(
    store: Store, app_settings: Settings, town: int
) -> None:
    sites = list_sites(store)
    chosen = sites[2]
    for wanted in (chosen.slug, str(chosen.id)):
        settings = replace(app_settings, default_site=wanted)
        with TestClient(create_app(settings, store=store)) as c:
            assert c.get("/index.json").json()["air"]["installation"]["id"] == chosen.id
    with TestClient(create_app(replace(app_settings, default_site="nope"), store=store)) as c:
        assert c.get("/index.json").json()["air"]["installation"]["id"] == sites[0].id


def test_home_shows_a_new_article_within_a_second(
    client: TestClient, store: Store, published: list[news.DraftArticle]
) -> None:
    assert client.get("/index.json").json()["lead"]["title"] == ARTICLES[0]["title"]
    draft = news.save_article(store, user_id=None, lang="pl", title="Nowy artykuł", lead="x")
    time.sleep(portal.NEWS_CHECK_S + 0.1)
    assert client.get("/index.json").json()["lead"]["title"] == ARTICLES[0]["title"]
    news.publish_article(store, draft.id, user_id=None)
    time.sleep(portal.NEWS_CHECK_S + 0.1)
    assert client.get("/index.json").json()["lead"]["title"] == "Nowy artykuł"
    assert "Nowy artykuł" in client.get("/aktualnosci.atom").text


# -- news --------------------------------------------------------------------------------------
def test_news_list_pages(client: TestClient, store: Store) -> None:
    now = time.time()
    for i in range(23):
        d = news.save_article(store, user_id=None, lang="pl", title=f"Wiadomość {i:02d}")
        news.publish_article(store, d.id, user_id=None, at=now - 1000 + i)
    scheduled = news.save_article(store, user_id=None, lang="pl", title="Jutro")
    news.publish_article(store, scheduled.id, user_id=None, at=now + 86400)
    news.save_article(store, user_id=None, lang="pl", title="Szkic")
    pages = [client.get("/aktualnosci.json", params={"page": n}).json() for n in (1, 2, 3)]
    assert all(set(p) == LIST_KEYS for p in pages)
    assert [p["total"] for p in pages] == [23, 23, 23]
    assert [p["pages"] for p in pages] == [3, 3, 3]
    titles = [a["title"] for p in pages for a in p["articles"]]
    assert titles == [f"Wiadomość {i:02d}" for i in range(22, -1, -1)]
    assert (pages[0]["previous"], pages[0]["next"]) == (None, "/aktualnosci?page=2")
    assert (pages[2]["previous"], pages[2]["next"]) == ("/aktualnosci?page=2", None)
    doc = parse(client.get("/aktualnosci?page=2").text)
    assert [h.text for h in doc.find("ul", class_="news").find_all("h2")] == [
        a["title"] for a in pages[1]["articles"]
    ]
    assert doc.find("a", rel="next").attrs["href"] == "/aktualnosci?page=3"
    assert doc.find("a", rel="prev").attrs["href"] == "/aktualnosci"
    assert client.get("/aktualnosci?page=4").status_code == 404
    assert client.get("/aktualnosci.json?page=4").status_code == 404
    for bad in ("0", "x", "-1", "1.5"):
        r = client.get(f"/aktualnosci?page={bad}")
        assert r.status_code == 422
        assert r.json()["error"]["field"] == "page"
    assert client.get("/en/news.json").json()["total"] == 0
    assert client.get("/en/news").status_code == 200


def test_unknown_articles_are_404_in_both_languages(
    client: TestClient, published: list[news.DraftArticle], store: Store
) -> None:
    draft = news.save_article(store, user_id=None, lang="pl", title="Tajny szkic")
    for path, text in (
        ("/aktualnosci/nie-ma-takiego", "Nie ma takiego artykułu."),
        ("/en/news/no-such-article", "There is no such article."),
        (f"/aktualnosci/{draft.slug}", "Nie ma takiego artykułu."),
        ("/en/news/jak-czytac-indeks", "There is no such article."),  # Polish only
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert text in parse(r.text).find("main").text
        twin = client.get(path + ".json")
        assert twin.status_code == 404
        assert twin.json()["error"]["field"] == "slug"


def test_article_page_json_twin_and_opengraph(
    client: TestClient, store: Store, tmp_path: Path
) -> None:
    from PIL import Image

    from smartdistricts.services.photos import save_photo

    buffer = io.BytesIO()
    Image.new("RGB", (1200, 800), (40, 120, 200)).save(buffer, "JPEG")
    photo = save_photo(store, tmp_path, buffer.getvalue(), max_bytes=5_000_000)
    hostile = 'Tytuł "z" <script>alert(1)</script> & więcej'
    draft = news.save_article(
        store, user_id=None, lang="pl", title=hostile, lead="Wstęp <b>", slug="wrogi",
        body_md="Akapit\n\n<script>alert(2)</script>", tags="smog, test", photo_id=photo.id,
        photo_alt="Czujnik na słupie", credit="Jan Kowalski", author="Redakcja",
    )  # fmt: skip
    news.publish_article(store, draft.id, user_id=None, at=time.time() - 60)
    data = client.get("/aktualnosci/wrogi.json").json()
    assert set(data) == ARTICLE_KEYS | {"lang", "body_html", "share", "image", "translation",
                                        "datetime"}  # fmt: skip
    assert data["title"] == hostile and data["translation"] is None
    assert data["image"] == f"{BASE}/media/{photo.file_name}"
    r = client.get("/aktualnosci/wrogi")
    assert "<script>" not in r.text
    doc = parse(r.text)
    assert doc.find("h1").text == " ".join(hostile.split())
    assert meta(doc, "og:type") == "article"
    assert meta(doc, "og:title") == hostile
    assert meta(doc, "og:description") == "Wstęp <b>"
    assert meta(doc, "og:url") == f"{BASE}/aktualnosci/wrogi"
    assert meta(doc, "og:image") == data["image"]
    assert meta(doc, "og:image:alt") == "Czujnik na słupie"
    assert meta(doc, "og:locale") == "pl_PL"
    assert meta(doc, "twitter:card") == "summary_large_image"
    assert meta(doc, "twitter:title") == hostile
    assert meta(doc, "article:published_time") == data["published"]
    assert [n.attrs["content"] for n in doc.find_all("meta", property="article:tag")] == [
        "smog", "test"
    ]  # fmt: skip
    assert doc.find("link", rel="canonical").attrs["href"] == data["share"]["url"]
    assert doc.by_class("credit")[0].text == "Opracowanie/foto: Jan Kowalski"
    assert doc.find("time").text == data["datetime"]
    # no translation: the switch leads to the English news list
    assert doc.by_class("lang")[0].attrs["href"] == "/en/news"


def test_article_switch_goes_to_the_translation(
    client: TestClient, published: list[news.DraftArticle]
) -> None:
    slug = ARTICLES[0]["slug"]
    pl = parse(client.get(f"/aktualnosci/{slug}").text)
    assert pl.by_class("lang")[0].attrs["href"] == f"/en/news/{slug}"
    en = parse(client.get(f"/en/news/{slug}").text)
    assert en.by_class("lang")[0].attrs["href"] == f"/aktualnosci/{slug}"
    assert meta(en, "og:locale") == "en_GB"
    assert meta(en, "twitter:card") == "summary"


def test_feed_is_atom_with_escaped_absolute_entries(client: TestClient, store: Store) -> None:
    now = time.time()
    titles = ["Pierwszy <b>& ostatni</b>", "Drugi"]
    for i, title in enumerate(titles):
        d = news.save_article(
            store, user_id=None, lang="pl", title=title, lead=f"Wstęp {i} <i>",
            body_md=f"Treść **{i}** <script>x</script>", tags="smog", author="Redakcja",
        )  # fmt: skip
        news.publish_article(store, d.id, user_id=None, at=now - 100 * (i + 1))
    later = news.save_article(store, user_id=None, lang="pl", title="Zaplanowany")
    news.publish_article(store, later.id, user_id=None, at=now + 3600)
    r = client.get("/aktualnosci.atom")
    assert r.headers["content-type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(r.content)
    assert root.tag == f"{ATOM}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "pl"
    assert root.findtext(f"{ATOM}id") == f"{BASE}/aktualnosci.atom"
    links = {ln.get("rel"): ln.get("href") for ln in root.findall(f"{ATOM}link")}
    assert links == {"self": f"{BASE}/aktualnosci.atom", "alternate": f"{BASE}/aktualnosci"}
    assert root.findtext(f"{ATOM}author/{ATOM}name")
    entries = root.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == titles
    for e in entries:
        url = e.find(f"{ATOM}link").get("href")  # type: ignore[union-attr]
        assert url.startswith(f"{BASE}/aktualnosci/") and e.findtext(f"{ATOM}id") == url
        assert e.findtext(f"{ATOM}updated", "").endswith("Z")
        assert e.findtext(f"{ATOM}published", "").endswith("Z")
        assert e.find(f"{ATOM}content").get("type") == "html"  # type: ignore[union-attr]
        assert "<script>" not in e.findtext(f"{ATOM}content", "")
        assert [c.get("term") for c in e.findall(f"{ATOM}category")] == ["smog"]
    assert entries[0].findtext(f"{ATOM}summary") == "Wstęp 0 <i>"
    assert root.findtext(f"{ATOM}updated") == max(e.findtext(f"{ATOM}updated", "") for e in entries)
    english = ET.fromstring(client.get("/en/news.atom").content)
    assert english.findall(f"{ATOM}entry") == []
    assert english.findtext(f"{ATOM}id") == f"{BASE}/en/news.atom"


# -- static files ------------------------------------------------------------------------------
def test_static_files(client: TestClient) -> None:
    r = client.get("/static/portal.css")
    assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    for bad in ("/static/widget.js", "/static/nope.css", "/static/..%2Fpages.py", "/static/.x.css"):
        assert client.get(bad).status_code == 404, bad


# -- paths and i18n ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pl", "en"),
    [
        ("/", "/en/"),
        ("/aktualnosci", "/en/news"),
        ("/aktualnosci?page=2", "/en/news?page=2"),
        ("/aktualnosci/abc", "/en/news/abc"),
        ("/aktualnosci/abc.json", "/en/news/abc.json"),
        ("/aktualnosci.json?page=3", "/en/news.json?page=3"),
        ("/stanowiska/3.json", "/en/sites/3.json"),
        ("/aktualnosci.atom", "/en/news.atom"),
        ("/mapa", "/en/map"),
        ("/stanowiska/3", "/en/sites/3"),
        ("/dzielnice", "/en/districts"),
        ("/dzielnice/centrum", "/en/districts/centrum"),
        ("/alerty", "/en/alerts"),
        ("/alerty.atom", "/en/alerts.atom"),
    ],
)
def test_language_switch_paths(pl: str, en: str) -> None:
    assert paths("pl").switch(pl) == en
    assert paths("en").switch(en) == pl


def test_paths_of_each_page() -> None:
    for lang, expected in {
        "pl": ["/", "/aktualnosci", "/aktualnosci/x", "/aktualnosci.atom", "/mapa",
               "/stanowiska/3", "/dzielnice", "/dzielnice/c", "/alerty", "/alerty.atom"],
        "en": ["/en/", "/en/news", "/en/news/x", "/en/news.atom", "/en/map", "/en/sites/3",
               "/en/districts", "/en/districts/c", "/en/alerts", "/en/alerts.atom"],
    }.items():  # fmt: skip
        p = paths(lang)
        assert [p.home, p.news_list, p.article("x"), p.feed, p.map, p.site(3), p.districts,
                p.district("c"), p.alerts, p.alerts_feed] == expected  # fmt: skip
        assert p.json(p.home) == p.home + "index.json"
        assert p.json(p.site(3)) == p.site(3) + ".json"
    with pytest.raises(ValueError, match="lang"):
        paths("de")


def test_numbers_and_dates_in_each_locale() -> None:
    assert i18n.format_number(21.0853, "pl", 2) == "21,09"
    assert i18n.format_number(21.0853, "en", 2) == "21.09"
    assert i18n.format_number(1004.05, "pl", 1) == "1004,1"
    assert i18n.format_number(12345.6, "en", 0) == "12,346"
    # 21.05.2019 20:30 UTC is 22:30 in Warsaw (CEST)
    ts = 1558470600
    assert i18n.format_datetime(ts, "pl", "Europe/Warsaw") == "21 maja 2019, 22:30"
    assert i18n.format_datetime(ts, "en", "Europe/Warsaw") == "21 May 2019, 22:30"
    assert i18n.format_date(ts, "pl", "Europe/Warsaw") == "21 maja 2019"
    assert i18n.format_date(ts, "en", "UTC") == "21 May 2019"
    assert i18n.format_recent(ts, "pl", "Europe/Warsaw", now=ts + 3600) == "22:30"
    assert i18n.format_recent(ts, "en", "Europe/Warsaw", now=ts + 7200) == "21 May, 22:30"
    assert i18n.gettext("en", "Aktualności") == "News"
    assert i18n.gettext("en", "Tekst bez tłumaczenia") == "Tekst bez tłumaczenia"
    assert i18n.gettext("pl", "Aktualności") == "Aktualności"
    with pytest.raises(ValueError, match="lang"):
        i18n.gettext("de", "Aktualności")


def _template_messages() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    options = {"**.html": {"extensions": "jinja2.ext.i18n"}}
    for name, line, message, _comments, _context in extract_from_dir(
        str(WEB / "templates"), method_map=[("**.html", "jinja2")], options_map=options
    ):
        key = message if isinstance(message, str) else message[0]
        found.setdefault(key, []).append(f"templates/{name}:{line}")
    return found


#: How the web package's Python code marks texts: ``i18n.gettext(lang, "…")``, an alias
#: ``g(lang, "…")``, or ``_t("…")`` (a fixed language); also inside f-strings.
_PY_CALL = re.compile(
    r"""(?:\bgettext|\bg)\(\s*\w+,\s*(['"])(.+?)(?<!\\)\1"""
    r"""|\b_t\(\s*(['"])(.+?)(?<!\\)\3"""
)


def _python_messages() -> dict[str, list[str]]:
    """Texts marked for translation in the web package's Python code."""
    found: dict[str, list[str]] = {}
    keywords = {"gettext": (2,), "g": (2,), "_t": (1,)}
    for name, line, message, _comments, _context in extract_from_dir(
        str(WEB), method_map=[("*.py", "python")], keywords=keywords
    ):
        key = message if isinstance(message, str) else message[-1]
        if key:
            found.setdefault(key, []).append(f"{name}:{line}")
    for file in sorted(WEB.glob("*.py")):
        for number, text in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            for match in _PY_CALL.finditer(text):
                key = match.group(2) or match.group(4)
                found.setdefault(key, []).append(f"{file.name}:{number}")
    return found


def test_every_template_string_has_an_english_translation() -> None:
    i18n.reload()
    catalogue = i18n.catalogue("en")
    used = {**_template_messages(), **_python_messages()}
    assert "Inne aktualności" in used and "Nie ma takiego artykułu." in used
    missing = {m: where for m, where in used.items() if not catalogue.get(m)}
    assert not missing, f"no English translation for: {missing}"


def test_no_catalogue_entry_is_fuzzy_unused_or_contradictory() -> None:
    used = {**_template_messages(), **_python_messages()}
    entries = i18n.po_entries("en")
    assert {e.file for e in entries} >= {"portal.po"}
    assert [e for e in entries if e.fuzzy] == []
    assert [e for e in entries if not e.string] == []
    unused = [(e.file, e.id) for e in entries if e.id not in used]
    assert unused == []
    seen: dict[Any, Any] = {}
    for e in entries:
        assert seen.setdefault(e.id, e.string) == e.string, f"{e.id!r} translated twice"


def test_home_is_served_before_the_router_with_etags(
    client: TestClient, published: list[news.DraftArticle]
) -> None:
    for path in ("/", "/en/", "/index.json", "/en/index.json"):
        r = client.get(path)
        assert r.status_code == 200
        tag = r.headers["etag"]
        again = client.get(path, headers={"If-None-Match": f'W/"x", {tag}'})
        assert again.status_code == 304 and again.content == b""
        head = client.head(path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(r.content))
        refused = client.post(path)
        assert refused.status_code == 405
        assert refused.json()["error"]["field"] == "method"


def test_context_providers_reach_every_page_and_refresh_cached_ones(
    client: TestClient, published: list[news.DraftArticle]
) -> None:
    from smartdistricts.web import pages

    state = {"version": 0}
    calls: list[str] = []

    def provider(request: Any, lang: str) -> dict[str, Any]:
        calls.append(f"{lang} {request.url.path}")
        return {"alerts": None}

    pages.add_context_provider(provider, version=lambda: state["version"])
    try:
        assert client.get("/aktualnosci/no-such").status_code == 404  # every page gets it
        assert calls == ["pl /aktualnosci/no-such"]
        client.get("/en/")
        client.get("/en/")
        time.sleep(portal.NEWS_CHECK_S + 0.1)
        client.get("/en/")
        assert calls[1:] == ["en /en/"]  # built once, then served from the cache
        state["version"] = 1
        time.sleep(portal.NEWS_CHECK_S + 0.1)
        client.get("/en/")
        assert calls[1:] == ["en /en/", "en /en/"]  # a new version rebuilds it
    finally:
        pages._providers.remove(provider)
        pages._versions.clear()

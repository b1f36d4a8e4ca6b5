"""The map, site, district and ranking pages and their JSON twins (in process, both backends).

Pages are checked with an HTML parser and their JSON twins with exact keys; the numbers a page
shows are compared with its twin formatted in the page's locale, and the twins with the native
API. Charts are parsed as XML. "Days over the norm" is checked on a hand-made dataset whose
daily means are known.
"""

from __future__ import annotations

import csv
import io
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from starlette.testclient import TestClient

from smartdistricts.api.app import create_app
from smartdistricts.config import Settings
from smartdistricts.ingest.records import Readings, SensorRef
from smartdistricts.nomenclature import variable
from smartdistricts.services.bulk import BulkWrite
from smartdistricts.services.demo import create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.places import days_over
from smartdistricts.services.registry import add_device, add_site
from smartdistricts.services.rollup import roll_up_pending
from smartdistricts.store.base import Store
from smartdistricts.web import charts, i18n

TZ = ZoneInfo("Europe/Warsaw")
SVG = "{http://www.w3.org/2000/svg}"
PAGES = {
    "map": ("/mapa", "/en/map"),
    "site": ("/stanowiska/{id}", "/en/sites/{id}"),
    "districts": ("/dzielnice", "/en/districts"),
    "district": ("/dzielnice/{slug}", "/en/districts/{slug}"),
}
KEYS = {
    "map": {"lang", "index", "standard", "sites", "districts", "legend", "tiles"},
    "site": {
        "lang", "site", "current", "standard", "norms", "charts", "index_history", "legend",
        "days_over", "forecast", "generated", "csv", "map",
    },
    "districts": {"lang", "index", "ranking", "legend"},
    "district": {
        "lang", "district", "sites", "current", "rank", "of", "ranking", "legend",
        "districts_url",
    },
}  # fmt: skip


# -- helpers --------------------------------------------------------------------------------------
class Doc(HTMLParser):
    """The page's text, its ``<svg>`` elements as text, and every tag with its attributes."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text_parts: list[str] = []
        self.feed(html)
        self.svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def find(self, tag: str, **attrs: str) -> list[dict[str, str | None]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def at(client: TestClient, now: float) -> None:
    """Let the application see the time ``now``, with empty caches."""
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    ctx.air.clock = lambda: now
    ctx.air.invalidate()
    client.app.state.places = None  # type: ignore[attr-defined]


@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return replace(settings, ingest_process=False, tile_url="")


@pytest.fixture
def client(store: Store, app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, store=store), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def town(client: TestClient, store: Store, app_settings: Settings) -> float:
    """Two days of the demo town; the time the application sees."""
    now = float(int(time.time()))
    create_demo(IngestService(store, app_settings), days=2, now=now)
    at(client, now)
    return now


def url(kind: str, lang: str, **values: Any) -> str:
    return PAGES[kind][0 if lang == "pl" else 1].format(**values)


# -- every page, both languages -------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["pl", "en"])
def test_every_page_and_its_json_twin(client: TestClient, town: float, lang: str) -> None:
    for kind in PAGES:
        path = url(kind, lang, id=1, slug="centrum")
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert page.headers["content-type"].startswith("text/html")
        doc = Doc(page.text)
        assert doc.find("html")[0]["lang"] == lang
        assert len(doc.find("h1")) == 1
        assert doc.find("a", href=path + ".json"), f"{path}: no link to its JSON twin"
        other = "en" if lang == "pl" else "pl"
        assert doc.find("a", href=url(kind, other, id=1, slug="centrum"), hreflang=other)
        twin = client.get(path + ".json")
        assert twin.status_code == 200
        assert twin.headers["content-type"] == "application/json"
        data = twin.json()
        assert set(data) == KEYS[kind], kind
        assert data["lang"] == lang


def test_map_lists_every_active_site_with_the_api_values(client: TestClient, town: float) -> None:
    api = client.get("/api/v1/sites.geojson?active=true").json()["features"]
    for lang in ("pl", "en"):
        data = client.get(url("map", lang) + ".json").json()
        assert [s["id"] for s in data["sites"]] == [f["id"] for f in api]
        doc = Doc(client.get(url("map", lang)).text)
        for site, feature in zip(data["sites"], api, strict=True):
            items = {i["name"]: i for i in site["box"]["items"]}
            assert items["pm2_5"]["value"] == pytest.approx(
                feature["properties"]["pm2_5"], abs=0.006
            )
            assert site["box"]["index"]["color"] == feature["properties"]["caqi"]["color"]
            assert site["url"] == (
                f"/stanowiska/{site['id']}" if lang == "pl" else f"/en/sites/{site['id']}"
            )
            shown = i18n.format_number(items["pm2_5"]["value"], lang, 2)
            assert doc.find("tr", **{"data-site": str(site["id"])})
            assert shown in doc.text
        # the district boundaries travel with the page (no other request needed)
        assert {f["properties"]["slug"] for f in data["districts"]["features"]} == {
            "centrum", "serbinow", "polnoc", "wschod", "przemyslowa"
        }  # fmt: skip
        assert doc.find("script", type="application/json", id="map-data")
        scripts = [a["src"] for a in doc.find("script") if a.get("src")]
        assert all(s and s.startswith("/static/") for s in scripts)
    assert data["tiles"] == {"url": "", "attribution": "© OpenStreetMap contributors"}


def test_map_page_policy_allows_only_the_tile_server(store: Store, app_settings: Settings) -> None:
    tiled = replace(app_settings, tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    with TestClient(create_app(tiled, store=store)) as c:
        policy = c.get("/mapa").headers["content-security-policy"]
        assert "img-src 'self' data: https://*.tiles.example.org;" in policy
        assert "tiles.example.org" not in c.get("/dzielnice").headers["content-security-policy"]
        assert c.get("/mapa.json").json()["tiles"]["url"].startswith("https://{s}.tiles")


def test_site_page_shows_its_twin(client: TestClient, town: float) -> None:
    for lang in ("pl", "en"):
        data = client.get(url("site", lang, id=2) + ".json").json()
        doc = Doc(client.get(url("site", lang, id=2)).text)
        assert data["site"]["id"] == 2 and data["site"]["name"] in doc.text
        for item in data["current"]["items"]:
            assert item["display"] in doc.text
        for row in data["days_over"]["pollutants"]:
            cells = doc.find("td", **{"data-days": str(row["days"])})
            assert cells, row
        assert data["norms"] == {
            "pm2_5": {"limit": 25.0, "averaging": "24h"},
            "pm10": {"limit": 50.0, "averaging": "24h"},
        }
        assert len(data["charts"]["24h"]["time"]) == 24
        assert len(data["charts"]["7d"]["time"]) == 168
        assert len(data["charts"]["30d"]["time"]) == 30
        hours = data["charts"]["24h"]["values"]["pm2_5"]
        assert sum(v is not None for v in hours) >= 20  # two days of demo data
        assert data["csv"]["7d"] == "/api/v1/export.csv?site=2"
        assert doc.find("a", href=data["csv"]["7d"])
        assert doc.find("section", id="forecast")
        assert len(data["index_history"]["value"]) == 168


def test_site_charts_are_accessible_svg_with_norm_lines(client: TestClient, town: float) -> None:
    doc = Doc(client.get("/stanowiska/1").text)
    assert len(doc.svgs) == 13  # 3 ranges × (PM + 3 weather) + the index bars
    for text in doc.svgs:
        root = ET.fromstring(text)
        assert root.get("role") == "img"
        title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
        assert title is not None and title.text and desc is not None and desc.text
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        assert [e for e in root.iter() if e.tag.endswith("script")] == []
        assert not any(k.startswith("on") for e in root.iter() for k in e.attrib)
    pm = ET.fromstring(next(s for s in doc.svgs if 'id="pm-24h"' in s))
    norms = [g for g in pm.iter(f"{SVG}g") if g.get("class") == "norm"]
    assert {g.get("data-variable") for g in norms} == {"pm2_5", "pm10"}
    labels = ["".join(g.itertext()) for g in norms]
    assert any("25 µg/m³" in t and "WHO2005" in t for t in labels)
    series = [p.get("data-variable") for p in pm.iter(f"{SVG}path") if p.get("class") == "series"]
    assert series == ["pm2_5", "pm10"]
    bars = ET.fromstring(next(s for s in doc.svgs if 'id="index-7d"' in s))
    rects = [r for r in bars.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert len(rects) >= 20
    legend = "".join(bars.itertext())
    assert "Bardzo niski (0-25)" in legend  # the colours are named in words


def test_chart_escapes_its_texts() -> None:
    svg = charts.line_chart(
        chart_id="x",
        title="<script>alert(1)</script>",
        desc='"><img src=x onerror=alert(1)>',
        start=0,
        end=7200,
        lines=[charts.Line("pm2_5", "</svg><script>", [0, 3600], [1.0, None], "#000000")],
        norms=[charts.Norm("pm2_5", "<b>", 25.0, "#ff0000")],
        unit="µg/m³",
        lang="pl",
        tz=TZ,
    )
    root = ET.fromstring(str(svg))
    assert [e for e in root.iter() if e.tag.endswith(("script", "img", "b"))] == []
    assert root.find(f"{SVG}title").text == "<script>alert(1)</script>"  # type: ignore[union-attr]
    empty = charts.line_chart(
        chart_id="y", title="t", desc="d", start=0, end=3600, lines=[], unit="", lang="en", tz=TZ
    )
    assert "No data for this period" in str(empty)


def test_unknown_site_or_district_is_a_404_in_the_page_language(
    client: TestClient, town: float
) -> None:
    pl = client.get("/stanowiska/999")
    assert pl.status_code == 404 and "Nie ma stanowiska „999”" in pl.text
    assert Doc(pl.text).find("html")[0]["lang"] == "pl"
    en = client.get("/en/sites/nope")
    assert en.status_code == 404 and "There is no site “nope”" in en.text
    assert Doc(en.text).find("html")[0]["lang"] == "en"
    body = client.get("/en/districts/nope.json")
    assert body.status_code == 404
    assert body.json()["error"]["field"] == "slug"
    assert "There is no district" in body.json()["error"]["message"]
    assert client.get("/dzielnice/%3Cscript%3E").status_code == 404


def test_ranking_orders_districts_by_pm25_as_the_api(client: TestClient, town: float) -> None:
    data = client.get("/dzielnice.json").json()
    ranked = [r for r in data["ranking"] if r["rank"] is not None]
    assert [r["rank"] for r in ranked] == list(range(1, len(ranked) + 1))
    assert [r["pm2_5"] for r in ranked] == sorted(r["pm2_5"] for r in ranked)
    assert len(ranked) == 4  # the fifth demo district has no site
    api = client.get("/api/v1/districts/centrum/summary").json()["ranking"]
    assert [(r["rank"], r["slug"], r["pm2_5"]) for r in data["ranking"]] == [
        (r["rank"], r["slug"], r["pm2_5"]) for r in api
    ]
    doc = Doc(client.get("/en/districts").text)
    for r in ranked:
        assert i18n.format_number(r["pm2_5"], "en", 2) in doc.text


def test_district_page_shows_its_sites_and_their_mean(client: TestClient, town: float) -> None:
    data = client.get("/dzielnice/centrum.json").json()
    assert data["district"]["name"] == "Centrum"
    assert [s["slug"] for s in data["sites"]] == ["wyszynskiego-56"]
    site = data["sites"][0]
    assert data["current"]["values"]["pm2_5"] == site["values"]["pm2_5"]
    assert data["rank"] == next(r["rank"] for r in data["ranking"] if r["slug"] == "centrum")
    assert data["of"] == 4  # districts with PM2.5 (the fifth has no site)
    doc = Doc(client.get("/dzielnice/centrum").text)
    assert doc.find("a", href=f"/stanowiska/{site['id']}")
    assert doc.find("tr", **{"data-slug": "centrum", "aria-current": "true"})
    assert i18n.format_number(site["values"]["pm2_5"], "pl", 2) in doc.text


def test_csv_link_downloads_the_site(client: TestClient, town: float) -> None:
    data = client.get("/stanowiska/1.json").json()
    for link in data["csv"].values():
        answer = client.get(link)
        assert answer.status_code == 200, answer.text
        rows = list(csv.reader(io.StringIO(answer.text)))
        assert rows[0][:4] == ["site", "sensor", "time", "variable"]
        assert {r[0] for r in rows[1:]} == {data["site"]["slug"]}


def test_leaflet_and_map_script_come_from_this_server(client: TestClient) -> None:
    script = client.get("/static/leaflet/leaflet.js")
    assert script.status_code == 200 and b"Leaflet" in script.content[:2000]
    assert client.get("/static/leaflet/leaflet.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/leaflet/images/layers.png").status_code == 200
    assert client.get("/static/leaflet/../../__init__.py").status_code == 404
    assert client.get("/static/leaflet/leaflet.js.map").status_code == 404
    js = client.get("/static/map.js")
    assert js.status_code == 200 and b"innerHTML" not in js.content


# -- days over the norm ---------------------------------------------------------------------------
def test_days_over_counts_strictly_above_the_24h_limit() -> None:
    daily = {20260101: {"pm2_5": 25.0, "pm10": 80.0}, 20260102: {"pm2_5": 25.01}}
    who = {r["variable"]: r for r in days_over(daily, "WHO2005")}
    assert who["pm2_5"] == {
        "variable": "pm2_5", "limit": 25.0, "averaging": "24h", "days": 1, "valid_days": 2
    }  # fmt: skip
    assert who["pm10"]["days"] == 1 and who["pm10"]["valid_days"] == 1
    eu = {r["variable"]: r for r in days_over(daily, "EU2008")}
    assert eu["pm2_5"]["limit"] is None and eu["pm2_5"]["days"] is None  # only a yearly limit
    assert eu["pm10"]["days"] == 1
    assert days_over({}, "WHO2021")[0]["days"] == 0


#: Hand-made days: (local day, hours with data, PM2.5, PM10).
DAYS = [
    (datetime(2026, 3, 2, tzinfo=TZ), 24, 30.0, 60.0),  # both over (WHO2005: 25 / 50)
    (datetime(2026, 3, 3, tzinfo=TZ), 24, 20.0, 40.0),  # neither
    (datetime(2026, 3, 4, tzinfo=TZ), 24, 25.6, 49.0),  # PM2.5 only
    (datetime(2026, 3, 5, tzinfo=TZ), 10, 99.0, 99.0),  # too few hours: not a valid day
    (datetime(2025, 12, 30, tzinfo=TZ), 24, 80.0, 90.0),  # last year
]


def _hand_made(store: Store, settings: Settings) -> int:
    site = add_site(store, name="Rynek", slug="rynek", latitude=52.18, longitude=21.56)
    add_device(store, "esp8266-1", site=site.id)
    times: list[int] = []
    pm25: list[float] = []
    pm10: list[float] = []
    for day, hours, a, b in DAYS:
        start = int(day.timestamp())
        for k in range(hours * 25):  # every 144 s: 25 readings an hour, fully covered
            times.append(start + 144 * k)
            wobble = (-0.3, 0.0, 0.3)[k % 3]  # not stuck
            pm25.append(a + wobble)
            pm10.append(b + wobble)
    n = len(times)
    ref = [SensorRef(device_uid="esp8266-1", sensor_type="SDS011")]
    readings = Readings.concat(
        [
            Readings(
                ref,
                np.zeros(n, dtype=np.int64),
                np.full(n, variable(name).id, dtype=np.int64),
                np.asarray(times, dtype=np.int64),
                np.asarray(values, dtype=np.float64),
                np.zeros(n, dtype=np.int64),
            )
            for name, values in (("pm2_5", pm25), ("pm10", pm10))
        ]
    )
    service = IngestService(store, settings)
    store.write(BulkWrite(service, readings, "batch-api"))
    while store.write(lambda tx: roll_up_pending(tx, service.tz, limit=20_000)):
        pass
    return site.id


def test_days_over_the_norm_on_a_hand_made_dataset(
    client: TestClient, store: Store, app_settings: Settings
) -> None:
    site_id = _hand_made(store, app_settings)
    now = datetime(2026, 3, 6, 12, tzinfo=TZ).timestamp()
    at(client, now)
    data = client.get(f"/stanowiska/{site_id}.json").json()
    over = {r["variable"]: r for r in data["days_over"]["pollutants"]}
    assert data["days_over"]["year"] == 2026
    assert (over["pm2_5"]["days"], over["pm2_5"]["valid_days"]) == (2, 3)
    assert (over["pm10"]["days"], over["pm10"]["valid_days"]) == (1, 3)
    # the 30-day chart has the daily means of those days
    daily = dict(
        zip(data["charts"]["30d"]["day"], data["charts"]["30d"]["values"]["pm2_5"], strict=True)
    )
    assert daily["2026-03-02"] == pytest.approx(30.0, abs=0.01)
    assert daily["2026-03-03"] == pytest.approx(20.0, abs=0.01)
    assert daily["2026-03-01"] is None
    doc = Doc(client.get(f"/en/sites/{site_id}").text)
    assert doc.find("td", **{"data-days": "2"}) and doc.find("td", **{"data-days": "1"})
    # under EU2008 PM2.5 has only a yearly limit: no count
    with TestClient(create_app(replace(app_settings, standard="EU2008"), store=store)) as eu:
        at(eu, now)
        rows = eu.get(f"/stanowiska/{site_id}.json").json()["days_over"]["pollutants"]
        assert [(r["variable"], r["days"]) for r in rows] == [("pm2_5", None), ("pm10", 1)]


def test_site_history_is_cached_briefly(client: TestClient, town: float, store: Store) -> None:
    first = client.get("/stanowiska/1.json").json()
    store.write(lambda tx: tx.execute("DELETE FROM hourly"))
    assert client.get("/stanowiska/1.json").json() == first  # within the cache's lifetime
    at(client, town + 120)
    later = client.get("/stanowiska/1.json").json()
    assert all(v is None for v in later["charts"]["24h"]["values"]["pm2_5"])


def test_site_page_is_fast(client: TestClient, town: float) -> None:
    client.get("/stanowiska/1")
    client.app.state.places.pages.clear()  # type: ignore[attr-defined]
    started = time.perf_counter()
    for lang in ("pl", "en"):
        assert client.get(url("site", lang, id=1)).status_code == 200
    assert time.perf_counter() - started < 1.0  # built from cached aggregates, not seconds

"""The embeddable air widget: /widget/{id}, /widget/{id}.json and /widget.js.

The reference is the box the town's website showed on 21.05.2019 (Airly's widget):

    14°C / 9 / Powietrze / … / PM1: 4.03 / PM25: 5.27 (21,09%) / PM10: 7.06 (14,13%) /
    Temperatura: 14.09°C / Ciśnienie: 1004.05 hPa / Wilgotność: 71.97% /
    Dane z 21.05.2019 22:30, airly.pl

Airly computed the percentages from unrounded concentrations (e.g. 5.2725 µg/m³ → 21.09 %);
the readings written here are 5.27 and 7.06 exactly, so the expected percentages are
21.08 % and 14.12 % (5.27 / 25 × 100 = 21.08; 7.06 / 50 × 100 = 14.12). Contrast ratios are
computed with the WCAG 2.x relative-luminance formula, written out again here.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, ClassVar

import pytest
from starlette.testclient import TestClient

from smartdistricts.api.app import create_app
from smartdistricts.config import Settings
from smartdistricts.indices import index_levels, unknown_level
from smartdistricts.services.airnow import SiteAir, Window
from smartdistricts.services.demo import create_demo
from smartdistricts.services.ingest import IngestService, StreamBatch
from smartdistricts.services.registry import Site, add_device, add_site
from smartdistricts.services.widget import widget_data
from smartdistricts.store.base import Store
from smartdistricts.web.widget import Widget, WidgetEndpoint

#: 21.05.2019 20:30 UTC = 22:30 in Warsaw (CEST): the seed's "Dane z 21.05.2019 22:30".
SEED_TIME = int(datetime(2019, 5, 21, 20, 30, tzinfo=UTC).timestamp())
SEED = {
    "pm1": 4.03,
    "pm2_5": 5.27,
    "pm10": 7.06,
    "temp_air": 14.09,
    "pressure": 1004.05,
    "relative_humidity": 71.97,
}
_IDS = {"pm1": 1, "pm2_5": 2, "pm10": 3, "temp_air": 4, "relative_humidity": 5, "pressure": 6}
_SENSOR = {"pm1": "PMS5003", "pm2_5": "SDS011", "pm10": "SDS011"}
TOP_KEYS = {"installation", "lang", "state", "title", "temperature", "index", "message", "items",
            "standard", "window", "updated", "source", "footer"}  # fmt: skip
INDEX_KEYS = {"name", "label", "value", "text", "level", "color", "text_color", "description",
              "advice"}  # fmt: skip
_SLUGS = itertools.count(1)
ITEM_KEYS = {"name", "label", "value", "unit", "percent", "display", "text"}


# -- a small HTML tree for selectors ---------------------------------------------------------
@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def own_text(self) -> str:
        return "".join(c for c in self.children if isinstance(c, str))

    def all(self, tag: str | None = None, cls: str | None = None) -> list[Node]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                classes = child.attrs.get("class", "").split()
                if (tag is None or child.tag == tag) and (cls is None or cls in classes):
                    found.append(child)
                found += child.all(tag, cls)
        return found

    def one(self, tag: str | None = None, cls: str | None = None) -> Node:
        found = self.all(tag, cls)
        assert len(found) == 1, f"{len(found)} <{tag} class={cls}> elements"
        return found[0]


class _Builder(HTMLParser):
    VOID: ClassVar[set[str]] = {"meta", "link", "br", "img", "input", "hr", "source"}

    def __init__(self) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    return builder.root


# -- WCAG contrast, written out independently of the code under test ------------------------
def luminance(color: str) -> float:
    def linear(byte: str) -> float:
        c = int(byte, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    hexa = color.lstrip("#")
    r, g, b = (linear(hexa[i : i + 2]) for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def app_settings(settings: Settings) -> Settings:
    return replace(settings, ingest_process=False, attribution="Miasto Mińsk Mazowiecki")


@pytest.fixture
def client(store: Store, app_settings: Settings) -> Iterator[TestClient]:
    app = create_app(app_settings, store=store)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        at(test_client, SEED_TIME + 300)
        yield test_client


def at(client: TestClient, now: float) -> None:
    """Let the application's data service see the time ``now``, with empty caches."""
    ctx = client.app.state.ctx
    ctx.air.clock = lambda: now
    ctx.air.invalidate()
    client.app.state.widgets = None


def add_readings(
    store: Store,
    settings: Settings,
    name: str,
    *,
    t: int = SEED_TIME,
    source: str = "airly.pl",
    values: dict[str, float] | None = None,
) -> int:
    """A site called ``name`` with one device that measured ``values`` at ``t``; its id."""
    site = add_site(store, name=name, slug=f"site-{next(_SLUGS)}", latitude=52.18, longitude=21.56)
    uid = f"node-{site.id}"
    add_device(store, uid, site=site.id)
    readings = [
        (_SENSOR.get(var, "BME280"), _IDS[var], t, value)
        for var, value in (SEED if values is None else values).items()
    ]
    result = IngestService(store, settings).write(StreamBatch(uid, readings, source, t))
    assert result.stored == len(readings)
    return site.id


def page(client: TestClient, url: str) -> Node:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return parse(response.text)


def pairs(doc: Node) -> list[str]:
    """``label: value`` of each <dt>/<dd> pair, as a reader sees them (the colon is CSS)."""
    values = doc.one("dl", "sdw-vals")
    children = [c for c in values.children if isinstance(c, Node)]
    assert [c.tag for c in children] == ["dt", "dd"] * (len(children) // 2)
    return [
        f"{dt.text()}: {dd.text()}" for dt, dd in zip(children[::2], children[1::2], strict=True)
    ]


# -- the seed -----------------------------------------------------------------------------------
def test_seed_box_as_json(client: TestClient, store: Store, app_settings: Settings) -> None:
    site = add_readings(store, app_settings, "ul. Wyszyńskiego 56")
    data = client.get(f"/widget/{site}.json").json()
    assert set(data) == TOP_KEYS
    assert set(data["index"]) == INDEX_KEYS
    assert all(set(item) == ITEM_KEYS for item in data["items"])
    assert data["installation"] == {"id": site, "name": "ul. Wyszyńskiego 56"}
    assert (data["lang"], data["state"], data["title"]) == ("pl", "ok", "Powietrze")
    assert data["temperature"] == {"label": "Temperatura", "value": 14.09, "text": "14°C"}
    index = data["index"]
    assert (index["name"], index["value"], index["text"]) == ("AIRLY_CAQI", 8.78, "9")
    assert (index["level"], index["color"], index["text_color"]) == (
        "VERY_LOW",
        "#6BC926",
        "#000000",
    )
    assert index["description"] == "Powietrze czyste jak kryształ!"
    assert index["advice"] in index_levels("AIRLY_CAQI")[0].advice["pl"]
    assert data["message"] is None
    # 5.27 exactly gives 21.08 % (the seed's 21,09 % came from Airly's unrounded 5.27xx).
    assert [item["text"] for item in data["items"]] == [
        "PM1: 4.03",
        "PM25: 5.27 (21,08%)",
        "PM10: 7.06 (14,12%)",
        "Temperatura: 14.09°C",
        "Ciśnienie: 1004.05 hPa",
        "Wilgotność: 71.97%",
    ]
    assert [(i["name"], i["value"], i["percent"]) for i in data["items"]] == [
        ("pm1", 4.03, None),
        ("pm2_5", 5.27, 21.08),
        ("pm10", 7.06, 14.12),
        ("temp_air", 14.09, None),
        ("pressure", 1004.05, None),
        ("relative_humidity", 71.97, None),
    ]
    assert data["items"][1]["unit"] == "µg/m³" and data["items"][1]["display"] == "5.27 (21,08%)"
    assert data["standard"] == "WHO2005"
    assert data["updated"] == "2019-05-21T22:30:00+02:00"
    assert data["source"] == "airly.pl"
    assert data["footer"] == "Dane z 21.05.2019 22:30, airly.pl"
    assert data["window"] == {
        "from": "2019-05-21T21:35:00+02:00",
        "to": "2019-05-21T22:35:00+02:00",
    }
    Widget.model_validate(data)  # the documented response model fits exactly (extra="forbid")


def test_seed_box_as_html(client: TestClient, store: Store, app_settings: Settings) -> None:
    site = add_readings(store, app_settings, "ul. Wyszyńskiego 56")
    data = client.get(f"/widget/{site}.json").json()
    doc = page(client, f"/widget/{site}")
    assert doc.one("html").attrs["lang"] == "pl"
    assert doc.one("title").text() == "Powietrze: ul. Wyszyńskiego 56"
    box = doc.one("section", "sdw")
    assert box.attrs["aria-label"] == "Powietrze: ul. Wyszyńskiego 56"
    top = box.one("div", "sdw-top")
    assert top.attrs["style"] == "background:#6BC926;color:#000000"
    temperature, index = top.one("p", "sdw-temp"), top.one("p", "sdw-idx")
    assert temperature.own_text() == "14°C" and temperature.text() == "Temperatura: 14°C"
    assert index.own_text() == "9"
    assert index.text() == "Indeks jakości powietrza CAQI: 9"
    assert top.one("p", "sdw-cap").text() == "Powietrze"
    assert box.one("p", "sdw-desc").text() == data["index"]["description"]
    assert box.one("p", "sdw-adv").text() == data["index"]["advice"]
    assert pairs(doc) == [item["text"] for item in data["items"]]
    assert box.one("p", "sdw-foot").text() == "Dane z 21.05.2019 22:30, airly.pl"
    assert not box.all(cls="sdw-msg")


def test_english(client: TestClient, store: Store, app_settings: Settings) -> None:
    site = add_readings(store, app_settings, "Rynek")
    data = client.get(f"/widget/{site}.json?lang=en").json()
    assert (data["lang"], data["title"]) == ("en", "Air")
    assert data["index"]["description"] == "Crystal-clear air!"
    assert data["index"]["advice"] in index_levels("AIRLY_CAQI")[0].advice["en"]
    assert [item["text"] for item in data["items"]] == [
        "PM1: 4.03",
        "PM25: 5.27 (21.08%)",
        "PM10: 7.06 (14.12%)",
        "Temperature: 14.09°C",
        "Pressure: 1004.05 hPa",
        "Humidity: 71.97%",
    ]
    assert data["footer"] == "Data from 21.05.2019 22:30, airly.pl"
    doc = page(client, f"/widget/{site}?lang=en")
    assert doc.one("html").attrs["lang"] == "en"
    assert doc.one("p", "sdw-temp").text() == "Temperature: 14°C"
    assert pairs(doc)[3:] == ["Temperature: 14.09°C", "Pressure: 1004.05 hPa", "Humidity: 71.97%"]
    assert doc.one("p", "sdw-foot").text() == "Data from 21.05.2019 22:30, airly.pl"


def test_the_configured_standard_sets_the_percentages(store: Store, settings: Settings) -> None:
    who2021 = replace(settings, ingest_process=False, standard="WHO2021")
    site = add_readings(store, who2021, "Rynek")
    with TestClient(create_app(who2021, store=store)) as client:
        at(client, SEED_TIME + 300)
        data = client.get(f"/widget/{site}.json").json()
    # WHO 2021: PM2.5 15, PM10 45 µg/m³ → 5.27 / 15 = 35.13 %, 7.06 / 45 = 15.69 %.
    assert data["standard"] == "WHO2021"
    assert [item["text"] for item in data["items"][1:3]] == [
        "PM25: 5.27 (35,13%)",
        "PM10: 7.06 (15,69%)",
    ]


@pytest.mark.parametrize(
    ("query", "lang"), [("", "pl"), ("?lang=", "pl"), ("?lang=pl", "pl"), ("?lang=EN", "en")]
)
def test_lang_defaults_to_polish(
    client: TestClient, store: Store, app_settings: Settings, query: str, lang: str
) -> None:
    site = add_readings(store, app_settings, "Rynek")
    assert client.get(f"/widget/{site}.json{query}").json()["lang"] == lang
    assert page(client, f"/widget/{site}{query}").one("html").attrs["lang"] == lang


@pytest.mark.parametrize("suffix", ["", ".json"])
def test_invalid_lang_is_422_naming_lang(
    client: TestClient, store: Store, app_settings: Settings, suffix: str
) -> None:
    site = add_readings(store, app_settings, "Rynek")
    response = client.get(f"/widget/{site}{suffix}?lang=de")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert (error["status"], error["code"], error["field"]) == (422, "invalid_field", "lang")


@pytest.mark.parametrize("path", ["/widget/999", "/widget/999.json", "/widget/abc.json"])
def test_unknown_installation_is_404(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.json()["error"] == {
        "status": 404,
        "code": "not_found",
        "message": response.json()["error"]["message"],
        "field": "installation_id",
    }


# -- no data --------------------------------------------------------------------------------------
def test_silence_of_more_than_two_hours_shows_no_values(
    client: TestClient, store: Store, app_settings: Settings
) -> None:
    site = add_readings(store, app_settings, "Rynek")
    at(client, SEED_TIME + 2 * 3600 + 60)
    data = client.get(f"/widget/{site}.json").json()
    assert data["state"] == "no_data"
    assert data["items"] == [] and data["temperature"] is None and data["window"] is None
    index = data["index"]
    assert (index["value"], index["text"], index["level"]) == (None, "—", "UNKNOWN")
    assert index["color"] == unknown_level("AIRLY_CAQI").color and index["advice"] is None
    assert index["description"] == "Brak aktualnych danych"
    assert "od ponad dwóch godzin" in data["message"]
    assert data["footer"] == "Ostatnie dane z 21.05.2019 22:30, airly.pl"
    doc = page(client, f"/widget/{site}")
    assert doc.one("section").attrs["class"] == "sdw sdw-no_data"
    assert not doc.all("dl") and not doc.all(cls="sdw-temp")
    assert "14.09" not in doc.text() and "5.27" not in doc.text()
    assert doc.one("p", "sdw-msg").text() == data["message"]
    english = client.get(f"/widget/{site}.json?lang=en").json()
    assert english["index"]["description"] == "No current data"
    assert english["footer"] == "Last data from 21.05.2019 22:30, airly.pl"


def test_a_site_that_never_sent_data(client: TestClient, store: Store) -> None:
    site = add_site(store, name="Nowe", latitude=52.18, longitude=21.56)
    data = client.get(f"/widget/{site.id}.json").json()
    assert data["state"] == "no_data" and data["footer"] is None and data["source"] is None
    assert data["message"] == "Ten punkt pomiarowy nie przesłał jeszcze żadnych danych."
    assert not page(client, f"/widget/{site.id}").all(cls="sdw-foot")


def site_air(values: dict[str, float], *, latest: float, now: float, **kw: Any) -> SiteAir:
    site = Site(1, "rynek", "Rynek", 52.18, 21.56, None, None, None, None, None, None,
                "smartdistricts", None, False, True)  # fmt: skip
    current = Window(int(now) - 3600, int(now), values)
    history = kw.get("history", ())
    return SiteAir(site, current, history, int(latest), kw.get("source", "push"), now)


def test_between_one_and_two_hours_the_newest_hourly_mean_stands_in() -> None:
    now = SEED_TIME + 5400
    hour = Window(SEED_TIME - 1800, SEED_TIME + 1800, dict(SEED))
    air = site_air({}, latest=SEED_TIME, now=now, history=(hour,))
    data = widget_data(air, Settings())
    assert data["state"] == "ok" and data["index"]["text"] == "9"
    assert data["window"] == {
        "from": "2019-05-21T22:00:00+02:00",
        "to": "2019-05-21T23:00:00+02:00",
    }
    older = widget_data(air, Settings(), now=SEED_TIME + 1800 + 7201)
    assert older["state"] == "no_data"


# -- rendering rules -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("temperature", "shown"), [(-0.4, "0°C"), (-2.5, "-3°C"), (2.5, "3°C"), (14.49, "14°C")]
)
def test_temperature_is_rounded_half_up(temperature: float, shown: str) -> None:
    air = site_air({"pm10": 7.06, "temp_air": temperature}, latest=SEED_TIME, now=SEED_TIME)
    assert widget_data(air, Settings())["temperature"]["text"] == shown


def test_sources_are_credited(client: TestClient, store: Store, app_settings: Settings) -> None:
    expected = {
        "push": "Miasto Mińsk Mazowiecki",
        "mqtt": "Miasto Mińsk Mazowiecki",
        "demo": "Miasto Mińsk Mazowiecki",
        "gios": "GIOŚ",
        "sensor.community-archive": "Sensor.Community",
    }
    for source, credit in expected.items():
        site = add_readings(store, app_settings, f"Site {source}", source=source)
        at(client, SEED_TIME + 300)  # the site list is cached
        footer = client.get(f"/widget/{site}.json").json()["footer"]
        assert footer == f"Dane z 21.05.2019 22:30, {credit}"


def test_advice_is_one_line_per_hour() -> None:
    lines = index_levels("AIRLY_CAQI")[0].advice["pl"]
    hour = SEED_TIME - SEED_TIME % 3600

    def advice_at(now: int) -> str:
        air = site_air(dict(SEED), latest=now, now=now)
        line: str = widget_data(air, Settings(), now=now)["index"]["advice"]
        return line

    assert len({advice_at(hour + minute * 60) for minute in range(60)}) == 1
    assert {advice_at(hour + h * 3600) for h in range(8)} == set(lines)


def test_every_level_has_readable_text() -> None:
    """WCAG AA (4.5:1) between the index area's text and its background, for every level."""
    seen = {}
    for pm10 in (10, 40, 70, 120, 170, 250, 600):
        air = site_air({"pm10": float(pm10)}, latest=SEED_TIME, now=SEED_TIME)
        index = widget_data(air, Settings())["index"]
        seen[index["level"]] = (index["color"], index["text_color"])
    assert set(seen) == {lv.code for lv in index_levels("AIRLY_CAQI")}
    silent = widget_data(site_air({}, latest=0, now=SEED_TIME), Settings())["index"]
    seen[silent["level"]] = (silent["color"], silent["text_color"])
    for code, (background, text) in seen.items():
        assert contrast(text, background) >= 4.5, f"{code}: {text} on {background}"


def test_box_text_colours_are_readable(client: TestClient, store: Store) -> None:
    site = add_site(store, name="Nowe", latitude=52.18, longitude=21.56)
    css = page(client, f"/widget/{site.id}").one("style").text()
    rules = dict(re.findall(r"(\.sdw(?:-foot)?)\{[^}]*?color:(#[0-9a-f]{3,6})", css))
    assert set(rules) == {".sdw", ".sdw-foot"}
    for color in rules.values():
        assert contrast(color, "#ffffff") >= 4.5


# -- embedding, size, safety ----------------------------------------------------------------------
def test_headers(client: TestClient, store: Store, app_settings: Settings) -> None:
    site = add_readings(store, app_settings, "Rynek")
    html = client.get(f"/widget/{site}")
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert html.headers["cache-control"] == "public, max-age=60"
    csp = html.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "style-src 'unsafe-inline'" in csp
    assert "frame-ancestors" not in csp and "x-frame-options" not in html.headers
    data = client.get(f"/widget/{site}.json")
    assert data.headers["content-type"] == "application/json"
    assert data.headers["access-control-allow-origin"] == "*"
    assert data.headers["cache-control"] == "public, max-age=60"
    etag = data.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{20}"', etag) and etag != html.headers["etag"]
    again = client.get(f"/widget/{site}.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag


def test_sizes(client: TestClient, store: Store, app_settings: Settings) -> None:
    site = add_readings(store, app_settings, "ul. Bardzo Długiej Nazwy Ulicy 123/45")
    assert len(client.get(f"/widget/{site}").content) < 10_000
    assert len(client.get(f"/widget/{site}.json").content) < 2_500
    assert len(client.get("/widget.js").content) < 10_000


def test_no_external_requests(client: TestClient, store: Store, app_settings: Settings) -> None:
    site = add_readings(store, app_settings, "Rynek")
    html = client.get(f"/widget/{site}").text
    assert "http" not in html and "//" not in html and "@import" not in html
    doc = parse(html)
    for node in doc.all():
        assert not {"src", "href", "srcset", "action"} & set(node.attrs), node.tag
    assert not doc.all("script") and not doc.all("link") and not doc.all("img")
    script = client.get("/widget.js").text
    assert "http" not in script and "://" not in script and "@import" not in script
    assert script.count("fetch(") == 1 and '"/widget/" + id + ".json?lang="' in script
    assert "XMLHttpRequest" not in script and "import(" not in script


def test_script(client: TestClient, store: Store) -> None:
    site = add_site(store, name="Nowe", latitude=52.18, longitude=21.56)
    response = client.get("/widget.js")
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=604800"
    script = response.text
    assert "innerHTML" not in script and "outerHTML" not in script
    assert "insertAdjacentHTML" not in script and "document.write" not in script
    assert "createTextNode" in script and "data-smartdistricts-widget" in script
    assert "@WIDGET_CSS@" not in script
    css = page(client, f"/widget/{site.id}").one("style").text()
    match = re.search(r'var STYLE = ("(?:[^"\\]|\\.)*");', script)
    assert match is not None
    assert json.loads(match.group(1)) in css  # one stylesheet for both renderings
    for key in ("installation", "temperature", "index", "items", "message", "footer"):
        assert f"w.{key}" in script  # the script draws from the same JSON keys


def test_hostile_names_are_escaped(store: Store, settings: Settings) -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    own = replace(settings, ingest_process=False, attribution=hostile)
    site = add_readings(store, own, hostile, source="push")
    with TestClient(create_app(own, store=store)) as client:
        at(client, SEED_TIME + 300)
        html = client.get(f"/widget/{site}").text
        data = client.get(f"/widget/{site}.json").json()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img" in html
    doc = parse(html)
    assert doc.one("title").text() == f"Powietrze: {hostile}"
    assert doc.one("p", "sdw-foot").text() == f"Dane z 21.05.2019 22:30, {hostile}"
    assert data["installation"]["name"] == hostile and data["source"] == hostile


def test_every_value_is_labelled(client: TestClient, store: Store, app_settings: Settings) -> None:
    site = add_readings(store, app_settings, "Rynek")
    doc = page(client, f"/widget/{site}")
    top = doc.one("div", "sdw-top")
    for p in top.all("p"):
        if p.own_text() != "Powietrze":  # the caption labels itself
            label = p.one("span", "sdw-sr").text()
            assert label.endswith(": ") and len(label) > 3
    for text in pairs(doc):
        label, _, value = text.partition(": ")
        assert label and value


# -- the hot path and the router ------------------------------------------------------------------
def test_hot_path_answers_exactly_as_the_router(
    client: TestClient, store: Store, app_settings: Settings
) -> None:
    site = add_readings(store, app_settings, "Rynek")
    app = client.app
    others = tuple(p for p in app.hot_prefixes if p[0] != "/widget/")
    hot = {k: v for k, v in app.hot.items() if k != "/widget.js"}
    urls = [f"/widget/{site}", f"/widget/{site}?lang=en", f"/widget/{site}.json",
            f"/widget/{site}.json?lang=en", "/widget.js", "/widget/404.json",
            f"/widget/{site}?lang=xx"]  # fmt: skip

    def answers() -> list[tuple[int, list[tuple[str, str]], bytes]]:
        out = []
        for url in urls:
            r = client.get(url)
            out.append((r.status_code, r.headers.items(), r.content))
            if "etag" in r.headers:
                again = client.get(url, headers={"If-None-Match": r.headers["etag"]})
                out.append((again.status_code, again.headers.items(), again.content))
        return out

    app.hot_prefixes, app.hot = others, hot
    through_router = answers()
    endpoint = WidgetEndpoint()
    app.hot_prefixes = (("/widget/", endpoint), *others)
    app.hot = {**hot, "/widget.js": endpoint}
    assert answers() == through_router
    assert [a[0] for a in through_router] == [200, 304, 200, 304, 200, 304, 200, 304, 200, 304,
                                              404, 422]  # fmt: skip


def test_openapi_documents_the_json(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/widget/{installation_id}.json"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"installation_id", "lang"}
    assert set(operation["responses"]) == {"200", "404", "422"}
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/Widget")
    assert "/widget/{installation_id}" not in schema["paths"]


def test_demo_sites_render(client: TestClient, store: Store, app_settings: Settings) -> None:
    now = time.time()
    create_demo(IngestService(store, app_settings), days=1, now=now)
    at(client, now)
    data = client.get("/widget/1.json").json()
    assert data["state"] == "ok" and len(data["items"]) == 6
    assert data["source"] == "Miasto Mińsk Mazowiecki"

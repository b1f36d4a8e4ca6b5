"""Smog-alert pages: history in both languages, the Atom feed, the subscription form, the
banner on the portal."""

from __future__ import annotations

import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient
from tests.services.test_alerts import RULE, feed, make_site

from smartdistricts.api.app import create_app
from smartdistricts.config import Settings
from smartdistricts.services.alerts import add_rule, evaluate, list_episodes
from smartdistricts.services.ingest import IngestService
from smartdistricts.store.base import Store
from smartdistricts.web.alerts import CSRF_COOKIE
from smartdistricts.web.pages import paths, templates

ATOM = "{http://www.w3.org/2005/Atom}"


def app_settings(db_url: str, **extra: object) -> Settings:
    return Settings(
        db=db_url,
        alerts_evaluate=False,
        ingest_process=False,
        base_url="https://powietrze.example",
        **extra,  # type: ignore[arg-type]
    )


def with_episode(store: Store, settings: Settings, *, ended: bool) -> int:
    """A site with one alert episode in the last hours (ended or still active)."""
    service = IngestService(store, settings)
    site = make_site(store, name="ul. Kościuszki 3")
    add_rule(store, RULE)
    hour = int(time.time()) // 3600
    values = [150.0, 160.0, 20.0, 20.0] if ended else [150.0, 160.0]
    first = hour - len(values)
    for i, value in enumerate(values):
        feed(service, "esp8266-1", first + i, value)
    store.write(lambda tx: evaluate(tx, [site], time.time()))
    assert len(list_episodes(store)) == 1
    return site


@pytest.fixture
def client(store: Store, db_url: str) -> Iterator[TestClient]:
    app = create_app(app_settings(db_url), store=store)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def form_token(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_history_page_in_both_languages(store: Store, db_url: str, client: TestClient) -> None:
    site = with_episode(store, app_settings(db_url), ended=True)
    pl = client.get("/alerty")
    assert pl.status_code == 200 and pl.headers["content-type"].startswith("text/html")
    assert '<html lang="pl">' in pl.text
    assert "Historia alertów" in pl.text and "ul. Kościuszki 3" in pl.text
    assert f'href="{paths("pl").site(site)}"' in pl.text
    assert "Obecnie nie ma alertów." in pl.text  # the episode has ended
    en = client.get("/en/alerts")
    assert en.status_code == 200 and '<html lang="en">' in en.text
    assert "Alert history" in en.text and "ul. Kościuszki 3" in en.text
    assert "Historia alertów" not in en.text
    assert 'href="/en/alerts.atom"' in en.text

    data = client.get("/en/alerts.json").json()
    assert set(data) == {"active", "episodes", "page", "next_page", "feed_url"}
    assert data["active"] == [] and data["page"] == 1 and data["next_page"] is None
    (episode,) = data["episodes"]
    assert episode["site_id"] == site and episode["ended_at"] is not None
    assert episode["rule_key"] == "test-pm10" and episode["variable_label"] == "PM10"
    assert (
        client.get("/alerty.json").json()["episodes"]
        == client.get("/alerty.json").json()["episodes"]
    )
    bad = client.get("/alerty?page=abc")
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "page"


@pytest.mark.parametrize(("path", "lang"), [("/alerty.atom", "pl"), ("/en/alerts.atom", "en")])
def test_feed_is_valid_atom(
    store: Store, db_url: str, client: TestClient, path: str, lang: str
) -> None:
    with_episode(store, app_settings(db_url), ended=False)
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    assert root.tag == f"{ATOM}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == lang
    for required in ("id", "title", "updated", "author"):
        assert root.find(f"{ATOM}{required}") is not None, required
    self_link = root.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None and self_link.get("href") == "https://powietrze.example" + path
    (entry,) = root.findall(f"{ATOM}entry")
    for required in ("id", "title", "updated", "link"):
        assert entry.find(f"{ATOM}{required}") is not None, required
    updated = entry.findtext(f"{ATOM}updated") or ""
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", updated)
    assert "ul. Kościuszki 3" in (entry.findtext(f"{ATOM}title") or "")


def test_subscribe_needs_the_csrf_token(store: Store, client: TestClient) -> None:
    page = client.get("/alerty")
    token = form_token(page.text)
    assert page.cookies.get(CSRF_COOKIE) == token
    assert page.headers["cache-control"] == "no-store"

    client.cookies.clear()
    missing = client.post("/alerty", data={"email": "ala@example.org", "scope": "all"})
    assert missing.status_code == 403 and missing.json()["error"]["field"] == "csrf"
    # a token from the form but no cookie (a cross-site post) is refused as well
    no_cookie = client.post("/alerty", data={"email": "ala@example.org", "csrf": token})
    assert no_cookie.status_code == 403
    # a forged token that matches its own cookie is refused: it is not signed by the server
    client.cookies.set(CSRF_COOKIE, "forged.token")
    forged = client.post("/alerty", data={"email": "ala@example.org", "csrf": "forged.token"})
    assert forged.status_code == 403
    client.cookies.set(CSRF_COOKIE, token)
    ok = client.post("/alerty", data={"email": "ala@example.org", "scope": "all", "csrf": token})
    assert ok.status_code == 202
    assert "ala@example.org" in ok.text
    rows = store.read(
        lambda tx: tx.query(
            "SELECT s.email, s.confirmed_at, n.change FROM alert_subscriptions s"
            " JOIN alert_notifications n ON n.target_id = s.id AND n.channel = 'email'"
        )
    )
    assert rows == [("ala@example.org", None, "confirm")]


@pytest.mark.parametrize(
    "email",
    [
        "<script>alert(1)</script>@example.org",
        "ala@example.org\r\nBcc: everyone@example.org",
        "ala@example.org>, <mallory@example.org",
        "x" * 300 + "@example.org",
        "",
        "not-an-address",
    ],
)
def test_hostile_email_is_refused_naming_the_field(client: TestClient, email: str) -> None:
    token = form_token(client.get("/en/alerts").text)
    response = client.post("/en/alerts", data={"email": email, "scope": "all", "csrf": token})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "email"


def test_unknown_scope_is_refused(client: TestClient) -> None:
    token = form_token(client.get("/alerty").text)
    response = client.post(
        "/alerty", data={"email": "ala@example.org", "scope": "site:999", "csrf": token}
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "scope"


def test_subscriptions_are_rate_limited_per_address(store: Store, db_url: str) -> None:
    app = create_app(app_settings(db_url, alerts_subscriptions_per_hour=2), store=store)
    with TestClient(app, raise_server_exceptions=False) as client:
        token = form_token(client.get("/alerty").text)
        codes = []
        for _ in range(3):
            response = client.post(
                "/alerty", data={"email": "ala@example.org", "scope": "all", "csrf": token}
            )
            codes.append(response.status_code)
            if response.status_code == 202:  # the answer carries a new form token
                token = form_token(response.text)
    assert codes == [202, 202, 429]


def test_banner_on_the_home_page_when_an_alert_is_active(
    store: Store, db_url: str, client: TestClient
) -> None:
    site = with_episode(store, app_settings(db_url), ended=False)
    for path, text in (("/", "Alert smogowy"), ("/en/", "Smog alert")):
        home = client.get(path)
        assert home.status_code == 200
        assert 'class="alert-banner"' in home.text and text in home.text
        assert "ul. Kościuszki 3" in home.text
    page = client.get("/alerty")
    assert f'id="active-{list_episodes(store)[0].id}"' in page.text
    assert site > 0


def test_banner_template_renders_nothing_without_alerts() -> None:
    template = templates.get_template("alerts/banner.html")
    assert template.render(alerts=[], lang="pl", p=paths("pl")).strip() == ""
    assert template.render(alerts=None, lang="en", p=paths("en")).strip() == ""


def test_unsubscribe_link_with_an_unknown_token(client: TestClient) -> None:
    assert client.get("/alerty/wypisz/1.nope").status_code == 200  # shows the button only
    assert client.post("/alerty/wypisz/1.nope").status_code == 404
    assert client.post("/en/alerts/unsubscribe/1.nope").status_code == 404

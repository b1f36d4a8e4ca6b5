"""The portal's home and news pages in a real browser (Playwright driving Debian's Chromium).

A live server on ``smartdistricts demo --days 1`` (the demo town and articles): the home page
shows the values the API gives, the language switch goes Polish → English → Polish on the same
page, a phone needs no sideways scrolling, nothing is requested from another origin, axe-core
finds no serious or critical violation, and a screenshot of each page type lands in
``artifacts/screenshots/``.
"""

from __future__ import annotations

from typing import Any

import httpx
from tests.conftest import LiveServer

from .conftest import (
    PHONE,
    has_horizontal_scroll,
    new_page,
    outside,
    run_axe,
    screenshot,
)


def _pages(base: str) -> dict[str, str]:
    """One page of each type: the home page (both languages), the news list, the lead
    article (both languages)."""
    slug = httpx.get(base + "/index.json").json()["lead"]["slug"]
    return {
        "home": "/",
        "home-en": "/en/",
        "news-list": "/aktualnosci",
        "article": f"/aktualnosci/{slug}",
        "article-en": f"/en/news/{slug}",
    }


def _visible_values(page: Any) -> dict[str, str]:
    found: dict[str, str] = page.eval_on_selector_all(
        ".air-vals dd", "els => Object.fromEntries(els.map(e => [e.dataset.name, e.innerText]))"
    )
    return found


def test_home_shows_the_same_values_as_the_api(chromium: Any, portal_server: LiveServer) -> None:
    base = portal_server.url
    seen: list[str] = []
    page = new_page(chromium, seen)
    for _attempt in range(3):  # the values may refresh between the two reads (every 30 s)
        page.goto(base + "/")
        data = httpx.get(base + "/index.json").json()
        site = data["air"]["installation"]["id"]
        widget = httpx.get(f"{base}/widget/{site}.json").json()
        latest = httpx.get(f"{base}/api/v1/sites/{site}/latest").json()["current"]["values"]
        shown = _visible_values(page)
        if shown == {i["name"]: i["display"] for i in widget["items"]}:
            break
    assert shown == {i["name"]: i["display"] for i in widget["items"]}
    for item in widget["items"]:
        assert item["value"] == latest[item["name"]]
        assert shown[item["name"]].startswith(f"{item['value']:.2f}")
    assert page.inner_text(".air-idx").strip().endswith(widget["index"]["text"])
    assert page.inner_text(".air-foot").strip() == widget["footer"]
    lead = page.locator(".lead-article")
    article = data["lead"]
    assert lead.locator("h2").inner_text() == article["title"]
    assert article["credit"].startswith("Opracowanie/foto: ")
    assert article["credit"] in lead.inner_text()
    assert lead.locator("time").inner_text() == article["date"]
    assert lead.locator("img").get_attribute("src") == article["photo"]["thumb"]
    assert lead.locator("img").evaluate("img => img.complete && img.naturalWidth > 0")
    assert page.get_by_role("link", name="Czytaj dalej").count() == 1
    assert outside(seen, base) == []


def test_language_switch_goes_there_and_back(chromium: Any, portal_server: LiveServer) -> None:
    base = portal_server.url
    page = new_page(chromium)
    pages = _pages(base)
    for start, english in (("/", "/en/"), (pages["article"], pages["article-en"])):
        page.goto(base + start)
        assert page.get_attribute("html", "lang") == "pl"
        page.click("a.lang")
        page.wait_for_load_state()
        assert page.url == base + english
        assert page.get_attribute("html", "lang") == "en"
        page.click("a.lang")
        page.wait_for_load_state()
        assert page.url == base + start
        assert page.get_attribute("html", "lang") == "pl"
    page.goto(base + "/en/")
    assert page.locator("nav").inner_text().split() == [
        "Home", "News", "Map", "Districts", "Smog", "alerts"
    ]  # fmt: skip


def test_each_page_on_a_phone_is_accessible_and_local(
    chromium: Any, portal_server: LiveServer
) -> None:
    base = portal_server.url
    failures = {}
    pages = _pages(base)
    for name, path in pages.items():
        seen: list[str] = []
        page = new_page(chromium, seen, viewport=PHONE)
        response = page.goto(base + path)
        assert response is not None and response.status == 200, path
        assert not has_horizontal_scroll(page), f"{path} scrolls sideways at 390 px"
        screenshot(page, f"portal-{name}-phone")
        violations = run_axe(page)
        if violations:
            failures[path] = violations
        assert outside(seen, base) == [], path
        page.context.close()
    assert failures == {}
    desktop = new_page(chromium)
    for name, path in pages.items():
        desktop.goto(base + path)
        screenshot(desktop, f"portal-{name}")

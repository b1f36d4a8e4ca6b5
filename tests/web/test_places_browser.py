"""The map, site and district pages in a real browser (Playwright driving Debian's Chromium).

The live server has the default tile URL (OpenStreetMap); every tile request is aborted, as
when the tile server cannot be reached, and the page must still draw the districts and one
marker per active site. No other request may leave the server's origin. axe-core finds no
serious or critical violation; screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx
from tests.conftest import LiveServer
from tests.web.conftest import DESKTOP, PHONE, has_horizontal_scroll, outside, run_axe, screenshot

from smartdistricts.config import Settings

TILE_HOST = urlsplit(Settings().tile_url).netloc


def new_page(browser: Any, seen: list[str], viewport: dict[str, int] = DESKTOP) -> Any:
    """A page recording its requests; the page's Content-Security-Policy is bypassed only so
    that axe-core can be injected (``script-src 'self'`` forbids it)."""
    page = browser.new_context(viewport=viewport, bypass_csp=True).new_page()
    page.on("request", lambda request: seen.append(request.url))
    return page


def _block_tiles(page: Any, aborted: list[str]) -> None:
    def abort(route: Any) -> None:
        aborted.append(route.request.url)
        route.abort()

    page.route(f"**://{TILE_HOST}/**", abort)


def test_map_markers_popups_and_districts_without_tiles(
    chromium: Any, portal_server: LiveServer
) -> None:
    base = portal_server.url
    sites = httpx.get(f"{base}/api/v1/sites.geojson?active=true").json()["features"]
    districts = httpx.get(f"{base}/api/v1/districts").json()["districts"]
    seen: list[str] = []
    aborted: list[str] = []
    page = new_page(chromium, seen)
    _block_tiles(page, aborted)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/mapa")
    page.wait_for_selector("#map[data-ready=true]")
    markers = page.locator(".leaflet-marker-icon.sd-marker")
    assert markers.count() == len(sites) > 0
    ids = sorted(int(x) for x in page.locator(".sd-marker-value").evaluate_all(
        "nodes => nodes.map(n => n.dataset.site)"))  # fmt: skip
    assert ids == sorted(f["id"] for f in sites)
    assert page.locator("path.sd-district").count() == len(districts) == 5
    # a marker's popup shows the same PM2.5 as the API, and links to the site page
    feature = sites[0]
    page.locator(f".sd-marker-value[data-site='{feature['id']}']").click()
    popup = page.locator(".leaflet-popup-content .sd-popup")
    popup.wait_for()
    shown = popup.locator("dd[data-name=pm2_5]").inner_text()  # "17.66 (70,63%)"
    assert float(shown.split()[0]) == round(feature["properties"]["pm2_5"], 2)
    assert popup.locator("a").first.get_attribute("href") == f"/stanowiska/{feature['id']}"
    # tiles were tried and refused; nothing else left the origin
    assert aborted and all(urlsplit(u).netloc == TILE_HOST for u in aborted)
    assert [u for u in outside(seen, base) if urlsplit(u).netloc != TILE_HOST] == []
    assert errors == []
    screenshot(page, "map-no-tiles")
    violations = run_axe(page)
    assert violations == [], violations


def test_map_table_works_without_javascript(chromium: Any, portal_server: LiveServer) -> None:
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{portal_server.url}/en/map")
    rows = page.locator("table.sites tbody tr")
    sites = httpx.get(f"{portal_server.url}/api/v1/sites?active=true").json()["sites"]
    assert rows.count() == len(sites)
    assert page.locator("#map").is_hidden()
    first = sites[0]
    row = page.locator(f"tr[data-site='{first['id']}']")
    assert row.locator("a").first.get_attribute("href") == f"/en/sites/{first['id']}"
    context.close()


def test_site_and_district_pages_are_accessible(chromium: Any, portal_server: LiveServer) -> None:
    base = portal_server.url
    seen: list[str] = []
    page = new_page(chromium, seen)
    for path, name in (
        ("/stanowiska/1", "site"),
        ("/en/sites/1", "site-en"),
        ("/dzielnice/centrum", "district"),
        ("/dzielnice", "districts"),
    ):
        page.goto(base + path)
        assert page.locator("h1").count() == 1
        violations = run_axe(page)
        assert violations == [], (path, violations)
        screenshot(page, name)
    data = httpx.get(f"{base}/en/sites/1.json").json()
    page.goto(f"{base}/en/sites/1")
    charts = page.locator("svg.chart[role=img]")
    assert charts.count() == 13
    box = page.locator("dd[data-name=pm2_5]").first.inner_text()
    item = next(i for i in data["current"]["items"] if i["name"] == "pm2_5")
    assert box == item["display"]
    over = data["days_over"]["pollutants"][0]
    assert page.locator("tr[data-name=pm2_5] td").nth(1).inner_text() == str(over["days"])
    assert outside(seen, base) == []
    assert "PM2.5 limit (WHO2005, 24h): 25 µg/m³" in page.locator("#pm-24h").text_content()


def test_pages_fit_a_phone(chromium: Any, portal_server: LiveServer) -> None:
    page = new_page(chromium, [], PHONE)
    _block_tiles(page, [])
    for path, name in (("/mapa", "map-phone"), ("/stanowiska/1", "site-phone"),
                       ("/dzielnice/centrum", "district-phone")):  # fmt: skip
        page.goto(portal_server.url + path)
        assert not has_horizontal_scroll(page), path
        violations = run_axe(page)
        assert violations == [], (path, violations)
        screenshot(page, name)
    page.goto(portal_server.url + "/mapa")
    page.wait_for_selector("#map[data-ready=true]")
    width = page.locator("#map").evaluate("e => e.getBoundingClientRect().width")
    assert 0 < width <= PHONE["width"]

"""The widget in a real browser (Playwright driving Debian's Chromium, ``/usr/bin/chromium``).

A host page on one origin embeds the box from the server on another, as the town's website
would: once as an ``<iframe>``, once with ``widget.js``. Checks what a resident sees (the same
texts both ways, on a phone-width screen) and that nothing is fetched from anywhere else.
"""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import LiveServer

from smartdistricts.config import Settings
from smartdistricts.services.demo import create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import list_sites
from smartdistricts.store import open_store

CHROMIUM = os.environ.get("SMARTDISTRICTS_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Any:
    """The session's Chromium (tests/web/conftest.py): one Playwright per process."""
    return chromium


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int]]:
    """A server with one day of the demo town; the id of its first site."""
    url = f"sqlite:///{tmp_path_factory.mktemp('browser')}/town.db"
    with open_store(url) as store:
        create_demo(IngestService(store, Settings(db=url)), days=1, now=time.time())
        site_id = list_sites(store)[0].id
    server = LiveServer(url).start()
    yield server, site_id
    server.stop()
    server.log.close()


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """Another origin serving the town website's pages from a folder: (base URL, folder)."""
    folder = tmp_path_factory.mktemp("host")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", folder
    httpd.shutdown()
    httpd.server_close()


def page_with(browser: Any, seen: list[str]) -> Any:
    """A phone-sized page that records every URL it requests."""
    context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=2)
    page = context.new_page()
    page.on("request", lambda request: seen.append(request.url))
    return page


def box_text(frame: Any, selector: str) -> list[str]:
    """The visible lines of the box (its ``innerText``), screen-reader-only labels excluded."""
    text: str = frame.locator(selector).evaluate(
        """box => {
            const labels = [...box.querySelectorAll('.sdw-sr')];
            labels.forEach(e => { e.style.display = 'none'; });
            const text = box.innerText;
            labels.forEach(e => { e.style.display = ''; });
            return text;
        }"""
    )
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_iframe_and_script_show_the_same_box_and_fetch_nothing_else(
    browser: Any, town: tuple[LiveServer, int], host: tuple[str, Path]
) -> None:
    server, site_id = town
    base, folder = host
    (folder / "iframe.html").write_text(
        f'<!doctype html><html lang="pl"><title>Miasto</title><body>'
        f'<iframe src="{server.url}/widget/{site_id}" title="Jakość powietrza"'
        f' width="310" height="440" style="border:0"></iframe></body></html>',
        encoding="utf-8",
    )
    (folder / "script.html").write_text(
        f'<!doctype html><html lang="pl"><title>Miasto</title>'
        f"<style>p {{ color: red; font-size: 40px }} dl {{ display: none }}</style><body>"
        f'<div data-smartdistricts-widget="{site_id}"></div>'
        f'<script src="{server.url}/widget.js" defer></script></body></html>',
        encoding="utf-8",
    )
    seen: list[str] = []
    page = page_with(browser, seen)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{base}/iframe.html")
    frame = page.frame_locator("iframe")
    frame.locator("section.sdw").wait_for()
    framed = box_text(frame.locator("html"), "section.sdw")

    page.goto(f"{base}/script.html")
    drawn = page.locator("[data-smartdistricts-widget] section.sdw")
    drawn.wait_for()
    scripted = box_text(page, "[data-smartdistricts-widget] section.sdw")

    assert framed == scripted
    assert framed[2] == "Powietrze"
    assert framed[0].endswith("°C") and framed[1].isdigit()
    pm25 = framed[framed.index("PM25") + 1]  # label and value side by side: "17.66 (70,63%)"
    assert pm25.endswith("%)") and "," in pm25.split("(")[1]
    assert framed[-1].startswith("Dane z ")
    # The host page's styles do not reach into the box (shadow root).
    assert drawn.locator("dl").is_visible()
    assert drawn.locator("p").first.evaluate("p => getComputedStyle(p).color") != "rgb(255, 0, 0)"
    # Fits a phone screen without horizontal scrolling.
    width = drawn.evaluate("box => box.getBoundingClientRect().width")
    assert 0 < width <= 360
    # Only the host's pages and the town server's widget files were requested.
    others = [u for u in seen if not u.startswith((base, server.url))]
    assert others == []
    widget_requests = sorted({u.split("?")[0] for u in seen if u.startswith(server.url)})
    assert widget_requests == [
        f"{server.url}/widget.js",
        f"{server.url}/widget/{site_id}",
        f"{server.url}/widget/{site_id}.json",
    ]
    assert errors == []
    if os.environ.get("SMARTDISTRICTS_SCREENSHOTS"):
        page.screenshot(path=os.environ["SMARTDISTRICTS_SCREENSHOTS"] + "/widget-script.png")


def test_english_and_an_unknown_site(
    browser: Any, town: tuple[LiveServer, int], host: tuple[str, Path]
) -> None:
    server, site_id = town
    base, folder = host
    (folder / "two.html").write_text(
        f'<!doctype html><html lang="en"><title>Town</title><body>'
        f'<div id="ok" data-smartdistricts-widget="{site_id}" data-lang="en"></div>'
        f'<div id="missing" data-smartdistricts-widget="999999"></div>'
        f'<script src="{server.url}/widget.js" defer></script></body></html>',
        encoding="utf-8",
    )
    page = page_with(browser, [])
    page.goto(f"{base}/two.html")
    page.locator("#ok section.sdw").wait_for()
    english = box_text(page, "#ok section.sdw")
    assert english[2] == "Air" and english[-1].startswith("Data from ")
    assert page.locator("#ok section.sdw").get_attribute("lang") == "en"
    # The missing site says so instead of staying empty or breaking the other box.
    missing = page.locator("#missing")
    missing.locator("p").first.wait_for()
    assert "Nie udało się pobrać danych" in missing.locator("p").first.inner_text()

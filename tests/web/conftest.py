"""Shared fixtures and helpers for the portal's tests, including the browser tests.

Browser tests drive Debian's Chromium (``/usr/bin/chromium``, never one Playwright downloads)
and skip without it (fail under ``CI=true``). Reusable pieces:

* ``chromium`` — a session-wide browser;
* :func:`new_page` — a page with a viewport that records every URL it requests;
* :func:`run_axe` — axe-core (``node_modules/axe-core``, from ``npm ci``) on the page, returning
  the serious and critical violations;
* :func:`screenshot` — a full-page PNG into ``artifacts/screenshots/<name>.png``;
* :func:`outside` — the requested URLs that left the server's origin;
* ``portal_server`` — a live server on what ``smartdistricts demo --days 1`` creates (the demo
  town, a day of readings, the demo articles with photos in both languages);
* :func:`publish_articles` — a few articles with known texts, for in-process tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CI, LiveServer

from smartdistricts.services import news
from smartdistricts.store.base import Store

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SMARTDISTRICTS_CHROMIUM", "/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def _missing(message: str) -> None:
    if CI:
        pytest.fail(f"{message} (CI=true: browser tests are required)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, launched once for the session."""
    if not Path(CHROMIUM).exists():
        _missing(f"Chromium is not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def new_page(
    browser: Any, seen: list[str] | None = None, *, viewport: dict[str, int] | None = None
) -> Any:
    """A fresh page (its own context) of ``viewport`` size; requested URLs go to ``seen``.

    The page ignores the server's Content-Security-Policy so that :func:`run_axe` can inject
    axe-core; a page's own requests are checked with ``seen`` and :func:`outside` instead.
    """
    context = browser.new_context(viewport=viewport or DESKTOP, bypass_csp=True)
    page = context.new_page()
    if seen is not None:
        page.on("request", lambda request: seen.append(request.url))
    return page


def outside(seen: list[str], origin: str) -> list[str]:
    """The URLs in ``seen`` that are not on ``origin`` (``data:`` URLs are local)."""
    return [u for u in seen if not u.startswith((origin + "/", "data:")) and u != origin]


def run_axe(page: Any, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[Any]:
    """Run axe-core on the page; the violations of the given impacts (rule, impact, nodes).

    Skips (fails under ``CI=true``) when ``node_modules/axe-core`` is missing (``npm ci``).
    """
    if not AXE.exists():
        _missing(f"axe-core is not installed at {AXE} (run `npm ci` in {ROOT})")
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(' ') + ' — ' + n.failureSummary),
            }));
        }"""
    )
    return [v for v in result if v["impact"] in impacts]


def screenshot(page: Any, name: str) -> Path:
    """A full-page screenshot into ``artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def has_horizontal_scroll(page: Any) -> bool:
    """Whether the page is wider than its viewport (a phone would scroll sideways)."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1"))


#: Articles the portal tests publish (Polish, and an English version of the first).
ARTICLES = [
    {
        "lang": "pl",
        "title": "Czujniki powietrza stanęły w pięciu dzielnicach",
        "lead": "Miasto uruchomiło sieć czujników pyłu zawieszonego w ramach programu"
        " inteligentnych dzielnic.",
        "body_md": "Czujniki mierzą **PM2,5** i **PM10** co kilka minut.\n\n"
        "Wyniki pokazujemy na [mapie](/mapa).",
        "tags": "czujniki, smog",
        "credit": "Wydział Promocji",
        "author": "Redakcja",
        "slug": "czujniki-w-dzielnicach",
    },
    {
        "lang": "pl",
        "title": "Jak czytać indeks jakości powietrza",
        "lead": "Kolor pola z indeksem mówi, czy warto dziś ograniczyć spacery.",
        "body_md": "Indeks CAQI ma pięć poziomów.",
        "tags": "indeks",
        "credit": "Anna Nowak",
        "author": "Anna Nowak",
        "slug": "jak-czytac-indeks",
    },
    {
        "lang": "pl",
        "title": "Sezon grzewczy: sprawdź, czym palisz",
        "lead": "Przypominamy zasady palenia w piecach i kominkach.",
        "body_md": "Nie pal odpadów.",
        "tags": "smog",
        "credit": "Straż Miejska",
        "author": "Redakcja",
        "slug": "sezon-grzewczy",
    },
    {
        "lang": "en",
        "title": "Air sensors installed in five districts",
        "lead": "The town has switched on a network of particulate sensors as part of the"
        " smart districts programme.",
        "body_md": "The sensors measure **PM2.5** and **PM10** every few minutes.",
        "tags": "sensors",
        "credit": "Promotion Office",
        "author": "Editors",
        "slug": "czujniki-w-dzielnicach",
    },
]


def publish_articles(store: Store, now: float | None = None) -> list[news.DraftArticle]:
    """Publish :data:`ARTICLES`, an hour apart, the first newest."""
    now = time.time() if now is None else now
    saved = []
    for i, fields in enumerate(ARTICLES):
        draft = news.save_article(store, user_id=None, **fields)
        at = now - 3600 * (i % 3 + 1)
        saved.append(news.publish_article(store, draft.id, user_id=None, at=at))
    return saved


@pytest.fixture(scope="session")
def portal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server on what ``smartdistricts demo --days 1`` creates: the demo town, its
    readings, smog alert history and the demo articles with their photos."""
    folder = tmp_path_factory.mktemp("portal")
    url = f"sqlite:///{folder}/town.db"
    env = {"SMARTDISTRICTS_MEDIA_DIR": str(folder / "media")}
    subprocess.run(
        [sys.executable, "-m", "smartdistricts", "--db", url, "demo", "--days", "1"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=600,
    )
    server = LiveServer(url, extra_env=env).start()
    yield server
    server.stop()
    server.log.close()

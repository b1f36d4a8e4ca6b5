"""The editors' area in a real browser (Playwright driving Debian's Chromium).

An editor account made with the accounts service signs in through the form, writes an article
with a photo, previews it, saves and publishes it; the article then shows on the home page, on
its own page (with the re-encoded photo and the credit line) and in the Atom feed. Screenshots
of the editor's pages go to ``artifacts/screenshots/``. Skips without Chromium (fails under
``CI=true``), like the other browser tests.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from tests.conftest import LiveServer
from tests.web.conftest import DESKTOP, outside, run_axe, screenshot

from smartdistricts.config import Settings
from smartdistricts.services import accounts
from smartdistricts.services.demo import create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.store import open_store

PASSWORD = "redakcja-w-przegladarce"
TITLE = "Nowy czujnik przy szkole na Serbinowie"


@pytest.fixture(scope="module")
def newsroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Path]]:
    """A live server with the demo town and one editor account; its media folder."""
    folder = tmp_path_factory.mktemp("newsroom")
    url = f"sqlite:///{folder}/town.db"
    with open_store(url) as store:
        create_demo(IngestService(store, Settings(db=url)), days=1, now=time.time())
        accounts.add_user(store, "ewa", PASSWORD, display_name="Ewa Nowak")
    media = folder / "media"
    server = LiveServer(url, extra_env={"SMARTDISTRICTS_MEDIA_DIR": str(media)}).start()
    yield server, media
    server.stop()
    server.log.close()


def photo_file(folder: Path) -> Path:
    """A drawn photo with camera metadata, as a phone would send it."""
    image = Image.new("RGB", (2400, 1600), (120, 170, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle([900, 500, 1500, 1000], fill=(245, 245, 245), outline=(40, 40, 40), width=12)
    exif = Image.Exif()
    exif[0x010F] = "Telefon"
    path = folder / "czujnik.jpg"
    image.save(path, "JPEG", exif=exif)
    return path


def test_editor_publishes_an_article_that_reaches_the_portal(
    chromium: Any, newsroom: tuple[LiveServer, Path], tmp_path: Path
) -> None:
    server, media = newsroom
    seen: list[str] = []
    # The area's Content-Security-Policy forbids every script; bypassing it lets axe-core run
    # and shows that the sanitiser alone keeps the article's script out.
    page = chromium.new_context(viewport=DESKTOP, bypass_csp=True).new_page()
    page.on("request", lambda request: seen.append(request.url))

    page.goto(server.url + "/redakcja/")
    assert page.url.endswith("/redakcja/logowanie")
    page.fill("#name", "ewa")
    page.fill("#password", PASSWORD)
    screenshot(page, "editor-login")
    assert run_axe(page) == []
    page.click("button:has-text('Zaloguj')")
    page.wait_for_url("**/redakcja/artykuly")
    assert "Ewa Nowak" in page.inner_text("header")

    page.click("a:has-text('Nowy artykuł') >> nth=0")
    page.wait_for_url("**/redakcja/artykuly/nowy")
    page.fill("#title", TITLE)
    page.fill("#lead", "Przy Szkole Podstawowej nr 6 stanął kolejny czujnik pyłu.")
    page.fill(
        "#body_md",
        "Czujnik mierzy **PM2,5** i **PM10**.\n\nWyniki są na [mapie](/mapa).\n\n"
        "<script>document.title='zhakowane'</script>",
    )
    page.fill("#tags", "czujniki, szkoły")
    page.fill("#photo_alt", "Biała skrzynka czujnika na tle nieba")
    page.fill("#credit", "Ewa Nowak")
    page.click("button[value=preview]")
    preview = page.locator("section.preview")
    assert "PM2,5" in preview.inner_text()
    assert preview.locator("strong", has_text="PM").count() == 2
    assert preview.locator("script").count() == 0
    assert page.title() != "zhakowane"
    screenshot(page, "editor-preview")
    assert run_axe(page) == []

    page.set_input_files("#photo", str(photo_file(tmp_path)))
    page.click("button[value=save]")
    page.wait_for_url(re.compile(r".*/redakcja/artykuly/\d+\?zapisano=1$"))
    thumb = page.locator("p.photo img")
    assert thumb.evaluate("img => img.complete && img.naturalWidth") == 600
    assert len(list(media.iterdir())) == 2
    screenshot(page, "editor-edit")

    page.click("button:has-text('Opublikuj') >> nth=0")
    page.wait_for_url("**/redakcja/artykuly")
    row = page.locator("tr", has_text=TITLE)
    assert "opublikowany" in row.inner_text()
    screenshot(page, "editor-list")
    assert run_axe(page) == []

    slug = "nowy-czujnik-przy-szkole-na-serbinowie"
    deadline = time.monotonic() + 5  # the portal re-checks the articles once a second
    while True:
        page.goto(server.url + "/")
        if TITLE in page.inner_text("body") or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert TITLE in page.inner_text("body")

    page.goto(f"{server.url}/aktualnosci/{slug}")
    body = page.inner_text("body")
    assert TITLE in body and "Opracowanie/foto: Ewa Nowak" in body
    assert page.title() != "zhakowane"
    photo = page.locator("img[src^='/media/']").first
    assert photo.evaluate("img => img.complete && img.naturalWidth") in (600, 1600)
    screenshot(page, "editor-article-published")

    feed = httpx.get(server.url + "/aktualnosci.atom", timeout=10)
    assert feed.status_code == 200
    assert TITLE in feed.text and f"/aktualnosci/{slug}" in feed.text

    served = httpx.get(server.url + photo.get_attribute("src"), timeout=10)
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(served.content)) as image:
        assert not image.getexif()  # the phone's metadata is gone
    assert outside(seen, server.url) == []

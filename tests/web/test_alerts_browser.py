"""The smog-alert page in a real browser (Playwright driving Debian's Chromium).

On the demo town (which has alert history): the page in both languages passes axe-core with no
serious or critical violation, fits a phone, requests nothing from another origin, and a resident
can subscribe through the form (the CSRF token travels with it) and is told to confirm.
"""

from __future__ import annotations

from typing import Any

import httpx
from tests.conftest import LiveServer

from smartdistricts.store import open_store

from .conftest import PHONE, has_horizontal_scroll, new_page, outside, run_axe, screenshot


def test_alert_pages_are_accessible_local_and_fit_a_phone(
    chromium: Any, portal_server: LiveServer
) -> None:
    base = portal_server.url
    episodes = httpx.get(base + "/alerty.json").json()["episodes"]
    failures = {}
    for name, path in {"alerts": "/alerty", "alerts-en": "/en/alerts"}.items():
        for viewport, suffix in ((None, ""), (PHONE, "-phone")):
            seen: list[str] = []
            page = new_page(chromium, seen, viewport=viewport)
            response = page.goto(base + path)
            assert response is not None and response.status == 200, path
            rows = page.locator("tr[id^=episode-]").count()
            assert rows == len(episodes), path  # the table shows the history the JSON twin has
            if viewport is not None:
                assert not has_horizontal_scroll(page), f"{path} scrolls sideways at 390 px"
            violations = run_axe(page)
            if violations:
                failures[path + suffix] = violations
            assert outside(seen, base) == [], path
            screenshot(page, f"{name}{suffix}")
            page.context.close()
    assert failures == {}


def test_a_resident_subscribes_through_the_form(chromium: Any, portal_server: LiveServer) -> None:
    base = portal_server.url
    page = new_page(chromium)
    page.goto(base + "/alerty")
    page.fill("#alert-email", "mieszkanka@example.org")
    with page.expect_navigation():
        page.click("form.subscribe button[type=submit]")
    notice = page.locator("p.notice[role=status]")
    assert "mieszkanka@example.org" in notice.inner_text()
    screenshot(page, "alerts-subscribed")
    page.context.close()
    with open_store(portal_server.db) as store:
        row = store.read(
            lambda tx: tx.one(
                "SELECT confirmed_at FROM alert_subscriptions WHERE email = ?",
                ("mieszkanka@example.org",),
            )
        )
    assert row is not None and row[0] is None  # stored, waiting for the confirmation link

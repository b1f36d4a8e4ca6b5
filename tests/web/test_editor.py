"""The editors' area over HTTP (in process, both backends): sign-in, rate limit, CSRF, roles,
writing, preview, publishing, scheduling, photo uploads, the audit log and ``/media``."""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient
from tests.services.test_news import assert_harmless

from smartdistricts.api.app import create_app
from smartdistricts.config import Settings
from smartdistricts.services import accounts, news
from smartdistricts.store.base import Store

PASSWORD = "haslo-redakcji-2026"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def media(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def editor_settings(settings: Settings, media: Path) -> Settings:
    return replace(settings, ingest_process=False, media_dir=str(media), upload_max_bytes=300_000)


@pytest.fixture
def app(store: Store, editor_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(editor_settings, store=store), follow_redirects=False) as client:
        yield client


@pytest.fixture
def people(store: Store) -> dict[str, accounts.User]:
    return {
        "admin": accounts.add_user(store, "ania", PASSWORD, role="admin", display_name="Anna"),
        "editor": accounts.add_user(store, "ewa", PASSWORD, display_name="Ewa Nowak"),
    }


def other_client(app: TestClient, address: str) -> TestClient:
    """Another browser on the same application, from another address."""
    return TestClient(app.app, follow_redirects=False, client=(address, 40000))


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def try_login(client: TestClient, name: str, password: str) -> tuple[int, str]:
    form = client.get("/redakcja/logowanie")
    assert form.status_code == 200
    answer = client.post(
        "/redakcja/logowanie",
        data={"csrf": csrf_of(form.text), "name": name, "password": password},
    )
    return answer.status_code, answer.text


def login(client: TestClient, name: str) -> str:
    """Sign in; the session's CSRF token."""
    status, _ = try_login(client, name, PASSWORD)
    assert status == 303
    page = client.get("/redakcja/artykuly")
    assert page.status_code == 200
    return csrf_of(page.text)


def write(client: TestClient, csrf: str, **fields: str) -> int:
    """Save a new article through the form; its id."""
    data = {"csrf": csrf, "lang": "pl", "action": "save", **fields}
    answer = client.post("/redakcja/artykuly/nowy", data=data)
    assert answer.status_code == 303, answer.text
    found = re.search(r"/redakcja/artykuly/(\d+)", answer.headers["location"])
    assert found
    return int(found.group(1))


def image(fmt: str = "PNG", size: tuple[int, int] = (800, 500)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 60, 40)).save(out, fmt)
    return out.getvalue()


# -- signing in --------------------------------------------------------------------------------
def test_login_session_cookie_and_logout(
    app: TestClient, people: dict[str, accounts.User], store: Store
) -> None:
    assert app.get("/redakcja/artykuly").headers["location"] == "/redakcja/logowanie"
    form = app.get("/redakcja/logowanie")
    answer = app.post(
        "/redakcja/logowanie",
        data={"csrf": csrf_of(form.text), "name": "ewa", "password": PASSWORD},
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/redakcja/artykuly")
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("sd_session="))
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags  # base_url is http here
    token = cookie.split(";")[0].split("=", 1)[1]
    stored = store.read(lambda tx: tx.query("SELECT token_hash FROM sessions"))
    assert len(stored) == 1 and token not in stored[0][0]

    page = app.get("/redakcja/artykuly")
    assert page.status_code == 200 and "Ewa Nowak" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src" not in page.headers["content-security-policy"]  # no scripts at all
    assert "default-src 'none'" in page.headers["content-security-policy"]

    out = app.post("/redakcja/wyloguj", data={"csrf": csrf_of(page.text)})
    assert (out.status_code, out.headers["location"]) == (303, "/redakcja/logowanie")
    assert app.get("/redakcja/artykuly").status_code == 303
    assert store.read(lambda tx: tx.one("SELECT count(*) FROM sessions")) == (0,)


def test_secure_cookie_under_https(
    store: Store, editor_settings: Settings, people: dict[str, accounts.User]
) -> None:
    secure = replace(editor_settings, base_url="https://powietrze.example.pl")
    with TestClient(
        create_app(secure, store=store), base_url="https://testserver", follow_redirects=False
    ) as client:
        form = client.get("/redakcja/logowanie")
        answer = client.post(
            "/redakcja/logowanie",
            data={"csrf": csrf_of(form.text), "name": "ewa", "password": PASSWORD},
        )
    cookie = next(c for c in answer.headers.get_list("set-cookie") if c.startswith("sd_session="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_wrong_password_and_unknown_user(app: TestClient, people: dict[str, accounts.User]) -> None:
    for name, password in [("ewa", PASSWORD + "!"), ("nikt", PASSWORD), ("ewa", "")]:
        status, text = try_login(app, name, password)
        assert status == 401
        assert "Nieprawidłowa nazwa użytkownika lub hasło." in text
    assert app.get("/redakcja/artykuly").status_code == 303


def test_login_rate_limit_per_address_and_per_name(
    app: TestClient, people: dict[str, accounts.User], editor_settings: Settings
) -> None:
    limit = editor_settings.login_attempts_per_minute
    for _ in range(limit):
        assert try_login(app, "ewa", "zgadywane-haslo")[0] == 401
    form = app.get("/redakcja/logowanie")
    refused = app.post(
        "/redakcja/logowanie",
        data={"csrf": csrf_of(form.text), "name": "ewa", "password": PASSWORD},
    )
    assert refused.status_code == 429  # even the right password
    assert int(refused.headers["retry-after"]) >= 1
    assert "Zbyt wiele prób logowania" in refused.text
    # the same name from another address is limited too …
    elsewhere = other_client(app, "198.51.100.7")
    assert try_login(elsewhere, "ewa", PASSWORD)[0] == 429
    # … and the first address is limited for every name
    assert try_login(app, "ania", PASSWORD)[0] == 429
    # another name from another address is not
    assert try_login(other_client(app, "198.51.100.8"), "ania", PASSWORD)[0] == 303


# -- CSRF and roles ----------------------------------------------------------------------------
def test_forms_without_the_right_csrf_token_are_refused(
    app: TestClient, people: dict[str, accounts.User], store: Store
) -> None:
    form = app.get("/redakcja/logowanie")
    assert csrf_of(form.text)
    bad_login = app.post("/redakcja/logowanie", data={"name": "ewa", "password": PASSWORD})
    assert bad_login.status_code == 403 and '"field":"csrf"' in bad_login.text

    login(app, "ewa")
    other = other_client(app, "198.51.100.9")
    other_csrf = login(other, "ania")
    article = news.save_article(store, user_id=None, lang="pl", title="Cel")
    targets = [
        ("/redakcja/artykuly/nowy", {"lang": "pl", "title": "Atak", "action": "save"}),
        (f"/redakcja/artykuly/{article.id}", {"lang": "pl", "title": "Atak", "action": "save"}),
        (f"/redakcja/artykuly/{article.id}/publikuj", {}),
        (f"/redakcja/artykuly/{article.id}/wycofaj", {}),
        ("/redakcja/wyloguj", {}),
    ]
    for path, data in targets:
        for token in (None, "", "x" * 64, other_csrf):
            sent = dict(data) if token is None else {**data, "csrf": token}
            answer = app.post(path, data=sent)
            assert answer.status_code == 403, (path, token)
            assert '"field":"csrf"' in answer.text
    files = {"photo": ("a.png", image(), "image/png")}
    assert app.post("/redakcja/zdjecia", data={"csrf": other_csrf}, files=files).status_code == 403
    assert [a.title for a in news.list_articles(store)] == ["Cel"]
    assert news.draft_article(store, article.id).published_at is None  # type: ignore[union-attr]
    assert store.read(lambda tx: tx.one("SELECT count(*) FROM media")) == (0,)
    assert app.get("/redakcja/artykuly").status_code == 200  # still signed in


def test_roles(app: TestClient, people: dict[str, accounts.User]) -> None:
    assert app.post("/redakcja/artykuly/nowy", data={"title": "x"}).status_code == 401
    assert app.get("/redakcja/dziennik").status_code == 303  # to the login form
    login(app, "ewa")
    assert app.get("/redakcja/dziennik").status_code == 403
    assert app.get("/redakcja/uzytkownicy").status_code == 403
    admin = other_client(app, "198.51.100.10")
    login(admin, "ania")
    users = admin.get("/redakcja/uzytkownicy")
    assert users.status_code == 200
    assert "ewa" in users.text and "Ewa Nowak" in users.text and "redaktor" in users.text
    assert admin.get("/redakcja/dziennik").status_code == 200


# -- writing and publishing --------------------------------------------------------------------
def test_write_preview_publish_unpublish(
    app: TestClient, people: dict[str, accounts.User], store: Store
) -> None:
    csrf = login(app, "ewa")
    preview = app.post(
        "/redakcja/artykuly/nowy",
        data={
            "csrf": csrf, "lang": "pl", "title": "Podgląd", "action": "preview",
            "body_md": "**Gruby** <script>alert(1)</script> [x](javascript:alert(1))",
        },
    )  # fmt: skip
    assert preview.status_code == 200
    assert "<strong>Gruby</strong>" in preview.text
    assert_harmless(preview.text.split('class="preview"', 1)[1])
    assert news.list_articles(store) == []  # a preview stores nothing

    article_id = write(
        app, csrf, title="Nowe czujniki w Mińsku", lead="Wstęp", body_md="Treść *artykułu*.",
        tags="czujniki, smog", credit="Wydział Promocji",
    )  # fmt: skip
    saved = news.draft_article(store, article_id)
    assert saved is not None
    assert (saved.slug, saved.author, saved.tags, saved.published_at) == (
        "nowe-czujniki-w-minsku",
        "Ewa Nowak",
        ("czujniki", "smog"),
        None,
    )
    assert news.published_article(store, saved.slug, lang="pl") is None
    listing = app.get("/redakcja/artykuly")
    assert "Nowe czujniki w Mińsku" in listing.text and "szkic" in listing.text

    published = app.post(f"/redakcja/artykuly/{article_id}/publikuj", data={"csrf": csrf})
    assert published.status_code == 303
    visible = news.published_article(store, saved.slug, lang="pl")
    assert visible is not None and visible.credit == "Opracowanie/foto: Wydział Promocji"
    assert "opublikowany" in app.get("/redakcja/artykuly").text

    edited = app.post(
        f"/redakcja/artykuly/{article_id}",
        data={"csrf": csrf, "lang": "pl", "title": "Nowe czujniki", "slug": saved.slug,
              "body_md": "Poprawiona treść.", "action": "save"},
    )  # fmt: skip
    assert edited.status_code == 303
    again = news.published_article(store, saved.slug, lang="pl")
    assert again is not None and again.title == "Nowe czujniki"
    assert again.published_at == visible.published_at  # editing keeps the publication

    withdrawn = app.post(f"/redakcja/artykuly/{article_id}/wycofaj", data={"csrf": csrf})
    assert withdrawn.status_code == 303
    assert news.published_article(store, saved.slug, lang="pl") is None


def test_scheduled_publication(
    app: TestClient, people: dict[str, accounts.User], store: Store, editor_settings: Settings
) -> None:
    csrf = login(app, "ewa")
    article_id = write(app, csrf, title="Jutro rano")
    tomorrow = time.time() + 86_400
    local = datetime.fromtimestamp(tomorrow, editor_settings.tz).strftime("%Y-%m-%dT%H:%M")
    answer = app.post(
        f"/redakcja/artykuly/{article_id}/publikuj", data={"csrf": csrf, "published_at": local}
    )
    assert answer.status_code == 303
    saved = news.draft_article(store, article_id)
    assert saved is not None and saved.state() == "scheduled"
    assert abs((saved.published_at or 0) - tomorrow) < 60
    assert news.published_article(store, saved.slug, lang="pl") is None
    assert news.published_article(store, saved.slug, lang="pl", now=tomorrow + 60) is not None
    assert "zaplanowany" in app.get("/redakcja/artykuly").text
    bad = app.post(
        f"/redakcja/artykuly/{article_id}/publikuj", data={"csrf": csrf, "published_at": "jutro"}
    )
    assert bad.status_code == 422 and '"field":"published_at"' in bad.text


def test_bad_fields_are_shown_with_4xx(app: TestClient, people: dict[str, accounts.User]) -> None:
    csrf = login(app, "ewa")
    answer = app.post(
        "/redakcja/artykuly/nowy", data={"csrf": csrf, "lang": "pl", "title": " ", "action": "save"}
    )
    assert answer.status_code == 422
    assert "Pole „title”" in answer.text
    assert app.get("/redakcja/artykuly/999").status_code == 404


def test_audit_log_shows_who_did_what_when(
    app: TestClient, people: dict[str, accounts.User], store: Store
) -> None:
    csrf = login(app, "ewa")
    before = int(time.time())
    article_id = write(app, csrf, title="Do dziennika")
    app.post(f"/redakcja/artykuly/{article_id}/publikuj", data={"csrf": csrf})
    app.post(f"/redakcja/artykuly/{article_id}/wycofaj", data={"csrf": csrf})
    entries = [e for e in accounts.audit_entries(store) if e.subject == f"article:{article_id}"]
    assert [(e.actor, e.user_id, e.action) for e in entries] == [
        ("ewa", people["editor"].id, "article.unpublish"),
        ("ewa", people["editor"].id, "article.publish"),
        ("ewa", people["editor"].id, "article.create"),
    ]
    assert all(before <= e.time <= time.time() for e in entries)
    assert accounts.audit_entries(store)[-1].action == "user.add"
    logins = [e for e in accounts.audit_entries(store) if e.action == "session.login"]
    assert logins and logins[0].actor == "ewa" and logins[0].detail == {"address": "testclient"}

    admin = other_client(app, "198.51.100.11")
    login(admin, "ania")
    page = admin.get("/redakcja/dziennik").text
    assert page.count("article.") >= 3 and "ewa" in page and f"article:{article_id}" in page


# -- photos and /media -------------------------------------------------------------------------
def test_article_with_photo_upload_and_media_serving(
    app: TestClient, people: dict[str, accounts.User], store: Store, media: Path
) -> None:
    csrf = login(app, "ewa")
    answer = app.post(
        "/redakcja/artykuly/nowy",
        data={"csrf": csrf, "lang": "pl", "title": "Ze zdjęciem", "photo_alt": "Czujnik",
              "credit": "Jan Kowalski", "action": "save"},
        files={"photo": ("czujnik.jpg", image("JPEG", (3000, 2000)), "image/jpeg")},
    )  # fmt: skip
    assert answer.status_code == 303, answer.text
    article = news.list_articles(store)[0]
    assert article.photo_url and article.photo_thumb_url
    photo = app.get(article.photo_url)
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/jpeg"
    assert photo.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(photo.content)) as served:
        assert served.size == (1600, 1067)
    assert Image.open(io.BytesIO(app.get(article.photo_thumb_url).content)).size == (600, 400)
    assert len(list(media.iterdir())) == 2
    # the separate upload page
    page = app.post(
        "/redakcja/zdjecia",
        data={"csrf": csrf},
        files={"photo": ("plik.webp", image("WEBP", (300, 200)), "image/webp")},
    )
    assert page.status_code == 201
    assert re.search(r"!\[[^]]*\]\(/media/[A-Za-z0-9_-]+\.jpg\)", page.text)


@pytest.mark.parametrize(
    ("name", "data", "kind", "status"),
    [
        ("shell.jpg", b"<?php system($_GET['c']); ?>", "image/jpeg", 415),
        ("page.jpg", b"<html><body onload=alert(1)>x</body></html>", "image/jpeg", 415),
        ("photo.jpg", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif", 415),
    ],
)
def test_hostile_uploads_over_http_store_nothing(
    app: TestClient,
    people: dict[str, accounts.User],
    store: Store,
    media: Path,
    name: str,
    data: bytes,
    kind: str,
    status: int,
) -> None:
    csrf = login(app, "ewa")
    answer = app.post("/redakcja/zdjecia", data={"csrf": csrf}, files={"photo": (name, data, kind)})
    assert answer.status_code == status
    assert "Pole „photo”" in answer.text
    assert not media.exists() or list(media.iterdir()) == []
    assert store.read(lambda tx: tx.one("SELECT count(*) FROM media")) == (0,)
    # an article saved with such a file is not saved either
    refused = app.post(
        "/redakcja/artykuly/nowy",
        data={"csrf": csrf, "lang": "pl", "title": "Z plikiem", "action": "save"},
        files={"photo": (name, data, kind)},
    )
    assert refused.status_code == status and news.list_articles(store) == []


def test_oversize_uploads_are_refused(
    app: TestClient, people: dict[str, accounts.User], store: Store, editor_settings: Settings
) -> None:
    csrf = login(app, "ewa")
    limit = editor_settings.upload_max_bytes
    just_over = b"\xff\xd8\xff" + b"\x00" * (limit + 10)  # over the photo limit, within the form's
    answer = app.post(
        "/redakcja/zdjecia",
        data={"csrf": csrf},
        files={"photo": ("a.jpg", just_over, "image/jpeg")},
    )
    assert answer.status_code == 413 and "Pole „photo”" in answer.text
    huge = b"\x00" * (limit + 1_000_000)  # over the whole form's limit: refused while streaming
    answer = app.post(
        "/redakcja/zdjecia", data={"csrf": csrf}, files={"photo": ("a.jpg", huge, "image/jpeg")}
    )
    assert answer.status_code == 413 and '"field":"body"' in answer.text
    assert store.read(lambda tx: tx.one("SELECT count(*) FROM media")) == (0,)


@pytest.mark.parametrize(
    "path",
    [
        "/media/..%2Ftest.db",
        "/media/..%2F..%2Fetc%2Fpasswd",
        "/media/%2e%2e/test.db",
        "/media/test.db",
        "/media/x.php",
        "/media/nothing-here.jpg",
        "/media/.jpg",
    ],
)
def test_media_refuses_anything_but_stored_photos(app: TestClient, media: Path, path: str) -> None:
    media.mkdir(parents=True)
    (media.parent / "test.db").write_text("secret")
    (media / "test.db").write_text("secret")
    answer = app.get(path)
    assert answer.status_code == 404
    assert "secret" not in answer.text

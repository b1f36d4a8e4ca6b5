"""The portal's home page: latency at 50 clients and the size of one visit.

A server (``smartdistricts serve``, SQLite) holds the demo town (4 sites, 7 days of readings)
and six published articles, the newest with a photo. wrk (closed loop, keep-alive, 50
connections) requests ``/`` and ``/en/``; the baseline is the API's latest values of every
site (``GET /api/v1/latest``) measured the same way in the same run; the hello-world route
(``GET /api/v1/ping``) shows the server's ceiling. The issue asks for a home page p50 under
10 ms at 50 concurrent clients (with 50 connections always busy, p50 ≈ 50 / throughput).

The transfer of one visit is the home page's HTML plus every stylesheet, script and image it
references, as served (the issue asks for under 300 kB; no request may leave the origin).
"""

from __future__ import annotations

import io
import re
import tempfile
import time

import httpx

from bench.common import Server, Table, WrkResult, wrk
from smartdistricts.config import Settings
from smartdistricts.services import news
from smartdistricts.services.demo import create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.store import open_store

CONNECTIONS = 50
DAYS = 7
TARGET_P50_MS = 10.0
TARGET_KB = 300.0
_ASSET = re.compile(r'<(?:link[^>]*rel="stylesheet"|img|script)[^>]*?(?:href|src)="([^"]+)"')
_TITLES = [
    "Czujniki powietrza stanęły w pięciu dzielnicach",
    "Jak czytać indeks jakości powietrza",
    "Sezon grzewczy: sprawdź, czym palisz",
    "Mapa czujników w nowej odsłonie",
    "Dzielnice porównane: gdzie powietrze jest najczystsze",
    "Alerty smogowe prosto na telefon",
]


def _photo() -> bytes:
    """A 1600×1067 photo-like JPEG (a gradient with noise, not a flat colour)."""
    from PIL import Image

    gradient = Image.linear_gradient("L").resize((1600, 1067))
    noise = Image.effect_noise((1600, 1067), 40)
    image = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.ROTATE_180)))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def _prepare(tmp: str) -> tuple[str, str]:
    db = f"sqlite:///{tmp}/portal.db"
    media = f"{tmp}/media"
    with open_store(db) as store:
        create_demo(IngestService(store, Settings(db=db)), days=DAYS, now=time.time())
        from smartdistricts.services.photos import save_photo

        photo = save_photo(store, media, _photo(), max_bytes=20_000_000)
        now = time.time()
        for i, title in enumerate(_TITLES):
            draft = news.save_article(
                store,
                user_id=None,
                lang="pl",
                title=title,
                lead="Miasto rozwija sieć czujników jakości powietrza w ramach programu"
                " inteligentnych dzielnic. " * 2,
                body_md="Treść artykułu.\n\n" * 20,
                photo_id=photo.id if i == 0 else None,
                photo_alt="Czujnik na słupie",
                credit="Wydział Promocji",
                tags="smog",
            )
            news.publish_article(store, draft.id, user_id=None, at=now - 3600 * (i + 1))
    return db, media


def transfer(url: str, path: str) -> tuple[int, list[tuple[str, int, int]]]:
    """Bytes of the page at ``path`` and of each asset it references: (page, [(url, status,
    bytes)]). Raises when an asset is on another origin."""
    page = httpx.get(url + path, timeout=10)
    assets = []
    for ref in sorted(set(_ASSET.findall(page.text))):
        if not ref.startswith("/") or ref.startswith("//"):
            raise RuntimeError(f"{path} references {ref} on another origin")
        answer = httpx.get(url + ref.replace("&amp;", "&"), timeout=10)
        assets.append((ref, answer.status_code, len(answer.content)))
    return len(page.content), assets


def run(seconds: float = 10.0) -> None:
    with tempfile.TemporaryDirectory(prefix="sd-bench-portal-") as tmp:
        db, media = _prepare(tmp)
        server = Server(db).start({"SMARTDISTRICTS_MEDIA_DIR": media})
        try:
            for path in ("/", "/en/", "/api/v1/latest"):
                answer = httpx.get(server.url + path, timeout=10)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
            html, assets = transfer(server.url, "/")
            base = wrk(server.url + "/api/v1/latest", connections=CONNECTIONS, seconds=seconds)
            hello = wrk(server.url + "/api/v1/ping", connections=CONNECTIONS, seconds=seconds)
            results: list[tuple[str, WrkResult]] = []
            for path in ("/", "/en/"):
                results.append(
                    (path, wrk(server.url + path, connections=CONNECTIONS, seconds=seconds))
                )
        finally:
            server.stop()

    table = Table(
        f"Portal home page (demo town: 4 sites × {DAYS} days, 6 articles; SQLite; "
        f"wrk {CONNECTIONS} connections)",
        ["route", "req/s", "p50 ms", "p99 ms", "errors", "p50 ratio to /api/v1/latest"],
    )
    for path, r in results:
        table.add(
            f"GET {path}",
            r.requests_per_s,
            r.p50_ms,
            r.p99_ms,
            r.non_2xx + r.errors,
            r.p50_ms / base.p50_ms,
        )
    table.add(
        "baseline: GET /api/v1/latest",
        base.requests_per_s,
        base.p50_ms,
        base.p99_ms,
        base.non_2xx + base.errors,
        1.0,
    )
    table.add(
        "for scale: GET /api/v1/ping (hello world)",
        hello.requests_per_s,
        hello.p50_ms,
        hello.p99_ms,
        hello.non_2xx + hello.errors,
        hello.p50_ms / base.p50_ms,
    )
    table.print()

    sizes = Table("One visit to the home page: transfer", ["resource", "status", "kB"])
    sizes.add("/ (HTML)", 200, html / 1000)
    for ref, status, size in assets:
        sizes.add(ref, status, size / 1000)
    total = (html + sum(size for _r, _s, size in assets)) / 1000
    sizes.add("total", "", total)
    sizes.print()
    worst = max(r.p50_ms for _p, r in results)
    missing = [ref for ref, status, _size in assets if status != 200]
    print(
        f"\ntargets: home p50 < {TARGET_P50_MS:g} ms at {CONNECTIONS} clients → "
        f"{'met' if worst < TARGET_P50_MS else 'NOT met'} ({worst:.2f} ms); "
        f"transfer < {TARGET_KB:g} kB → {'met' if total < TARGET_KB else 'NOT met'} "
        f"({total:.1f} kB{', unreachable: ' + ', '.join(missing) if missing else ''})"
    )


if __name__ == "__main__":
    run()

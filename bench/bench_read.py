"""Public reads: the widget, the Airly-compatible API, a month of hourly values, points.

A server (``smartdistricts serve``, SQLite) holds the demo town: 4 sites, 30 days of readings
every 145 s (≈ 430,000 readings), hourly and daily aggregates. Each route is measured twice:

* maximum throughput and latency with wrk (closed loop, keep-alive, 32 connections), and
* latency at the target rate offered by 50 clients (open loop, ``bench/loadgen.py``: latency
  counts from the moment a request was due).

``/v2/measurements/point`` asks for random points in the town (a new 11-m grid cell nearly every
time, so the answer is interpolated afresh rather than served from the answer cache). Baseline:
the same server's hello-world route (``GET /api/v1/ping``) under wrk in the same run.
"""

from __future__ import annotations

import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Server, Table, WrkResult, wrk
from bench.loadgen import LoadResult, open_loop
from smartdistricts.config import Settings
from smartdistricts.services.demo import create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import add_api_key, list_sites
from smartdistricts.store import open_store

CONNECTIONS = 32
OPEN_CLIENTS = 50
# The town's extent for random points (around the demo sites).
LAT, LNG = (52.165, 52.195), (21.53, 21.60)


@dataclass
class Route:
    name: str
    path: str
    target: float  # requests/s the issue asks for
    headers: dict[str, str]
    script: Path | None = None
    make_path: Callable[[int, int], str] | None = None


def _request(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _random_point(rng: random.Random) -> str:
    lat, lng = rng.uniform(*LAT), rng.uniform(*LNG)
    return f"/v2/measurements/point?lat={lat:.6f}&lng={lng:.6f}"


def _maker(route: Route) -> Callable[[int, int], bytes]:
    fixed = _request(route.path, route.headers)
    make_path = route.make_path
    if make_path is None:
        return lambda _c, _n: fixed
    return lambda c, n: _request(make_path(c, n), route.headers)


def _prepare(tmp: str) -> tuple[str, str, int, str]:
    db = f"sqlite:///{tmp}/read.db"
    with open_store(db) as store:
        create_demo(IngestService(store, Settings(db=db)), days=30, now=time.time())
        token = add_api_key(store, "bench", daily_limit=0, minute_limit=0)[1]
        site = list_sites(store)[0]
    return db, token, site.id, site.slug


def run(seconds: float = 10.0) -> None:
    with tempfile.TemporaryDirectory(prefix="sd-bench-read-") as tmp:
        db, token, site_id, slug = _prepare(tmp)
        key = {"apikey": token}
        rng = random.Random(7)
        routes = [
            Route(
                "Airly v2 /v2/measurements/installation",
                f"/v2/measurements/installation?installationId={site_id}",
                3000,
                key,
            ),
            Route("widget HTML /widget/{id}", f"/widget/{site_id}", 3000, {}),
            Route("widget JSON /widget/{id}.json", f"/widget/{site_id}.json", 3000, {}),
            Route(
                "30-day hourly series of one site (720 rows)",
                f"/api/v1/sites/{slug}/hourly?variable=pm2_5&days=30",
                500,
                {},
            ),
            Route(
                "Airly v2 /v2/measurements/point, random points",
                "/v2/measurements/point?lat=52.18&lng=21.56",
                1000,
                key,
                script=Path(__file__).with_name("point.lua"),
                make_path=lambda _c, _n: _random_point(rng),
            ),
        ]
        server = Server(db).start()
        try:
            checks = _check(server.url, routes)
            hello = wrk(server.url + "/api/v1/ping", connections=CONNECTIONS, seconds=seconds)
            results: list[tuple[Route, WrkResult, LoadResult]] = []
            for route in routes:
                closed = wrk(
                    server.url + route.path,
                    connections=CONNECTIONS,
                    seconds=seconds,
                    script=route.script,
                    headers=route.headers,
                )
                load = open_loop(
                    "127.0.0.1",
                    server.port,
                    _maker(route),
                    connections=OPEN_CLIENTS,
                    total_rate=route.target,
                    seconds=seconds,
                )
                results.append((route, closed, load))
        finally:
            server.stop()

    table = Table(
        "Public reads (demo town: 4 sites × 30 days, SQLite)",
        [
            "route",
            "size B",
            "wrk req/s",
            "wrk p99 ms",
            "offered/s",
            "served/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "ratio to hello-world",
        ],
    )
    for route, closed, load in results:
        table.add(
            route.name,
            checks[route.name],
            closed.requests_per_s,
            closed.p99_ms,
            route.target,
            load.rate,
            load.percentile(50),
            load.percentile(99),
            closed.non_2xx + closed.errors + load.failed,
            closed.requests_per_s / hello.requests_per_s,
        )
    table.add(
        f"baseline: GET /api/v1/ping (hello world), wrk {CONNECTIONS} connections",
        4,
        hello.requests_per_s,
        hello.p99_ms,
        "",
        "",
        hello.p50_ms,
        "",
        hello.non_2xx + hello.errors,
        1.0,
    )
    table.print()
    print("\ntargets (wrk req/s; open-loop p99 at the offered rate):")
    for route, closed, load in results:
        met = closed.requests_per_s >= route.target and load.rate >= 0.98 * route.target
        extra = ""
        if route.target >= 3000:
            ratio = closed.requests_per_s / hello.requests_per_s
            met = met and load.percentile(99) < 20 and ratio >= 0.5
            extra = ", p99 < 20 ms, ≥ 50 % of hello-world"
        print(f"  {route.name}: ≥ {route.target:,.0f}/s{extra} → {'met' if met else 'NOT met'}")


def _check(url: str, routes: list[Route]) -> dict[str, int]:
    """Every route answers 200 before it is measured; returns the body sizes."""
    sizes = {}
    for route in routes:
        response = httpx.get(url + route.path, headers=route.headers, timeout=10)
        if response.status_code != 200:
            raise RuntimeError(f"{route.path}: {response.status_code} {response.text[:300]}")
        sizes[route.name] = len(response.content)
    return sizes


if __name__ == "__main__":
    run()

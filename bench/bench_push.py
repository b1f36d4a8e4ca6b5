"""Device pushes: throughput and latency of POST /api/v1/push/sensor-community.

A server (``smartdistricts serve``, SQLite, ``synchronous=FULL``: every 2xx is on disk) gets pushes
from 20,000 registered airrohr devices, each push the firmware's combined payload with 10
readings and 5 status values, HTTP Basic credentials per device.

* Latency at the target load: 2,000 pushes/s offered by 200 concurrent clients (an open-loop
  generator: a slow answer does not slow the senders down, and latency counts from the moment a
  push was due), after a warm-up that has every device push once.
* Maximum throughput: wrk, 200 connections, closed loop (and once with a new connection per
  push, as the firmware does).
* Baseline: the same server's hello-world route (``GET /api/v1/ping``) under wrk.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.common import Server, Table, register_devices, wrk
from bench.loadgen import open_loop
from smartdistricts.store import open_store

DEVICES = 20_000
CONNECTIONS = 200
RATE = 2_000.0

_TYPES = (
    ("SDS_P1", "{a}.{b:02d}"),
    ("SDS_P2", "5.27"),
    ("PMS_P0", "4.00"),
    ("PMS_P1", "8.00"),
    ("PMS_P2", "6.00"),
    ("BME280_temperature", "14.09"),
    ("BME280_pressure", "100405.00"),
    ("BME280_humidity", "71.97"),
    ("SHT3X_temperature", "13.80"),
    ("SHT3X_humidity", "70.10"),
    ("samples", "{n}"),
    ("min_micro", "28"),
    ("max_micro", "20083"),
    ("interval", "145000"),
    ("signal", "-67"),
)
_ITEMS = ",".join('{"value_type":"%s","value":"%s"}' % pair for pair in _TYPES)  # noqa: UP031


def push_body(chip: str, n: int) -> bytes:
    items = _ITEMS.replace("{a}", str(n % 60)).replace("{b:02d}", f"{n % 100:02d}")
    items = items.replace("{n}", str(n))
    return (
        f'{{"esp8266id":"{chip}","software_version":"NRZ-2024-135","sensordatavalues":[{items}]}}'
    ).encode()


def request_maker(devices: list[tuple[str, str]]) -> Callable[[int, int], bytes]:
    def make(client: int, n: int) -> bytes:
        uid, auth = devices[(client * 997 + n * 13) % len(devices)]
        body = push_body(uid.split("-", 1)[1], client * 1_000_000 + n)
        return (
            b"POST /api/v1/push/sensor-community HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nX-Sensor: "
            + uid.encode()
            + b"\r\nAuthorization: "
            + auth.encode()
            + b"\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )

    return make


def _settle(url: str, db: str, timeout: float = 60.0) -> None:
    """Wait until the writer's queue and the daily-rollup queue are drained."""
    deadline = time.monotonic() + timeout
    with open_store(db, migrate=False) as store:
        while time.monotonic() < deadline:
            backlog = httpx.get(url + "/api/v1/health", timeout=5).json()["writer_backlog"]
            row = store.read(lambda tx: tx.one("SELECT count(*) FROM rollup_pending"))
            if backlog == 0 and row is not None and row[0] < 1000:
                return
            time.sleep(0.5)


def run(seconds: float = 20.0) -> None:
    with tempfile.TemporaryDirectory(prefix="sd-bench-push-") as tmp:
        db = f"sqlite:///{tmp}/push.db"
        with open_store(db) as store:
            devices = register_devices(store, DEVICES)
        listing = Path(tmp) / "devices.txt"
        listing.write_text("".join(f"{uid};{auth}\n" for uid, auth in devices))
        script = Path(__file__).with_name("push.lua")
        server = Server(db).start()
        try:
            make = request_maker(devices)
            warm = open_loop(
                "127.0.0.1",
                server.port,
                make,
                connections=CONNECTIONS,
                total_rate=1_000.0,
                seconds=DEVICES / 1_000.0 + 2,
            )
            _settle(server.url, db)
            load = open_loop(
                "127.0.0.1",
                server.port,
                make,
                connections=CONNECTIONS,
                total_rate=RATE,
                seconds=seconds,
            )
            _settle(server.url, db)
            closed = wrk(
                server.url, connections=CONNECTIONS, seconds=10, script=script, args=[str(listing)]
            )
            fresh = wrk(
                server.url,
                connections=CONNECTIONS,
                seconds=10,
                script=script,
                args=[str(listing), "close"],
            )
            hello = wrk(server.url + "/api/v1/ping", connections=64, seconds=10)
        finally:
            server.stop()
        with open_store(db, migrate=False) as store:
            stored = store.read(lambda tx: tx.one("SELECT count(*) FROM measurements"))
    assert warm.failed == 0 and load.failed == 0, (warm.failed, load.failed)

    table = Table(
        f"Device pushes (10 readings each, {DEVICES:,} devices, SQLite synchronous=FULL)",
        ["run", "pushes/s", "p50 ms", "p99 ms", "errors", "ratio to hello-world"],
    )
    table.add(
        f"open loop, {RATE:,.0f}/s offered by {CONNECTIONS} clients",
        load.rate,
        load.percentile(50),
        load.percentile(99),
        load.failed,
        load.rate / hello.requests_per_s,
    )
    runs = [
        (f"wrk closed loop, keep-alive ({CONNECTIONS} connections)", closed),
        (f"wrk closed loop, new connection per push ({CONNECTIONS} connections)", fresh),
        ("baseline: GET /api/v1/ping (hello world), wrk 64 connections", hello),
    ]
    for name, res in runs:
        ratio = res.requests_per_s / hello.requests_per_s
        errors = res.non_2xx + res.errors
        table.add(name, res.requests_per_s, res.p50_ms, res.p99_ms, errors, ratio)
    table.print()
    met = closed.requests_per_s >= 2000 and load.rate >= 0.99 * RATE and load.percentile(99) < 50
    print(f"\nreadings stored: {stored[0] if stored else 0:,}")
    print(
        "targets: ≥ 2,000 pushes/s with durable acknowledgement, p99 < 50 ms at 200 concurrent"
        f" devices → {'met' if met else 'NOT met'}"
    )


if __name__ == "__main__":
    run()

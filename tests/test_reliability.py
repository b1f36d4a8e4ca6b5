"""Crash safety: every push that got a 2xx is stored, even when the server is killed (-9)."""

from __future__ import annotations

import base64
import threading
import time

import httpx
import orjson
import pytest
from tests.conftest import LiveServer

from smartdistricts.services.registry import add_device
from smartdistricts.store import open_store

PUSH = "/api/v1/push/sensor-community"


def _body(counter: int) -> bytes:
    # The CO2 reading carries a counter that makes every push identifiable afterwards.
    return orjson.dumps(
        {
            "software_version": "NRZ-2024-135",
            "sensordatavalues": [
                {"value_type": "SDS_P1", "value": "12.00"},
                {"value_type": "SDS_P2", "value": "8.00"},
                {"value_type": "SCD30_co2_ppm", "value": f"{counter}"},
            ],
        }
    )


@pytest.mark.slow
def test_acknowledged_pushes_survive_kill_9(db_url: str) -> None:
    with open_store(db_url) as store:
        devices = [add_device(store, f"esp8266-{7000 + i}") for i in range(16)]
    credentials = [
        (d.uid, "Basic " + base64.b64encode(f"{d.uid}:{secret}".encode()).decode())
        for d, secret in devices
    ]
    server = LiveServer(db_url, extra_env={"SMARTDISTRICTS_DEVICE_PUSHES_PER_MINUTE": "0"})
    server.start()
    acknowledged: list[tuple[str, int]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def push_loop(worker: int) -> None:
        counter = worker * 1_000
        with httpx.Client(base_url=server.url, timeout=5.0) as client:
            while not stop.is_set():
                uid, auth = credentials[counter % len(credentials)]
                counter += 1
                try:
                    response = client.post(
                        PUSH,
                        content=_body(counter),
                        headers={"X-Sensor": uid, "Authorization": auth},
                    )
                except httpx.HTTPError:
                    continue  # the server is gone: not acknowledged
                if response.status_code == 201:
                    with lock:
                        acknowledged.append((uid, counter))

    workers = [threading.Thread(target=push_loop, args=(w,)) for w in range(8)]
    for w in workers:
        w.start()
    time.sleep(2.5)  # pushes are in flight and being committed right now
    server.kill()
    server.log.close()
    stop.set()
    for w in workers:
        w.join(10)
    assert len(acknowledged) > 100, "the load did not get going before the kill"

    # The database opens cleanly after the crash (WAL recovery) and holds every acknowledged push.
    restarted = LiveServer(db_url).start()
    try:
        assert httpx.get(restarted.url + "/api/v1/health").json()["status"] == "ok"
    finally:
        restarted.stop()
        restarted.log.close()
    with open_store(db_url) as store:
        stored = set(
            store.read(
                lambda tx: tx.query(
                    "SELECT d.uid, CAST(m.value AS INTEGER) FROM measurements m"
                    " JOIN sensors s ON s.id = m.sensor_id JOIN devices d ON d.id = s.device_id"
                    " JOIN variables v ON v.id = m.variable_id WHERE v.name = 'co2'"
                )
            )
        )
    missing = [a for a in acknowledged if a not in stored]
    assert missing == [], f"{len(missing)} of {len(acknowledged)} acknowledged pushes were lost"

"""Virtual airrohr devices that push realistic readings through the real push endpoint.

Each virtual device behaves like the firmware: every ``interval`` seconds it opens a new
connection, POSTs the combined JSON payload (values as strings, pressure in Pa, status values at
the end) with ``X-Sensor``, ``X-MAC-ID``, ``User-Agent`` and HTTP Basic credentials, and logs the
answer. Values come from :mod:`smartdistricts.demo.synthetic`, so they continue the demo history.

The simulator works with the operator's access to the database: it gives each device it drives
fresh credentials (the old ones stop working), and creates extra devices beyond the four demo
sites (``sim-<n>``) at positions around the town.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import httpx
import orjson

from smartdistricts.demo import load_town
from smartdistricts.demo.synthetic import synthetic_values
from smartdistricts.demo.town import DemoSite
from smartdistricts.services.demo import create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import RegistryError, add_device, reset_device_secret
from smartdistricts.store.base import Store

__all__ = ["VirtualDevice", "prepare_devices", "push_once", "run_simulation"]

log = logging.getLogger(__name__)
PUSH_PATH = "/api/v1/push/sensor-community"
FIRMWARE = "NRZ-2024-135"


@dataclass(frozen=True, slots=True)
class VirtualDevice:
    site: DemoSite
    uid: str
    secret: str
    chip_id: str


def payload(device: VirtualDevice, now: float, *, sequence: int = 0) -> bytes:
    """The firmware's combined JSON body for the readings at ``now``."""
    v = synthetic_values(device.site, [int(now)])
    values = [
        ("PMS_P0", v["pm1"][0]),
        ("PMS_P1", v["pm10"][0]),
        ("PMS_P2", v["pm2_5"][0]),
        ("BME280_temperature", v["temp_air"][0]),
        ("BME280_pressure", v["pressure"][0] * 100.0),
        ("BME280_humidity", v["relative_humidity"][0]),
    ]
    items = [{"value_type": k, "value": f"{x:.2f}"} for k, x in values]
    items += [
        {"value_type": "samples", "value": str(600000 + sequence % 997)},
        {"value_type": "min_micro", "value": str(28 + sequence % 7)},
        {"value_type": "max_micro", "value": str(20000 + sequence % 311)},
        {"value_type": "interval", "value": "145000"},
        {"value_type": "signal", "value": str(-60 - sequence % 17)},
    ]
    body = {"esp8266id": device.chip_id, "software_version": FIRMWARE, "sensordatavalues": items}
    return orjson.dumps(body)


def headers(device: VirtualDevice) -> dict[str, str]:
    token = base64.b64encode(f"{device.uid}:{device.secret}".encode()).decode()
    mac = f"5ccf7f{int(device.chip_id) & 0xFFFFFF:06x}"
    return {
        "Content-Type": "application/json",
        "X-Sensor": device.uid,
        "X-MAC-ID": f"esp8266-{mac}",
        "User-Agent": f"{FIRMWARE}/{device.chip_id}/{mac}",
        "Authorization": f"Basic {token}",
    }


def prepare_devices(store: Store, service: IngestService, count: int) -> list[VirtualDevice]:
    """Devices to drive: the demo sites' devices first, then ``sim-<n>`` extras; new secrets."""
    town = load_town()
    if (
        store.read(lambda tx: tx.one("SELECT 1 FROM sites WHERE slug = ?", (town.sites[0].slug,)))
        is None
    ):
        create_demo(service)
    devices = []
    for n in range(count):
        base = town.sites[n % len(town.sites)]
        if n < len(town.sites):
            site, uid = base, base.device_uid
            secret = reset_device_secret(store, uid, actor="simulate")
        else:
            chip = 20_000_000 + n
            uid = f"esp8266-{chip}"
            # A neighbour of a demo site: same weather, slightly different position.
            site = replace(
                base,
                slug=f"sim-{n}",
                latitude=base.latitude + 0.001 * (n % 7),
                longitude=base.longitude + 0.001 * (n % 5),
            )
            try:
                _device, secret = add_device(
                    store,
                    uid,
                    kind="airrohr",
                    site=base.slug,
                    name=f"simulated near {base.name}",
                    actor="simulate",
                )
            except RegistryError:
                secret = reset_device_secret(store, uid, actor="simulate")
        devices.append(VirtualDevice(site, uid, secret, uid.split("-", 1)[1]))
    return devices


async def push_once(
    client: httpx.AsyncClient, base_url: str, device: VirtualDevice, now: float, sequence: int = 0
) -> int:
    """One push; returns the HTTP status (0 when the server could not be reached)."""
    try:
        response = await client.post(
            base_url.rstrip("/") + PUSH_PATH,
            content=payload(device, now, sequence=sequence),
            headers=headers(device),
        )
    except httpx.HTTPError as exc:
        log.warning("%s: push failed: %s", device.uid, exc)
        return 0
    if response.status_code >= 300:
        log.warning("%s: %s %s", device.uid, response.status_code, response.text[:200])
    return response.status_code


async def run_simulation(
    base_url: str,
    devices: list[VirtualDevice],
    *,
    interval_s: float = 145.0,
    duration_s: float | None = None,
    on_push: Callable[[VirtualDevice, int], None] | None = None,
) -> int:
    """Push from every device every ``interval_s`` (staggered) until ``duration_s`` or cancelled.

    Returns the number of pushes answered with 2xx.
    """
    ok = 0
    deadline = None if duration_s is None else time.monotonic() + duration_s
    # No connection reuse, like the firmware.
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=20.0, limits=limits) as client:

        async def drive(index: int, device: VirtualDevice) -> None:
            nonlocal ok
            await asyncio.sleep(interval_s * index / max(len(devices), 1))
            sequence = 0
            while deadline is None or time.monotonic() < deadline:
                status = await push_once(client, base_url, device, time.time(), sequence)
                if 200 <= status < 300:
                    ok += 1
                if on_push is not None:
                    on_push(device, status)
                sequence += 1
                await asyncio.sleep(interval_s)

        # Started with the server (serve --simulate): wait until it listens before pushing.
        for _ in range(300):
            try:
                await client.get(base_url.rstrip("/") + "/api/v1/ping")
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        tasks = [asyncio.create_task(drive(i, d)) for i, d in enumerate(devices)]
        try:
            if deadline is None:
                await asyncio.gather(*tasks)
            else:
                await asyncio.wait(
                    tasks, timeout=max(0.0, deadline - time.monotonic()) + interval_s
                )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return ok

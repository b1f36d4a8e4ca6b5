"""Demo data: the town's districts and four sensor sites with the last 30 days of readings.

Idempotent: districts, sites and devices are created when missing, and readings are generated
from the newest stored demo reading (or 30 days back) up to now, so running ``demo`` again after
a week fills the gap. The readings come from :mod:`smartdistricts.demo.synthetic` and go through
the same bulk path as archive imports (flags, aggregates and all).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from smartdistricts.demo import load_town
from smartdistricts.demo.synthetic import demo_times, synthetic_values
from smartdistricts.demo.town import DemoSite
from smartdistricts.ingest.records import Readings, SensorRef
from smartdistricts.nomenclature import variable
from smartdistricts.services.bulk import BulkWrite
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import add_district, insert_site
from smartdistricts.services.rollup import roll_up_pending
from smartdistricts.services.security import hash_secret, new_secret
from smartdistricts.store.base import Tx

__all__ = ["SENSOR_OF_VARIABLE", "DemoResult", "create_demo", "demo_sites"]

#: Which airrohr sensor measures each demo variable (the names pushes produce: the firmware's
#: PMS payload does not tell the model, so a PMS7003 is stored as "PMSx003").
SENSOR_OF_VARIABLE = {
    "pm1": "PMSx003",
    "pm2_5": "PMSx003",
    "pm10": "PMSx003",
    "temp_air": "BME280",
    "relative_humidity": "BME280",
    "pressure": "BME280",
}
DEMO_SOURCE = "demo"


@dataclass(frozen=True, slots=True)
class DemoResult:
    districts: int
    sites: int
    readings: int
    start: int
    end: int


def demo_sites() -> list[DemoSite]:
    return list(load_town().sites)


def _ensure_places(tx: Tx) -> int:
    """Create the demo sites and devices that are missing; returns how many sites were new."""
    town = load_town()
    created = 0
    for site in town.sites:
        row = tx.one("SELECT id FROM sites WHERE slug = ?", (site.slug,))
        if row is None:
            site_id = insert_site(
                tx,
                name=site.name,
                slug=site.slug,
                latitude=site.latitude,
                longitude=site.longitude,
                elevation=site.elevation,
                street=site.street,
                number=site.number,
                city=site.city,
                district=site.district_slug,
                sponsor=site.sponsor,
                source="smartdistricts",
                approximate=True,
                actor="demo",
            ).id
            created += 1
        else:
            site_id = int(row[0])
        if tx.one("SELECT 1 FROM devices WHERE uid = ?", (site.device_uid,)) is None:
            tx.execute(
                "INSERT INTO devices (uid, kind, status, site_id, name, secret_hash, approved_at)"
                " VALUES (?, 'airrohr', 'active', ?, ?, ?, ?)",
                (
                    site.device_uid,
                    site_id,
                    f"demo device at {site.name}",
                    hash_secret(new_secret()),
                    int(time.time()),
                ),
            )
    return created


def _district_exists(tx: Tx, *, slug: str) -> tuple[object, ...] | None:
    return tx.one("SELECT 1 FROM districts WHERE slug = ?", (slug,))


def _last_demo_time(tx: Tx, *, uid: str) -> int | None:
    row = tx.one(
        "SELECT max(l.time) FROM latest l JOIN sensors s ON s.id = l.sensor_id"
        " JOIN devices d ON d.id = s.device_id WHERE d.uid = ?",
        (uid,),
    )
    return None if row is None or row[0] is None else int(row[0])


def _readings(site: DemoSite, start: int, end: int, index: int) -> Readings:
    times = demo_times(start, end, site_index=index)
    if not len(times):
        return Readings()
    values = synthetic_values(site, times)
    types = sorted(set(SENSOR_OF_VARIABLE.values()))
    refs = [SensorRef(device_uid=site.device_uid, sensor_type=t) for t in types]
    parts = []
    for name, series in values.items():
        k = types.index(SENSOR_OF_VARIABLE[name])
        n = len(times)
        parts.append(
            Readings(
                refs,
                np.full(n, k, dtype=np.int64),
                np.full(n, variable(name).id, dtype=np.int64),
                times.astype(np.int64),
                np.asarray(series, dtype=np.float64),
                np.zeros(n, dtype=np.int64),
            )
        )
    return Readings.concat(parts)


def create_demo(service: IngestService, *, days: int = 30, now: float | None = None) -> DemoResult:
    """Create or top up the demo data (see the module docstring)."""
    store = service.store
    end = int(time.time() if now is None else now)
    town = load_town()
    districts = 0
    for d in town.districts:
        if store.read(functools.partial(_district_exists, slug=d.slug)) is None:
            add_district(
                store, slug=d.slug, name=d.name, geometry=d.geometry, approximate=True, actor="demo"
            )
            districts += 1
    sites = store.write(_ensure_places)
    total = 0
    earliest = end
    for index, site in enumerate(town.sites):
        last = store.read(functools.partial(_last_demo_time, uid=site.device_uid))
        start = max(end - days * 86400, (last + 1) if last is not None else 0)
        earliest = min(earliest, start)
        readings = _readings(site, start, end, index)
        if len(readings):
            total += store.write(BulkWrite(service, readings, DEMO_SOURCE))
    while store.write(lambda tx: roll_up_pending(tx, service.tz, limit=20000)):
        pass
    return DemoResult(districts, sites, total, earliest, end)

"""The Sensor.Community API importer: the devices within a radius of the town, every few minutes.

One round (:meth:`SensorCommunityImporter.fetch`, also the worker job ``sensor-community``)
reads ``/airrohr/v1/filter/area=<town_point>,<radius>`` (the last five minutes of every sensor
there), keeps the outdoor sensors within ``sensor_community_radius_km`` (the server filters too;
the importer checks again), and stores the readings through the bulk writer with source
``sensor.community-api``. A node is its Sensor.Community location (device
``sensor.community:location:<id>``, site ``sensor.community``/``<id>``), exactly as archive imports
name it, so archive backfills and live imports of one node meet on one device.

Each sensor's cursor (``import_state``, job ``sensor-community``, key ``sensor:<id>``) holds the
newest stored time and moves in the same transaction as the readings: readings at or before it
are skipped without touching the table, and a re-run after an interruption stores exactly what is
missing (the primary key guards the rest). The API has no history: minutes missed while the
importer was down can only come from the daily archive (``smartdistricts import``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
import numpy as np

from smartdistricts.calc.geo import haversine_km
from smartdistricts.config import Settings, parse_point
from smartdistricts.ingest.gios import FetchError, RateLimited
from smartdistricts.ingest.records import IngestError, Readings, Rejection, split_refused
from smartdistricts.ingest.sensor_community_api import area_url, fetch_area, parse_records
from smartdistricts.services.bulk import BulkWrite
from smartdistricts.services.import_state import get_state, set_state
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.jobs import JobResult, importer_result
from smartdistricts.services.rollup import roll_up_pending
from smartdistricts.store.base import Tx

__all__ = ["SensorCommunityImporter", "SensorCommunityReport"]

JOB = "sensor-community"
SOURCE = "sensor.community-api"
#: Seconds between rounds: the v1 feed holds the last five minutes.
INTERVAL_S = 240.0
RETRY_S = 600.0


@dataclass(slots=True)
class SensorCommunityReport:
    records: int = 0
    sensors: int = 0
    readings: int = 0
    stored: int = 0
    seen: int = 0
    far: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    retry_after: float | None = None

    @property
    def duplicates(self) -> int:
        return self.readings - self.stored

    def lines(self) -> list[str]:
        out = [
            f"records: {self.records}; sensors near the town: {self.sensors}",
            f"readings: {self.readings}; stored: {self.stored}; already stored: "
            f"{self.duplicates + self.seen}; refused: {len(self.rejected)}",
        ]
        if self.far:
            out.append(f"readings outside the radius skipped: {self.far}")
        if self.ignored:
            kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(self.ignored.items()))
            out.append(f"value types not stored: {kinds}")
        out += [f"refused: {r}" for r in self.rejected[:50]]
        out += [f"failed: {f}" for f in self.failures]
        return out


class SensorCommunityImporter:
    """Job ``sensor-community`` (see the module docstring); ``run(now)`` is one round."""

    name = JOB

    def __init__(
        self,
        service: IngestService,
        *,
        settings: Settings | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        self.service = service
        self.settings = settings or service.settings
        self.client = client or httpx.Client(
            timeout=60.0, headers={"User-Agent": "smartdistricts (Sensor.Community importer)"}
        )

    def close(self) -> None:
        """Close the HTTP client (also when the importer was given one)."""
        self.client.close()

    def __enter__(self) -> SensorCommunityImporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, now: float) -> JobResult:
        report = self.fetch(now)
        return importer_result(
            now,
            stored=report.stored,
            skipped=report.duplicates + report.seen + len(report.rejected),
            failures=report.failures[:2],
            lines=report.lines()[:2],
            retry_after=report.retry_after,
            interval_s=INTERVAL_S,
            retry_s=RETRY_S,
        )

    def fetch(self, now: float | None = None) -> SensorCommunityReport:
        """One round (``now``: the time refused future readings are judged against)."""
        now = time.time() if now is None else now
        report = SensorCommunityReport()
        lat, lon = parse_point(self.settings.town_point)
        radius = self.settings.sensor_community_radius_km
        base = self.settings.sensor_community_base_url
        url = area_url(base, lat, lon, radius)
        try:
            body = fetch_area(self.client, base, lat, lon, radius)
            parsed = parse_records(body, source=url)
        except RateLimited as exc:
            report.failures.append(str(exc))
            report.retry_after = exc.retry_after
            return report
        except (FetchError, IngestError) as exc:
            report.failures.append(str(exc))
            return report
        report.records = parsed.records
        report.ignored = parsed.ignored
        report.rejected += parsed.rejections
        readings = parsed.readings
        if len(readings.sensors):
            km = haversine_km(
                lat,
                lon,
                [r.latitude or 0.0 for r in readings.sensors],
                [r.longitude or 0.0 for r in readings.sensors],
            )
            near = km <= radius
            report.far = int(np.count_nonzero(~near[readings.sensor])) if len(readings) else 0
            readings = readings.take(near[readings.sensor])
        ok, refused = split_refused(readings, url, now=now)
        report.rejected += refused
        report.sensors = len({ok.sensors[i].external_id for i in np.unique(ok.sensor).tolist()})
        report.readings = len(ok)
        if len(ok):
            stored, seen = self.service.store.write(lambda tx: self._write(tx, ok))
            report.stored, report.seen = stored, seen
            report.readings -= seen
        store, tz = self.service.store, self.service.tz
        while store.write(lambda tx: roll_up_pending(tx, tz, limit=20_000)):
            pass
        return report

    def _write(self, tx: Tx, readings: Readings) -> tuple[int, int]:
        """Store what is newer than each sensor's cursor, move the cursors; (stored, skipped)."""
        keys = [f"sensor:{ref.external_id}" for ref in readings.sensors]
        cursors = np.array([int(get_state(tx, JOB, k) or 0) for k in keys], dtype=np.int64)
        new = readings.time > cursors[readings.sensor]
        fresh = readings.take(new)
        stored = BulkWrite(self.service, fresh, SOURCE)(tx) if len(fresh) else 0
        for i in np.unique(fresh.sensor).tolist():
            set_state(tx, JOB, keys[i], str(int(fresh.time[fresh.sensor == i].max())))
        return stored, int(np.count_nonzero(~new))

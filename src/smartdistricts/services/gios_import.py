"""The GIOŚ importer: stations near the town, their hourly data, archival backfill and index.

One round (:meth:`GiosImporter.fetch`, also the worker job ``gios``):

1. ``station/findAll`` → the stations within ``gios_radius_km`` of ``town_point``. Each becomes
   a site (``source`` ``gios``, ``external_id`` the station id, slug ``gios-<id>``) with one
   device ``gios:station:<id>``; each of its measuring positions a sensor of type
   ``"<code> #<sensor id>"`` (``PM10 #3764``) with external id ``gios:<sensor id>``.
2. Per sensor of a mapped pollutant, the cursor ``sensor:<id>`` in ``import_state`` says up to
   when its history has been fetched. When it lies more than :data:`ARCHIVE_AFTER_S` back (or
   the sensor is new: ``gios_backfill_days`` back), the archive
   (``archivalData/getDataBySensor``, every page) is read in ranges of at most a year; then
   ``data/getData`` (about the last three days) brings the newest hours and those whose value
   arrived late. Nulls are skipped.
3. Readings go through the bulk writer (:class:`~smartdistricts.services.bulk.BulkWrite`, source
   ``gios``), and a sensor's cursor moves **in the same transaction** as the readings it covers.
   A round interrupted anywhere (an error on page 3, a killed process) leaves the cursor where
   the stored data end; the next round fetches the same range again, and what was stored
   already is skipped by the primary key — nothing is duplicated, nothing skipped.
4. ``aqindex/getIndex`` per station → table ``gios_index`` (GIOŚ's own index next to ours;
   :func:`compare_index` computes ours for the same hours).

A failing request (5xx, malformed JSON) fails only its sensor or station, with the reason in the
report; a 429 whose Retry-After is too long ends the round early and sets the next run after it.
A station's lists are downloaded by :data:`FETCH_THREADS` threads while the earlier ones are
parsed and stored; they are still parsed and stored in order.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from smartdistricts.calc.geo import haversine_km
from smartdistricts.calc.gios import GIOS_CATEGORIES
from smartdistricts.config import Settings, parse_point
from smartdistricts.indices import gios_index
from smartdistricts.ingest.gios import (
    FetchError,
    GiosIndex,
    GiosSensor,
    Page,
    RateLimited,
    Station,
    fetch_archive,
    fetch_data,
    fetch_index,
    fetch_sensors,
    fetch_stations,
    parse_sensors,
    parse_stations,
    parse_values,
)
from smartdistricts.ingest.records import Readings, Rejection, SensorRef, split_refused
from smartdistricts.nomenclature import variable
from smartdistricts.services.bulk import BulkWrite
from smartdistricts.services.import_state import get_state, set_state
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.jobs import JobResult, importer_result
from smartdistricts.services.registry import RegistryError, insert_site
from smartdistricts.services.rollup import roll_up_pending
from smartdistricts.store.base import Store, Tx

__all__ = [
    "ARCHIVE_AFTER_S",
    "GiosImporter",
    "GiosReport",
    "IndexComparison",
    "compare_index",
    "station_device",
]

JOB = "gios"
SOURCE = "gios"
#: The archive is read when a sensor's cursor is older than this [s]; ``getData`` reaches about
#: three days back, so two days leave a day's margin.
ARCHIVE_AFTER_S = 2 * 86400
#: Longest archive range per request series (the API allows 366 days) [s].
ARCHIVE_RANGE_S = 365 * 86400
#: Readings collected before they are handed to the writer.
FLUSH_READINGS = 150_000
#: Lists downloaded at the same time (the next sensors' pages arrive while one is stored).
FETCH_THREADS = 4
#: Seconds between rounds (GIOŚ publishes hourly), and after a round with failures.
INTERVAL_S = 3600.0
RETRY_S = 900.0


def station_device(station_id: int) -> str:
    """The device uid of a GIOŚ station."""
    return f"gios:station:{station_id}"


@dataclass(slots=True)
class GiosReport:
    """What a round did: counts, and every item or request not taken with its reason."""

    stations: int = 0
    sensors: int = 0
    unmapped: list[str] = field(default_factory=list)
    requests: int = 0
    readings: int = 0
    stored: int = 0
    nulls: int = 0
    indices: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    retry_after: float | None = None

    @property
    def duplicates(self) -> int:
        return self.readings - self.stored

    def lines(self) -> list[str]:
        out = [
            f"stations near the town: {self.stations}; sensors imported: {self.sensors}",
            f"requests: {self.requests}; readings received: {self.readings}",
            f"stored: {self.stored}; already stored: {self.duplicates}; "
            f"null values skipped: {self.nulls}; refused: {len(self.rejected)}",
            f"GIOŚ index rows stored: {self.indices}",
        ]
        if self.unmapped:
            out.append(
                "sensors not imported (pollutant not in the nomenclature): "
                + ", ".join(self.unmapped)
            )
        out += [f"refused: {r}" for r in self.rejected[:50]]
        if len(self.rejected) > 50:
            out.append(f"… and {len(self.rejected) - 50} more refused")
        out += [f"failed: {f}" for f in self.failures]
        if self.retry_after is not None:
            out.append(f"rate limited: stopped early, retry after {self.retry_after:g} s")
        return out


@dataclass(frozen=True, slots=True)
class _Step:
    """One list a sensor needs: its download (running on the pool) and the cursor it completes."""

    kind: str
    what: str
    download: Future[tuple[list[Any], int]]
    cursor: str


@dataclass(slots=True)
class _Pending:
    """Readings waiting for the writer and the cursors that move with them."""

    parts: list[Readings] = field(default_factory=list)
    states: list[tuple[str, str]] = field(default_factory=list)
    n: int = 0


class GiosImporter:
    """Job ``gios`` (see the module docstring); ``run(now)`` is one round."""

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
        self.base_url = self.settings.gios_base_url.rstrip("/")
        self.client = client or httpx.Client(
            timeout=60.0, headers={"User-Agent": "smartdistricts (GIOS importer)"}
        )
        self._pending = _Pending()
        self._in_flight: list[tuple[Future[int], _Pending]] = []
        self._report = GiosReport()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(FETCH_THREADS, thread_name_prefix="gios-fetch")
        self._futures: list[Future[tuple[list[Any], int]]] = []

    # -- the job -------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the download threads and close the HTTP client (also one given)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()

    def __enter__(self) -> GiosImporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self, now: float) -> JobResult:
        report = self.fetch(now)
        return importer_result(
            now,
            stored=report.stored,
            skipped=report.duplicates + report.nulls + len(report.rejected),
            failures=report.failures[:3],
            lines=report.lines()[:3],
            retry_after=report.retry_after,
            interval_s=INTERVAL_S,
            retry_s=RETRY_S,
        )

    def fetch(self, now: float | None = None, *, backfill_days: int | None = None) -> GiosReport:
        """One round at Unix time ``now`` (default: the clock)."""
        now = time.time() if now is None else now
        days = backfill_days or self.settings.gios_backfill_days
        self._report = report = GiosReport()
        try:
            stations = self._stations()
        except FetchError as exc:
            report.failures.append(f"station list: {exc}")
            if isinstance(exc, RateLimited):
                report.retry_after = exc.retry_after
            return report
        report.stations = len(stations)
        if stations:
            self.service.store.write(lambda tx: [ensure_station(tx, s) for s in stations])
        try:
            for station in stations:
                self._station(station, now, days)
        except RateLimited as exc:
            report.failures.append(str(exc))
            report.retry_after = exc.retry_after
        finally:
            for future in self._futures:
                future.cancel()
            self._futures.clear()
            self._flush(wait=True)
        store, tz = self.service.store, self.service.tz
        while store.write(lambda tx: roll_up_pending(tx, tz, limit=20_000)):
            pass
        return report

    # -- steps ---------------------------------------------------------------------------------
    def _stations(self) -> list[Station]:
        lat, lon = parse_point(self.settings.town_point)
        found: list[Station] = []
        for page, body in self._counted(fetch_stations(self.client, self.base_url)):
            stations, refused = parse_stations(body.items, source=f"station/findAll page {page}")
            self._report.rejected += refused
            found += stations
        if not found:
            return []
        km = haversine_km(lat, lon, [s.latitude for s in found], [s.longitude for s in found])
        near = [
            s for s, d in zip(found, km.tolist(), strict=True) if d <= self.settings.gios_radius_km
        ]
        return sorted(near, key=lambda s: s.id)

    def _station(self, station: Station, now: float, days: int) -> None:
        report = self._report
        try:
            sensors: list[GiosSensor] = []
            for _page, body in self._counted(fetch_sensors(self.client, self.base_url, station.id)):
                found, refused = parse_sensors(body.items, source=f"station/sensors/{station.id}")
                sensors += found
                report.rejected += refused
        except RateLimited:
            raise
        except FetchError as exc:
            report.failures.append(f"station {station.id} sensors: {exc}")
            return
        cursors = self.service.store.read(
            lambda tx: {s.id: get_state(tx, JOB, f"sensor:{s.id}") for s in sensors}
        )
        plans = []
        for sensor in sensors:
            if sensor.variable is None:
                report.unmapped.append(f"{sensor.id} ({sensor.code})")
                continue
            report.sensors += 1
            raw = cursors.get(sensor.id)
            cursor = int(raw) if raw is not None else int(now - days * 86400)
            plans.append((station, sensor, self._plan(sensor, cursor, now)))
        try:
            for plan in plans:
                self._finish(*plan)
        finally:  # downloads not used (a failure or a 429 came first) are dropped
            for future in self._futures:
                future.cancel()
            self._futures.clear()
        try:
            index = fetch_index(self.client, self.base_url, station.id)
            self._count(1)
        except RateLimited:
            raise
        except FetchError as exc:
            self._count(1)
            report.failures.append(f"station {station.id} index: {exc}")
            return
        if index.source_time is not None:
            report.indices += self.service.store.write(lambda tx: store_index(tx, index, now))

    def _plan(self, sensor: GiosSensor, cursor: int, now: float) -> list[_Step]:
        """Start the downloads a sensor needs (on the pool): archive ranges, then getData."""
        steps = []
        start = cursor
        while start < now - ARCHIVE_AFTER_S:
            end = min(now, start + ARCHIVE_RANGE_S)
            pages = fetch_archive(self.client, self.base_url, sensor.id, start, end)
            what = f"archivalData/getDataBySensor/{sensor.id}"
            steps.append(_Step("archive", what, self._submit(pages), str(int(end))))
            start = int(end)
        pages = fetch_data(self.client, self.base_url, sensor.id)
        what = f"data/getData/{sensor.id}"
        steps.append(_Step("data", what, self._submit(pages), str(int(max(now, start)))))
        return steps

    def _submit(self, pages: Iterator[tuple[int, Page]]) -> Future[tuple[list[Any], int]]:
        future = self._pool.submit(self._download, pages)
        self._futures.append(future)
        return future

    def _download(self, pages: Iterator[tuple[int, Page]]) -> tuple[list[Any], int]:
        """Every page's items of a list, and the last page's number (on a pool thread)."""
        items: list[Any] = []
        last = 0
        for page, body in self._counted(pages):
            items += body.items
            last = page
        return items, last

    def _finish(self, station: Station, sensor: GiosSensor, steps: list[_Step]) -> None:
        """Parse a sensor's downloads in order and queue them with the cursor each completes;
        the first failed download ends the sensor's round (its cursor stays where it was)."""
        assert sensor.variable is not None
        ref = SensorRef(station_device(station.id), sensor.sensor_type, f"gios:{sensor.id}")
        for n, step in enumerate(steps):
            try:
                items, last = step.download.result()
            except RateLimited:
                raise
            except FetchError as exc:
                self._report.failures.append(f"sensor {sensor.id} {step.kind}: {exc}")
                for later in steps[n + 1 :]:
                    later.download.cancel()
                return
            part = self._parse(items, ref, sensor.variable, f"{step.what} (pages 0–{last})")
            self._queue(part, (f"sensor:{sensor.id}", step.cursor))

    def _count(self, requests: int) -> None:
        with self._lock:
            self._report.requests += requests

    def _counted(self, pages: Iterator[tuple[int, Page]]) -> Iterator[tuple[int, Page]]:
        for item in pages:
            self._count(1)
            yield item

    def _parse(self, items: list[Any], ref: SensorRef, name: str, source: str) -> Readings:
        """The readings of a whole list (all its pages at once, so an autumn-overlap hour
        listed twice is told apart even when a page boundary separates its two occurrences;
        ``line`` is the item's position in the list). Refused values are reported."""
        values = parse_values(items, ref, name, source=source)
        ok, refused = split_refused(values.readings, source)
        self._report.nulls += values.nulls
        self._report.rejected += values.rejections + refused
        return ok

    # -- writing -------------------------------------------------------------------------------
    def _queue(self, readings: Readings, state: tuple[str, str]) -> None:
        self._report.readings += len(readings)
        if len(readings):
            self._pending.parts.append(readings)
        self._pending.states.append(state)
        self._pending.n += len(readings)
        if self._pending.n >= FLUSH_READINGS:
            self._flush(wait=False)

    def _flush(self, *, wait: bool) -> None:
        pending, self._pending = self._pending, _Pending()
        if pending.states:
            job = _WriteWithCursors(self.service, pending)
            self._in_flight.append((self.service.store.submit(job), pending))
        while self._in_flight and (wait or len(self._in_flight) > 1):
            future, _done = self._in_flight.pop(0)
            self._report.stored += future.result()


class _WriteWithCursors:
    """Writer job: store readings and move the cursors they complete, in one transaction."""

    def __init__(self, service: IngestService, pending: _Pending) -> None:
        self.service = service
        self.pending = pending

    def __call__(self, tx: Tx) -> int:
        stored = 0
        if self.pending.n:
            readings = _first_of_each(Readings.concat(self.pending.parts))
            stored = BulkWrite(self.service, readings, SOURCE)(tx)
        for key, value in self.pending.states:
            set_state(tx, JOB, key, value)
        return stored


def _first_of_each(r: Readings) -> Readings:
    """Readings without repeats of a (sensor, variable, time): the archive and ``getData``
    overlap by design, and a batch without repeats takes the writer's fast path."""
    key = ((r.sensor << 8) | r.variable) << 34 | r.time
    _unique, first = np.unique(key, return_index=True)
    if len(first) == len(r):
        return r
    return r.take(np.sort(first))


# -- sites and the index -----------------------------------------------------------------------
def ensure_station(tx: Tx, station: Station) -> int:
    """The site of a GIOŚ station, created with its device when new; returns the site id."""
    row = tx.one(
        "SELECT id FROM sites WHERE source = ? AND external_id = ?", (SOURCE, str(station.id))
    )
    if row is not None:
        site_id = int(row[0])
    else:
        fields: dict[str, Any] = {
            "name": f"GIOŚ: {station.name}",
            "latitude": station.latitude,
            "longitude": station.longitude,
            "street": station.street,
            "city": station.city,
            "source": SOURCE,
            "external_id": str(station.id),
            "actor": "gios",
        }
        try:
            site_id = insert_site(tx, slug=f"gios-{station.id}", **fields).id
        except RegistryError:  # the slug is taken by another site
            site_id = insert_site(tx, slug=f"gios-{station.id}-{station.code.lower()}", **fields).id
    uid = station_device(station.id)
    if tx.one("SELECT 1 FROM devices WHERE uid = ?", (uid,)) is None:
        tx.insert_id(
            "INSERT INTO devices (uid, kind, status, site_id, name)"
            " VALUES (?, 'import', 'active', ?, ?) RETURNING id",
            (uid, site_id, f"GIOŚ station {station.code}"),
        )
    return site_id


_INDEX_UPSERT = """
INSERT INTO gios_index (site_id, time, calculated_at, value, category, critical,
                        pm10, pm2_5, no2, o3, so2, fetched_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (site_id, time) DO UPDATE SET
  calculated_at = excluded.calculated_at, value = excluded.value, category = excluded.category,
  critical = excluded.critical, pm10 = excluded.pm10, pm2_5 = excluded.pm2_5,
  no2 = excluded.no2, o3 = excluded.o3, so2 = excluded.so2, fetched_at = excluded.fetched_at
"""
_INDEX_POLLUTANTS = ("pm10", "pm2_5", "no2", "o3", "so2")


def store_index(tx: Tx, index: GiosIndex, now: float) -> int:
    """Store GIOŚ's index of a station's hour (the latest answer for an hour wins); 1 if stored."""
    row = tx.one(
        "SELECT id FROM sites WHERE source = ? AND external_id = ?", (SOURCE, str(index.station_id))
    )
    if row is None or index.source_time is None:
        return 0
    levels = [index.pollutants.get(p, (None, None, None))[0] for p in _INDEX_POLLUTANTS]
    tx.execute(
        _INDEX_UPSERT,
        (
            int(row[0]),
            index.source_time,
            index.calculated_at,
            index.value,
            index.category,
            index.critical,
            *levels,
            int(now),
        ),
    )
    return 1


@dataclass(frozen=True, slots=True)
class IndexComparison:
    """GIOŚ's index of an hour and ours from the same stored hourly values."""

    site: str
    time: int
    gios: int | None
    gios_category: str | None
    ours: int | None
    #: The hourly means ours used [µg/m³].
    inputs: dict[str, float]

    @property
    def ours_category(self) -> str | None:
        return None if self.ours is None else GIOS_CATEGORIES[self.ours]

    @property
    def agrees(self) -> bool:
        return self.gios == self.ours


def _hour_means(tx: Tx, site_id: int, hour: int) -> dict[str, float]:
    ids = {variable(p).id: p for p in _INDEX_POLLUTANTS}
    rows = tx.query(
        "SELECT h.variable_id, sum(h.total), sum(h.n) FROM hourly h"
        " JOIN sensors s ON s.id = h.sensor_id JOIN devices d ON d.id = s.device_id"
        f" WHERE d.site_id = ? AND h.hour = ? AND h.variable_id IN ({','.join('?' * len(ids))})"
        " GROUP BY h.variable_id",
        (site_id, hour, *ids),
    )
    return {ids[int(v)]: float(total) / int(n) for v, total, n in rows if n}


def compare_index(
    store: Store, *, site: str | None = None, limit: int = 24, version: str = "GIOS_A"
) -> list[IndexComparison]:
    """The newest ``limit`` stored GIOŚ index rows (of one site slug, or all GIOŚ sites), each
    with our index (``calc.gios``, ``version``) from the site's stored hourly means of the same
    hour."""

    def run(tx: Tx) -> list[IndexComparison]:
        where, args = ("WHERE s.slug = ?", [site]) if site else ("", [])
        rows = tx.query(
            "SELECT g.site_id, s.slug, g.time, g.value, g.category FROM gios_index g"
            f" JOIN sites s ON s.id = g.site_id {where} ORDER BY g.time DESC, s.slug LIMIT ?",
            [*args, limit],
        )
        out = []
        for site_id, slug, t, value, category in rows:
            hour = int(t) - int(t) % 3600
            means = _hour_means(tx, int(site_id), hour)
            ours = float(gios_index(**means, version=version)) if means else math.nan
            out.append(
                IndexComparison(
                    str(slug),
                    int(t),
                    None if value is None else int(value),
                    None if category is None else str(category),
                    None if math.isnan(ours) else int(ours),
                    means,
                )
            )
        return out

    return store.read(run)

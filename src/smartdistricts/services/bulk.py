"""Bulk import of archive files: parse, flag, store, aggregate, and report what was not taken.

``import_files`` walks files and folders (``.csv`` and ``.csv.gz``; Sensor.Community archive and
Madavi per-node files, told apart by their header), parses them on the calling thread while the
writer stores the previous batch, and returns an :class:`ImportSummary`: rows read, readings
imported, duplicates (already stored: re-importing is harmless) and every rejected line or value
with its file, line number and reason. A bad line never stops an import.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from smartdistricts.calc.quality import StuckState, range_flags, stuck_flags
from smartdistricts.ingest.madavi import is_madavi, read_madavi_csv
from smartdistricts.ingest.records import Readings, Rejection, split_refused
from smartdistricts.ingest.sensor_community_archive import ParsedFile, read_archive_csv
from smartdistricts.ingest.tabular import open_bytes
from smartdistricts.nomenclature import Flag
from smartdistricts.services.flagging import (
    PM_IDS,
    RH_ID,
    device_humidity,
    pair_humidity,
    reflag_humidity,
)
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.rollup import hour_ranges, queue_days, recompute_hourly
from smartdistricts.services.sensors import estimate_interval
from smartdistricts.store.base import Tx
from smartdistricts.store.sources import source_id

__all__ = ["BulkWrite", "ImportSummary", "import_files", "iter_files"]

BATCH_READINGS = 200_000

_LATEST = """
INSERT INTO latest (sensor_id, variable_id, time, value, flags, run_start, run_count)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (sensor_id, variable_id) DO UPDATE SET
  time = excluded.time, value = excluded.value, flags = excluded.flags,
  run_start = excluded.run_start, run_count = excluded.run_count
WHERE excluded.time > latest.time
"""


@dataclass(slots=True)
class ImportSummary:
    files: int = 0
    rows_read: int = 0
    readings: int = 0
    imported: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    failed_files: list[tuple[str, str]] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.readings - self.imported


@dataclass(slots=True)
class _Columns:
    sensor_id: NDArray[np.int64]
    variable_id: NDArray[np.int64]
    time: NDArray[np.int64]
    value: NDArray[np.float64]
    flags: NDArray[np.int64]
    source_id: int


class BulkWrite:
    """Writer job storing one batch of parsed readings; returns how many were new."""

    def __init__(self, service: IngestService, readings: Readings, source: str) -> None:
        self.service = service
        self.readings = readings
        self.source = source

    def __call__(self, tx: Tx) -> int:
        r = self.readings
        if not len(r):
            return 0
        service, settings = self.service, self.service.settings
        intervals = [estimate_interval(r.time[r.sensor == k]) for k in range(len(r.sensors))]
        ids = service.sensors.resolve(tx, r.sensors, intervals, source=self.source)
        sensor = ids[r.sensor]
        order = np.lexsort((r.time, r.variable, sensor))
        sensor, variable, times, values = (
            sensor[order],
            r.variable[order],
            r.time[order],
            r.value[order],
        )
        key = (sensor << 8) | variable
        flags = range_flags(variable, values)
        stuck, state = stuck_flags(
            key,
            times,
            values,
            min_count=settings.stuck_min_count,
            min_duration=settings.stuck_min_duration_s,
            prior=_prior_runs(tx, key, sensor, variable, times),
        )
        flags |= stuck
        device_of = _devices_of(tx, np.unique(sensor))
        device = device_of[np.searchsorted(device_of[:, 0], sensor), 1]
        window = settings.humidity_pairing_s
        is_pm = np.isin(variable, PM_IDS)
        # Humidity that may pair: the same rule as device_humidity() for stored readings, so
        # that flags do not depend on which file was imported first or in which batch.
        is_rh = (variable == RH_ID) & ((flags & int(Flag.OUT_OF_RANGE)) == 0)
        for dev in np.unique(device[is_pm]).tolist():
            pm = is_pm & (device == dev)
            mine_rh = is_rh & (device == dev)
            stored_t, stored_v = device_humidity(
                tx, dev, int(times[pm].min()) - window, int(times[pm].max()) + window
            )
            rh_t = np.concatenate([stored_t, times[mine_rh]])
            rh_v = np.concatenate([stored_v, values[mine_rh]])
            flags[pm] |= pair_humidity(times[pm], rh_t, rh_v, settings)
        inserted = tx.insert_measurements(
            _Columns(sensor, variable, times, values, flags, source_id(self.source))
        )
        # Humidity that arrives after PM readings of the same node re-flags those.
        changed: list[tuple[int, int, int]] = []
        for dev in np.unique(device[is_rh]).tolist():
            mine = is_rh & (device == dev)
            changed += reflag_humidity(
                tx, dev, int(times[mine].min()) - window, int(times[mine].max()) + window, settings
            )
        last = np.flatnonzero(np.append(key[1:] != key[:-1], True))
        tx.executemany(
            _LATEST,
            zip(
                sensor[last].tolist(),
                variable[last].tolist(),
                times[last].tolist(),
                values[last].tolist(),
                flags[last].tolist(),
                state.start[last].tolist(),
                state.count[last].tolist(),
                strict=True,
            ),
        )
        if changed:
            extra = np.asarray(changed, dtype=np.int64)
            sensor_all = np.concatenate([sensor, extra[:, 0]])
            variable_all = np.concatenate([variable, extra[:, 1]])
            times_all = np.concatenate([times, extra[:, 2]])
        else:
            sensor_all, variable_all, times_all = sensor, variable, times
        recompute_hourly(tx, hour_ranges(sensor_all, variable_all, times_all))
        queue_days(tx, sensor_all, variable_all, times_all, service.tz)
        return inserted


def _prior_runs(
    tx: Tx,
    key: NDArray[np.int64],
    sensor: NDArray[np.int64],
    variable: NDArray[np.int64],
    times: NDArray[np.int64],
) -> StuckState:
    """The stored run of unchanged values each series was in, for series this batch continues.

    Read from ``latest`` at each series' first reading (readings sorted by key, then time), so
    that a sensor stuck across two daily files imported in order is flagged as in one file.
    """
    n = len(times)
    prior = StuckState(np.full(n, np.nan), np.zeros(n, np.int64), np.zeros(n, np.int64))
    ids = np.unique(sensor).tolist()
    marks = ",".join("?" * len(ids))
    known = {
        (int(s), int(v)): (int(t), float(x), int(start), int(count))
        for s, v, t, x, start, count in tx.query(
            "SELECT sensor_id, variable_id, time, value, run_start, run_count FROM latest"
            f" WHERE sensor_id IN ({marks})",
            ids,
        )
    }
    for i in np.flatnonzero(np.append(True, key[1:] != key[:-1])).tolist():
        run = known.get((int(sensor[i]), int(variable[i])))
        if run is not None and run[0] < times[i]:  # only a continuation, never the past
            prior.value[i], prior.start[i], prior.count[i] = run[1], run[2], run[3]
    return prior


def _devices_of(tx: Tx, sensor_ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """Sorted (sensor id, device id) pairs."""
    marks = ",".join("?" * len(sensor_ids))
    rows = tx.query(
        f"SELECT id, device_id FROM sensors WHERE id IN ({marks}) ORDER BY id",
        sensor_ids.tolist(),
    )
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def iter_files(paths: Iterable[str]) -> Iterator[str]:
    """CSV files (plain or gzipped) named, or found in folders (recursively), sorted."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [
                str(p)
                for p in path.rglob("*")
                if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz"))
            ]
            yield from sorted(found)
        else:
            yield str(path)


def parse_file(path: str) -> tuple[ParsedFile, str]:
    """Parse one file in whichever supported format it is; returns it and its source name."""
    data = open_bytes(path)
    header = data.partition(b"\n")[0].decode("utf-8", "replace").lstrip("\ufeff")
    if header.startswith("sensor_id;"):
        return read_archive_csv(path), "sensor.community-archive"
    if is_madavi(header):
        return read_madavi_csv(path), "madavi"
    raise ValueError(
        f"{path}: unknown format (neither a Sensor.Community archive file nor a Madavi file);"
        f" header {header[:60]!r}"
    )


def import_files(
    service: IngestService,
    paths: Iterable[str],
    *,
    progress: Callable[[int, str], None] | None = None,
    batch_readings: int = BATCH_READINGS,
) -> ImportSummary:
    """Import files and folders; see the module docstring. ``progress(bytes, path)`` per file."""
    summary = ImportSummary()
    pending: dict[str, list[Readings]] = {}
    pending_n: dict[str, int] = {}
    in_flight: list[tuple[Future[int], int]] = []

    def flush(source: str) -> None:
        parts = pending.pop(source, [])
        pending_n.pop(source, None)
        batch = Readings.concat(parts)
        if not len(batch):
            return
        while len(in_flight) >= 2:  # keep the writer busy while parsing ahead
            _collect(in_flight.pop(0), summary)
        in_flight.append((service.store.submit(BulkWrite(service, batch, source)), len(batch)))

    for path in iter_files(paths):
        summary.files += 1
        try:
            parsed, source = parse_file(path)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            summary.failed_files.append((path, str(exc)))
            if progress:
                progress(_size(path), path)
            continue
        ok, refused = split_refused(parsed.readings, path)
        summary.rows_read += parsed.rows_read
        summary.rejected.extend(parsed.rejections)
        summary.rejected.extend(refused)
        summary.readings += len(ok)
        pending.setdefault(source, []).append(ok)
        pending_n[source] = pending_n.get(source, 0) + len(ok)
        if pending_n[source] >= batch_readings:
            flush(source)
        if progress:
            progress(_size(path), path)
    for source in list(pending):
        flush(source)
    while in_flight:
        _collect(in_flight.pop(0), summary)
    return summary


def _collect(item: tuple[Future[int], int], summary: ImportSummary) -> None:
    future, _n = item
    summary.imported += future.result()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0

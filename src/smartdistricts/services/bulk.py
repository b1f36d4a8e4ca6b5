"""Bulk import of archive files: parse, flag, store, aggregate, and report what was not taken.

``import_files`` walks files and folders (``.csv`` and ``.csv.gz``; Sensor.Community archive and
Madavi per-node files, told apart by their header), parses them on the calling thread while the
writer stores the previous batch, and returns an :class:`ImportSummary`: rows read, readings
imported, duplicates (already stored: re-importing is harmless) and every rejected line or value
with its file, line number and reason. A bad line never stops an import.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from smartdistricts.calc.quality import StuckState, range_flags, stuck_flags
from smartdistricts.ingest.madavi import is_madavi, madavi_device, parse_madavi_csv
from smartdistricts.ingest.records import LineMap, Readings, Rejection, split_refused
from smartdistricts.ingest.sensor_community_archive import (
    ParsedFile,
    header_of,
    parse_archive_csv,
    parse_archive_group,
)
from smartdistricts.ingest.tabular import open_bytes
from smartdistricts.nomenclature import Flag
from smartdistricts.services.flagging import (
    PM_IDS,
    RH_ID,
    humidity_in_spans,
    pair_humidity,
    reflag_humidity,
)
from smartdistricts.services.ingest import LATEST_UPSERT, IngestService
from smartdistricts.services.rollup import (
    add_to_hourly,
    hour_ranges,
    hourly_increments,
    queue_days,
    recompute_hourly,
    roll_up_pending,
)
from smartdistricts.services.sensors import estimate_interval
from smartdistricts.store.base import Tx
from smartdistricts.store.sources import source_id
from smartdistricts.store.values import execute_values

__all__ = ["BulkWrite", "ImportSummary", "import_files", "iter_files"]

BATCH_READINGS = 200_000
MAX_IN_FLIGHT = 1


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
        ids = service.sensors.resolve(
            tx, r.sensors, lambda k: estimate_interval(r.time[r.sensor == k]), source=self.source
        )
        sensor = ids[r.sensor]
        order = np.lexsort((r.time, r.variable, sensor))
        b = _Batch(sensor[order], r.variable[order], r.time[order], r.value[order])
        key = (b.sensor << 8) | b.variable
        b.flags = range_flags(b.variable, b.value)
        stuck, state = stuck_flags(
            key,
            b.time,
            b.value,
            min_count=settings.stuck_min_count,
            min_duration=settings.stuck_min_duration_s,
            prior=_prior_runs(tx, key, b.sensor, b.variable, b.time),
        )
        b.flags |= stuck
        device_of = _devices_of(tx, np.unique(b.sensor))
        b.device = device_of[np.searchsorted(device_of[:, 0], b.sensor), 1]
        self._flag_humidity(tx, b)
        inserted = tx.insert_measurements(
            _Columns(b.sensor, b.variable, b.time, b.value, b.flags, source_id(self.source))
        )
        changed = self._reflag_stored(tx, b, all_new=inserted == len(b.time))
        touched = np.unique(b.sensor).tolist()
        tx.on_commit(functools.partial(service.notify_stored, touched, int(b.time.min())))
        last = np.flatnonzero(np.append(key[1:] != key[:-1], True))
        columns = (b.sensor, b.variable, b.time, b.value, b.flags, state.start, state.count)
        execute_values(
            tx, LATEST_UPSERT, list(zip(*(c[last].tolist() for c in columns), strict=True))
        )
        if inserted == len(b.time) and not changed:
            # All new: add to the hourly rows instead of recomputing them from the table.
            add_to_hourly(tx, hourly_increments(b.sensor, b.variable, b.time, b.value, b.flags))
            queue_days(tx, b.sensor, b.variable, b.time, service.tz)
            return inserted
        extra = np.asarray(changed, dtype=np.int64).reshape(-1, 3)
        sensor_all = np.concatenate([b.sensor, extra[:, 0]])
        variable_all = np.concatenate([b.variable, extra[:, 1]])
        times_all = np.concatenate([b.time, extra[:, 2]])
        recompute_hourly(tx, hour_ranges(sensor_all, variable_all, times_all))
        queue_days(tx, sensor_all, variable_all, times_all, service.tz)
        return inserted

    def _flag_humidity(self, tx: Tx, b: _Batch) -> None:
        """Pair the batch's PM readings with the node's humidity: in the batch and stored.

        The same rule as ``flagging.device_humidity`` for stored readings (valid humidity, the
        nearest within the pairing window), so flags do not depend on the order of imports.
        """
        window = self.service.settings.humidity_pairing_s
        b.is_pm = np.isin(b.variable, PM_IDS)
        b.is_rh = (b.variable == RH_ID) & ((b.flags & int(Flag.OUT_OF_RANGE)) == 0)
        b.groups = _groups(b.device)
        elsewhere = _sensors_elsewhere(tx, b.groups, [RH_ID], set(b.sensor[b.is_rh].tolist()))
        spans: list[tuple[int, int, int]] = []
        for dev, idx in b.groups.items():
            pm, rh = idx[b.is_pm[idx]], idx[b.is_rh[idx]]
            if not len(pm):
                continue
            lo, hi = int(b.time[pm].min()) - window, int(b.time[pm].max()) + window
            if len(rh) and dev not in elsewhere:
                # The node's humidity sensors are all in this batch: stored readings of theirs
                # inside the batch's span are these same readings, so only the edges can add.
                first, last = int(b.time[rh].min()), int(b.time[rh].max())
                spans += [(dev, lo, first - 1)] * (lo < first) + [(dev, last + 1, hi)] * (hi > last)
            else:
                spans.append((dev, lo, hi))
        stored = humidity_in_spans(tx, spans)
        none = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64))
        for dev, idx in b.groups.items():
            pm, rh = idx[b.is_pm[idx]], idx[b.is_rh[idx]]
            if not len(pm):
                continue
            stored_t, stored_v = stored.get(dev, none)
            rh_t = np.concatenate([stored_t, b.time[rh]])
            rh_v = np.concatenate([stored_v, b.value[rh]])
            b.flags[pm] |= pair_humidity(b.time[pm], rh_t, rh_v, self.service.settings)

    def _reflag_stored(self, tx: Tx, b: _Batch, *, all_new: bool) -> list[tuple[int, int, int]]:
        """Humidity arriving after a node's PM readings re-flags the stored ones it pairs with.

        Returns the (sensor, variable, time) of readings whose flags changed.
        """
        window = self.service.settings.humidity_pairing_s
        elsewhere = _sensors_elsewhere(
            tx, b.groups, PM_IDS.tolist(), set(b.sensor[b.is_pm].tolist())
        )
        changed: list[tuple[int, int, int]] = []
        for dev, idx in b.groups.items():
            pm, rh = idx[b.is_pm[idx]], idx[b.is_rh[idx]]
            if not len(rh):
                continue
            lo, hi = int(b.time[rh].min()) - window, int(b.time[rh].max()) + window
            spans = [(lo, hi)]
            if all_new and len(pm) and dev not in elsewhere:
                # Stored PM readings inside this batch's PM span are this batch's own, flagged
                # already with all the humidity there is: only the edges can need re-flagging.
                first, last = int(b.time[pm].min()), int(b.time[pm].max())
                spans = [(lo, first - 1)] * (lo < first) + [(last + 1, hi)] * (hi > last)
            for start, end in spans:
                changed += reflag_humidity(tx, dev, start, end, self.service.settings)
        return changed


@dataclass(slots=True)
class _Batch:
    """One batch's readings, sorted by sensor, variable and time, with their flags."""

    sensor: NDArray[np.int64]
    variable: NDArray[np.int64]
    time: NDArray[np.int64]
    value: NDArray[np.float64]
    flags: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    device: NDArray[np.int64] = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    is_pm: NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, dtype=np.bool_))
    is_rh: NDArray[np.bool_] = field(default_factory=lambda: np.empty(0, dtype=np.bool_))
    groups: dict[int, NDArray[np.int64]] = field(default_factory=dict)


def _groups(keys: NDArray[np.int64]) -> dict[int, NDArray[np.int64]]:
    """Indices of the readings of each key (in one sort, not one scan per key)."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    ends = np.append(starts[1:], len(order))
    return {int(sorted_keys[a]): order[a:e] for a, e in zip(starts, ends, strict=True)}


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


def _sensors_elsewhere(
    tx: Tx, devices: dict[int, NDArray[np.int64]], variables: list[int], batch_sensors: set[int]
) -> set[int]:
    """Devices with a sensor of these variables that has stored readings but is not in the
    batch (a node with two humidity sensors, say)."""
    marks = ",".join("?" * len(devices))
    kinds = ",".join("?" * len(variables))
    rows = tx.query(
        "SELECT s.device_id, s.id FROM latest l JOIN sensors s ON s.id = l.sensor_id"
        f" WHERE l.variable_id IN ({kinds}) AND s.device_id IN ({marks})",
        [*variables, *devices],
    )
    return {int(d) for d, s in rows if int(s) not in batch_sensors}


_PM_LIST = ",".join(str(i) for i in PM_IDS.tolist())


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
    kind = _kind(path, data)
    if kind == "madavi":
        return parse_madavi_csv(data, source=path, device_uid=madavi_device(path)), "madavi"
    return parse_archive_csv(data, source=path), ARCHIVE


ARCHIVE = "sensor.community-archive"
#: Archive files are read this many bytes at a time (per-file overhead dominates small files).
GROUP_BYTES = 8_000_000


def _kind(path: str, data: bytes) -> str:
    header = data.partition(b"\n")[0].decode("utf-8", "replace").lstrip("\ufeff")
    if header.startswith("sensor_id;"):
        return ARCHIVE
    if is_madavi(header):
        return "madavi"
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
    group: list[tuple[str, bytes]] = []

    def flush(source: str) -> None:
        parts = pending.pop(source, [])
        pending_n.pop(source, None)
        batch = Readings.concat(parts)
        if not len(batch):
            return
        in_flight.append((service.store.submit(BulkWrite(service, batch, source)), len(batch)))
        while len(in_flight) > MAX_IN_FLIGHT:
            _collect(in_flight.pop(0), summary)

    def take(parsed: ParsedFile, source: str, lines: LineMap | None, first: str) -> None:
        ok, refused = split_refused(parsed.readings, first)
        summary.rows_read += parsed.rows_read
        summary.rejected.extend(parsed.rejections)
        summary.rejected.extend(lines.relocate(refused) if lines else refused)
        summary.readings += len(ok)
        pending.setdefault(source, []).append(ok)
        pending_n[source] = pending_n.get(source, 0) + len(ok)
        if pending_n[source] >= 4 * batch_readings:
            flush(source)

    def parse_group() -> None:
        if group:
            try:
                parsed, lines = parse_archive_group(group)
            except ValueError:  # a file of the group is unreadable: take them one by one
                for path, data in group:
                    try:
                        take(parse_archive_csv(data, source=path), ARCHIVE, None, path)
                    except ValueError as exc:
                        summary.failed_files.append((path, str(exc)))
            else:
                take(parsed, ARCHIVE, lines, group[0][0])
            if progress:
                for path, data in group:
                    progress(len(data), path)
            group.clear()

    folder = None
    for path in iter_files(paths):
        summary.files += 1
        # A day's folder holds the PM and the humidity files of each node: cutting batches at
        # folder boundaries keeps them together, so humidity pairing needs few stored readings.
        here = os.path.dirname(path)
        if here != folder:
            folder = here
            parse_group()
            for name in [s for s, n in pending_n.items() if n >= batch_readings // 4]:
                flush(name)
        try:
            data = open_bytes(path)
            kind = _kind(path, data)
        except (OSError, ValueError) as exc:
            summary.failed_files.append((path, str(exc)))
            if progress:
                progress(_size(path), path)
            continue
        if kind == ARCHIVE:
            if group and (
                header_of(group[0][1]) != header_of(data)
                or sum(len(d) for _p, d in group) >= GROUP_BYTES
            ):
                parse_group()
            group.append((path, data))
            continue
        try:
            parsed = parse_madavi_csv(data, source=path, device_uid=madavi_device(path))
        except ValueError as exc:
            summary.failed_files.append((path, str(exc)))
        else:
            take(parsed, kind, None, path)
        if progress:
            progress(len(data), path)
    parse_group()
    for source in list(pending):
        flush(source)
    while in_flight:
        _collect(in_flight.pop(0), summary)
    # Daily values of the imported days: computed now rather than left to a running server.
    while service.store.write(lambda tx: roll_up_pending(tx, service.tz, limit=20_000)):
        pass
    return summary


def _collect(item: tuple[Future[int], int], summary: ImportSummary) -> None:
    future, _n = item
    summary.imported += future.result()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0

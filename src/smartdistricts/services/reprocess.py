"""Recompute quality flags and aggregates for a period (``smartdistricts rollup --since``).

Use it after changing a flag setting (humidity thresholds, stuck-sensor rules), after importing
data out of order, or to repair aggregates. Raw values are never changed: only the ``flags``
column, ``hourly`` and ``daily``. Work is done per device and week, each in its own transaction,
so a long recomputation does not hold the writer for long.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from smartdistricts.calc.quality import StuckState, range_flags, stuck_flags
from smartdistricts.services.flagging import HUMIDITY_BITS, PM_IDS, RH_ID, pair_humidity
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.rollup import queue_days, recompute_hourly, roll_up_pending
from smartdistricts.store.base import Tx

__all__ = ["ReprocessSummary", "reprocess"]

CHUNK_S = 7 * 86400
_QUALITY_BITS = 1 | 2 | HUMIDITY_BITS


@dataclass(slots=True)
class ReprocessSummary:
    devices: int = 0
    readings: int = 0
    reflagged: int = 0
    hours: int = 0


_SERIES = "sensor_id = ? AND variable_id = ? AND time < ?"


def _prior_runs(
    tx: Tx, sensor: NDArray[np.int64], variable: NDArray[np.int64], start: int
) -> StuckState:
    """For the first reading of each series, the run of equal values it had before ``start``.

    Computed from the stored values, so a run that began before the period (or the previous
    chunk) is judged by its whole length, exactly as when the readings arrived.
    """
    n = len(sensor)
    value = np.full(n, np.nan)
    run_start = np.zeros(n, dtype=np.int64)
    count = np.zeros(n, dtype=np.int64)
    firsts = np.flatnonzero(
        np.concatenate(([True], (sensor[1:] != sensor[:-1]) | (variable[1:] != variable[:-1])))
    )
    for i in firsts.tolist():
        key = (int(sensor[i]), int(variable[i]), start)
        last = tx.one(
            f"SELECT value FROM measurements WHERE {_SERIES} ORDER BY time DESC LIMIT 1", key
        )
        if last is None:
            continue
        other = tx.one(
            f"SELECT time FROM measurements WHERE {_SERIES} AND value <> ?"
            " ORDER BY time DESC LIMIT 1",
            (*key, last[0]),
        )
        run = tx.one(
            f"SELECT min(time), count(*) FROM measurements WHERE {_SERIES} AND time > ?",
            (*key, -(2**62) if other is None else int(other[0])),
        )
        assert run is not None
        value[i], run_start[i], count[i] = float(last[0]), int(run[0]), int(run[1])
    return StuckState(value, run_start, count)


def _humidity(
    tx: Tx, device_id: int, start: int, end: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The node's plausible humidity readings in [start, end], sorted by time."""
    rows = tx.query(
        "SELECT m.time, m.value FROM measurements m JOIN sensors s ON s.id = m.sensor_id"
        " WHERE s.device_id = ? AND m.variable_id = ? AND m.time >= ? AND m.time <= ?"
        " ORDER BY m.time",
        (device_id, RH_ID, start, end),
    )
    arr = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
    keep = range_flags(np.full(len(arr), RH_ID), arr[:, 1]) == 0
    return arr[keep, 0].astype(np.int64), arr[keep, 1]


def _reprocess_device(
    service: IngestService, tx: Tx, *, device_id: int, start: int, end: int
) -> tuple[int, int, int]:
    """Recompute one device's flags and hourly rows in [start, end); returns counts."""
    settings = service.settings
    rows = tx.query(
        "SELECT m.sensor_id, m.variable_id, m.time, m.value, m.flags FROM measurements m"
        " JOIN sensors s ON s.id = m.sensor_id WHERE s.device_id = ? AND m.time >= ?"
        " AND m.time < ? ORDER BY m.sensor_id, m.variable_id, m.time",
        (device_id, start, end),
    )
    if not rows:
        return 0, 0, 0
    data = np.asarray(rows, dtype=np.float64)
    sensor = data[:, 0].astype(np.int64)
    variable = data[:, 1].astype(np.int64)
    times = data[:, 2].astype(np.int64)
    values = data[:, 3]
    old = data[:, 4].astype(np.int64)
    new = range_flags(variable, values)
    stuck, _state = stuck_flags(
        (sensor << 8) | variable,
        times,
        values,
        min_count=settings.stuck_min_count,
        min_duration=settings.stuck_min_duration_s,
        prior=_prior_runs(tx, sensor, variable, start),
    )
    new |= stuck
    is_pm = np.isin(variable, PM_IDS)
    if is_pm.any():
        # Humidity just outside the period pairs with PM readings at its edges.
        window = settings.humidity_pairing_s
        rh_t, rh_v = _humidity(tx, device_id, start - window, end + window)
        new[is_pm] |= pair_humidity(times[is_pm], rh_t, rh_v, settings)
    new |= old & ~_QUALITY_BITS  # keep any bits this pass does not own
    changed = np.flatnonzero(new != old)
    if len(changed):
        tx.executemany(
            "UPDATE measurements SET flags = ? WHERE sensor_id = ? AND variable_id = ?"
            " AND time = ?",
            [
                (int(new[i]), int(sensor[i]), int(variable[i]), int(times[i]))
                for i in changed.tolist()
            ],
        )
    keys = np.unique(np.stack([sensor, variable], axis=1), axis=0)
    first_hour = start - start % 3600
    last_hour = end + (-end) % 3600
    ranges = [(int(s), int(v), first_hour, last_hour) for s, v in keys.tolist()]
    recompute_hourly(tx, ranges)
    queue_days(tx, sensor, variable, times, service.tz)
    return len(rows), len(changed), len(ranges)


def reprocess(
    service: IngestService,
    since: int,
    until: int,
    *,
    site: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReprocessSummary:
    """Recompute flags, hourly and daily values between ``since`` and ``until`` [Unix s]."""
    if until <= since:
        raise ValueError("--until must be after --since")
    store = service.store
    where, params = ("WHERE st.slug = ?", [site]) if site else ("", [])
    devices = [
        int(r[0])
        for r in store.read(
            lambda tx: tx.query(
                f"SELECT d.id FROM devices d LEFT JOIN sites st ON st.id = d.site_id {where}"
                " ORDER BY d.id",
                params,
            )
        )
    ]
    summary = ReprocessSummary(devices=len(devices))
    # Align chunks to hours so no hour is split between two recomputations.
    start0 = since - since % 3600
    for device_id in devices:
        for start in range(start0, until, CHUNK_S):
            end = min(start + CHUNK_S, until + (-until) % 3600)
            n, flagged, hours = store.write(
                functools.partial(
                    _reprocess_device, service, device_id=device_id, start=start, end=end
                )
            )
            summary.readings += n
            summary.reflagged += flagged
            summary.hours += hours
        if progress:
            progress(1)
    while store.write(lambda tx: roll_up_pending(tx, service.tz, limit=20000)):
        pass
    return summary

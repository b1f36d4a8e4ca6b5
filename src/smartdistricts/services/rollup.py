"""Hourly and daily aggregates, kept current as readings arrive.

* ``hourly`` holds, per sensor, variable and UTC hour, the count, sum, minimum and maximum of the
  readings that count (not ``OUT_OF_RANGE``/``STUCK``), the count of all readings, and the union
  of their flags. New readings *add* to it in the same transaction that stores them; when a write
  may have hit duplicates, the touched hours are recomputed from the raw table instead.
* ``daily`` holds, per local calendar day of the town (default Europe/Warsaw, so days of 23 and 25
  hours exist), the mean of the hourly means whose hour is covered (≥ 75 % of the readings the
  sensor's interval makes expected), and ``valid`` when at least 75 % of the day's hours are
  covered (18 of 24; 18 of 23 and 19 of 25 on the days the clocks change). Days touched by new
  readings are queued in ``rollup_pending`` and recomputed by the writer's idle task
  (:func:`roll_up_pending`, scheduled by the ingest service) between write batches.

Coverage rules: EU practice, 18 of 24 hourly values for a daily value (docs/indices.md).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from smartdistricts.nomenclature import EXCLUDED_FROM_MEANS
from smartdistricts.store.base import Tx
from smartdistricts.store.values import execute_values

__all__ = [
    "DAILY_COVERAGE",
    "HOURLY_COVERAGE",
    "add_to_hourly",
    "day_bounds",
    "hourly_increments",
    "local_days",
    "queue_days",
    "recompute_hourly",
    "roll_up_pending",
]

#: Fraction of expected readings that makes an hourly value valid.
HOURLY_COVERAGE = 0.75
#: Fraction of a day's hours with a valid hourly value that makes the daily mean valid.
DAILY_COVERAGE = 0.75

HOURLY_UPSERT = """
INSERT INTO hourly (sensor_id, variable_id, hour, n, n_all, total, minimum, maximum, flags)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (sensor_id, variable_id, hour) DO UPDATE SET
  n = hourly.n + excluded.n,
  n_all = hourly.n_all + excluded.n_all,
  total = hourly.total + excluded.total,
  minimum = CASE WHEN hourly.minimum IS NULL OR excluded.minimum < hourly.minimum
                 THEN excluded.minimum ELSE hourly.minimum END,
  maximum = CASE WHEN hourly.maximum IS NULL OR excluded.maximum > hourly.maximum
                 THEN excluded.maximum ELSE hourly.maximum END,
  flags = hourly.flags | excluded.flags
"""

_HOURLY_RECOMPUTE = f"""
INSERT INTO hourly (sensor_id, variable_id, hour, n, n_all, total, minimum, maximum, flags)
SELECT m.sensor_id, m.variable_id, m.time - m.time % 3600,
       sum(CASE WHEN m.flags & {EXCLUDED_FROM_MEANS} = 0 THEN 1 ELSE 0 END),
       count(*),
       sum(CASE WHEN m.flags & {EXCLUDED_FROM_MEANS} = 0 THEN m.value ELSE 0 END),
       min(CASE WHEN m.flags & {EXCLUDED_FROM_MEANS} = 0 THEN m.value END),
       max(CASE WHEN m.flags & {EXCLUDED_FROM_MEANS} = 0 THEN m.value END),
       max(m.flags & 1) + max(m.flags & 2) + max(m.flags & 4) + max(m.flags & 8)
FROM measurements m
WHERE m.sensor_id = ? AND m.variable_id = ? AND m.time >= ? AND m.time < ?
GROUP BY m.sensor_id, m.variable_id, m.time - m.time % 3600
ON CONFLICT (sensor_id, variable_id, hour) DO UPDATE SET
  n = excluded.n, n_all = excluded.n_all, total = excluded.total,
  minimum = excluded.minimum, maximum = excluded.maximum, flags = excluded.flags
"""

_DAILY_RECOMPUTE = f"""
INSERT INTO daily (sensor_id, variable_id, day, mean, minimum, maximum, hours, hours_in_day,
                   valid, flags)
SELECT ?, ?, ?,
       avg(CASE WHEN h.n * s.interval_s >= {HOURLY_COVERAGE * 3600} THEN h.total / h.n END),
       min(CASE WHEN h.n * s.interval_s >= {HOURLY_COVERAGE * 3600} THEN h.minimum END),
       max(CASE WHEN h.n * s.interval_s >= {HOURLY_COVERAGE * 3600} THEN h.maximum END),
       coalesce(sum(CASE WHEN h.n * s.interval_s >= {HOURLY_COVERAGE * 3600} THEN 1 ELSE 0 END),
                0),
       ?,
       CASE WHEN sum(CASE WHEN h.n * s.interval_s >= {HOURLY_COVERAGE * 3600} THEN 1 ELSE 0 END)
                 >= ? THEN 1 ELSE 0 END,
       coalesce(max(h.flags & 1) + max(h.flags & 2) + max(h.flags & 4) + max(h.flags & 8), 0)
FROM hourly h JOIN sensors s ON s.id = h.sensor_id
WHERE h.sensor_id = ? AND h.variable_id = ? AND h.hour >= ? AND h.hour < ? AND h.n > 0
ON CONFLICT (sensor_id, variable_id, day) DO UPDATE SET
  mean = excluded.mean, minimum = excluded.minimum, maximum = excluded.maximum,
  hours = excluded.hours, hours_in_day = excluded.hours_in_day, valid = excluded.valid,
  flags = excluded.flags
"""

#: :data:`HOURLY_UPSERT` for many rows in one statement (``store.values.execute_values``).
HOURLY_UPSERT_VALUES = HOURLY_UPSERT.replace(
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", "VALUES {values}"
)


def _group(keys: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Sort order and start index of each run of equal keys."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_keys[1:] != sorted_keys[:-1])))
    return order, starts


def hourly_increments(
    sensor: NDArray[np.int64],
    variable: NDArray[np.int64],
    time: NDArray[np.int64],
    value: NDArray[np.float64],
    flags: NDArray[np.int64],
) -> list[tuple[int, int, int, int, int, float, float | None, float | None, int]]:
    """Per (sensor, variable, hour) sums of new readings, as rows for :func:`add_to_hourly`."""
    if len(time) == 0:
        return []
    hour = time - time % 3600
    key = (sensor << 40) | (variable << 32) | (hour // 3600)
    order, starts = _group(key)
    s, v, h, x, f = sensor[order], variable[order], hour[order], value[order], flags[order]
    counts = (f & EXCLUDED_FROM_MEANS) == 0
    n = np.add.reduceat(counts.astype(np.int64), starts)
    n_all = np.diff(np.append(starts, len(order)))
    total = np.add.reduceat(np.where(counts, x, 0.0), starts)
    lo = np.minimum.reduceat(np.where(counts, x, np.inf), starts)
    hi = np.maximum.reduceat(np.where(counts, x, -np.inf), starts)
    fl = np.bitwise_or.reduceat(f, starts)
    return [
        (si, vi, hi_, ni, na, ti, None if ni == 0 else lo_, None if ni == 0 else hx, fi)
        for si, vi, hi_, ni, na, ti, lo_, hx, fi in zip(
            s[starts].tolist(),
            v[starts].tolist(),
            h[starts].tolist(),
            n.tolist(),
            n_all.tolist(),
            total.tolist(),
            lo.tolist(),
            hi.tolist(),
            fl.tolist(),
            strict=True,
        )
    ]


def add_to_hourly(tx: Tx, rows: Sequence[Sequence[object]]) -> None:
    """Add increments from :func:`hourly_increments` (readings known to be new)."""
    execute_values(tx, HOURLY_UPSERT_VALUES, rows)


def recompute_hourly(tx: Tx, ranges: Iterable[tuple[int, int, int, int]]) -> None:
    """Recompute hourly rows from raw readings for (sensor, variable, start, end) ranges."""
    rows = list(ranges)
    if not rows:
        return
    tx.executemany(
        "DELETE FROM hourly WHERE sensor_id = ? AND variable_id = ? AND hour >= ? AND hour < ?",
        rows,
    )
    tx.executemany(_HOURLY_RECOMPUTE, rows)


def hour_ranges(
    sensor: NDArray[np.int64], variable: NDArray[np.int64], time: NDArray[np.int64]
) -> list[tuple[int, int, int, int]]:
    """Distinct touched hours merged into contiguous (sensor, variable, start, end) ranges."""
    if len(time) == 0:
        return []
    hour_index = time // 3600
    key = (sensor << 40) | (variable << 32) | hour_index
    uniq = np.unique(key)
    s = uniq >> 40
    v = (uniq >> 32) & 0xFF
    h = uniq & 0xFFFFFFFF
    breaks = np.concatenate(([True], (s[1:] != s[:-1]) | (v[1:] != v[:-1]) | (h[1:] != h[:-1] + 1)))
    starts = np.flatnonzero(breaks)
    ends = np.append(starts[1:], len(uniq)) - 1
    return [
        (int(s[a]), int(v[a]), int(h[a]) * 3600, (int(h[b]) + 1) * 3600)
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
    ]


@functools.lru_cache(maxsize=65536)
def local_day(hour: int, tz: ZoneInfo) -> int:
    """The town's calendar day (``YYYYMMDD``) of an hour given as Unix seconds // 3600.

    Every UTC offset the town uses is a whole number of hours, so one answer per hour holds.
    """
    local = datetime.fromtimestamp(hour * 3600, UTC).astimezone(tz)
    return local.year * 10000 + local.month * 100 + local.day


def local_days(time: NDArray[np.int64], tz: ZoneInfo) -> NDArray[np.int64]:
    """The town's calendar day of each time, as ``YYYYMMDD`` integers."""
    if len(time) == 0:
        return np.empty(0, dtype=np.int64)
    hours, inverse = np.unique(time // 3600, return_inverse=True)
    day_of_hour = np.fromiter((local_day(h, tz) for h in hours.tolist()), np.int64, len(hours))
    return day_of_hour[inverse.ravel()]


def day_bounds(day: int, tz: ZoneInfo) -> tuple[int, int]:
    """UTC start and end [s] of a local calendar day ``YYYYMMDD``."""
    d = date(day // 10000, day // 100 % 100, day % 100)
    start = datetime(d.year, d.month, d.day, tzinfo=tz)
    nxt = d + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz)
    return int(start.timestamp()), int(end.timestamp())


def queue_days(
    tx: Tx,
    sensor: NDArray[np.int64],
    variable: NDArray[np.int64],
    time: NDArray[np.int64],
    tz: ZoneInfo,
) -> None:
    """Queue the days these readings touch for the daily rollup."""
    if len(time) == 0:
        return
    days = local_days(time, tz)  # YYYYMMDD < 2**25
    key = np.unique((sensor << 40) | (variable << 32) | days)
    execute_values(
        tx,
        "INSERT INTO rollup_pending (sensor_id, variable_id, day) VALUES {values}"
        " ON CONFLICT DO NOTHING",
        np.stack([key >> 40, (key >> 32) & 0xFF, key & 0xFFFFFFFF], axis=1).tolist(),
    )


def recompute_days(tx: Tx, keys: Iterable[tuple[int, int, int]], tz: ZoneInfo) -> int:
    """Recompute daily rows for (sensor, variable, YYYYMMDD) keys; return how many."""
    rows = []
    for sensor_id, variable_id, day in keys:
        start, end = day_bounds(day, tz)
        hours = (end - start) // 3600
        need = math.ceil(DAILY_COVERAGE * hours)
        rows.append((sensor_id, variable_id, day, hours, need, sensor_id, variable_id, start, end))
    if rows:
        tx.executemany(_DAILY_RECOMPUTE, rows)
    return len(rows)


def roll_up_pending(tx: Tx, tz: ZoneInfo, limit: int = 2000) -> bool:
    """Recompute up to ``limit`` queued days; True if more are waiting."""
    keys = [
        (int(a), int(b), int(c))
        for a, b, c in tx.query(
            "SELECT sensor_id, variable_id, day FROM rollup_pending"
            " ORDER BY sensor_id, variable_id, day LIMIT ?",
            (limit + 1,),
        )
    ]
    more = len(keys) > limit
    keys = keys[:limit]
    if not keys:
        return False
    recompute_days(tx, keys, tz)
    tx.executemany(
        "DELETE FROM rollup_pending WHERE sensor_id = ? AND variable_id = ? AND day = ?", keys
    )
    return more

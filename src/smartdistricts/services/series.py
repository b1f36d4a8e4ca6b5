"""Read-side queries of the native API about readings: hourly and daily series, raw pages.

Built for speed: one SQL query per series request (all requested variables at once), read in
primary-key order so the database sorts nothing; rows are returned as tuples for ``orjson``, no
object per row. Series are per sensor and variable, as stored (a site with two PM sensors has
two PM2.5 series).

Raw readings are read in key order ``(sensor, variable, time)`` — the primary key — one
``(sensor, variable)`` series at a time, so every page is a few index seeks whatever the
filters. A page ends at a key; the next page starts strictly after it (keyset paging), so
paging never repeats or skips a row that existed when paging began, however many readings
arrive meanwhile.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any

from smartdistricts.nomenclature import VARIABLES
from smartdistricts.services.rollup import HOURLY_COVERAGE
from smartdistricts.services.sites_query import PUBLIC_DEVICE
from smartdistricts.store.base import Row, Store, Tx
from smartdistricts.store.dialect import Dialect

__all__ = [
    "HOURLY_COVERAGE",
    "Key",
    "ReadingFilter",
    "Series",
    "SeriesOf",
    "coverage",
    "daily_series",
    "hourly_series",
    "iso_sql",
    "iter_readings",
    "reading_page",
    "series_keys",
]


def iso_sql(column: str, dialect: Dialect) -> str:
    """SQL turning Unix seconds in ``column`` into ``2026-11-28T13:00:00Z`` text."""
    if dialect.name == "postgresql":
        return (
            f"to_char(to_timestamp({column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        )
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {column}, 'unixepoch')"


def _in(column: str, values: Sequence[int]) -> str:
    return f"{column} IN ({','.join('?' * len(values))})"


def _variables(variable_ids: Sequence[int]) -> Sequence[int]:
    """The variables asked for, or all: an ``IN`` list lets the primary key seek per variable."""
    return variable_ids or [v.id for v in VARIABLES]


#: One series: sensor id, variable id, its rows (which start with the sensor and variable id).
Series = tuple[int, int, list[Row]]


def hourly_series(
    tx: Tx, sensor_ids: Sequence[int], variable_ids: Sequence[int], since: int, until: int
) -> list[Series]:
    """Hourly series of the given sensors, in key order (sensor, variable, hour).

    Rows are ``(sensor, variable, hour, mean, min, max, n, flags)`` with ``hour`` in Unix
    seconds, for hours in ``[since, until)``; ``mean`` is null for an hour whose readings were
    all left out of means (flags). See :func:`coverage` for the hours' coverage. One query,
    read in primary-key order (no sort); no variables means all.
    """
    if not sensor_ids:
        return []
    vids = _variables(variable_ids)
    sql = (
        "SELECT sensor_id, variable_id, hour, CASE WHEN n > 0 THEN total / n END, minimum,"
        " maximum, n, flags FROM hourly"
        f" WHERE {_in('sensor_id', sensor_ids)} AND {_in('variable_id', vids)}"
        " AND hour >= ? AND hour < ? ORDER BY sensor_id, variable_id, hour"
    )
    return _split(tx.query(sql, [*sensor_ids, *vids, since, until]))


def coverage(counts: Sequence[int], interval_s: float) -> list[float]:
    """Coverage of hours with ``counts`` readings of a sensor sending every ``interval_s``
    seconds: counts × interval / 3600, at most 1 (an hour is covered from
    :data:`HOURLY_COVERAGE`).

    >>> [round(c, 3) for c in coverage([25, 18, 0], 145.0)]
    [1.0, 0.725, 0.0]
    """
    k = interval_s / 3600.0
    return [c if c < 1.0 else 1.0 for c in (n * k for n in counts)]


def daily_series(
    tx: Tx, sensor_ids: Sequence[int], variable_ids: Sequence[int], first_day: int, end_day: int
) -> list[Series]:
    """Daily series of the given sensors for local days ``YYYYMMDD`` in ``[first_day,
    end_day)``, in key order.

    Rows are ``(sensor, variable, day, mean, min, max, hours, hours_in_day, valid, flags)``
    with ``day`` the integer ``YYYYMMDD`` and ``valid`` 0 or 1.
    """
    if not sensor_ids:
        return []
    vids = _variables(variable_ids)
    sql = (
        "SELECT sensor_id, variable_id, day, mean, minimum, maximum, hours, hours_in_day,"
        " valid, flags FROM daily"
        f" WHERE {_in('sensor_id', sensor_ids)} AND {_in('variable_id', vids)}"
        " AND day >= ? AND day < ? ORDER BY sensor_id, variable_id, day"
    )
    return _split(tx.query(sql, [*sensor_ids, *vids, first_day, end_day]))


def _split(rows: list[Row]) -> list[Series]:
    """Rows ``(sensor, variable, …)`` in key order → one series per (sensor, variable); the
    rows keep their leading sensor and variable (no copy per row)."""
    return [(int(k[0]), int(k[1]), list(g)) for k, g in groupby(rows, key=itemgetter(0, 1))]


# -- raw readings -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReadingFilter:
    """Which raw readings: all optional, combined with AND; times are Unix seconds."""

    site_id: int | None = None
    sensor_id: int | None = None
    variable_ids: tuple[int, ...] = ()
    since: int | None = None
    until: int | None = None


@dataclass(frozen=True, slots=True)
class SeriesOf:
    """One ``(sensor, variable)`` series and where it is."""

    sensor_id: int
    variable_id: int
    site_id: int | None
    site: str | None
    #: ``<device uid>/<sensor type>``, as ``smartdistricts export`` names sensors.
    sensor: str
    latitude: float | None
    longitude: float | None


#: A position in key order: (sensor id, variable id, time).
Key = tuple[int, int, int]


def series_keys(tx: Tx, filters: ReadingFilter) -> list[SeriesOf]:
    """The public ``(sensor, variable)`` series that have readings, in key order."""
    where = [PUBLIC_DEVICE]
    params: list[Any] = []
    if filters.site_id is not None:
        where.append("d.site_id = ?")
        params.append(filters.site_id)
    if filters.sensor_id is not None:
        where.append("l.sensor_id = ?")
        params.append(filters.sensor_id)
    if filters.variable_ids:
        where.append(_in("l.variable_id", filters.variable_ids))
        params.extend(filters.variable_ids)
    rows = tx.query(
        "SELECT l.sensor_id, l.variable_id, d.site_id, st.slug, d.uid || '/' || s.type,"
        " st.latitude, st.longitude FROM latest l JOIN sensors s ON s.id = l.sensor_id"
        " JOIN devices d ON d.id = s.device_id LEFT JOIN sites st ON st.id = d.site_id"
        f" WHERE {' AND '.join(where)} ORDER BY l.sensor_id, l.variable_id",
        params,
    )
    return [
        SeriesOf(
            int(sid),
            int(vid),
            None if site is None else int(site),
            slug,
            label,
            None if lat is None else float(lat),
            None if lon is None else float(lon),
        )
        for sid, vid, site, slug, label, lat, lon in rows
    ]


def reading_page(
    tx: Tx,
    filters: ReadingFilter,
    limit: int,
    after: Key | None = None,
    *,
    iso: bool = True,
) -> tuple[list[tuple[SeriesOf, list[Row]]], Key | None]:
    """Up to ``limit`` readings after ``after`` in key order, and the key to continue after.

    Returns ``[(series, rows), …]`` with rows ``(time, value, flags)`` — ``time`` as ISO 8601
    text (``iso``) or Unix seconds — and the key of the last row returned when more readings
    follow (None at the end). One query per series touched.
    """
    lower = -(2**62) if filters.since is None else filters.since
    upper = 2**62 if filters.until is None else filters.until
    time_sql = iso_sql("time", tx.dialect) if iso else "time"
    sql = (
        f"SELECT time, value, flags, {time_sql} FROM measurements"
        " WHERE sensor_id = ? AND variable_id = ? AND time >= ? AND time < ?"
        " ORDER BY time LIMIT ?"
    )
    out: list[tuple[SeriesOf, list[Row]]] = []
    wanted = limit + 1  # one more than asked: tells whether another page follows
    last: Key | None = None
    for series in series_keys(tx, filters):
        pair = (series.sensor_id, series.variable_id)
        start = lower
        if after is not None:
            if pair < after[:2]:
                continue
            if pair == after[:2]:
                start = max(lower, after[2] + 1)
        rows = tx.query(sql, (*pair, start, upper, wanted))
        if not rows:
            continue
        wanted -= len(rows)
        if wanted <= 0:  # the extra row only proves there is more; drop it
            rows = rows[:-1]
            if rows:
                out.append((series, [(r[3], r[1], r[2]) for r in rows]))
                last = (*pair, int(rows[-1][0]))
            return out, last
        out.append((series, [(r[3], r[1], r[2]) for r in rows]))
        last = (*pair, int(rows[-1][0]))
    return out, None


def iter_readings(
    store: Store, filters: ReadingFilter, chunk: int = 50_000, *, iso: bool = True
) -> Iterator[list[tuple[SeriesOf, list[Row]]]]:
    """Every reading of ``filters`` in chunks, each chunk read in its own short transaction.

    No read transaction stays open while a slow client downloads, and each chunk may run on
    another thread (as streaming responses do).
    """
    after: Key | None = None
    while True:
        page, after = store.read(
            functools.partial(reading_page, filters=filters, limit=chunk, after=after, iso=iso)
        )
        if page:
            yield page
        if after is None:
            return

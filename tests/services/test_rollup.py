"""Hourly and daily aggregates: incremental upkeep, coverage, validity, local days.

Expected values are computed here in plain Python from the raw table (or from the readings the
test made), never with the module under test. Day boundaries of Europe/Warsaw are written out as
UTC instants: 2026-03-29 (summer time starts, 23 hours) and 2026-10-25 (it ends, 25 hours).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from smartdistricts.nomenclature import EXCLUDED_FROM_MEANS, Flag, variable
from smartdistricts.services.ingest import IngestService, StreamBatch, StreamResult, StreamWrite
from smartdistricts.services.registry import add_device
from smartdistricts.services.rollup import (
    day_bounds,
    hour_ranges,
    hourly_increments,
    local_days,
    queue_days,
    recompute_hourly,
    roll_up_pending,
)
from smartdistricts.store.base import Store, Tx

WARSAW = ZoneInfo("Europe/Warsaw")
PM25, PM10, TEMP = variable("pm2_5").id, variable("pm10").id, variable("temp_air").id
H = 3600
#: (YYYYMMDD, UTC start, UTC end) of local days in Europe/Warsaw.
DAYS = {
    "short": (20260329, 1774738800, 1774738800 + 23 * H),  # 2026-03-28T23:00Z … 03-29T22:00Z
    "long": (20261025, 1792879200, 1792879200 + 25 * H),  # 2026-10-24T22:00Z … 10-25T23:00Z
    "winter": (20260115, 1768431600, 1768431600 + 24 * H),  # 2026-01-14T23:00Z … 01-15T23:00Z
    "summer": (20260610, 1781042400, 1781042400 + 24 * H),  # 2026-06-09T22:00Z … 06-10T22:00Z
}
T0 = 1_781_042_400  # 2026-06-09T22:00:00Z, a local midnight
HOURLY_COLS = "sensor_id, variable_id, hour, n, n_all, total, minimum, maximum, flags"


def push(
    service: IngestService,
    uid: str,
    readings: list[tuple[str, int, int, float]],
    *,
    interval_s: float | None = None,
) -> StreamResult:
    received = max(t for _, _, t, _ in readings)
    return service.write(StreamBatch(uid, readings, "push", received, interval_s=interval_s))


def roll_up(store: Store, tz: ZoneInfo = WARSAW) -> None:
    while store.write(lambda tx: roll_up_pending(tx, tz, limit=50)):
        pass


def hourly(store: Store) -> dict[tuple[int, int, int], tuple[Any, ...]]:
    rows = store.read(lambda tx: tx.query(f"SELECT {HOURLY_COLS} FROM hourly"))
    return {(int(r[0]), int(r[1]), int(r[2])): tuple(r[3:]) for r in rows}


def daily(store: Store) -> dict[tuple[int, int], tuple[Any, ...]]:
    rows = store.read(
        lambda tx: tx.query(
            "SELECT sensor_id, variable_id, day, mean, minimum, maximum, hours, hours_in_day,"
            " valid, flags FROM daily"
        )
    )
    return {(int(r[1]), int(r[2])): tuple(r[3:]) for r in rows}


def hourly_from_raw(store: Store) -> dict[tuple[int, int, int], tuple[Any, ...]]:
    """The hourly table as the module docstring defines it, computed in Python."""
    groups: dict[tuple[int, int, int], list[tuple[float, int]]] = {}
    for s, v, t, x, f in store.read(
        lambda tx: tx.query("SELECT sensor_id, variable_id, time, value, flags FROM measurements")
    ):
        groups.setdefault((int(s), int(v), int(t) - int(t) % H), []).append((float(x), int(f)))
    out = {}
    for key, readings in groups.items():
        good = [x for x, f in readings if not f & EXCLUDED_FROM_MEANS]
        union = 0
        for _, f in readings:
            union |= f
        out[key] = (
            len(good),
            len(readings),
            sum(good),
            min(good) if good else None,
            max(good) if good else None,
            union,
        )
    return out


def assert_hourly_equal(
    got: dict[tuple[int, int, int], tuple[Any, ...]],
    want: dict[tuple[int, int, int], tuple[Any, ...]],
) -> None:
    assert got.keys() == want.keys()
    for key, (n, n_all, total, lo, hi, flags) in want.items():
        g = got[key]
        assert (int(g[0]), int(g[1]), g[3], g[4], int(g[5])) == (n, n_all, lo, hi, flags), key
        assert g[2] == pytest.approx(total, rel=1e-12, abs=1e-9), key


@pytest.fixture
def node(store: Store) -> str:
    add_device(store, "node-1")
    return "node-1"


# -- hourly ---------------------------------------------------------------------------------------
def messy_pushes(rng: np.random.Generator) -> Iterator[list[tuple[str, int, int, float]]]:
    """Pushes over six hours: PM with outliers, a stuck temperature, re-sends, late data."""
    times = T0 + np.arange(0, 6 * H, 145) + rng.integers(-3, 4, len(range(0, 6 * H, 145)))
    pm = np.round(rng.gamma(2.0, 8.0, len(times)), 1)
    pm[rng.choice(len(times), 8, replace=False)] = 1500.0  # above the soft limit: OUT_OF_RANGE
    temp = np.where(np.arange(len(times)) < 100, 4.5, np.round(rng.normal(5, 1, len(times)), 2))
    readings = [
        r
        for t, p, c in zip(times.tolist(), pm.tolist(), temp.tolist(), strict=True)
        for r in (("SDS011", PM25, t, p), ("SDS011", PM10, t, p * 1.4), ("BME280", TEMP, t, c))
    ]
    order = list(range(0, len(readings), 6))
    rng.shuffle(order[len(order) // 2 :])  # the second half arrives out of order
    for start in order:
        yield readings[start : start + 6]
        if rng.random() < 0.15:  # a re-send overlapping what is stored
            yield readings[max(0, start - 3) : start + 2]


def test_incremental_hourly_equals_recomputation_from_raw(
    service: IngestService, store: Store, node: str
) -> None:
    rng = np.random.default_rng(7)
    pending: list[Future[StreamResult]] = []
    for i, readings in enumerate(messy_pushes(rng)):
        batch = StreamBatch(node, readings, "push", max(t for _, _, t, _ in readings))
        if i % 3:  # some pushes queue up and are written together (StreamWrite.run_batch)
            pending.append(store.submit(StreamWrite(service, batch)))
        else:
            assert service.write(batch).outcome == "stored"
    assert all(f.result(10).outcome == "stored" for f in pending)

    incremental = hourly(store)
    want = hourly_from_raw(store)
    assert_hourly_equal(incremental, want)
    flags = {int(g[5]) for g in incremental.values()}
    assert int(Flag.OUT_OF_RANGE) in flags  # the example really has excluded readings
    assert any(int(g[5]) & int(Flag.STUCK) for g in incremental.values())

    def recompute_everything(tx: Tx) -> None:
        rows = tx.query("SELECT sensor_id, variable_id, time FROM measurements")
        arr = np.asarray(rows, dtype=np.int64)
        recompute_hourly(tx, hour_ranges(arr[:, 0], arr[:, 1], arr[:, 2]))

    store.write(recompute_everything)
    assert_hourly_equal(hourly(store), want)


def test_flagged_readings_count_but_stay_out_of_means(
    service: IngestService, store: Store, node: str
) -> None:
    push(service, node, [("SDS011", PM25, T0 + 10, 10.0), ("SDS011", PM25, T0 + 20, 1200.0)])
    push(service, node, [("SDS011", PM25, T0 + 30, 20.0), ("SDS011", PM25, T0 + 40, -1.0)])
    [(n, n_all, total, lo, hi, flags)] = hourly(store).values()
    assert (n, n_all, total, lo, hi, flags) == (2, 4, 30.0, 10.0, 20.0, int(Flag.OUT_OF_RANGE))


def test_an_hour_of_only_flagged_readings_has_no_mean(
    service: IngestService, store: Store, node: str
) -> None:
    push(service, node, [("SDS011", PM25, T0 + 10, 1200.0)])
    [(n, n_all, total, lo, hi, _)] = hourly(store).values()
    assert (n, n_all, total, lo, hi) == (0, 1, 0.0, None, None)
    roll_up(store)
    [(mean, lo, hi, hours, hours_in_day, valid, _)] = daily(store).values()
    assert (mean, lo, hi, hours, hours_in_day, valid) == (None, None, None, 0, 24, 0)


def test_min_and_max_survive_out_of_order_increments(
    service: IngestService, store: Store, node: str
) -> None:
    for t, x in [(T0 + 100, 5.0), (T0 + 50, 2.0), (T0 + 3000, 9.5), (T0 + 10, 7.0)]:
        push(service, node, [("SDS011", PM25, t, x)])
    [(n, n_all, total, lo, hi, _)] = hourly(store).values()
    assert (n, n_all, total, lo, hi) == (4, 4, 23.5, 2.0, 9.5)


def test_hourly_increments_of_an_empty_batch() -> None:
    empty = np.empty(0, dtype=np.int64)
    assert hourly_increments(empty, empty, empty, np.empty(0), empty) == []
    assert hour_ranges(empty, empty, empty) == []


def test_hour_ranges_merge_consecutive_hours_per_series() -> None:
    s = np.array([1, 1, 1, 1, 2], dtype=np.int64)
    v = np.array([2, 2, 2, 3, 2], dtype=np.int64)
    t = np.array([T0 + 5, T0 + H + 5, T0 + 3 * H, T0, T0], dtype=np.int64)
    assert hour_ranges(s, v, t) == [
        (1, 2, T0, T0 + 2 * H),
        (1, 2, T0 + 3 * H, T0 + 4 * H),
        (1, 3, T0, T0 + H),
        (2, 2, T0, T0 + H),
    ]


# -- local days -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(DAYS))
def test_day_bounds_follow_the_town_clock(name: str) -> None:
    day, start, end = DAYS[name]
    assert day_bounds(day, WARSAW) == (start, end)
    times = np.array([start - 1, start, end - 1, end], dtype=np.int64)
    got = local_days(times, WARSAW).tolist()
    assert got[1:3] == [day, day]
    assert got[0] < day < got[3]


def test_local_days_of_no_times() -> None:
    assert local_days(np.empty(0, dtype=np.int64), WARSAW).tolist() == []


# -- daily ----------------------------------------------------------------------------------------
def day_readings(
    start: int, end: int, covered: int, *, hour_value: float = 10.0
) -> list[tuple[str, int, int, float]]:
    """Two readings (covered at a 1800-s interval) in the first ``covered`` hours of the day,
    one (not covered) in the others; hour k's readings are ``hour_value + k`` ± 1."""
    out = []
    for k, hour in enumerate(range(start, end, H)):
        if k < covered:
            out += [
                ("SDS011", PM25, hour + 60, hour_value + k - 1),
                ("SDS011", PM25, hour + 1860, hour_value + k + 1),
            ]
        else:
            out.append(("SDS011", PM25, hour + 60, 1000.0 - k))  # uncovered: not in the mean
    return out


@pytest.mark.parametrize(
    ("name", "covered", "valid"),
    [
        ("short", 18, 1),  # 23-hour day: 75 % is 17.25 hours, so 18 are needed
        ("short", 17, 0),
        ("long", 19, 1),  # 25-hour day: 75 % is 18.75 hours, so 19 are needed
        ("long", 18, 0),
        ("winter", 18, 1),
        ("winter", 17, 0),
    ],
)
def test_daily_validity_needs_75_percent_of_the_days_hours(
    service: IngestService, store: Store, node: str, name: str, covered: int, valid: int
) -> None:
    day, start, end = DAYS[name]
    push(service, node, day_readings(start, end, covered), interval_s=1800)
    roll_up(store)
    hours_in_day = (end - start) // H
    [((var, d), row)] = daily(store).items()
    mean, lo, hi, hours, n_hours, is_valid, flags = row
    assert (var, d, hours, n_hours, is_valid, flags) == (PM25, day, covered, hours_in_day, valid, 0)
    assert mean == pytest.approx(10.0 + (covered - 1) / 2)  # mean of the covered hourly means
    assert (lo, hi) == (9.0, 10.0 + covered)  # from covered hours only
    assert store.read(lambda tx: tx.query("SELECT count(*) FROM rollup_pending")) == [(0,)]


def test_daily_mean_is_the_mean_of_hourly_means_not_of_readings(
    service: IngestService, store: Store, node: str
) -> None:
    _, start, end = DAYS["summer"]
    readings = day_readings(start, end, 24)
    readings += [("SDS011", PM25, start + 60 + 10 * i, 100.0) for i in range(1, 8)]  # busy hour
    push(service, node, readings, interval_s=1800)
    roll_up(store)
    [(mean, lo, hi, hours, _, valid, _)] = daily(store).values()
    hour_means = [(9.0 + 11.0 + 700.0) / 9] + [10.0 + k for k in range(1, 24)]
    assert mean == pytest.approx(sum(hour_means) / 24)
    assert (lo, hi, hours, valid) == (9.0, 100.0, 24, 1)


def test_an_hour_is_covered_from_75_percent_of_the_expected_readings(
    service: IngestService, store: Store, node: str
) -> None:
    # At the airrohr interval of 145 s an hour expects 24.8 readings; 75 % is 18.6.
    enough = [("SDS011", PM25, T0 + 145 * i, 10.0) for i in range(19)]
    short = [("SDS011", PM25, T0 + H + 145 * i, 20.0) for i in range(18)]
    flagged = [("SDS011", PM25, T0 + 2 * H + 145 * i, 30.0) for i in range(19)]
    flagged[0] = ("SDS011", PM25, flagged[0][2], 1500.0)  # 18 that count, 19 in all
    push(service, node, enough + short + flagged, interval_s=145)
    roll_up(store)
    [(mean, lo, hi, hours, _, valid, flags)] = daily(store).values()
    assert (mean, lo, hi, hours, valid) == (10.0, 10.0, 10.0, 1, 0)
    assert flags == int(Flag.OUT_OF_RANGE)


def test_late_readings_update_the_hour_and_the_day(
    service: IngestService, store: Store, node: str
) -> None:
    day, start, end = DAYS["winter"]
    push(service, node, day_readings(start, end, 17), interval_s=1800)
    roll_up(store)
    assert daily(store)[(PM25, day)][5] == 0
    late = start + 17 * H
    push(service, node, [("SDS011", PM25, late + 120, 5.0)], interval_s=1800)
    roll_up(store)
    mean, lo, hi, hours, _, valid, _ = daily(store)[(PM25, day)]
    # Hour 17 now holds 983 (stored before, alone) and 5: covered, with mean 494.
    assert (hours, valid, lo, hi) == (18, 1, 5.0, 983.0)
    assert mean == pytest.approx((sum(10.0 + k for k in range(17)) + 494.0) / 18)
    assert_hourly_equal(hourly(store), hourly_from_raw(store))


def test_the_sensors_interval_decides_coverage(
    service: IngestService, store: Store, node: str
) -> None:
    readings = [("SDS011", PM25, T0 + 600 * i, 10.0) for i in range(5)]  # 5 per hour
    push(service, node, readings, interval_s=600)  # 5 × 600 s ≥ 2700 s: covered
    roll_up(store)
    assert daily(store)[(PM25, 20260610)][3] == 1
    push(service, node, [("SDS011", PM25, T0 + H, 10.0)], interval_s=3600)  # now hourly
    roll_up(store)
    assert daily(store)[(PM25, 20260610)][3] == 2


# -- the queue ------------------------------------------------------------------------------------
def pending(tx: Tx) -> list[tuple[int, int, int]]:
    rows = tx.query("SELECT sensor_id, variable_id, day FROM rollup_pending ORDER BY 1, 2, 3")
    return [(int(a), int(b), int(c)) for a, b, c in rows]


def test_roll_up_pending_works_through_the_queue_in_portions(store: Store) -> None:
    times = np.array([T0 - 10, T0 + 10, T0 + 86400, T0 + 10], dtype=np.int64)
    sensors = np.array([1, 1, 1, 2], dtype=np.int64)
    variables = np.full(4, PM25, dtype=np.int64)

    def run(tx: Tx) -> list[Any]:
        steps: list[Any] = []
        queue_days(tx, sensors, variables, times, WARSAW)
        queue_days(tx, sensors, variables, times, WARSAW)  # queuing twice is harmless
        steps.append(pending(tx))
        steps.append(roll_up_pending(tx, WARSAW, limit=3))
        steps.append(pending(tx))
        steps.append(roll_up_pending(tx, WARSAW, limit=3))
        steps.append(pending(tx))
        steps.append(roll_up_pending(tx, WARSAW, limit=3))
        return steps

    queued, more, left, more2, left2, nothing = store.write(run)
    assert queued == [
        (1, PM25, 20260609),
        (1, PM25, 20260610),
        (1, PM25, 20260611),
        (2, PM25, 20260610),
    ]
    assert (more, left) == (True, [(2, PM25, 20260610)])
    assert (more2, left2, nothing) == (False, [], False)


def test_new_readings_queue_their_local_days(
    service: IngestService, store: Store, node: str
) -> None:
    readings = [("SDS011", PM25, T0 - 1, 1.0), ("SDS011", PM25, T0, 2.0)]

    def write_and_look(tx: Tx) -> list[tuple[int, int, int]]:
        service.write_stream(tx, [StreamBatch(node, readings, "push", T0)])
        return pending(tx)

    queued = store.write(write_and_look)
    assert [d for _, _, d in queued] == [20260609, 20260610]
    roll_up(store)
    assert sorted(daily(store)) == [(PM25, 20260609), (PM25, 20260610)]

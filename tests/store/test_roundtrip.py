"""Storage round trip: whatever goes in comes back out equal, stored exactly once.

Random readings (extreme and subnormal floats, infinities, large ids, duplicates within and
across writes) go through ``Tx.insert_measurements`` — on PostgreSQL both the ``executemany``
path and the ``COPY`` path (≥ 200 rows) — and are read back. Each Hypothesis example runs in a
transaction that is rolled back at its end, so examples never see each other's rows.

Equality is numeric: SQLite stores ``-0.0`` as ``0`` (an integral REAL is written as an integer),
so only the sign of zero may differ.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from smartdistricts.store.base import Store, Tx
from smartdistricts.store.sources import SOURCES

T = TypeVar("T")
Key = tuple[int, int, int]
Stored = tuple[float, int, int]  # value, flags, source

SELECT = (
    "SELECT sensor_id, variable_id, time, value, flags, source_id FROM measurements"
    " ORDER BY sensor_id, variable_id, time"
)
SENSORS = (1, 2, 2**31 + 7, 2**62 + 3)
VARIABLES = (1, 2, 5, 30, 32767)
COPY_THRESHOLD = 200  # postgres.py: COPY from this many rows


@dataclass
class Columns:
    """One write's readings (``MeasurementColumns``)."""

    sensor_id: NDArray[np.int64]
    variable_id: NDArray[np.int64]
    time: NDArray[np.int64]
    value: NDArray[np.float64]
    flags: NDArray[np.int64]
    source_id: int

    def rows(self) -> list[tuple[Key, Stored]]:
        return [
            ((s, v, t), (x, f, self.source_id))
            for s, v, t, x, f in zip(
                self.sensor_id.tolist(),
                self.variable_id.tolist(),
                self.time.tolist(),
                self.value.tolist(),
                self.flags.tolist(),
                strict=True,
            )
        ]


@st.composite
def columns(draw: st.DrawFn, min_size: int, max_size: int) -> Columns:
    n = draw(st.integers(min_size, max_size))
    ints = hnp.arrays  # element strategies keep keys in small pools, so duplicates are common
    return Columns(
        draw(ints(np.int64, n, elements=st.sampled_from(SENSORS))),
        draw(ints(np.int64, n, elements=st.sampled_from(VARIABLES))),
        draw(
            ints(
                np.int64,
                n,
                elements=st.one_of(
                    st.integers(1_700_000_000, 1_700_000_400),
                    st.sampled_from([0, 946_684_800, 2**40, 2**62]),
                ),
            )
        ),
        draw(ints(np.float64, n, elements=st.floats(allow_nan=False, width=64))),
        draw(ints(np.int64, n, elements=st.integers(0, 15))),
        draw(st.sampled_from(sorted(SOURCES.values()))),
    )


class RolledBack(Exception):
    """Carries a job's result out of a transaction that must not commit."""

    def __init__(self, result: Any) -> None:
        super().__init__("rolled back on purpose")
        self.result = result


def rolled_back(store: Store, fn: Callable[[Tx], T]) -> T:
    """Run ``fn`` on the writer and roll its transaction back; return its result."""

    def job(tx: Tx) -> None:
        raise RolledBack(fn(tx))

    with pytest.raises(RolledBack) as info:
        store.write(job)
    result: T = info.value.result
    return result


def expected_after(*writes: Columns) -> tuple[dict[Key, Stored], list[int]]:
    """What the table holds after the writes (a stored reading is never replaced), and how many
    readings each write adds."""
    table: dict[Key, Stored] = {}
    added = []
    for write in writes:
        before = len(table)
        for key, stored in write.rows():
            table.setdefault(key, stored)
        added.append(len(table) - before)
    return table, added


def read_back(rows: list[tuple[Any, ...]]) -> dict[Key, Stored]:
    out: dict[Key, Stored] = {}
    for s, v, t, x, f, src in rows:
        assert (type(s), type(v), type(t), type(x), type(f), type(src)) == (
            int,
            int,
            int,
            float,
            int,
            int,
        )
        assert (s, v, t) not in out, "a reading is stored once"
        out[(s, v, t)] = (x, f, src)
    return out


def assert_same(got: dict[Key, Stored], want: dict[Key, Stored]) -> None:
    assert got.keys() == want.keys()
    for key, (x, f, src) in want.items():
        gx, gf, gsrc = got[key]
        assert (gf, gsrc) == (f, src), key
        assert gx == x, (key, gx, x)
        assert math.isinf(gx) == math.isinf(x)


def check_two_writes(store: Store, first: Columns, second: Columns) -> None:
    def run(tx: Tx) -> tuple[int, int, list[tuple[Any, ...]], list[list[tuple[Any, ...]]]]:
        a = tx.insert_measurements(first)
        b = tx.insert_measurements(second)
        return a, b, tx.query(SELECT), list(tx.stream(SELECT, (), 97))

    a, b, rows, chunks = rolled_back(store, run)
    want, added = expected_after(first, second)
    assert [a, b] == added
    assert_same(read_back(rows), want)
    assert [r for chunk in chunks for r in chunk] == rows
    assert all(0 < len(chunk) <= 97 for chunk in chunks)


HYPOTHESIS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYPOTHESIS
@given(first=columns(0, 60), second=columns(0, 60))
def test_small_writes_round_trip(store: Store, first: Columns, second: Columns) -> None:
    check_two_writes(store, first, second)


@settings(HYPOTHESIS, max_examples=10)
@given(first=columns(COPY_THRESHOLD, COPY_THRESHOLD + 120), second=columns(0, 300))
def test_bulk_writes_round_trip(store: Store, first: Columns, second: Columns) -> None:
    check_two_writes(store, first, second)


@HYPOTHESIS
@given(batch=columns(1, 40))
def test_re_writing_the_same_batch_adds_nothing(store: Store, batch: Columns) -> None:
    changed = Columns(
        batch.sensor_id,
        batch.variable_id,
        batch.time,
        batch.value + 1.0,
        (batch.flags + 1) % 16,
        batch.source_id,
    )
    check_two_writes(store, batch, changed)


@pytest.mark.parametrize("n", [COPY_THRESHOLD - 1, COPY_THRESHOLD, 5000])
def test_committed_readings_are_read_back_by_another_connection(store: Store, n: int) -> None:
    rng = np.random.default_rng(n)
    batch = Columns(
        rng.integers(1, 4, n),
        rng.integers(1, 31, n),
        1_700_000_000 + rng.permutation(n * 2)[:n],
        rng.normal(20.0, 50.0, n) * 10.0 ** rng.integers(-300, 300, n),
        rng.integers(0, 16, n),
        SOURCES["batch-api"],
    )
    assert store.write(lambda tx: tx.insert_measurements(batch)) == n
    assert store.write(lambda tx: tx.insert_measurements(batch)) == 0
    want, _ = expected_after(batch)
    assert_same(read_back(store.read(lambda tx: tx.query(SELECT))), want)


def test_an_empty_write_is_a_no_op(store: Store) -> None:
    none = np.empty(0, dtype=np.int64)
    empty = Columns(
        none,
        none,
        none,
        np.empty(0),
        none,
        1,
    )
    assert store.write(lambda tx: tx.insert_measurements(empty)) == 0


@pytest.mark.parametrize("n", [3, COPY_THRESHOLD + 1])
def test_nan_is_refused_by_both_backends_and_nothing_is_stored(store: Store, n: int) -> None:
    value = np.arange(n, dtype=np.float64)
    value[n // 2] = np.nan
    batch = Columns(
        np.ones(n, dtype=np.int64),
        np.full(n, 2, dtype=np.int64),
        np.arange(n, dtype=np.int64),
        value,
        np.zeros(n, dtype=np.int64),
        1,
    )
    with pytest.raises(ValueError, match="value: NaN"):
        store.write(lambda tx: tx.insert_measurements(batch))
    assert store.read(lambda tx: tx.query("SELECT count(*) FROM measurements")) == [(0,)]


def test_two_streams_can_be_open_at_once(store: Store) -> None:
    n = 50
    batch = Columns(
        np.ones(n, dtype=np.int64),
        np.full(n, 2, dtype=np.int64),
        np.arange(n, dtype=np.int64),
        np.arange(n, dtype=np.float64),
        np.zeros(n, dtype=np.int64),
        1,
    )
    store.write(lambda tx: tx.insert_measurements(batch))

    def interleaved(tx: Tx) -> tuple[list[Any], list[Any]]:
        outer = tx.stream("SELECT time FROM measurements ORDER BY time", (), 10)
        first = next(outer)
        inner = [
            r for chunk in tx.stream("SELECT value FROM measurements ORDER BY time") for r in chunk
        ]
        return first + [r for chunk in outer for r in chunk], inner

    times, values = store.read(interleaved)
    assert [t for (t,) in times] == list(range(n))
    assert [v for (v,) in values] == [float(i) for i in range(n)]

"""Quality flags: plausible ranges, humid air, pairing by time, stuck series across batches.

Limits are those of ``smartdistricts.nomenclature`` (soft PM ceiling 999.9 µg/m³: the SDS011 and
PMS5003 saturation value from their data sheets); humidity thresholds 70 % (SDS011 data sheet,
specified up to 70 % RH) and 95 %.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartdistricts.calc.quality import (
    StuckState,
    humidity_flags,
    nearest_within,
    range_flags,
    stuck_flags,
)
from smartdistricts.nomenclature import VARIABLES, Flag, variable

OUT, STUCK, HUMID, FOG = (int(f) for f in (Flag.OUT_OF_RANGE, Flag.STUCK, Flag.HUMID, Flag.FOG))
NAN = float("nan")


# -- range_flags ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "value", "flag"),
    [
        ("pm2_5", 0.0, 0),
        ("pm2_5", -0.1, OUT),
        ("pm2_5", 999.8, 0),
        ("pm2_5", 999.9, OUT),  # saturated sensor
        ("pm10", 1500.0, OUT),
        ("relative_humidity", 100.0, 0),
        ("relative_humidity", 100.01, OUT),
        ("temp_air", -45.0, 0),
        ("temp_air", -45.01, OUT),
        ("temp_air", 54.99, 0),
        ("temp_air", 55.0, OUT),
        ("pressure", 869.9, OUT),
        ("pressure", 1013.25, 0),
        ("nc0_5", 1e300, 0),  # no soft limits
        ("nc0_5", float("inf"), OUT),
    ],
)
def test_range_flags_at_the_table_boundaries(name: str, value: float, flag: int) -> None:
    assert range_flags([variable(name).id], [value]).tolist() == [flag]


def test_range_flags_agree_with_the_nomenclature_for_every_variable() -> None:
    probes = [-1e9, -100.0, -45.0, 0.0, 0.5, 55.0, 100.0, 870.0, 999.9, 1085.0, 1e6, NAN]
    ids = [v.id for v in VARIABLES for _ in probes]
    values = [p for _ in VARIABLES for p in probes]
    want = [OUT if variable(i).implausible(x) else 0 for i, x in zip(ids, values, strict=True)]
    assert range_flags(ids, values).tolist() == want


def test_nan_is_out_of_range() -> None:
    assert range_flags([2, 4], [NAN, NAN]).tolist() == [OUT, OUT]


def test_range_flags_of_nothing_and_of_scalars() -> None:
    empty = range_flags([], [])
    assert empty.shape == (0,)
    assert empty.dtype == np.dtype(np.int64)
    assert int(range_flags(2, 1500.0)) == OUT


@pytest.mark.parametrize("bad", [0, -1, 31, 1000])
def test_unknown_variable_ids_are_refused(bad: int) -> None:
    with pytest.raises(ValueError, match=rf"variable_id: unknown .*{bad}"):
        range_flags([2, bad], [1.0, 1.0])


# -- humidity_flags -------------------------------------------------------------------------------
def test_humidity_thresholds_are_inclusive() -> None:
    rh = [0.0, 69.99, 70.0, 94.99, 95.0, 100.0, NAN]
    assert humidity_flags(rh).tolist() == [0, 0, HUMID, HUMID, HUMID | FOG, HUMID | FOG, 0]


def test_humidity_thresholds_are_configurable() -> None:
    assert humidity_flags([80.0, 85.0, 90.0], humid=85, fog=90).tolist() == [0, 4, 12]
    assert humidity_flags([80.0], humid=80, fog=80).tolist() == [HUMID | FOG]


def test_humidity_flags_of_nothing_and_of_scalars() -> None:
    assert humidity_flags([]).tolist() == []
    assert int(humidity_flags(75.0)) == HUMID


def test_humid_above_fog_is_refused() -> None:
    with pytest.raises(ValueError, match=r"humid \(96.0\) must not exceed fog \(95.0\)"):
        humidity_flags([50.0], humid=96.0, fog=95.0)


# -- nearest_within -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("times", "reference", "tolerance", "want"),
    [
        ([10, 20, 100], [9, 21, 50], 5, [0, 1, -1]),
        ([15], [10, 20], 5, [0]),  # a tie goes to the earlier reading
        ([15], [10, 20], 4, [-1]),  # both 5 away: beyond the tolerance
        ([0, 1000], [300, 700], 300, [0, 1]),  # tolerance is inclusive
        ([0, 1000], [300, 700], 299, [-1, -1]),
        ([-5, 5, 10**10], [0], 5, [0, 0, -1]),  # before the first, after the last
        ([1, 2], [], 100, [-1, -1]),
        ([], [1, 2], 100, []),
    ],
)
def test_nearest_within(
    times: list[int], reference: list[int], tolerance: float, want: list[int]
) -> None:
    got = nearest_within(times, reference, tolerance)
    assert got.tolist() == want
    assert got.dtype == np.dtype(np.int64)


@settings(max_examples=200, deadline=None)
@given(
    times=st.lists(st.integers(-1000, 1000), max_size=20),
    reference=st.lists(st.integers(-1000, 1000), max_size=20),
    tolerance=st.integers(0, 300),
)
def test_nearest_within_matches_a_brute_force_search(
    times: list[int], reference: list[int], tolerance: int
) -> None:
    reference = sorted(reference)
    got = nearest_within(times, reference, tolerance).tolist()
    for t, i in zip(times, got, strict=True):
        best = min((abs(r - t) for r in reference), default=None)
        if best is None or best > tolerance:
            assert i == -1
        else:  # the nearest; of two equally near, the earlier
            assert abs(reference[i] - t) == best
            assert reference[i] == min(r for r in reference if abs(r - t) == best)


# -- stuck_flags ----------------------------------------------------------------------------------
def test_stuck_after_count_and_duration() -> None:
    t = np.arange(12) * 1800
    flags, state = stuck_flags(np.zeros(12), t, np.full(12, 99.9))
    assert flags.tolist() == [0] * 9 + [STUCK] * 3
    assert (state.start[-1], state.count[-1], state.value[-1]) == (0, 12, 99.9)


def test_both_conditions_are_needed() -> None:
    many_quick = stuck_flags(np.zeros(50), np.arange(50) * 10, np.ones(50))[0]
    assert not many_quick.any()  # 50 readings within 490 s
    few_slow = stuck_flags(np.zeros(5), np.arange(5) * 86400, np.ones(5))[0]
    assert not few_slow.any()  # 4 days but only 5 readings
    custom = stuck_flags(np.zeros(4), np.arange(4) * 60, np.ones(4), min_count=3, min_duration=120)
    assert custom[0].tolist() == [0, 0, STUCK, STUCK]


def test_a_new_value_or_a_new_series_starts_a_new_run() -> None:
    key = np.array([1] * 6 + [2] * 6)
    t = np.tile(np.arange(6) * 3600, 2)
    values = np.array([5.0, 5.0, 5.0, 6.0, 6.0, 6.0] + [6.0] * 6)
    flags, state = stuck_flags(key, t, values, min_count=3, min_duration=7200)
    assert flags.tolist() == [0, 0, STUCK, 0, 0, STUCK, 0, 0, STUCK, STUCK, STUCK, STUCK]
    assert (state.start[5], state.count[5]) == (3 * 3600, 3)
    assert (state.start[11], state.count[11]) == (0, 6)


def test_nan_never_makes_a_run() -> None:
    flags, _ = stuck_flags(np.zeros(20), np.arange(20) * 3600, np.full(20, NAN))
    assert not flags.any()


def test_stuck_flags_of_nothing() -> None:
    flags, state = stuck_flags([], [], [])
    assert flags.tolist() == [] and len(state.value) == len(state.start) == len(state.count) == 0


def prior_for(previous: StuckState, prev_keys: np.ndarray, keys: np.ndarray) -> StuckState:
    """The state after ``previous`` for each reading of the next batch (NaN: series unseen)."""
    n = len(keys)
    value, start, count = np.full(n, NAN), np.zeros(n, np.int64), np.zeros(n, np.int64)
    for i, k in enumerate(keys.tolist()):
        seen = np.flatnonzero(prev_keys == k)
        if len(seen):
            j = seen[-1]
            value[i], start[i], count[i] = previous.value[j], previous.start[j], previous.count[j]
    return StuckState(value, start, count)


def test_a_run_continues_across_batches_with_prior() -> None:
    t = np.arange(12) * 1800
    whole, _ = stuck_flags(np.zeros(12), t, np.full(12, 99.9))
    first, state = stuck_flags(np.zeros(7), t[:7], np.full(7, 99.9))
    keys = np.zeros(5, np.int64)
    second, _ = stuck_flags(
        keys, t[7:], np.full(5, 99.9), prior=prior_for(state, np.zeros(7, np.int64), keys)
    )
    assert np.concatenate([first, second]).tolist() == whole.tolist()
    without, _ = stuck_flags(keys, t[7:], np.full(5, 99.9))
    assert not without.any()  # without the prior state the run looks new


def test_a_changed_value_breaks_the_prior_run() -> None:
    prior = StuckState(np.array([99.9, 99.9]), np.array([0, 0]), np.array([50, 50]))
    flags, state = stuck_flags([0, 0], [90000, 91800], [80.0, 80.0], prior=prior)
    assert flags.tolist() == [0, 0]
    assert (state.start[-1], state.count[-1]) == (90000, 2)


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.integers(0, 2), st.integers(1, 4000), st.sampled_from([1.0, 2.0])),
        max_size=60,
    ),
    split=st.integers(0, 60),
)
def test_any_split_into_two_batches_gives_the_same_flags(
    data: list[tuple[int, int, float]], split: int
) -> None:
    rows = sorted({(k, t): v for k, t, v in data}.items())
    keys = np.array([k for (k, _), _ in rows], dtype=np.int64)
    times = np.array([t for (_, t), _ in rows], dtype=np.int64)
    values = np.array([v for _, v in rows], dtype=np.float64)
    kw = {"min_count": 3, "min_duration": 600.0}
    whole, _ = stuck_flags(keys, times, values, **kw)  # type: ignore[arg-type]
    # A batch holds the readings of each series up to the split time; sorted by key, then time.
    cut = times < split * 70
    a, b = np.flatnonzero(cut), np.flatnonzero(~cut)
    first, state = stuck_flags(keys[a], times[a], values[a], **kw)  # type: ignore[arg-type]
    prior = prior_for(state, keys[a], keys[b])
    second, _ = stuck_flags(keys[b], times[b], values[b], prior=prior, **kw)  # type: ignore[arg-type]
    combined = np.empty(len(rows), dtype=np.int64)
    combined[a], combined[b] = first, second
    assert combined.tolist() == whole.tolist()

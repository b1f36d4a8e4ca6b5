"""Smog-alert rules: thresholds, running means, persistence and the hysteresis state machine."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartdistricts.calc.alerts import (
    DEFAULT_RULES,
    PRESETS,
    AlertRule,
    alert_states,
    hourly_caqi,
    persistent,
    rule_series,
    running_mean,
)

NAN = float("nan")


def starts(states: np.ndarray, active: bool = False) -> int:
    before = np.concatenate(([active], states[:-1]))
    return int(np.sum(states & ~before))


def test_default_thresholds_are_the_legal_values() -> None:
    by_key = {r.key: r for r in DEFAULT_RULES}
    # Rozporządzenie Ministra Środowiska of 8 Oct 2019 (Dz.U. 2019 poz. 1931): PM10 24-h
    # information level 100, alarm level 150 µg/m³ (indices.md §4.3).
    assert (by_key["pl-pm10-information"].threshold, by_key["pl-pm10-alarm"].threshold) == (
        100.0,
        150.0,
    )
    # Directive (EU) 2024/2881 Annex I Section 4: 1-day PM10 90 / PM2.5 50 µg/m³; the alert
    # over 3 consecutive days (indices.md §8.3).
    assert by_key["eu-pm10-information"].threshold == 90.0
    assert by_key["eu-pm2_5-information"].threshold == 50.0
    assert by_key["eu-pm10-alert"].n_hours == by_key["eu-pm2_5-alert"].n_hours == 48
    assert all(r.averaging == "24h" for r in DEFAULT_RULES)
    assert {r.source for r in DEFAULT_RULES} == {"GIOS", "EU2024"}
    caqi = PRESETS["caqi-high-3h"]
    assert (caqi.variable, caqi.threshold, caqi.n_hours) == ("caqi", 75.0, 3)


@pytest.mark.parametrize(
    ("field", "value"),
    [("threshold", 0.0), ("threshold", NAN), ("margin", 1.0), ("margin", -0.1), ("n_hours", 0)],
)
def test_bad_rules_are_refused_naming_the_field(field: str, value: float) -> None:
    base = {"key": "x", "variable": "pm10", "averaging": "1h", "threshold": 50.0, "level": "custom"}
    with pytest.raises(ValueError, match=field):
        AlertRule(**{**base, field: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="variable"):
        AlertRule(**{**base, "variable": "pm25"})  # type: ignore[arg-type]


def test_threshold_is_inclusive_and_release_is_below() -> None:
    assert alert_states([99.9, 100.0], 100.0).tolist() == [False, True]
    rule = AlertRule("x", "pm10", "1h", 100.0, "custom", margin=0.1)
    assert rule.release == pytest.approx(90.0)
    # 90 is not below the release level: still active; 89.9 twice ends it
    states = alert_states([100, 90, 90, 89.9, 89.9], 100.0, margin=0.1, clear_hours=2)
    assert states.tolist() == [True, True, True, True, False]


def test_noisy_series_around_the_threshold_does_not_flap() -> None:
    rng = np.random.default_rng(20261128)
    series = 100.0 + rng.normal(0.0, 3.0, 500)  # crosses 100 about every other hour
    plain = alert_states(series, 100.0, margin=0.0, clear_hours=1)
    assert starts(plain) > 50  # without hysteresis it would flap
    damped = alert_states(series, 100.0, margin=0.1, clear_hours=2)
    assert starts(damped) == 1
    assert damped[int(np.argmax(series >= 100.0)) :].all()  # on from the first crossing, never off


def test_n_hour_caqi_rule() -> None:
    # PM10 hourly 90 µg/m³ is CAQI 75 (High) [CITEAIR2012]; PM2.5 55 → 75 as well
    pm10 = np.array([50, 95, 100, 92, 60, 95, 96, 97, 40, 30, 20], dtype=float)
    pm25 = np.full_like(pm10, NAN)
    index = hourly_caqi(pm25, pm10)
    assert index[1] == pytest.approx(75 + 5 / 90 * 25)
    rule = PRESETS["caqi-high-3h"]
    series = rule_series(rule, index)
    states = alert_states(
        series, rule.threshold, n_hours=rule.n_hours, margin=rule.margin,
        clear_hours=rule.clear_hours,
    )  # fmt: skip
    # hours 1–3 are High: the alert starts at hour 3, holds through the one-hour dip at hour 4
    # (CAQI 56 < release 67.5, but two clear hours are needed) and ends at hour 9
    assert states.tolist() == [
        False,
        False,
        False,
        True,
        True,
        True,
        True,
        True,
        True,
        False,
        False,
    ]


def test_running_mean_needs_18_hours() -> None:
    hourly = np.full(30, 120.0)
    hourly[:5] = NAN
    mean = running_mean(hourly)
    assert np.isnan(mean[:22]).all()  # 5 missing: the 18th valid hour is index 22
    assert mean[22] == pytest.approx(120.0)
    with_gaps = np.tile([150.0, NAN, NAN, NAN], 12)  # 6 valid hours of 24
    assert np.isnan(running_mean(with_gaps)).all()
    assert running_mean([]).shape == (0,)


def test_running_mean_matches_a_loop() -> None:
    rng = np.random.default_rng(1)
    hourly = rng.uniform(0, 200, 100)
    hourly[rng.random(100) < 0.2] = NAN
    mean = running_mean(hourly, 24, 18)
    for i in range(100):
        window = hourly[max(0, i - 23) : i + 1]
        valid = window[~np.isnan(window)]
        expected = valid.mean() if len(valid) >= 18 else NAN
        np.testing.assert_allclose(mean[i], expected)


def test_persistent_and_provisional_hours() -> None:
    assert persistent([], 3).tolist() == []
    assert persistent([True] * 3, 4).tolist() == [False] * 3
    # the provisional last hour can start an alert but not end one
    states = alert_states([150, 10], 100.0, active=False, final=[True, False], clear_hours=1)
    assert states.tolist() == [True, True]
    states = alert_states([10, 10], 100.0, active=True, final=[True, True], clear_hours=1)
    assert states.tolist() == [False, False]


def test_start_at_ignores_events_before_it() -> None:
    states = alert_states([150, 150, 10, 10, 10], 100.0, active=True, start_at=2, clear_hours=2)
    assert states[2:].tolist() == [True, False, False]  # needs hours 2 and 3 below
    assert alert_states([150, 10], 100.0, start_at=1, clear_hours=1).tolist()[1] is False


hours = st.lists(
    st.one_of(st.floats(0, 300, allow_nan=False), st.just(NAN)), min_size=1, max_size=80
)


@settings(max_examples=200, deadline=None)
@given(
    hours,
    st.integers(1, 4),
    st.integers(1, 4),
    st.floats(0.0, 0.5),
    st.booleans(),
)
def test_state_machine_properties(
    values: list[float], n: int, m: int, margin: float, active: bool
) -> None:
    v = np.asarray(values)
    threshold = 100.0
    states = alert_states(v, threshold, n_hours=n, margin=margin, clear_hours=m, active=active)
    before = np.concatenate(([active], states[:-1]))
    release = threshold * (1 - margin)
    for i in np.flatnonzero(states & ~before):  # every start: n hours at or above
        assert i >= n - 1 and (v[i - n + 1 : i + 1] >= threshold).all()
    for i in np.flatnonzero(~states & before):  # every end: m hours below release or unknown
        window = v[i - m + 1 : i + 1]
        assert i >= m - 1 and not (window >= release).any()
    # the same answer hour by hour, carrying the state (what the service does per evaluation)
    state = active
    for i in range(len(v)):
        state = bool(
            alert_states(
                v[: i + 1], threshold, n_hours=n, margin=margin, clear_hours=m,
                active=state, start_at=i,
            )[-1]
        )  # fmt: skip
        assert state == states[i]

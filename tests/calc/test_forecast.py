"""The hourly PM forecast model (calc/forecast.py) on series with known structure."""

from __future__ import annotations

import numpy as np
import pytest

from smartdistricts.calc.forecast import (
    MIN_TRAINING_HOURS,
    climatology_profile,
    evaluate,
    fit_forecast,
    predict,
    predict_at,
)

DAYS = 60


def calendar(n: int, start_hour: int = 0) -> tuple[np.ndarray, np.ndarray]:
    hours = np.arange(start_hour, start_hour + n)
    return hours % 24, ((hours // 24) % 7 >= 5).astype(np.int64)


def diurnal(hour: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """A known two-peak daily cycle, lower at weekends [µg/m³]."""
    base = (
        12
        + 18 * np.exp(-0.5 * ((hour - 20) / 2.5) ** 2)
        + 8 * np.exp(-0.5 * ((hour - 8) / 1.5) ** 2)
    )
    return base * np.where(weekend == 1, 0.7, 1.0)


def ar1(n: int, phi: float, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(n)
    shocks = rng.normal(0, sigma, n)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + shocks[i]
    return out


def structured(seed: int = 1, days: int = DAYS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Diurnal profile × exp(persistent weather anomaly) × small white noise."""
    n = 24 * days
    hour, weekend = calendar(n)
    rng = np.random.default_rng(seed + 100)
    y = diurnal(hour, weekend) * np.exp(ar1(n, 0.9, 0.13, seed) + rng.normal(0, 0.05, n))
    return y, hour, weekend


def test_a_pure_diurnal_pattern_is_recovered() -> None:
    n = 24 * 35
    hour, weekend = calendar(n)
    y = diurnal(hour, weekend)
    model = fit_forecast(y, hour, weekend, shrink=0.0)  # no pull towards the all-days curve
    h2, w2 = calendar(n + 24)
    got = predict(model, y, h2, w2)
    assert got == pytest.approx(diurnal(h2[n:], w2[n:]), rel=1e-6)
    # Without a weekend effect the default shrinkage changes nothing.
    flat = diurnal(hour, np.zeros(n))
    got = predict(fit_forecast(flat, hour, weekend), flat, h2, w2)
    assert got == pytest.approx(diurnal(h2[n:], np.zeros(24)), rel=1e-6)
    # The profile is the log of the pattern (+1) by day type and hour.
    assert np.exp(model.profile[0]) - 1 == pytest.approx(diurnal(np.arange(24), np.zeros(24)))
    assert np.exp(model.profile[1]) - 1 == pytest.approx(diurnal(np.arange(24), np.ones(24)))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_model_beats_persistence_and_climatology_on_held_out_data(seed: int) -> None:
    y, hour, weekend = structured(seed=seed, days=90)
    scores = evaluate(y, hour, weekend, split=24 * 60, horizons=(1, 6, 12, 24))
    assert scores.horizons == (1, 6, 12, 24)
    assert np.all(scores.count > 400)
    assert np.all(scores.model < scores.persistence)
    assert np.all(scores.model < scores.climatology)
    # Anomaly persistence fades with the horizon: β (the latest anomaly's weight) decreases.
    beta = scores.fitted.coef[:, 1]
    assert beta[0] > 0.7 > beta[11]


def test_baselines_are_the_textbook_ones() -> None:
    y, hour, weekend = structured(seed=3, days=30)
    split = 24 * 20
    scores = evaluate(y, hour, weekend, split, horizons=(6,), refit_hours=0)
    origins = np.arange(split - 1, len(y) - 6)
    truth = y[origins + 6]
    assert scores.persistence[0] == pytest.approx(np.mean(np.abs(y[origins] - truth)))
    clim = np.array([y[:split][hour[:split] == h].mean() for h in range(24)])
    assert climatology_profile(y[:split], hour[:split]) == pytest.approx(clim)
    assert scores.climatology[0] == pytest.approx(np.mean(np.abs(clim[hour[origins + 6]] - truth)))


def test_the_test_part_never_enters_the_fit() -> None:
    """By construction: changing or deleting the test part leaves the fitted model and every
    forecast from an origin before a change the same."""
    y, hour, weekend = structured(seed=5, days=40)
    split = 24 * 30
    spoiled = y.copy()
    spoiled[split:] = 1000.0
    a = evaluate(y, hour, weekend, split, horizons=(6, 24), refit_hours=0)
    b = evaluate(spoiled, hour, weekend, split, horizons=(6, 24), refit_hours=0)
    assert np.array_equal(a.fitted.coef, b.fitted.coef)
    assert np.array_equal(a.fitted.profile, b.fitted.profile)
    assert a.model[0] != b.model[0]  # the spoiled targets are scored, never fitted
    # A forecast from origin t uses values[: t + 1] only.
    h2, w2 = calendar(len(y) + 24)
    t = split + 10
    full = predict_at(a.fitted, y, h2, w2, [t])
    cut = predict_at(
        a.fitted, np.concatenate([y[: t + 1], np.full(len(y) - t - 1, 9e9)]), h2, w2, [t]
    )
    assert np.array_equal(full, cut)


def test_missing_hours_are_tolerated() -> None:
    y, hour, weekend = structured(seed=7, days=30)
    y[np.random.default_rng(0).random(len(y)) < 0.2] = np.nan
    y[-3:] = np.nan  # the last hours are missing: the latest anomaly is carried forward
    model = fit_forecast(y, hour, weekend)
    h2, w2 = calendar(len(y) + 24)
    got = predict(model, y, h2, w2)
    assert got.shape == (24,) and np.all(np.isfinite(got)) and np.all(got >= 0)


def test_bad_input_is_refused_with_a_reason() -> None:
    hour, weekend = calendar(MIN_TRAINING_HOURS - 1)
    with pytest.raises(ValueError, match="valid hours"):
        fit_forecast(np.ones(MIN_TRAINING_HOURS - 1), hour, weekend)
    hour, weekend = calendar(300)
    with pytest.raises(ValueError, match="negative"):
        fit_forecast(np.full(300, -1.0), hour, weekend)
    with pytest.raises(ValueError, match="elements"):
        fit_forecast(np.ones(300), hour[:10], weekend)
    with pytest.raises(ValueError, match="0–23"):
        fit_forecast(np.ones(300), hour + 24, weekend)
    with pytest.raises(ValueError, match="split"):
        evaluate(np.ones(300), hour, weekend, 300)

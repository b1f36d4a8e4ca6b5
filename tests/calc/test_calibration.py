"""Co-location calibration fits (calc/calibration.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smartdistricts.calc.calibration import (
    MIN_PAIRS,
    Calibration,
    apply_calibration,
    fit_calibration,
    humidity_term,
    metrics,
)


def colocated(n: int = 600, seed: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A reference series, the humidity, and a sensor reading ``(ref − a − c·RH) / b``."""
    rng = np.random.default_rng(seed)
    reference = rng.lognormal(np.log(20), 0.6, n)
    rh = rng.uniform(30, 95, n)
    a, b, c = 5.75, 0.524, -0.0862  # the US EPA PurpleAir correction (Barkjohn et al. 2021)
    pm = (reference - a - c * rh) / b + rng.normal(0, 0.5, n)
    return pm, rh, reference


def test_known_coefficients_are_recovered_from_noisy_pairs() -> None:
    pm, rh, reference = colocated()
    fit = fit_calibration(pm, rh, reference, term="rh")
    cal = fit.calibration
    assert (cal.a, cal.b, cal.c) == pytest.approx((5.75, 0.524, -0.0862), rel=0.03, abs=0.05)
    assert fit.n_train == 450 and fit.n_test == 150
    assert fit.after.rmse < 0.5 < fit.before.rmse
    assert fit.after.r2 > 0.99 > fit.before.r2
    assert abs(fit.after.bias) < 0.1 < abs(fit.before.bias)


def test_kohler_term_recovers_hygroscopic_growth() -> None:
    rng = np.random.default_rng(9)
    dry = rng.lognormal(np.log(15), 0.5, 800)
    rh = rng.uniform(20, 94, 800)
    aw = rh / 100
    pm = dry * (1 + (0.3 / 1.65) * aw / (1 - aw))  # κ = 0.3 growth, reference is dry
    fit = fit_calibration(pm, rh, dry, term="kohler")
    assert fit.after.rmse < 0.35 * fit.before.rmse
    assert humidity_term([10.0], [99.0], "kohler")[0] == pytest.approx(10 * 0.95 / 0.05)


def test_metrics_match_a_hand_computation() -> None:
    estimate, reference = [12.0, 18.0, 30.0, 41.0], [10.0, 20.0, 30.0, 40.0]
    m = metrics(estimate, reference)
    errors = [2.0, -2.0, 0.0, 1.0]
    assert m.n == 4
    assert m.bias == pytest.approx(sum(errors) / 4)
    assert m.rmse == pytest.approx(math.sqrt(sum(e * e for e in errors) / 4))
    mean = 25.0
    total = sum((r - mean) ** 2 for r in reference)
    assert m.r2 == pytest.approx(1 - sum(e * e for e in errors) / total)
    # NaN pairs are skipped; a constant reference has no R².
    assert metrics([1.0, np.nan], [1.0, 2.0]).n == 1
    assert math.isnan(metrics([1.0, 2.0], [3.0, 3.0]).r2)


def test_before_and_after_are_on_held_out_pairs_only() -> None:
    pm, rh, reference = colocated(n=200)
    fit = fit_calibration(pm, rh, reference, test_fraction=0.25)
    held = slice(150, 200)
    assert fit.before == metrics(pm[held], reference[held])
    assert fit.after == metrics(
        apply_calibration(fit.calibration, pm[held], rh[held]), reference[held]
    )
    # The fit does not change when the held-out references change.
    spoiled = reference.copy()
    spoiled[held] *= 3
    assert fit_calibration(pm, rh, spoiled).calibration == fit.calibration


def test_apply_is_the_fitted_line() -> None:
    cal = Calibration(2.0, 0.5, -0.1, "rh")
    assert apply_calibration(cal, [10.0, 20.0, np.nan], [50.0, np.nan, 50.0]).tolist()[:1] == [2.0]
    out = apply_calibration(cal, [10.0, 20.0, np.nan], [50.0, np.nan, 50.0])
    assert math.isnan(out[1]) and math.isnan(out[2])
    assert apply_calibration(Calibration(1.0, 2.0, 0.0, "none"), [3.0], [np.nan])[0] == 7.0


def test_degenerate_input_is_refused_with_a_reason() -> None:
    pm, rh, reference = colocated(n=MIN_PAIRS - 1)
    with pytest.raises(ValueError, match="at least 24"):
        fit_calibration(pm, rh, reference)
    pm, rh, reference = colocated(n=100)
    with pytest.raises(ValueError, match="pm is constant"):
        fit_calibration(np.full(100, 7.0), rh, reference)
    with pytest.raises(ValueError, match="relative humidity is constant"):
        fit_calibration(pm, np.full(100, 60.0), reference)
    assert fit_calibration(pm, np.full(100, 60.0), reference, term="none").calibration.c == 0
    with pytest.raises(ValueError, match="term"):
        fit_calibration(pm, rh, reference, term="cubic")
    with pytest.raises(ValueError, match="test_fraction"):
        fit_calibration(pm, rh, reference, test_fraction=0.9)
    with pytest.raises(ValueError, match="one length"):
        fit_calibration(pm[:50], rh, reference)
    # Pairs missing a value do not count.
    gappy = reference.copy()
    gappy[: 100 - MIN_PAIRS + 1] = np.nan
    with pytest.raises(ValueError, match="complete pairs"):
        fit_calibration(pm, rh, gappy)

"""κ-Köhler humidity growth and the humidity-corrected PM series.

Reference form: C(a_w) = 1 + (κ / 1.65) / (1/a_w − 1), a_w = RH/100 (Crilley et al., AMT 11, 709,
2018, eq. 3 [CRILLEY2018]); the values below are worked out by hand from that equation.
"""

from __future__ import annotations

import numpy as np
import pytest

from smartdistricts.calc.humidity import (
    DEFAULT_KAPPA,
    MAX_WATER_ACTIVITY,
    kohler_correction,
    kohler_growth,
)


def by_hand(rh: float, kappa: float = DEFAULT_KAPPA) -> float:
    aw = rh / 100.0
    return 1.0 + (kappa / 1.65) / (1.0 / aw - 1.0)


@pytest.mark.parametrize(
    ("rh", "kappa", "growth"),
    [
        (50.0, 0.4, 1.242424),  # 1 + 0.242424 / 1
        (90.0, 0.4, 3.181818),  # 1 + 0.242424 / 0.111111
        (75.0, 0.2, 1.363636),  # 1 + 0.121212 / 0.333333
        (80.0, 0.62, 2.503030),  # 1 + 0.375758 / 0.25
    ],
)
def test_growth_against_worked_values(rh: float, kappa: float, growth: float) -> None:
    assert float(kohler_growth(rh, kappa=kappa)) == pytest.approx(growth, abs=1e-6)


def test_water_activity_is_capped_at_095() -> None:
    assert MAX_WATER_ACTIVITY == 0.95
    capped = kohler_growth([95.0, 97.5, 99.9, 100.0, 120.0])
    assert capped.tolist() == [pytest.approx(by_hand(95.0))] * 5
    assert float(kohler_growth(94.9)) < float(capped[0])
    assert float(kohler_growth(99.0, max_water_activity=0.99)) == pytest.approx(by_hand(99.0))


def test_growth_rises_with_humidity_from_one() -> None:
    rh = np.linspace(0.0, 95.0, 200)
    growth = kohler_growth(rh)
    assert np.all(np.diff(growth) > 0)
    assert float(growth[0]) == pytest.approx(1.0, abs=1e-6)  # dry air: no growth
    assert float(kohler_growth(-5.0)) == pytest.approx(1.0, abs=1e-6)  # nonsense RH: no growth


def test_kappa_zero_means_no_growth() -> None:
    assert kohler_growth([10.0, 60.0, 99.0], kappa=0.0).tolist() == [1.0, 1.0, 1.0]


def test_nan_and_empty_inputs() -> None:
    assert np.isnan(kohler_growth([np.nan])).all()
    assert kohler_growth([]).shape == (0,)
    corrected = kohler_correction([20.0, np.nan, 20.0], [np.nan, 50.0, 50.0])
    assert np.isnan(corrected[:2]).all()
    assert float(corrected[2]) == pytest.approx(20.0 / by_hand(50.0))
    assert kohler_correction([], []).shape == (0,)


def test_correction_divides_by_growth_and_broadcasts() -> None:
    pm = np.array([[10.0, 20.0], [30.0, 40.0]])
    corrected = kohler_correction(pm, 90.0)
    assert corrected == pytest.approx(pm / by_hand(90.0))
    assert kohler_correction([20.0, 20.0], [40.0, 90.0]).round(2).tolist() == [17.22, 6.29]


@pytest.mark.parametrize("cap", [0.0, 1.0, -0.5, 1.5])
def test_cap_must_lie_strictly_between_zero_and_one(cap: float) -> None:
    with pytest.raises(ValueError, match="max_water_activity"):
        kohler_growth(50.0, max_water_activity=cap)


def test_negative_kappa_is_refused() -> None:
    with pytest.raises(ValueError, match="kappa"):
        kohler_correction([10.0], [50.0], kappa=-0.1)

"""CAQI (CITEAIR II 2012) and Airly's AIRLY_CAQI.

Reference values:
- Class limits: CITEAIR, "CAQI Air quality index — Comparing Urban Air Quality across Borders"
  (2012) [CITEAIR2012], hourly grid as mirrored by MOEPP North Macedonia
  (air.moepp.gov.mk/?page_id=113) and the daily PM grid of atmotube/aqipy ``caqi_eu.py``.
- Derived vectors: grid + formula (project reference notes, indices.md §1.5).
- Airly worked examples: recorded Airly API responses (2019, 2021) and the town's widget of
  21 May 2019 (indices.md §1.6).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from smartdistricts.indices import airly_caqi, caqi, caqi_mandatory_present, caqi_subindex

NAN = float("nan")

# Class limits [µg/m³] for index 0, 25, 50, 75, 100 — [CITEAIR2012] hourly and daily grids.
GRIDS = {
    "hourly": {
        "pm2_5": (0, 15, 30, 55, 110),
        "pm10": (0, 25, 50, 90, 180),
        "no2": (0, 50, 100, 200, 400),
        "o3": (0, 60, 120, 180, 240),
        "co": (0, 5000, 7500, 10000, 20000),
        "so2": (0, 50, 100, 350, 500),
    },
    "daily": {
        "pm2_5": (0, 10, 20, 30, 60),
        "pm10": (0, 15, 30, 50, 100),
        "no2": (0, 50, 100, 200, 400),
        "o3": (0, 60, 120, 180, 240),
        "co": (0, 5000, 7500, 10000, 20000),
        "so2": (0, 50, 100, 350, 500),
    },
}
INDEX_KNOTS = (0.0, 25.0, 50.0, 75.0, 100.0)

EDGE_CASES = [
    (grid, pollutant, conc, index)
    for grid, table in GRIDS.items()
    for pollutant, limits in table.items()
    for conc, index in zip(limits, INDEX_KNOTS, strict=True)
]


@pytest.mark.parametrize(("grid", "pollutant", "conc", "expected"), EDGE_CASES)
def test_every_class_limit(grid: str, pollutant: str, conc: float, expected: float) -> None:
    # Each class limit gets exactly the class's index limit [CITEAIR2012].
    assert caqi_subindex(pollutant, conc, grid=grid) == expected
    assert caqi(grid=grid, **{pollutant: conc}) == expected


@pytest.mark.parametrize(
    ("grid", "pollutant", "lower", "upper", "index_low"),
    [
        (grid, pollutant, limits[k], limits[k + 1], INDEX_KNOTS[k])
        for grid, table in GRIDS.items()
        for pollutant, limits in table.items()
        for k in range(4)
    ],
)
def test_inside_every_class(
    grid: str, pollutant: str, lower: float, upper: float, index_low: float
) -> None:
    # Just inside both edges and at the midpoint of every class: linear interpolation.
    span = upper - lower
    for fraction in (1e-6, 0.5, 1 - 1e-6):
        conc = lower + fraction * span
        expected = index_low + fraction * 25.0
        assert caqi_subindex(pollutant, conc, grid=grid) == pytest.approx(expected, abs=1e-9)


# indices.md §1.5 derived test vectors (grid + formula).
VECTORS_1_5 = {
    ("hourly", "no2"): [(25, 12.5), (50, 25), (150, 62.5), (200, 75), (300, 87.5), (400, 100)],
    ("hourly", "pm10"): [(12.5, 12.5), (25, 25), (70, 62.5), (90, 75), (135, 87.5), (180, 100)],
    ("daily", "pm10"): [(7.5, 12.5), (15, 25), (40, 62.5), (50, 75), (75, 87.5), (100, 100)],
    ("hourly", "pm2_5"): [(7.5, 12.5), (15, 25), (42.5, 62.5), (55, 75), (82.5, 87.5), (110, 100)],
    ("daily", "pm2_5"): [(5, 12.5), (10, 25), (25, 62.5), (30, 75), (45, 87.5), (60, 100)],
    ("hourly", "o3"): [(30, 12.5), (60, 25), (150, 62.5), (180, 75), (210, 87.5), (240, 100)],
    ("hourly", "co"): [
        (2500, 12.5),
        (5000, 25),
        (8750, 62.5),
        (10000, 75),
        (15000, 87.5),
        (20000, 100),
    ],
    ("hourly", "so2"): [(25, 12.5), (50, 25), (225, 62.5), (350, 75), (425, 87.5), (500, 100)],
}


@pytest.mark.parametrize(
    ("grid", "pollutant", "conc", "expected"),
    [(g, p, c, i) for (g, p), pairs in VECTORS_1_5.items() for c, i in pairs],
)
def test_derived_vectors(grid: str, pollutant: str, conc: float, expected: float) -> None:
    assert caqi(grid=grid, **{pollutant: conc}) == expected


@pytest.mark.parametrize("pollutant", ["no2", "o3", "co", "so2"])
def test_daily_gas_grid_equals_hourly(pollutant: str) -> None:
    conc = np.linspace(0, 2 * GRIDS["hourly"][pollutant][-1], 101)
    np.testing.assert_array_equal(
        caqi_subindex(pollutant, conc, grid="daily"), caqi_subindex(pollutant, conc)
    )


def test_airly_worked_examples() -> None:
    # Town widget 21.05.2019: PM2.5 5.27, PM10 7.06 -> 8.78 (sub-indices 8.783 and 7.06).
    assert caqi(pm2_5=5.27, pm10=7.06) == pytest.approx(5.27 / 15 * 25)
    assert airly_caqi(5.27, 7.06) == 8.78
    # The daily grid would give 13.2 - not what Airly uses.
    assert caqi(pm2_5=5.27, pm10=7.06, grid="daily") == pytest.approx(13.175)
    # Recorded responses: PM2.5 24.54 -> 40.90 (2021); PM10 78.48 -> 67.80 (2019);
    # PM10 91.77 -> 75.49 (2019).
    assert airly_caqi(pm2_5=24.54) == 40.90
    assert airly_caqi(pm10=78.48) == 67.80
    assert airly_caqi(pm10=91.77) == 75.49
    assert caqi(pm2_5=24.54) == pytest.approx(25 + 9.54 / 15 * 25)


def test_airly_rounding_is_half_up_on_the_decimal_value() -> None:
    # Below PM10 25 the sub-index equals the concentration. The float 1.005 is
    # 1.00499999999999989..., yet the decimal value 1.005 rounds half up to 1.01.
    assert airly_caqi(pm10=1.005) == 1.01
    assert airly_caqi(pm10=1.004) == 1.0
    assert airly_caqi(pm10=[2.675, 2.665]).tolist() == [2.68, 2.67]


def test_airly_uses_pm_only_and_nan_when_both_missing() -> None:
    assert math.isnan(float(airly_caqi()))
    assert math.isnan(float(airly_caqi(NAN, NAN)))
    assert airly_caqi(NAN, 25.0) == 25.0


@pytest.mark.parametrize(
    ("pollutant", "conc", "expected"),
    [
        # Project choice (indices.md §1.4): the High slope continues above 100.
        ("pm2_5", 165.0, 125.0),  # +25 per 55 above 110
        ("pm10", 270.0, 125.0),  # +25 per 90 above 180
        ("no2", 600.0, 125.0),  # +25 per 200 above 400
        ("o3", 300.0, 125.0),  # +25 per 60 above 240
        ("co", 30000.0, 125.0),  # +25 per 10000 above 20000
        ("so2", 650.0, 125.0),  # +25 per 150 above 500
        ("pm10", 1080.0, 350.0),
    ],
)
def test_above_100_extends_the_high_segment(pollutant: str, conc: float, expected: float) -> None:
    assert caqi(**{pollutant: conc}) == pytest.approx(expected, abs=1e-9)
    assert caqi(cap=True, **{pollutant: conc}) == 100.0
    assert caqi_subindex(pollutant, conc, cap=True) == 100.0


def test_infinite_concentration() -> None:
    assert caqi(pm10=math.inf) == math.inf
    assert caqi(pm10=math.inf, cap=True) == 100.0


def test_roadside_ignores_o3_and_so2() -> None:
    assert caqi(pm10=20.0, o3=250.0, so2=600.0, location="roadside") == 20.0
    assert caqi(pm10=20.0, o3=250.0, so2=600.0) > 100.0
    assert math.isnan(float(caqi(o3=100.0, location="roadside")))
    assert caqi(co=15000.0, location="roadside") == pytest.approx(87.5)


def test_index_is_the_maximum_of_sub_indices() -> None:
    result = caqi(pm2_5=[10.0, 60.0], pm10=[40.0, 10.0], no2=[10.0, 10.0])
    expected = np.maximum.reduce(
        [
            caqi_subindex("pm2_5", [10.0, 60.0]),
            caqi_subindex("pm10", [40.0, 10.0]),
            caqi_subindex("no2", [10.0, 10.0]),
        ]
    )
    np.testing.assert_array_equal(result, expected)


def test_mandatory_pollutants() -> None:
    # [CITEAIR2012]: roadside NO2 + PM10; background NO2 + PM10 + O3.
    assert not caqi_mandatory_present(pm2_5=5.27, pm10=7.06)
    assert caqi_mandatory_present(pm10=1.0, no2=0.0, o3=0.0)
    assert not caqi_mandatory_present(pm10=1.0, no2=1.0)
    assert caqi_mandatory_present(pm10=1.0, no2=1.0, location="roadside")
    result = caqi_mandatory_present(pm10=[1.0, NAN, -1.0, 2.0], no2=3.0, location="roadside")
    assert result.dtype == np.bool_
    assert result.tolist() == [True, False, False, True]
    # Shape follows every given argument, mandatory or not.
    assert caqi_mandatory_present(pm2_5=[1.0, 2.0], pm10=1.0).shape == (2,)
    # The index itself is not NaN just because a mandatory pollutant is missing.
    assert caqi(pm2_5=5.27) == pytest.approx(8.7833333)


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match=r"grid must be one of 'hourly', 'daily'"):
        caqi(pm10=1.0, grid="weekly")
    with pytest.raises(ValueError, match=r"location must be one of 'background', 'roadside'"):
        caqi(pm10=1.0, location="kerbside")
    with pytest.raises(ValueError, match="variable must be one of"):
        caqi_subindex("pm1", 1.0)
    with pytest.raises(ValueError, match="location"):
        caqi_mandatory_present(pm10=1.0, location="x")


# --- a plain per-value reference implementation, to check the vectorised one -------------


def _reference_subindex(conc: float, limits: tuple[float, ...]) -> float:
    if math.isnan(conc) or conc < 0:
        return NAN
    for k in range(4):
        if conc <= limits[k + 1]:
            return 25.0 * k + (conc - limits[k]) * 25.0 / (limits[k + 1] - limits[k])
    return 100.0 + (conc - limits[4]) * 25.0 / (limits[4] - limits[3])


def _reference_caqi(pm2_5: float, pm10: float, grid: str) -> float:
    subs = [
        _reference_subindex(pm2_5, GRIDS[grid]["pm2_5"]),
        _reference_subindex(pm10, GRIDS[grid]["pm10"]),
    ]
    present = [s for s in subs if not math.isnan(s)]
    return max(present) if present else NAN


@pytest.mark.parametrize("grid", ["hourly", "daily"])
def test_matches_per_value_reference(grid: str) -> None:
    rng = np.random.default_rng(2019)
    pm2_5 = rng.gamma(1.5, 30.0, 5000)
    pm10 = pm2_5 * rng.uniform(0.8, 2.5, 5000)
    pm2_5[::17] = np.nan
    pm10[::23] = np.nan
    pm10[::101] = -3.0
    expected = [_reference_caqi(a, b, grid) for a, b in zip(pm2_5, pm10, strict=True)]
    np.testing.assert_allclose(
        caqi(pm2_5=pm2_5, pm10=pm10, grid=grid), expected, rtol=1e-12, atol=1e-12
    )


# Recorded Airly responses, 2022-09-05/06 (home-assistant/core
# tests/components/airly/fixtures/valid_station.json): (PM2.5, PM10, AIRLY_CAQI). Airly computes
# from unrounded concentrations, so the reported index may differ by up to 0.02 from the index of
# the rounded values it prints (indices.md §1.6).
RECORDED_2022 = [
    (4.37, 6.06, 7.29),
    (3.88, 5.19, 6.47),
    (4.1, 5.6, 6.84),
    (4.2, 5.8, 7.0),
    (5.41, 7.27, 9.02),
    (5.52, 7.25, 9.2),
    (5.63, 7.63, 9.38),
    (5.81, 7.72, 9.69),
]


@pytest.mark.parametrize(("pm2_5", "pm10", "recorded"), RECORDED_2022)
def test_recorded_airly_values(pm2_5: float, pm10: float, recorded: float) -> None:
    assert airly_caqi(pm2_5, pm10) == pytest.approx(recorded, abs=0.02)

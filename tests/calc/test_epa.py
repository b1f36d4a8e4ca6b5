"""US EPA AQI (2024 and pre-2024 tables) and the PM NowCast.

Reference values:
- Breakpoints 2024: EPA-454/B-24-002 (May 2024) Table 6; AirNow "The AQI Equation (2024)"
  [EPA2024] (indices.md §5.2).
- Pre-2024 ("2012") rows: 40 CFR 58 App. G (Federal Register 2009 correction; PMC9133359)
  [EPA2012] (§5.2); split O3 1-h and SO2 24-h rows from the pre-2024 Appendix G table.
- PM2.5 vectors: derived from the 2024 table (truncate to 0.1, round half up), indices.md §5.4;
  pre-2024 12.0 -> 50 and 9.0 -> 38 as python-aqi 0.6.1 outputs.
- NowCast worked example: EPA slide set "Computing the NowCast" [NOWCAST] (§5.3).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from smartdistricts.indices import (
    EPA_MOLAR_VOLUME,
    MOLAR_MASS,
    nowcast,
    us_aqi,
    us_aqi_beyond,
    us_aqi_subindex,
)

NAN = float("nan")

# (pollutant, unit) -> rows of (C_lo, C_hi, I_lo, I_hi) in the table's unit.
TABLE_2024 = {
    ("o3_8h", "ppm"): [
        (0.000, 0.054, 0, 50),
        (0.055, 0.070, 51, 100),
        (0.071, 0.085, 101, 150),
        (0.086, 0.105, 151, 200),
        (0.106, 0.200, 201, 300),
    ],
    ("o3_1h", "ppm"): [
        (0.125, 0.164, 101, 150),
        (0.165, 0.204, 151, 200),
        (0.205, 0.404, 201, 300),
        (0.405, 0.604, 301, 500),
    ],
    ("pm2_5", "ugm3"): [
        (0.0, 9.0, 0, 50),
        (9.1, 35.4, 51, 100),
        (35.5, 55.4, 101, 150),
        (55.5, 125.4, 151, 200),
        (125.5, 225.4, 201, 300),
        (225.5, 325.4, 301, 500),
    ],
    ("pm10", "ugm3"): [
        (0, 54, 0, 50),
        (55, 154, 51, 100),
        (155, 254, 101, 150),
        (255, 354, 151, 200),
        (355, 424, 201, 300),
        (425, 604, 301, 500),
    ],
    ("co", "ppm"): [
        (0.0, 4.4, 0, 50),
        (4.5, 9.4, 51, 100),
        (9.5, 12.4, 101, 150),
        (12.5, 15.4, 151, 200),
        (15.5, 30.4, 201, 300),
        (30.5, 50.4, 301, 500),
    ],
    ("so2", "ppb"): [(0, 35, 0, 50), (36, 75, 51, 100), (76, 185, 101, 150), (186, 304, 151, 200)],
    ("so2_24h", "ppb"): [(305, 604, 201, 300), (605, 1004, 301, 500)],
    ("no2", "ppb"): [
        (0, 53, 0, 50),
        (54, 100, 51, 100),
        (101, 360, 101, 150),
        (361, 649, 151, 200),
        (650, 1249, 201, 300),
        (1250, 2049, 301, 500),
    ],
}
TABLE_2012 = {
    **TABLE_2024,
    ("o3_1h", "ppm"): [
        (0.125, 0.164, 101, 150),
        (0.165, 0.204, 151, 200),
        (0.205, 0.404, 201, 300),
        (0.405, 0.504, 301, 400),
        (0.505, 0.604, 401, 500),
    ],
    ("pm2_5", "ugm3"): [
        (0.0, 12.0, 0, 50),
        (12.1, 35.4, 51, 100),
        (35.5, 55.4, 101, 150),
        (55.5, 150.4, 151, 200),
        (150.5, 250.4, 201, 300),
        (250.5, 350.4, 301, 400),
        (350.5, 500.4, 401, 500),
    ],
    ("pm10", "ugm3"): [
        (0, 54, 0, 50),
        (55, 154, 51, 100),
        (155, 254, 101, 150),
        (255, 354, 151, 200),
        (355, 424, 201, 300),
        (425, 504, 301, 400),
        (505, 604, 401, 500),
    ],
    ("co", "ppm"): [
        (0.0, 4.4, 0, 50),
        (4.5, 9.4, 51, 100),
        (9.5, 12.4, 101, 150),
        (12.5, 15.4, 151, 200),
        (15.5, 30.4, 201, 300),
        (30.5, 40.4, 301, 400),
        (40.5, 50.4, 401, 500),
    ],
    ("so2_24h", "ppb"): [(305, 604, 201, 300), (605, 804, 301, 400), (805, 1004, 401, 500)],
    ("no2", "ppb"): [
        (0, 53, 0, 50),
        (54, 100, 51, 100),
        (101, 360, 101, 150),
        (361, 649, 151, 200),
        (650, 1249, 201, 300),
        (1250, 1649, 301, 400),
        (1650, 2049, 401, 500),
    ],
}
GAS = {"o3_8h": "o3", "o3_1h": "o3", "co": "co", "so2": "so2", "so2_24h": "so2", "no2": "no2"}


def to_ugm3(pollutant: str, unit: str, value: float) -> float:
    """Table unit -> µg/m³ at 25 °C (24.45 L/mol), the inverse of the function's conversion."""
    if unit == "ugm3":
        return value
    ppb = value * 1000.0 if unit == "ppm" else value
    return ppb * MOLAR_MASS[GAS[pollutant]] / EPA_MOLAR_VOLUME


EDGES = [
    (version, pollutant, unit, conc, index)
    for version, table in (("2024", TABLE_2024), ("2012", TABLE_2012))
    for (pollutant, unit), rows in table.items()
    for c_lo, c_hi, i_lo, i_hi in rows
    for conc, index in ((c_lo, i_lo), (c_hi, i_hi))
]


@pytest.mark.parametrize(("version", "pollutant", "unit", "conc", "expected"), EDGES)
def test_every_breakpoint(
    version: str, pollutant: str, unit: str, conc: float, expected: int
) -> None:
    value = to_ugm3(pollutant, unit, conc)
    assert us_aqi_subindex(pollutant, value, version=version) == expected
    assert us_aqi(version=version, **{pollutant: value}) == expected


@pytest.mark.parametrize(
    ("version", "pollutant", "unit", "row"),
    [
        (version, pollutant, unit, row)
        for version, table in (("2024", TABLE_2024), ("2012", TABLE_2012))
        for (pollutant, unit), rows in table.items()
        for row in rows
    ],
)
def test_equation_inside_every_row(
    version: str, pollutant: str, unit: str, row: tuple[float, float, int, int]
) -> None:
    c_lo, c_hi, i_lo, i_hi = row
    # A point a third of the way through the row (already at the table precision).
    step = {"ppm": 0.001 if pollutant.startswith("o3") else 0.1, "ppb": 1, "ugm3": 0.1}[unit]
    if pollutant == "pm10":
        step = 1
    conc = c_lo + round((c_hi - c_lo) / 3 / step) * step
    expected = math.floor((i_hi - i_lo) / (c_hi - c_lo) * (conc - c_lo) + i_lo + 0.5)
    assert us_aqi_subindex(pollutant, to_ugm3(pollutant, unit, conc), version=version) == expected


# indices.md §5.4 (2024 table; truncate to 0.1, round half up).
PM25_VECTORS = [
    (0.0, 0),
    (4.5, 25),
    (9.0, 50),
    (9.05, 50),
    (9.1, 51),
    (12.0, 56),
    (35.4, 100),
    (35.45, 100),
    (35.5, 101),
    (55.4, 150),
    (55.5, 151),
    (125.4, 200),
    (125.5, 201),
    (225.4, 300),
    (225.5, 301),
    (325.4, 500),
]


@pytest.mark.parametrize(("pm2_5", "expected"), PM25_VECTORS)
def test_pm25_vectors(pm2_5: float, expected: int) -> None:
    assert us_aqi(pm2_5=pm2_5) == expected


def test_pm25_vectors_as_one_array() -> None:
    values, expected = zip(*PM25_VECTORS, strict=True)
    np.testing.assert_array_equal(us_aqi(pm2_5=list(values)), np.array(expected, dtype=float))


def test_pre_2024_pm25() -> None:
    # python-aqi 0.6.1 output (pre-2024 table): 12.0 -> 50, 9.0 -> 38 (37.5 rounded half up).
    assert us_aqi(pm2_5=12.0, version="2012") == 50
    assert us_aqi(pm2_5=9.0, version="2012") == 38


def test_truncation_before_lookup() -> None:
    # PM10 truncated to 1 µg/m³: 54.9 -> 54 -> 50.
    assert us_aqi(pm10=54.9) == 50
    # NO2 1 ppb = 1.8818 µg/m³; 53.9 ppb -> 53 -> 50.
    assert us_aqi(no2=to_ugm3("no2", "ppb", 53.9)) == 50
    # CO 4.45 ppm -> 4.4 -> 50.
    assert us_aqi(co=to_ugm3("co", "ppm", 4.45)) == 50


def test_unit_conversion_reference_temperature() -> None:
    # 25 °C, 24.45 L/mol: 0.070 ppm O3 = 70 ppb x 48.00 / 24.45 = 137.42 µg/m³.
    assert us_aqi(o3_8h=137.43) == 100
    assert us_aqi(o3_8h=137.40) == 97  # 0.06999 ppm -> 0.069


def test_ozone_rules() -> None:
    # 8-h O3 defines the AQI only up to 300; above 0.200 ppm the 8-h sub-index stays 300.
    assert us_aqi(o3_8h=to_ugm3("o3_8h", "ppm", 0.300)) == 300
    # 1-h O3 below 0.125 ppm is not used.
    assert math.isnan(float(us_aqi(o3_1h=to_ugm3("o3_1h", "ppm", 0.1))))
    # Both given: the higher is reported.
    both = us_aqi(o3_8h=to_ugm3("o3_8h", "ppm", 0.300), o3_1h=to_ugm3("o3_1h", "ppm", 0.505))
    assert both == us_aqi(o3_1h=to_ugm3("o3_1h", "ppm", 0.505)) > 300


def test_so2_rules() -> None:
    above = to_ugm3("so2", "ppb", 400)
    # 1-h SO2 does not define AQI above 200.
    assert us_aqi(so2=above) == 200
    # 24-h SO2 supplies the higher values (305-604 ppb -> 201-300).
    assert us_aqi(so2=above, so2_24h=to_ugm3("so2", "ppb", 305)) == 201
    # 24-h SO2 below 305 ppb is not used.
    assert math.isnan(float(us_aqi_subindex("so2_24h", to_ugm3("so2", "ppb", 100))))
    # 1-h 100 ppb: 49/109 x (100 - 76) + 101 = 111.8 -> 112.
    assert us_aqi(so2=to_ugm3("so2", "ppb", 100), so2_24h=to_ugm3("so2", "ppb", 100)) == 112


def test_beyond_the_aqi() -> None:
    # Project choice: the last segment is extended; us_aqi_beyond flags it.
    assert us_aqi(pm2_5=325.5) == 500
    assert bool(us_aqi_beyond(pm2_5=325.5))
    assert not bool(us_aqi_beyond(pm2_5=325.4))
    assert us_aqi(pm2_5=425.4) == 699  # 199/99.9 x (425.4 - 225.5) + 301 = 699.2
    assert us_aqi(pm10=784) == 700  # 199/179 x (784 - 425) + 301 = 700.1
    flags = us_aqi_beyond(pm2_5=[1.0, NAN, 400.0], pm10=[700.0, 1.0, 1.0], version="2024")
    assert flags.tolist() == [True, False, True]
    assert not bool(us_aqi_beyond())
    assert bool(us_aqi_beyond(o3_8h=to_ugm3("o3_8h", "ppm", 0.201)))


def test_missing_negative_and_invalid() -> None:
    assert math.isnan(float(us_aqi()))
    assert math.isnan(float(us_aqi(pm2_5=-0.1)))
    assert us_aqi(pm2_5=0.0) == 0
    with pytest.raises(ValueError, match=r"version must be one of '2024', '2012'"):
        us_aqi(pm2_5=1.0, version="2015")
    with pytest.raises(ValueError, match="pollutant must be one of"):
        us_aqi_subindex("o3", 1.0)
    with pytest.raises(ValueError, match="version"):
        us_aqi_beyond(pm10=1.0, version="x")


# --- NowCast -----------------------------------------------------------------------------

WORKED = [50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13]  # oldest -> newest


def test_nowcast_worked_example() -> None:
    # "Computing the NowCast": w = 1 - 80/90 = 0.11 -> 0.5; NowCast 17.4139 -> 17.4;
    # 2024 AQI = 49/26.3 x (17.4 - 9.1) + 51 = 66.46 -> 66.
    assert nowcast(WORKED) == 17.4
    assert us_aqi(pm2_5=nowcast(WORKED)) == 66


def test_nowcast_weights() -> None:
    # Constant series: w = 1, NowCast = the value.
    assert nowcast([20.0] * 12) == 20.0
    # Two hours, w = 1 - (20 - 10)/20 = 0.5: (10 + 0.5 x 20)/(1.5) = 13.33 -> 13.3.
    assert nowcast([NAN] * 10 + [20.0, 10.0]) == 13.3
    # w above 0.5 is used as is: 12 and 10 -> w = 1 - 2/12 = 0.8333:
    # (10 + 0.8333 x 12)/(1.8333) = 10.909 -> 10.9.
    assert nowcast([NAN] * 10 + [12.0, 10.0]) == 10.9
    # All zero: w = 1 (no division by zero), NowCast 0.
    assert nowcast([0.0] * 12) == 0.0
    # PM10 truncates to whole µg/m³.
    assert nowcast([NAN] * 10 + [20.0, 10.0], pollutant="pm10") == 13.0


def test_nowcast_needs_two_of_the_three_latest_hours() -> None:
    base = np.array(WORKED, dtype=float)
    one_missing = base.copy()
    one_missing[-2] = np.nan
    assert not math.isnan(float(nowcast(one_missing)))
    two_missing = base.copy()
    two_missing[[-1, -3]] = np.nan
    assert math.isnan(float(nowcast(two_missing)))
    old_missing = base.copy()
    old_missing[:9] = np.nan
    assert not math.isnan(float(nowcast(old_missing)))
    assert math.isnan(float(nowcast([NAN] * 12)))


def test_nowcast_is_vectorised_over_leading_axes() -> None:
    batch = np.array([WORKED, [20.0] * 12, [NAN] * 12])
    result = nowcast(batch)
    assert result.shape == (3,)
    np.testing.assert_array_equal(result, [17.4, 20.0, NAN])
    cube = np.broadcast_to(np.array(WORKED, dtype=float), (2, 4, 12))
    assert nowcast(cube).shape == (2, 4)
    assert nowcast(np.empty((0, 12))).shape == (0,)


def test_nowcast_negative_hours_count_as_missing() -> None:
    series = np.array(WORKED, dtype=float)
    series[0] = -5.0
    with_nan = series.copy()
    with_nan[0] = np.nan
    assert nowcast(series) == nowcast(with_nan)


def test_nowcast_invalid_input() -> None:
    with pytest.raises(ValueError, match="12 hours on its last axis"):
        nowcast([1.0] * 11)
    with pytest.raises(ValueError, match="12 hours"):
        nowcast(5.0)
    with pytest.raises(ValueError, match=r"pollutant must be one of 'pm2_5', 'pm10'"):
        nowcast(WORKED, pollutant="o3")

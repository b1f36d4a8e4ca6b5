"""European Air Quality Index (EEA), versions 2024, 2019 and 2017.

Reference values (upper band limits, µg/m³):
- 2024: ETC HE Report 2024/17, Table 5.2 [EEA2024] (indices.md §3.1).
- 2019: EEA six-band index as tabulated by weewx-aqi eu.py and open-meteo [EEA2019] (§3.2).
- 2017: EEA AQI viewer "About the Index" (16 Nov 2017) [EEA2017] (§3.3).
"""

from __future__ import annotations

import math

import pytest

from smartdistricts.indices import eaqi

UPPER = {
    "2024": {
        "pm2_5": (5, 15, 50, 90, 140),
        "pm10": (15, 45, 120, 195, 270),
        "no2": (10, 25, 60, 100, 150),
        "o3": (60, 100, 120, 160, 180),
        "so2": (20, 40, 125, 190, 275),
    },
    "2019": {
        "pm2_5": (10, 20, 25, 50, 75),
        "pm10": (20, 40, 50, 100, 150),
        "no2": (40, 90, 120, 230, 340),
        "o3": (50, 100, 130, 240, 380),
        "so2": (100, 200, 350, 500, 750),
    },
    "2017": {
        "pm2_5": (10, 20, 25, 50),
        "pm10": (20, 35, 50, 100),
        "no2": (40, 100, 200, 400),
        "o3": (80, 120, 180, 240),
        "so2": (100, 200, 350, 500),
    },
}

CASES = [
    (version, pollutant, k, limit)
    for version, table in UPPER.items()
    for pollutant, limits in table.items()
    for k, limit in enumerate(limits)
]


@pytest.mark.parametrize(("version", "pollutant", "k", "limit"), CASES)
def test_every_band_edge_without_rounding(version: str, pollutant: str, k: int, limit: int) -> None:
    # rounding="none": a value at the upper limit is in the band, anything above is not.
    band = k + 1
    assert eaqi(version=version, rounding="none", **{pollutant: limit}) == band
    assert eaqi(version=version, rounding="none", **{pollutant: limit + 0.01}) == band + 1
    lower = 0 if k == 0 else UPPER[version][pollutant][k - 1]
    assert eaqi(version=version, rounding="none", **{pollutant: lower + 0.01}) == band


@pytest.mark.parametrize(("version", "pollutant", "k", "limit"), CASES)
def test_every_band_edge_with_rounding(version: str, pollutant: str, k: int, limit: int) -> None:
    # rounding="round": round half up to an integer, then integer-inclusive lookup
    # (EEA prints 0-5, 6-15, ...).
    band = k + 1
    assert eaqi(version=version, **{pollutant: limit}) == band
    assert eaqi(version=version, **{pollutant: limit + 0.49}) == band
    assert eaqi(version=version, **{pollutant: limit + 0.5}) == band + 1
    assert eaqi(version=version, **{pollutant: limit + 1}) == band + 1


def test_boundary_rule_example() -> None:
    # indices.md §3.1: PM2.5 5.3 -> Good with round-then-lookup, Fair with "<= upper".
    assert eaqi(pm2_5=5.3) == 1
    assert eaqi(pm2_5=5.5) == 2
    assert eaqi(pm2_5=5.3, rounding="none") == 2
    # PM10 15.48 -> 15 -> Good (the viewer-fitted example).
    assert eaqi(pm10=15.48) == 1


def test_top_band_is_open() -> None:
    assert eaqi(pm2_5=10_000.0) == 6
    assert eaqi(pm10=5000.0, version="2019") == 6
    assert eaqi(pm10=5000.0, version="2017") == 5


def test_overall_is_the_worst_band() -> None:
    assert eaqi(pm2_5=1.0, pm10=50.0, no2=5.0, o3=170.0, so2=1.0) == 5
    assert eaqi(pm2_5=[1.0, float("nan")], o3=[float("nan"), 61.0]).tolist() == [1.0, 2.0]


def test_zero_is_a_value_and_nothing_is_nan() -> None:
    assert eaqi(pm2_5=0.0) == 1
    assert math.isnan(float(eaqi()))
    assert math.isnan(float(eaqi(pm2_5=-1.0)))


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match=r"version must be one of '2024', '2019', '2017'"):
        eaqi(pm2_5=1.0, version="2025")
    with pytest.raises(ValueError, match=r"rounding must be one of 'round', 'none'"):
        eaqi(pm2_5=1.0, rounding="floor")

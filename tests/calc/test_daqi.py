"""UK Daily Air Quality Index (DAQI).

Reference values: Defra UK-AIR "Daily Air Quality Index" band table [DEFRA-DAQI] (indices.md §6),
corroborated by openweathermap.org and atmotube/aqipy daqi_uk.py. Upper limits of indices 1-9
(µg/m³); index 10 is open ("≥ 71" for PM2.5).
"""

from __future__ import annotations

import math

import pytest

from smartdistricts.indices import daqi

UPPER = {
    "pm2_5": (11, 23, 35, 41, 47, 53, 58, 64, 70),
    "pm10": (16, 33, 50, 58, 66, 75, 83, 91, 100),
    "no2": (67, 134, 200, 267, 334, 400, 467, 534, 600),
    "o3": (33, 66, 100, 120, 140, 160, 187, 213, 240),
    "so2": (88, 177, 266, 354, 443, 532, 710, 887, 1064),
}

CASES = [(p, k, limit) for p, limits in UPPER.items() for k, limit in enumerate(limits)]


@pytest.mark.parametrize(("pollutant", "k", "limit"), CASES)
def test_every_band_edge(pollutant: str, k: int, limit: int) -> None:
    index = k + 1
    lower = 0 if k == 0 else UPPER[pollutant][k - 1] + 1
    for rounding in ("round", "truncate"):
        assert daqi(rounding=rounding, **{pollutant: limit}) == index
        assert daqi(rounding=rounding, **{pollutant: lower}) == index
        assert daqi(rounding=rounding, **{pollutant: limit + 1}) == index + 1
    # Between the integer bands the rounding rule decides.
    assert daqi(**{pollutant: limit + 0.49}) == index
    assert daqi(**{pollutant: limit + 0.5}) == index + 1
    assert daqi(rounding="truncate", **{pollutant: limit + 0.99}) == index


def test_top_band_and_overall() -> None:
    assert daqi(pm2_5=71.0) == 10
    assert daqi(so2=1e5) == 10
    assert daqi(pm2_5=40.0, pm10=20.0, no2=10.0) == 4
    assert daqi(pm2_5=[0.0, float("nan")], o3=[float("nan"), 250.0]).tolist() == [1.0, 10.0]


def test_missing_and_invalid() -> None:
    assert math.isnan(float(daqi()))
    assert math.isnan(float(daqi(pm10=-5.0)))
    with pytest.raises(ValueError, match=r"rounding must be one of 'round', 'truncate'"):
        daqi(pm10=1.0, rounding="none")

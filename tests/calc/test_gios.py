"""Polish air-quality index (GIOŚ), versions A and B, and smog alert thresholds.

Reference values (upper limits of categories 0-4; category 5 is open), µg/m³:
- GIOS_A: thresholds shared by >= 8 independent implementations of the GIOŚ index
  (indices.md §4.2, version A) [GIOS].
- GIOS_B: air.legnica.eu/aqi-index-table.html, "stan na czerwiec 2025 r." (§4.2, version B);
  CO printed in mg/m³.
"""

from __future__ import annotations

import math

import pytest

from smartdistricts.indices import gios_index

UPPER = {
    "GIOS_A": {
        "pm10": (20, 50, 80, 110, 150),
        "pm2_5": (13, 35, 55, 75, 110),
        "o3": (70, 120, 150, 180, 240),
        "no2": (40, 100, 150, 230, 400),
        "so2": (50, 100, 200, 350, 500),
    },
    "GIOS_B": {
        "so2": (50, 100, 200, 350, 500),
        "no2": (40, 100, 150, 200, 400),
        "co": (3000, 7000, 11000, 15000, 21000),  # 3-21 mg/m³ as µg/m³
        "pm10": (20, 50, 80, 110, 150),
        "pm2_5": (13, 35, 55, 80, 110),
        "o3": (60, 100, 140, 180, 240),
        "c6h6": (6, 11, 16, 21, 51),
    },
}
# The printed step between categories (20 | 20.1) in µg/m³: 0.1, or 0.1 mg/m³ for CO.
STEP = {"co": 100.0}

CASES = [
    (version, pollutant, k, limit)
    for version, table in UPPER.items()
    for pollutant, limits in table.items()
    for k, limit in enumerate(limits)
]


@pytest.mark.parametrize(("version", "pollutant", "k", "limit"), CASES)
def test_every_category_edge(version: str, pollutant: str, k: int, limit: float) -> None:
    step = STEP.get(pollutant, 0.1)
    # Right-closed: the printed upper limit is still in the category ("20.0 is Bardzo dobry").
    assert gios_index(version=version, **{pollutant: limit}) == k
    # The printed lower limit of the next category (20.1) is in the next one.
    assert gios_index(version=version, **{pollutant: limit + step}) == k + 1
    # Between the printed limits (20.05): right-closed on the real line -> next category.
    assert gios_index(version=version, **{pollutant: limit + step / 2}) == k + 1
    lower = 0.0 if k == 0 else UPPER[version][pollutant][k - 1] + step
    assert gios_index(version=version, **{pollutant: lower}) == k


def test_values_quoted_in_the_rules() -> None:
    assert gios_index(pm10=20.0) == 0  # "20.0 is still Bardzo dobry"
    assert gios_index(pm10=20.05) == 1
    assert gios_index(pm10=0.0) == 0
    assert gios_index(pm10=1e5) == 5


def test_versions_differ_where_documented() -> None:
    # PM2.5 Dostateczny/Zły boundary 75 (A) vs 80 (B); O3 70 vs 60; NO2 230 vs 200.
    assert gios_index(pm2_5=78.0) == 4
    assert gios_index(pm2_5=78.0, version="GIOS_B") == 3
    assert gios_index(o3=65.0) == 0
    assert gios_index(o3=65.0, version="GIOS_B") == 1
    assert gios_index(no2=210.0) == 3
    assert gios_index(no2=210.0, version="GIOS_B") == 4


def test_co_and_benzene_only_in_version_b() -> None:
    assert math.isnan(float(gios_index(co=30000.0, c6h6=100.0)))
    assert gios_index(pm10=10.0, co=30000.0) == 0
    assert gios_index(co=30000.0, version="GIOS_B") == 5
    assert gios_index(co=3000.0, version="GIOS_B") == 0
    assert gios_index(co=3050.0, version="GIOS_B") == 1


def test_overall_is_the_worst_category() -> None:
    result = gios_index(pm10=[10.0, 60.0, float("nan")], no2=[120.0, 5.0, float("nan")])
    assert result[:2].tolist() == [2.0, 2.0]
    assert math.isnan(result[2])


def test_invalid_version() -> None:
    with pytest.raises(ValueError, match=r"version must be one of 'GIOS_A', 'GIOS_B'"):
        gios_index(pm10=1.0, version="GIOS_C")

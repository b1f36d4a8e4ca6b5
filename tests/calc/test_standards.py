"""Percent of a standard, limit values and smog alert thresholds.

Reference values:
- Town widget of 21.05.2019 and Airly's standards percent definition (value / limit x 100,
  two decimals) [AIRLY-DOCS] (indices.md §10): PM2.5 5.27 -> 21.08 (WHO2005), 35.13 (WHO2021);
  PM10 7.06 -> 14.12 (WHO2005).
- Limits: WHO 2005 global update [WHO2005] (§7.2), WHO 2021 AQG [WHO2021] (§7.1), Directive
  2008/50/EC [EU2008] (§8.1), Directive (EU) 2024/2881 Annex I Table 1 [EU2024] (§8.2).
- Alert thresholds: Dz.U. 2019 poz. 1931 / GIOŚ [GIOS] (§4.3), 2008/50/EC Annex XII, 2024/2881
  Annex I Section 4 (§8.3).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from smartdistricts.indices import (
    ALERT_VERSIONS,
    STANDARDS,
    alert_thresholds,
    standard_limit,
    standard_percent,
)

LIMITS = {
    "WHO2005": {
        "pm2_5": (25, "24h"),
        "pm10": (50, "24h"),
        "no2": (200, "1h"),
        "o3": (100, "8h"),
        "so2": (20, "24h"),
    },
    "WHO2021": {
        "pm2_5": (15, "24h"),
        "pm10": (45, "24h"),
        "no2": (25, "24h"),
        "o3": (100, "8h"),
        "so2": (40, "24h"),
        "co": (4000, "24h"),
    },
    "EU2008": {
        "pm2_5": (25, "year"),
        "pm10": (50, "24h"),
        "no2": (200, "1h"),
        "so2": (125, "24h"),
        "co": (10000, "8h"),
        "o3": (120, "8h"),
    },
    "EU2030": {
        "pm2_5": (25, "24h"),
        "pm10": (45, "24h"),
        "no2": (50, "24h"),
        "so2": (50, "24h"),
        "co": (4000, "24h"),
        "o3": (120, "8h"),
    },
}


def test_presets() -> None:
    assert set(STANDARDS) == set(LIMITS)


@pytest.mark.parametrize(
    ("standard", "variable", "limit", "averaging"),
    [(s, v, lim, avg) for s, table in LIMITS.items() for v, (lim, avg) in table.items()],
)
def test_every_limit(standard: str, variable: str, limit: float, averaging: str) -> None:
    assert standard_limit(variable, standard) == (limit, averaging)
    # At the limit the percentage is 100; at half of it, 50.
    assert standard_percent(limit, variable=variable, standard=standard) == 100.0
    assert standard_percent(limit / 2, variable=variable, standard=standard) == 50.0


def test_airly_examples() -> None:
    assert standard_percent(5.27, variable="pm2_5", standard="WHO2005") == 21.08
    assert standard_percent(5.27, variable="pm2_5", standard="WHO2021") == 35.13
    assert standard_percent(7.06, variable="pm10", standard="WHO2005") == 14.12
    assert standard_percent(7.06, variable="pm10", standard="WHO2021") == 15.69
    # The widget shows 21,09 % because Airly used the unrounded concentration.
    assert standard_percent(5.2725, variable="pm2_5") == 21.09
    # Airly docs: PM10 25 against 50 = 50 %.
    assert standard_percent(25.0, variable="pm10") == 50.0


def test_rounding_is_half_up() -> None:
    # 0.66875 / 25 x 100 = 2.675 (the float is 2.67499...): half up on the decimal value gives
    # 2.68 where Python's round() gives 2.67. Likewise 0.25125 -> 1.005 -> 1.01.
    assert standard_percent(0.66875, variable="pm2_5") == 2.68
    assert standard_percent(0.25125, variable="pm2_5") == 1.01
    assert standard_percent(0.10125, variable="pm2_5") == 0.41


def test_variable_not_defined_by_the_standard_is_nan() -> None:
    assert math.isnan(float(standard_percent(500.0, variable="co", standard="WHO2005")))
    assert math.isnan(standard_limit("co", "WHO2005")[0])
    limit, averaging = standard_limit("c6h6", "EU2030")
    assert math.isnan(limit)
    assert averaging == ""
    result = standard_percent([1.0, 2.0], variable="pm1")
    assert result.shape == (2,)
    assert np.isnan(result).all()


def test_arrays_nan_negative() -> None:
    result = standard_percent([0.0, 12.5, float("nan"), -1.0], variable="pm2_5")
    np.testing.assert_array_equal(result, [0.0, 50.0, np.nan, np.nan])
    assert standard_percent(np.empty(0), variable="pm10").shape == (0,)


def test_invalid_names() -> None:
    with pytest.raises(ValueError, match=r"standard must be one of 'WHO2005', 'WHO2021'"):
        standard_percent(1.0, variable="pm10", standard="WHO2030")
    with pytest.raises(ValueError, match="variable must be one of"):
        standard_percent(1.0, variable="pm25")
    with pytest.raises(ValueError, match="variable"):
        standard_limit("temp_air", "WHO2021")


ALERTS = {
    # version: {pollutant: (averaging, information, alert, persistence)}
    "PL2019": {
        "pm10": ("24h", 100, 150, ""),
        "o3": ("1h", 180, 240, ""),
        "no2": ("1h", math.nan, 400, "3 consecutive hours"),
        "so2": ("1h", math.nan, 500, "3 consecutive hours"),
    },
    "PL_PRE2019": {
        "pm10": ("24h", 200, 300, ""),
        "o3": ("1h", 180, 240, ""),
        "no2": ("1h", math.nan, 400, "3 consecutive hours"),
        "so2": ("1h", math.nan, 500, "3 consecutive hours"),
    },
    "EU2008": {
        "o3": ("1h", 180, 240, ""),
        "no2": ("1h", math.nan, 400, "3 consecutive hours"),
        "so2": ("1h", math.nan, 500, "3 consecutive hours"),
    },
    "EU2024": {
        "pm10": ("24h", 90, 90, "3 consecutive days"),
        "pm2_5": ("24h", 50, 50, "3 consecutive days"),
        "no2": ("1h", 150, 200, "3 consecutive hours"),
        "so2": ("1h", 275, 350, "3 consecutive hours"),
        "o3": ("1h", 180, 240, ""),
    },
}


@pytest.mark.parametrize("version", list(ALERTS))
def test_alert_thresholds(version: str) -> None:
    table = alert_thresholds(version)
    assert set(table) == set(ALERTS[version])
    for pollutant, (averaging, information, alert, persistence) in ALERTS[version].items():
        entry = table[pollutant]
        assert entry.pollutant == pollutant
        assert entry.averaging == averaging
        assert entry.information == pytest.approx(information, nan_ok=True)
        assert entry.alert == alert
        assert entry.alert_persistence == persistence
        assert entry.unit == "µg/m³"


def test_alert_thresholds_accessor() -> None:
    assert set(ALERT_VERSIONS) == set(ALERTS)
    assert alert_thresholds()["pm10"].alert == 150.0  # default PL2019
    first = alert_thresholds("PL2019")
    first.clear()
    assert alert_thresholds("PL2019")  # a new dict each call
    with pytest.raises(ValueError, match="version must be one of 'PL2019'"):
        alert_thresholds("PL2018")


# Recorded Airly responses, 2022-09 (home-assistant/core
# tests/components/airly/fixtures/valid_station.json), WHO2021 limits: (PM2.5, percent).
# Airly divides the unrounded value, so the printed concentration reproduces the percent within
# 0.04 (indices.md §10).
@pytest.mark.parametrize(
    ("pm2_5", "recorded"),
    [(4.37, 29.13), (3.88, 25.85), (4.1, 27.35), (4.2, 27.98), (5.41, 36.06), (5.52, 36.8)],
)
def test_recorded_airly_percents(pm2_5: float, recorded: float) -> None:
    result = standard_percent(pm2_5, variable="pm2_5", standard="WHO2021")
    assert result == pytest.approx(recorded, abs=0.04)

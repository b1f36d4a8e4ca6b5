"""Conventions every index function follows: types, shapes, NaN, None vs 0.0, negatives."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from smartdistricts import indices
from smartdistricts.indices import (
    airly_caqi,
    caqi,
    caqi_subindex,
    daqi,
    eaqi,
    gios_index,
    standard_percent,
    us_aqi,
    us_aqi_subindex,
)

NAN = float("nan")

# Functions taking pollutants as keyword arguments (pm2_5, pm10, ...).
MULTI: dict[str, Callable[..., Any]] = {
    "caqi": caqi,
    "eaqi": eaqi,
    "gios_index": gios_index,
    "us_aqi": us_aqi,
    "daqi": daqi,
    "airly_caqi": airly_caqi,
}
SINGLE: dict[str, Callable[[Any], Any]] = {
    "caqi_subindex": lambda x: caqi_subindex("pm10", x),
    "us_aqi_subindex": lambda x: us_aqi_subindex("pm10", x),
    "standard_percent": lambda x: standard_percent(x, variable="pm10"),
}


@pytest.mark.parametrize("name", list(MULTI))
def test_scalar_in_zero_dimensional_float64_out(name: str) -> None:
    result = MULTI[name](pm2_5=12.0, pm10=30.0)
    assert isinstance(result, np.ndarray)
    assert result.dtype == np.float64
    assert result.shape == ()
    assert math.isfinite(float(result))


@pytest.mark.parametrize("name", list(SINGLE))
def test_single_pollutant_functions_scalar_and_array(name: str) -> None:
    scalar = SINGLE[name](30.0)
    assert isinstance(scalar, np.ndarray)
    assert scalar.dtype == np.float64
    assert scalar.shape == ()
    array = SINGLE[name]([30.0, NAN, -1.0, 0.0])
    assert array.shape == (4,)
    assert array[0] == scalar
    assert math.isnan(array[1])
    assert math.isnan(array[2])
    assert array[3] == 0.0
    assert SINGLE[name](np.empty((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("name", list(MULTI))
def test_arrays_and_broadcasting(name: str) -> None:
    function = MULTI[name]
    pm2_5 = np.array([[5.0], [20.0], [60.0]])  # (3, 1)
    pm10 = np.array([10.0, 40.0, 100.0, 250.0])  # (4,)
    result = function(pm2_5=pm2_5, pm10=pm10)
    assert result.shape == (3, 4)
    assert result.dtype == np.float64
    for i in range(3):
        for j in range(4):
            assert result[i, j] == function(pm2_5=pm2_5[i, 0], pm10=pm10[j])
    # Lists are accepted too.
    np.testing.assert_array_equal(
        function(pm2_5=[5.0, 20.0], pm10=[10.0, 40.0]),
        function(pm2_5=np.array([5.0, 20.0]), pm10=np.array([10.0, 40.0])),
    )


@pytest.mark.parametrize("name", list(MULTI))
def test_empty_arrays(name: str) -> None:
    result = MULTI[name](pm2_5=np.empty(0), pm10=np.empty(0))
    assert result.shape == (0,)
    assert result.dtype == np.float64


@pytest.mark.parametrize("name", list(MULTI))
def test_nan_none_zero_and_negative(name: str) -> None:
    function = MULTI[name]
    # Nothing given, or everything missing -> NaN.
    assert math.isnan(float(function()))
    assert math.isnan(float(function(pm2_5=NAN, pm10=NAN)))
    # None means "not used": same as leaving the argument out.
    assert function(pm2_5=30.0, pm10=None) == function(pm2_5=30.0)
    # 0.0 is a measurement, not a missing value.
    zero = function(pm2_5=0.0)
    assert not math.isnan(float(zero))
    assert function(pm2_5=0.0, pm10=NAN) == zero
    # NaN in one pollutant leaves the other in charge.
    assert function(pm2_5=NAN, pm10=40.0) == function(pm10=40.0)
    # Negative concentrations are treated as missing.
    assert math.isnan(float(function(pm2_5=-1.0)))
    assert function(pm2_5=-1.0, pm10=40.0) == function(pm10=40.0)


def test_inputs_are_not_modified() -> None:
    pm10 = np.array([10.0, -1.0, NAN, 300.0])
    before = pm10.copy()
    for function in MULTI.values():
        function(pm10=pm10)
    np.testing.assert_array_equal(pm10, before)


def test_facade_exports() -> None:
    for name in indices.__all__:
        assert hasattr(indices, name), name
    documented = {
        "caqi",
        "airly_caqi",
        "caqi_subindex",
        "caqi_mandatory_present",
        "eaqi",
        "gios_index",
        "alert_thresholds",
        "us_aqi",
        "us_aqi_subindex",
        "us_aqi_beyond",
        "nowcast",
        "daqi",
        "standard_percent",
        "standard_limit",
        "level",
        "level_codes",
        "advice",
        "index_levels",
        "Level",
    }
    assert documented <= set(indices.__all__)
    for name in documented:
        assert getattr(indices, name).__doc__, name


@pytest.mark.parametrize("name", list(MULTI))
def test_extreme_values_do_not_warn(name: str) -> None:
    # pytest turns warnings into errors: overflow in intermediate steps must not warn.
    result = MULTI[name](pm2_5=[1e300, math.inf], pm10=[1e300, math.inf])
    assert not np.isnan(result).any()

"""Common Air Quality Index (CAQI, CITEAIR II 2012) and Airly's ``AIRLY_CAQI``.

The CAQI has five classes on an open scale: Very low 0–25, Low 25–50, Medium 50–75, High 75–100
and Very high above 100. Each pollutant's sub-index is interpolated linearly inside the class its
concentration falls in; the index is the highest sub-index [CITEAIR2012]. Grids for the hourly and
the daily index are shipped as ``calc/data/caqi_citeair2012_hourly.csv`` and
``calc/data/caqi_citeair2012_daily.csv``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smartdistricts.calc.breakpoints import (
    FloatArray,
    half_up,
    interpolate,
    linear_knots,
    load_table,
    worst,
)
from smartdistricts.calc.tables import check_choice

__all__ = [
    "CAQI_GRIDS",
    "CAQI_LOCATIONS",
    "CAQI_MANDATORY",
    "CAQI_POLLUTANTS",
    "airly_caqi",
    "caqi",
    "caqi_mandatory_present",
    "caqi_subindex",
]

#: Time grids of the CAQI: ``"hourly"`` (1-h values, CO 8-h) and ``"daily"`` (yesterday).
CAQI_GRIDS = ("hourly", "daily")
#: Station situations: urban ``"background"`` and traffic (``"roadside"``).
CAQI_LOCATIONS = ("background", "roadside")
#: Pollutants that enter the index in each situation [CITEAIR2012].
CAQI_POLLUTANTS = {
    "background": ("no2", "pm10", "o3", "pm2_5", "co", "so2"),
    "roadside": ("no2", "pm10", "pm2_5", "co"),
}
#: Pollutants CITEAIR requires for a complete index in each situation.
CAQI_MANDATORY = {"background": ("no2", "pm10", "o3"), "roadside": ("no2", "pm10")}

_FILES = {"hourly": "caqi_citeair2012_hourly.csv", "daily": "caqi_citeair2012_daily.csv"}
# Interpolation knots per (grid, capped) and pollutant, built once at import.
_KNOTS = {
    (grid, cap): {
        pollutant: linear_knots(bands, extend=not cap)
        for pollutant, bands in load_table(name).bands.items()
    }
    for grid, name in _FILES.items()
    for cap in (False, True)
}


def caqi_subindex(
    variable: str, conc: ArrayLike, *, grid: str = "hourly", cap: bool = False
) -> FloatArray:
    """CAQI sub-index of one pollutant.

    Parameters
    ----------
    variable : str
        ``"pm2_5"``, ``"pm10"``, ``"no2"``, ``"o3"``, ``"co"`` or ``"so2"``.
    conc : array_like
        Concentration [µg/m³] (CO in µg/m³ too). Averaging as the grid requires, see
        :func:`caqi`.
    grid : str, default ``"hourly"``
        ``"hourly"`` or ``"daily"``.
    cap : bool, default False
        Cap the sub-index at 100 instead of extending the High segment above 100.

    Returns
    -------
    numpy.ndarray
        Sub-index (float64, unrounded; 0-d for scalar input). NaN where ``conc`` is NaN or
        negative.

    Notes
    -----
    ``I = I_lo + (C − C_lo)·(I_hi − I_lo)/(C_hi − C_lo)`` inside the class containing C; a
    concentration on a class limit gets the limit's index (both neighbouring classes agree).
    Above the top limit (100) the slope of the High class continues, e.g. PM10 270 µg/m³ → 125.

    References
    ----------
    [CITEAIR2012] CITEAIR II, "CAQI Air quality index — Comparing Urban Air Quality across
    Borders", 2012.

    Examples
    --------
    >>> caqi_subindex("pm2_5", 24.54)
    array(40.9)
    >>> caqi_subindex("pm10", [25.0, 180.0, 270.0], grid="hourly").tolist()
    [25.0, 100.0, 125.0]
    >>> caqi_subindex("pm10", 270.0, cap=True)
    array(100.)
    """
    check_choice("grid", grid, CAQI_GRIDS)
    knots = _KNOTS[grid, bool(cap)]
    check_choice("variable", variable, tuple(knots))
    return interpolate(conc, knots[variable])


def caqi(
    *,
    pm2_5: ArrayLike | None = None,
    pm10: ArrayLike | None = None,
    no2: ArrayLike | None = None,
    o3: ArrayLike | None = None,
    co: ArrayLike | None = None,
    so2: ArrayLike | None = None,
    grid: str = "hourly",
    location: str = "background",
    cap: bool = False,
) -> FloatArray:
    """Common Air Quality Index (CITEAIR II, 2012): the highest pollutant sub-index.

    With PM only this is what Airly's API reports as ``AIRLY_CAQI`` before rounding (Airly
    rounds to two decimals, see :func:`airly_caqi`).

    Parameters
    ----------
    pm2_5, pm10 : array_like, optional
        PM2.5 and PM10 [µg/m³]: 1-h values (``grid="hourly"``) or 24-h means (``"daily"``).
    no2, o3, so2 : array_like, optional
        NO2, O3, SO2 [µg/m³]: 1-h values (hourly grid) or the day's maximum 1-h value (daily).
    co : array_like, optional
        CO [µg/m³] (mg/m³ × 1000): 8-h moving mean (hourly) or the day's maximum 8-h mean
        (daily).
    grid : str, default ``"hourly"``
        ``"hourly"`` or ``"daily"``. The grids differ only for PM.
    location : str, default ``"background"``
        ``"background"`` uses all six pollutants; ``"roadside"`` uses NO2, PM10, PM2.5 and CO
        and ignores O3 and SO2.
    cap : bool, default False
        Cap every sub-index at 100 instead of extending the High segment above 100.

    Returns
    -------
    numpy.ndarray
        The index (float64, unrounded; a 0-d array for scalar inputs, otherwise the broadcast
        shape of the inputs). NaN where every used pollutant is missing.

    Notes
    -----
    * A pollutant passed as ``None`` is not used; NaN marks a missing value element-wise; 0.0 is a
      real measurement. Negative concentrations are treated as missing.
    * CITEAIR requires NO2 and PM10 (roadside) or NO2, PM10 and O3 (background) for a complete
      index. This function does **not** return NaN when they are missing — Airly computes the
      index from PM alone — use :func:`caqi_mandatory_present` to report completeness.
    * Class limits belong to both neighbouring classes (the formula gives the same value).
    * Above 100 CITEAIR only says "Very high". This implementation continues the High segment
      linearly (PM2.5 +25 per 55 µg/m³ above 110, PM10 +25 per 90 above 180, NO2 +25 per 200
      above 400, …) — a project choice that matches Airly's levels above 100 (EXTREME,
      AIRMAGEDDON) but was not checked against a recorded Airly value above 100. ``cap=True``
      gives 100 instead.
    * Grids: version CITEAIR2012 (SO2 Medium/High limit 350 µg/m³; the 2006 grid had 300).

    References
    ----------
    [CITEAIR2012] CITEAIR II, "CAQI Air quality index — Comparing Urban Air Quality across
    Borders", 23 May 2012; van den Elshout et al., Sci. Total Environ. 488–489 (2014) 461–468.

    Examples
    --------
    The town widget of 21 May 2019 (PM2.5 5.27, PM10 7.06 µg/m³):

    >>> caqi(pm2_5=5.27, pm10=7.06)
    array(8.78333333)
    >>> caqi(pm10=[78.48, 91.77, 0.0, float("nan")]).round(2).tolist()
    [67.8, 75.49, 0.0, nan]
    >>> caqi(pm10=20.0, no2=150.0, o3=250.0, location="roadside")
    array(62.5)
    >>> caqi(pm2_5=25.0, grid="daily")
    array(62.5)
    """
    check_choice("location", location, CAQI_LOCATIONS)
    check_choice("grid", grid, CAQI_GRIDS)
    given = {"pm2_5": pm2_5, "pm10": pm10, "no2": no2, "o3": o3, "co": co, "so2": so2}
    knots = _KNOTS[grid, bool(cap)]
    parts = []
    for name in CAQI_POLLUTANTS[location]:
        value = given[name]
        if value is not None:
            parts.append(interpolate(value, knots[name]))
    return worst(parts)


def caqi_mandatory_present(
    *,
    pm2_5: ArrayLike | None = None,
    pm10: ArrayLike | None = None,
    no2: ArrayLike | None = None,
    o3: ArrayLike | None = None,
    co: ArrayLike | None = None,
    so2: ArrayLike | None = None,
    location: str = "background",
) -> NDArray[np.bool_]:
    """Whether the pollutants CITEAIR requires for a complete CAQI are present.

    Takes the same pollutant arguments as :func:`caqi` (so one dictionary can be passed to
    both); only the mandatory ones are looked at.

    Parameters
    ----------
    pm2_5, pm10, no2, o3, co, so2 : array_like, optional
        Concentrations [µg/m³]; ``None`` means not measured, NaN means missing.
    location : str, default ``"background"``
        ``"background"`` requires NO2, PM10 and O3; ``"roadside"`` requires NO2 and PM10.

    Returns
    -------
    numpy.ndarray of bool
        True where every mandatory pollutant is given and not NaN (0-d for scalars).

    Notes
    -----
    PM2.5, CO and SO2 (background) and PM2.5 and CO (roadside) are auxiliary. A negative value
    counts as missing, as in :func:`caqi`.

    References
    ----------
    [CITEAIR2012] (mandatory and auxiliary pollutants).

    Examples
    --------
    >>> caqi_mandatory_present(pm2_5=5.27, pm10=7.06)
    array(False)
    >>> caqi_mandatory_present(pm10=7.06, no2=[33.0, float("nan")], location="roadside").tolist()
    [True, False]
    """
    check_choice("location", location, CAQI_LOCATIONS)
    given = {"pm2_5": pm2_5, "pm10": pm10, "no2": no2, "o3": o3, "co": co, "so2": so2}
    shape = np.broadcast_shapes(*(np.shape(v) for v in given.values() if v is not None))
    present = np.ones(shape, dtype=np.bool_)
    for name in CAQI_MANDATORY[location]:
        value = given[name]
        present &= False if value is None else np.asarray(value, dtype=np.float64) >= 0.0
    return present


def airly_caqi(pm2_5: ArrayLike | None = None, pm10: ArrayLike | None = None) -> FloatArray:
    """Airly's ``AIRLY_CAQI``: hourly CAQI over PM2.5 and PM10, rounded to two decimals.

    Parameters
    ----------
    pm2_5, pm10 : array_like, optional
        Hourly (or current 60-minute) PM2.5 and PM10 [µg/m³], unrounded.

    Returns
    -------
    numpy.ndarray
        The index rounded half up to 2 decimals (float64; 0-d for scalars); NaN when both are
        missing.

    Notes
    -----
    Airly computes from the unrounded concentrations and reports the index with two decimals;
    recorded responses of 2020–2022 match the hourly grid within 0.02 (docs/indices.md).
    Rounding is half up on the decimal value (1.005 → 1.01 although the float 1.005 is slightly
    below it), which may differ from Airly's own rounding in the last digit. Above 100 the High
    segment is extended, as in :func:`caqi` (unverified against Airly).

    References
    ----------
    [AIRLY-DOCS] Airly developer documentation, "Measurements"; [CITEAIR2012].

    Examples
    --------
    >>> airly_caqi(5.27, 7.06)
    array(8.78)
    >>> airly_caqi(pm2_5=[24.54, float("nan")], pm10=[float("nan"), 91.77]).tolist()
    [40.9, 75.49]
    """
    return half_up(caqi(pm2_5=pm2_5, pm10=pm10, grid="hourly"), 2)

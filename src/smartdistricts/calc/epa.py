"""US EPA Air Quality Index (2024 and pre-2024 tables) and the PM NowCast.

Breakpoints: ``calc/data/us_epa_2024.csv`` (EPA-454/B-24-002, Table 6; valid from 6 May 2024) and
``calc/data/us_epa_2012.csv`` (the table in force before). The tables print O3 and CO in ppm and
SO2 and NO2 in ppb; the functions here take every concentration in µg/m³, like the rest of the
package, and convert with the EPA reference conditions (25 °C, 1 atm: 24.45 L/mol).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smartdistricts.calc.breakpoints import (
    Bands,
    FloatArray,
    concentration,
    half_up,
    load_table,
    to_steps,
    worst,
)
from smartdistricts.calc.tables import check_choice

__all__ = [
    "EPA_MOLAR_VOLUME",
    "MOLAR_MASS",
    "NOWCAST_POLLUTANTS",
    "US_AQI_POLLUTANTS",
    "US_AQI_VERSIONS",
    "nowcast",
    "us_aqi",
    "us_aqi_beyond",
    "us_aqi_subindex",
]

#: Table versions: ``"2024"`` (current) and ``"2012"`` (before 6 May 2024).
US_AQI_VERSIONS = ("2024", "2012")
#: Molar volume at the EPA reference conditions, 25 °C and 101.325 kPa [L/mol].
EPA_MOLAR_VOLUME = 24.45
#: Molar masses used for µg/m³ ↔ ppb conversion [g/mol].
MOLAR_MASS = {"o3": 48.00, "no2": 46.01, "so2": 64.07, "co": 28.01}
#: Pollutant keys of :func:`us_aqi_subindex` (``so2`` is the 1-h value).
US_AQI_POLLUTANTS = ("pm2_5", "pm10", "o3_8h", "o3_1h", "co", "so2", "so2_24h", "no2")
#: Pollutants :func:`nowcast` supports.
NOWCAST_POLLUTANTS = ("pm2_5", "pm10")

# pollutant key -> (row key in the table file, gas for unit conversion or None)
_KEYS = {
    "pm2_5": ("pm2_5", None),
    "pm10": ("pm10", None),
    "o3_8h": ("o3_8h", "o3"),
    "o3_1h": ("o3_1h", "o3"),
    "co": ("co", "co"),
    "so2": ("so2_1h", "so2"),
    "so2_24h": ("so2_24h", "so2"),
    "no2": ("no2", "no2"),
}
# These averaging periods do not define higher AQI values (40 CFR 58 App. G footnotes): above
# their top row the sub-index stays at the row's top (8-h O3: 300, 1-h SO2: 200).
_CLAMPED = frozenset({"o3_8h", "so2"})


@dataclass(frozen=True, eq=False)
class _Rows:
    """One pollutant's rows with the limits expressed in whole truncation steps."""

    low: FloatArray
    high: FloatArray
    index_low: FloatArray
    index_high: FloatArray
    step: float
    per_ugm3: float  # table unit per µg/m³
    clamp: bool


def _rows(key: str, bands: Bands) -> _Rows:
    gas = _KEYS[key][1]
    per_ugm3 = 1.0
    if gas is not None:
        per_ugm3 = EPA_MOLAR_VOLUME / MOLAR_MASS[gas] / (1000.0 if bands.unit == "ppm" else 1.0)
    scale = round(1.0 / bands.step)
    return _Rows(
        low=np.round(bands.conc_low * scale),
        high=np.round(bands.conc_high * scale),
        index_low=bands.index_low,
        index_high=bands.index_high,
        step=bands.step,
        per_ugm3=per_ugm3,
        clamp=key in _CLAMPED,
    )


_TABLES = {
    version: {
        key: _rows(key, load_table(f"us_epa_{version}.csv")[row])
        for key, (row, _gas) in _KEYS.items()
    }
    for version in US_AQI_VERSIONS
}


def _evaluate(key: str, conc: ArrayLike, version: str) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Rounded sub-index and the "above the top row" flag of one pollutant."""
    rows = _TABLES[version][key]
    steps = to_steps(concentration(conc) * rows.per_ugm3, rows.step)
    last = len(rows.high) - 1
    row = np.minimum(np.searchsorted(rows.high, steps, side="left"), last)
    low = rows.low[row]
    index_low = rows.index_low[row]
    span = rows.index_high[row] - index_low
    value = index_low + span * (steps - low) / (rows.high[row] - low)
    beyond = steps > rows.high[last]
    if rows.clamp:
        value = np.where(beyond, rows.index_high[last], value)
    value = np.where(steps < rows.low[0], np.nan, value)  # below the first row: not defined
    return half_up(value), np.asarray(beyond, dtype=np.bool_)


def us_aqi_subindex(pollutant: str, conc: ArrayLike, *, version: str = "2024") -> FloatArray:
    """US EPA AQI of one pollutant (an integer, returned as float).

    Parameters
    ----------
    pollutant : str
        ``"pm2_5"`` (24-h or NowCast), ``"pm10"`` (24-h or NowCast), ``"o3_8h"``, ``"o3_1h"``,
        ``"co"`` (8-h), ``"so2"`` (1-h), ``"so2_24h"`` or ``"no2"`` (1-h).
    conc : array_like
        Concentration [µg/m³] (CO in µg/m³ too). Gases are converted to ppm (O3, CO) or ppb
        (SO2, NO2) at 25 °C (24.45 L/mol).
    version : str, default ``"2024"``
        ``"2024"`` or ``"2012"`` (the table in force before 6 May 2024).

    Returns
    -------
    numpy.ndarray
        AQI rounded half up to an integer (float64; 0-d for scalars). NaN where ``conc`` is NaN,
        negative, or below the first row of a table that starts above AQI 0 (1-h O3 below
        0.125 ppm, 24-h SO2 below 305 ppb).

    Notes
    -----
    See :func:`us_aqi` for truncation, the equation, rounding and values beyond the table.

    References
    ----------
    [EPA2024] US EPA, EPA-454/B-24-002, Table 6.

    Examples
    --------
    >>> us_aqi_subindex("pm2_5", [9.0, 9.05, 9.1, 35.45, 35.5]).tolist()
    [50.0, 50.0, 51.0, 100.0, 101.0]
    >>> us_aqi_subindex("pm2_5", 12.0, version="2012")
    array(50.)
    """
    check_choice("pollutant", pollutant, US_AQI_POLLUTANTS)
    check_choice("version", version, US_AQI_VERSIONS)
    return _evaluate(pollutant, conc, version)[0]


def _given(**values: ArrayLike | None) -> dict[str, ArrayLike]:
    return {key: value for key, value in values.items() if value is not None}


def us_aqi(
    *,
    pm2_5: ArrayLike | None = None,
    pm10: ArrayLike | None = None,
    o3_8h: ArrayLike | None = None,
    o3_1h: ArrayLike | None = None,
    co: ArrayLike | None = None,
    so2: ArrayLike | None = None,
    no2: ArrayLike | None = None,
    so2_24h: ArrayLike | None = None,
    version: str = "2024",
) -> FloatArray:
    """US EPA Air Quality Index: the highest pollutant AQI, an integer 0–500 (float output).

    Parameters
    ----------
    pm2_5, pm10 : array_like, optional
        PM2.5 and PM10 [µg/m³]: 24-h means (daily AQI) or NowCast values (hourly AQI, see
        :func:`nowcast`).
    o3_8h, o3_1h : array_like, optional
        O3 8-h and 1-h means [µg/m³] (converted to ppm).
    co : array_like, optional
        CO 8-h mean [µg/m³] (mg/m³ × 1000; converted to ppm).
    so2 : array_like, optional
        SO2 1-h mean [µg/m³] (converted to ppb).
    no2 : array_like, optional
        NO2 1-h mean [µg/m³] (converted to ppb).
    so2_24h : array_like, optional
        SO2 24-h mean [µg/m³]; only used for AQI above 200 (see Notes).
    version : str, default ``"2024"``
        ``"2024"`` (EPA-454/B-24-002) or ``"2012"`` (pre-2024 table: PM2.5 0–12.0 for Good and
        separate 301–400 and 401–500 rows).

    Returns
    -------
    numpy.ndarray
        AQI (float64 holding whole numbers; 0-d for scalars); NaN where no pollutant gives a
        value.

    Notes
    -----
    * Unit conversion: ppb = µg/m³ × 24.45 / M with M = 48.00 (O3), 46.01 (NO2), 64.07 (SO2),
      28.01 (CO) g/mol; ppm = ppb / 1000 (25 °C, 101.325 kPa, the EPA reference conditions).
    * Each concentration is truncated to the table precision first (O3 0.001 ppm, PM2.5
      0.1 µg/m³, PM10 1 µg/m³, CO 0.1 ppm, SO2 and NO2 1 ppb); truncation tolerates binary
      floating point (35.45 → 35.4, 9.05 → 9.0).
    * ``I = (I_hi − I_lo)/(C_hi − C_lo)·(C − C_lo) + I_lo``, rounded to the nearest integer half
      up (not Python's half-to-even ``round``). The AQI is the highest sub-index.
    * O3: 8-h values define the AQI only up to 300; above 0.200 ppm the 8-h sub-index stays
      300 and 1-h O3, when given, supplies higher values; where both are given the higher is
      reported. The 1-h table starts at 0.125 ppm (AQI 101); below it 1-h O3 is not used.
    * SO2: 1-h values define the AQI only up to 200; above 304 ppb the 1-h sub-index stays 200.
      ``so2_24h`` (rows from 305 ppb, AQI 201 up) supplies higher values when given; below
      305 ppb it is not used.
    * Beyond the top row (PM2.5 325.4 µg/m³ in 2024, …) the last segment is extended, so the
      AQI can exceed 500 ("Beyond the AQI"; AirNow also reports such values). Because the AQI
      is rounded, a value just above the top row can still read 500: use
      :func:`us_aqi_beyond` to know whether any concentration was beyond its table.
    * ``None`` means not used; NaN is missing; negative values count as missing.

    References
    ----------
    [EPA2024] US EPA, "Technical Assistance Document for the Reporting of Daily Air Quality —
    the Air Quality Index (AQI)", EPA-454/B-24-002, May 2024, Table 6; 40 CFR Part 58,
    Appendix G. [EPA2012] the pre-2024 Appendix G table.

    Examples
    --------
    >>> us_aqi(pm2_5=12.0)
    array(56.)
    >>> us_aqi(pm2_5=[12.0, 9.0], version="2012").tolist()
    [50.0, 38.0]
    >>> us_aqi(pm2_5=5.0, o3_8h=137.5)  # 137.5 µg/m³ O3 = 0.07004 ppm at 25 °C
    array(100.)
    >>> us_aqi(pm2_5=float("nan"), pm10=None)
    array(nan)
    """
    check_choice("version", version, US_AQI_VERSIONS)
    given = _given(
        pm2_5=pm2_5, pm10=pm10, o3_8h=o3_8h, o3_1h=o3_1h, co=co, so2=so2, no2=no2, so2_24h=so2_24h
    )
    return worst([_evaluate(key, value, version)[0] for key, value in given.items()])


def us_aqi_beyond(
    *,
    pm2_5: ArrayLike | None = None,
    pm10: ArrayLike | None = None,
    o3_8h: ArrayLike | None = None,
    o3_1h: ArrayLike | None = None,
    co: ArrayLike | None = None,
    so2: ArrayLike | None = None,
    no2: ArrayLike | None = None,
    so2_24h: ArrayLike | None = None,
    version: str = "2024",
) -> NDArray[np.bool_]:
    """Whether any concentration lies above the top row of its AQI table ("Beyond the AQI").

    Takes the same arguments as :func:`us_aqi`.

    Returns
    -------
    numpy.ndarray of bool
        True where at least one given pollutant, after truncation, exceeds its table's last
        breakpoint — so :func:`us_aqi` extrapolated (or, for 8-h O3 and 1-h SO2, reports the
        highest value that averaging defines). 0-d for scalars.

    Notes
    -----
    Missing values (NaN, ``None``) are never beyond.

    References
    ----------
    [EPA2024] (top breakpoints).

    Examples
    --------
    >>> us_aqi(pm2_5=325.5), us_aqi_beyond(pm2_5=325.5)
    (array(500.), array(True))
    >>> us_aqi_beyond(pm2_5=[325.4, 600.0], version="2012").tolist()
    [False, True]
    """
    check_choice("version", version, US_AQI_VERSIONS)
    given = _given(
        pm2_5=pm2_5, pm10=pm10, o3_8h=o3_8h, o3_1h=o3_1h, co=co, so2=so2, no2=no2, so2_24h=so2_24h
    )
    flags = [_evaluate(key, value, version)[1] for key, value in given.items()]
    result: NDArray[np.bool_] = np.asarray(False)
    for flag in flags:
        result = result | flag
    return np.asarray(result, dtype=np.bool_)


def nowcast(hourly: ArrayLike, *, pollutant: str = "pm2_5") -> FloatArray:
    """EPA NowCast of PM2.5 or PM10 from the last 12 hourly means.

    Parameters
    ----------
    hourly : array_like
        Hourly mean concentrations [µg/m³]; the **last axis holds 12 hours ordered oldest →
        newest** (index 11 is the current hour). Leading axes are independent series
        (e.g. shape ``(n_sites, 12)``). NaN marks a missing hour; negative values count as
        missing.
    pollutant : str, default ``"pm2_5"``
        ``"pm2_5"`` or ``"pm10"`` (sets the truncation precision).

    Returns
    -------
    numpy.ndarray
        NowCast [µg/m³], truncated to 0.1 (PM2.5) or 1 (PM10); shape of ``hourly`` without the
        last axis. NaN where fewer than 2 of the 3 most recent hours are present.

    Notes
    -----
    With c1 the current hour … c12 eleven hours ago: ``w = 1 − (c_max − c_min)/c_max``, at least
    0.5; ``NowCast = Σ w^(i−1)·c_i / Σ w^(i−1)`` over the hours present. Raw hourly values are
    used (not truncated); the result is truncated, ready for :func:`us_aqi`. If every present
    hour is 0, w = 1 and the NowCast is 0.

    References
    ----------
    [NOWCAST] US EPA, NowCast fact sheet (NEPIS P100X0J6); AirNow, "The NowCast for PM2.5 and
    PM10", https://forum.airnowtech.org/t/the-nowcast-for-pm2-5-and-pm10/172.

    Examples
    --------
    The worked example of EPA's "Computing the NowCast" slides (oldest → newest):

    >>> hours = [50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13]
    >>> nowcast(hours)
    array(17.4)
    >>> us_aqi(pm2_5=nowcast(hours))
    array(66.)
    """
    check_choice("pollutant", pollutant, NOWCAST_POLLUTANTS)
    step = 0.1 if pollutant == "pm2_5" else 1.0
    values = concentration(hourly)
    if values.ndim == 0 or values.shape[-1] != 12:
        raise ValueError(
            f"hourly must have 12 hours on its last axis (oldest to newest); got shape "
            f"{values.shape}"
        )
    newest_first = values[..., ::-1]
    present = ~np.isnan(newest_first)
    valid = present[..., :3].sum(axis=-1) >= 2
    high = np.fmax.reduce(newest_first, axis=-1)
    low = np.fmin.reduce(newest_first, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        weight = np.where(high > 0.0, 1.0 - (high - low) / high, 1.0)
        weights = np.maximum(weight, 0.5)[..., np.newaxis] ** np.arange(12.0)
        weights = np.where(present, weights, 0.0)
        mean = (weights * np.where(present, newest_first, 0.0)).sum(axis=-1) / weights.sum(axis=-1)
    mean = np.where(valid, mean, np.nan)
    return np.asarray(to_steps(mean, step) / round(1.0 / step), dtype=np.float64)

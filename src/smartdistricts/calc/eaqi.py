"""European Air Quality Index of the European Environment Agency (EEA), three table versions.

The EEA index has no number scale: it is a band, 1 (Good) to 6 (Extremely poor), and the overall
band is the poorest band among the pollutants available. Tables: ``calc/data/eaqi_2024.csv``
(current), ``eaqi_2019.csv`` (previous) and ``eaqi_2017.csv`` (launch version, five bands).
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from smartdistricts.calc.breakpoints import (
    FloatArray,
    band_number,
    concentration,
    half_up,
    load_table,
    worst,
)
from smartdistricts.calc.tables import check_choice

__all__ = ["EAQI_POLLUTANTS", "EAQI_ROUNDING", "EAQI_VERSIONS", "eaqi"]

#: Table versions: ``"2024"`` (current), ``"2019"`` (previous), ``"2017"`` (launch).
EAQI_VERSIONS = ("2024", "2019", "2017")
#: Boundary rules: ``"round"`` (round half up to an integer first) or ``"none"``.
EAQI_ROUNDING = ("round", "none")
#: Pollutants of the EEA index.
EAQI_POLLUTANTS = ("pm2_5", "pm10", "no2", "o3", "so2")

_UPPER = {
    version: {p: bands.upper for p, bands in load_table(f"eaqi_{version}.csv").bands.items()}
    for version in EAQI_VERSIONS
}


def eaqi(
    *,
    pm2_5: ArrayLike | None = None,
    pm10: ArrayLike | None = None,
    no2: ArrayLike | None = None,
    o3: ArrayLike | None = None,
    so2: ArrayLike | None = None,
    version: str = "2024",
    rounding: str = "round",
) -> FloatArray:
    """European Air Quality Index band (EEA): 1 Good … 6 Extremely poor.

    Parameters
    ----------
    pm2_5, pm10 : array_like, optional
        PM2.5 and PM10 [µg/m³]: **1-h** values for ``version="2024"``; **24-h running means**
        for ``"2019"`` (and ``"2017"``, see Notes).
    no2, o3, so2 : array_like, optional
        NO2, O3, SO2 [µg/m³], 1-h values in every version.
    version : str, default ``"2024"``
        ``"2024"`` (revision of ETC HE Report 2024/17, six bands), ``"2019"`` (previous six-band
        index) or ``"2017"`` (launch version of 16 Nov 2017, five bands, 1–5).
    rounding : str, default ``"round"``
        ``"round"``: round the concentration half up to an integer, then look it up with integer
        inclusive bands (PM2.5 5.3 → 5 → Good; 5.5 → 6 → Fair). ``"none"``: a value belongs to
        the first band whose upper limit it does not exceed (5.3 → Fair; 5.0 → Good).

    Returns
    -------
    numpy.ndarray
        Band number as float64 (1.0 … 6.0, or 1.0 … 5.0 for 2017; 0-d for scalars); NaN where
        every pollutant is missing.

    Notes
    -----
    * The function takes concentrations already averaged as the version requires; it does not
      average. The 2024 revision moved PM from 24-h running means to 1-h values. The averaging of
      the 2017 launch version is not recorded in the project's reference (assumed as 2019).
    * Overall band = worst band among the pollutants given ("the poorest level for any of five
      pollutants" [EEA2024]). ``None`` means not used; NaN is missing; negative values count as
      missing. Station eligibility rules (which pollutants a station must measure) are not
      applied.
    * Boundary rule: the EEA prints integer ranges (PM2.5 0–5, 6–15, …). Rounding first is the
      rule that reproduces the EEA viewer according to one implementation fitted to observed
      values; most other code compares unrounded values with the upper limit — both are offered
      (unverified which one the EEA uses).
    * The top band is open: the caps printed by some sources (PM2.5 800, PM10 1200, …) are not
      applied.

    References
    ----------
    [EEA2024] ETC HE Report 2024/17, "EEA's revision of the European air quality index bands",
    Table 5.2. [EEA2019] EEA, European Air Quality Index (six-band version). [EEA2017] EEA Air
    Quality Index viewer, "About the Index" (2017).

    Examples
    --------
    >>> eaqi(pm2_5=5.3)
    array(1.)
    >>> eaqi(pm2_5=5.3, rounding="none")
    array(2.)
    >>> eaqi(pm2_5=[4.0, 20.0], no2=[30.0, 5.0]).tolist()
    [3.0, 3.0]
    >>> eaqi(pm10=55.0, version="2019")
    array(4.)
    """
    table = _UPPER[check_choice("version", version, EAQI_VERSIONS)]
    check_choice("rounding", rounding, EAQI_ROUNDING)
    given = {"pm2_5": pm2_5, "pm10": pm10, "no2": no2, "o3": o3, "so2": so2}
    parts = []
    for name in EAQI_POLLUTANTS:
        value = given[name]
        if value is None:
            continue
        conc = concentration(value)
        if rounding == "round":
            conc = half_up(conc)
        parts.append(band_number(conc, table[name]) + 1.0)
    return worst(parts)

"""UK Daily Air Quality Index (DAQI, Defra/COMEAP), index 1–10.

Bands: Low 1–3, Moderate 4–6, High 7–9, Very High 10. The table is shipped as
``calc/data/daqi_2012.csv`` with integer concentration ranges (PM2.5 0–11, 12–23, …, ≥ 71).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from smartdistricts.calc.breakpoints import (
    FloatArray,
    band_number,
    concentration,
    half_up,
    load_table,
    to_steps,
    worst,
)
from smartdistricts.calc.tables import check_choice

__all__ = ["DAQI_POLLUTANTS", "DAQI_ROUNDING", "daqi"]

#: Ways to bring a concentration to the integer precision of the table.
DAQI_ROUNDING = ("round", "truncate")
#: Pollutants of the DAQI.
DAQI_POLLUTANTS = ("pm2_5", "pm10", "no2", "o3", "so2")

_UPPER = {p: bands.upper for p, bands in load_table("daqi_2012.csv").bands.items()}


def daqi(
    *,
    pm2_5: ArrayLike | None = None,
    pm10: ArrayLike | None = None,
    no2: ArrayLike | None = None,
    o3: ArrayLike | None = None,
    so2: ArrayLike | None = None,
    rounding: str = "round",
) -> FloatArray:
    """UK Daily Air Quality Index: the highest pollutant index, 1–10.

    Parameters
    ----------
    pm2_5, pm10 : array_like, optional
        PM2.5 and PM10 24-h means [µg/m³] (UK-AIR uses the running 24-h mean for latest data).
    no2 : array_like, optional
        NO2 1-h mean [µg/m³].
    o3 : array_like, optional
        O3 running 8-h mean [µg/m³].
    so2 : array_like, optional
        SO2 15-min mean [µg/m³].
    rounding : str, default ``"round"``
        ``"round"``: round the concentration half up to an integer before the lookup (35.5 →
        36 → index 4); ``"truncate"``: drop the fraction (35.9 → 35 → index 3).

    Returns
    -------
    numpy.ndarray
        Index as float64 (1.0 … 10.0; 0-d for scalars); NaN where every pollutant is missing.
        Concentrations at or above the lower limit of band 10 give 10 — there is no upper cap.

    Notes
    -----
    Defra prints integer bands (PM2.5 0–11, 12–23, …); the step between bands is the precision.
    Sources disagree on whether to round or truncate first (Aeolus documentation: round; aqipy:
    truncate), so both are offered. ``None`` means not used; NaN is missing; negative values
    count as missing.

    References
    ----------
    [DEFRA-DAQI] Defra UK-AIR, "Daily Air Quality Index",
    https://uk-air.defra.gov.uk/air-pollution/daqi.

    Examples
    --------
    >>> daqi(pm2_5=[11.0, 11.5, 71.0, 500.0]).tolist()
    [1.0, 2.0, 10.0, 10.0]
    >>> daqi(pm2_5=11.5, rounding="truncate")
    array(1.)
    >>> daqi(pm10=40.0, no2=300.0, o3=float("nan"))
    array(5.)
    """
    check_choice("rounding", rounding, DAQI_ROUNDING)
    given = {"pm2_5": pm2_5, "pm10": pm10, "no2": no2, "o3": o3, "so2": so2}
    parts = []
    for name in DAQI_POLLUTANTS:
        value = given[name]
        if value is None:
            continue
        conc = concentration(value)
        whole = half_up(conc) if rounding == "round" else to_steps(conc, 1.0)
        parts.append(np.asarray(band_number(whole, _UPPER[name]) + 1.0, dtype=np.float64))
    return worst(parts)

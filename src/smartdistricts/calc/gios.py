"""Polish Air Quality Index (Polski indeks jakości powietrza, GIOŚ), as versioned tables.

Categories 0 Bardzo dobry, 1 Dobry, 2 Umiarkowany, 3 Dostateczny, 4 Zły, 5 Bardzo zły. Two
threshold tables circulate and neither has been checked against the GIOŚ legend itself, so both
are shipped: ``calc/data/gios_a.csv`` (default) and ``calc/data/gios_b.csv``.
"""

from __future__ import annotations

from numpy.typing import ArrayLike

from smartdistricts.calc.breakpoints import (
    FloatArray,
    band_number,
    concentration,
    load_table,
    worst,
)
from smartdistricts.calc.tables import check_choice

__all__ = ["GIOS_CATEGORIES", "GIOS_VERSIONS", "gios_index"]

#: Threshold versions: ``"GIOS_A"`` (default) and ``"GIOS_B"``.
GIOS_VERSIONS = ("GIOS_A", "GIOS_B")
#: Category names as GIOŚ API v1 returns them, by category number.
GIOS_CATEGORIES = ("Bardzo dobry", "Dobry", "Umiarkowany", "Dostateczny", "Zły", "Bardzo zły")

# Per version and pollutant: (upper limits, divisor from µg/m³ to the table's unit).
_BANDS = {
    version: {
        pollutant: (bands.upper, 1000.0 if bands.unit == "mg/m³" else 1.0)
        for pollutant, bands in load_table(f"{version.lower()}.csv").bands.items()
    }
    for version in GIOS_VERSIONS
}


def gios_index(
    *,
    pm10: ArrayLike | None = None,
    pm2_5: ArrayLike | None = None,
    o3: ArrayLike | None = None,
    no2: ArrayLike | None = None,
    so2: ArrayLike | None = None,
    co: ArrayLike | None = None,
    c6h6: ArrayLike | None = None,
    version: str = "GIOS_A",
) -> FloatArray:
    """Polish air-quality index category (GIOŚ): 0 Bardzo dobry … 5 Bardzo zły.

    Parameters
    ----------
    pm10, pm2_5, o3, no2, so2 : array_like, optional
        1-h concentrations [µg/m³] (GIOŚ uses raw, not yet validated hourly station data).
    co : array_like, optional
        CO [µg/m³] (mg/m³ × 1000). Used by ``GIOS_B`` only; ignored by ``GIOS_A``.
    c6h6 : array_like, optional
        Benzene [µg/m³]. Used by ``GIOS_B`` only; ignored by ``GIOS_A``.
    version : str, default ``"GIOS_A"``
        ``"GIOS_A"`` (thresholds used by most implementations) or ``"GIOS_B"`` (table published
        by air.legnica.eu, "stan na czerwiec 2025 r."). They differ for PM2.5 (Dostateczny/Zły
        at 75 vs 80), O3 (70/120/150 vs 60/100/140) and NO2 (Dostateczny/Zły at 230 vs 200).

    Returns
    -------
    numpy.ndarray
        Category as float64 (0.0 … 5.0; 0-d for scalars); NaN where every pollutant is missing
        ("Brak indeksu").

    Notes
    -----
    * Bands are right-closed ("prawostronnie domknięte": PM10 20.0 is still Bardzo dobry). The
      tables print limits at 0.1 precision (20 | 20.1); this function reads them as right-closed
      on the real line, so a value belongs to the first band whose upper limit it does not
      exceed: 20.05 → Dobry. No rounding is applied.
    * Overall category = the worst category among the pollutants given. The GIOŚ alternative
      (the category of the pollutant dominant in the voivodeship, PM in autumn–winter, O3 in
      spring–summer) is not implemented.
    * GIOŚ API v1 computes its index from PM10, PM2.5, SO2, NO2 and O3 only; version B's CO and
      benzene columns are offered for completeness.
    * ``None`` means not used; NaN is missing; negative values count as missing.
    * Both tables are unverified against the GIOŚ legend (docs/indices.md).

    References
    ----------
    [GIOS] Główny Inspektorat Ochrony Środowiska, "Indeks jakości powietrza",
    https://powietrze.gios.gov.pl/ (API v1).

    Examples
    --------
    >>> gios_index(pm10=[20.0, 20.05, 151.0])
    array([0., 1., 5.])
    >>> gios_index(pm2_5=78.0, o3=65.0)
    array(4.)
    >>> gios_index(pm2_5=78.0, o3=65.0, version="GIOS_B")
    array(3.)
    """
    table = _BANDS[check_choice("version", version, GIOS_VERSIONS)]
    given = {
        "pm10": pm10,
        "pm2_5": pm2_5,
        "o3": o3,
        "no2": no2,
        "so2": so2,
        "co": co,
        "c6h6": c6h6,
    }
    parts = []
    for name, (upper, divisor) in table.items():
        value = given[name]
        if value is not None:
            parts.append(band_number(concentration(value) / divisor, upper))
    return worst(parts)

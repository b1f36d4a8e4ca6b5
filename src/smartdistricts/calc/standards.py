"""Air-quality standards: limit values, "percent of the standard", smog alert thresholds.

Data files: ``calc/data/standards.csv`` (one limit per standard and variable, with an averaging
label) and ``calc/data/alert_thresholds.csv`` (information and alert thresholds per version).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from numpy.typing import ArrayLike

from smartdistricts.calc.breakpoints import FloatArray, concentration, half_up
from smartdistricts.calc.tables import check_choice, read_csv
from smartdistricts.nomenclature import VARIABLES

__all__ = [
    "ALERT_VERSIONS",
    "STANDARDS",
    "AlertThreshold",
    "alert_thresholds",
    "standard_limit",
    "standard_percent",
]

_LIMITS: dict[str, dict[str, tuple[float, str]]] = {}
for _row in read_csv("standards.csv").rows:
    _LIMITS.setdefault(_row["standard"], {})[_row["variable"]] = (
        float(_row["limit"]),
        _row["averaging"],
    )

#: Standard presets: ``"WHO2005"``, ``"WHO2021"``, ``"EU2008"``, ``"EU2030"``.
STANDARDS = tuple(_LIMITS)
# Variables a standard may refer to: the platform's concentration variables.
_CONCENTRATIONS = tuple(v.name for v in VARIABLES if v.unit == "µg/m³")


@dataclass(frozen=True, slots=True)
class AlertThreshold:
    """Information and alert thresholds of one pollutant [µg/m³]; NaN where not defined."""

    pollutant: str
    averaging: str
    information: float
    alert: float
    alert_persistence: str
    unit: str
    source: str


_ALERTS: dict[str, dict[str, AlertThreshold]] = {}
for _row in read_csv("alert_thresholds.csv").rows:
    _ALERTS.setdefault(_row["version"], {})[_row["pollutant"]] = AlertThreshold(
        pollutant=_row["pollutant"],
        averaging=_row["averaging"],
        information=float(_row["information"] or "nan"),
        alert=float(_row["alert"] or "nan"),
        alert_persistence=_row["alert_persistence"],
        unit=_row["unit"],
        source=_row["source"],
    )

#: Alert-threshold versions: ``"PL2019"``, ``"PL_PRE2019"``, ``"EU2008"``, ``"EU2024"``.
ALERT_VERSIONS = tuple(_ALERTS)


def standard_limit(variable: str, standard: str = "WHO2005") -> tuple[float, str]:
    """Limit value and averaging label of ``variable`` under ``standard``.

    Parameters
    ----------
    variable : str
        Canonical concentration variable (``"pm2_5"``, ``"pm10"``, ``"no2"``, ``"o3"``,
        ``"so2"``, ``"co"``, …).
    standard : str, default ``"WHO2005"``
        ``"WHO2005"``, ``"WHO2021"``, ``"EU2008"`` or ``"EU2030"``.

    Returns
    -------
    tuple of (float, str)
        The limit [µg/m³] and the averaging label as Airly prints it (``"1h"``, ``"8h"``,
        ``"24h"``, ``"year"``); ``(nan, "")`` if the standard defines no limit for the variable.

    Notes
    -----
    Which limit each preset uses (one per variable):

    ========  =========  ==========  ==========  =========  ==========  ===========
    preset    PM2.5      PM10        NO2         O3         SO2         CO
    ========  =========  ==========  ==========  =========  ==========  ===========
    WHO2005   25 (24h)   50 (24h)    200 (1h)    100 (8h)   20 (24h)    –
    WHO2021   15 (24h)   45 (24h)    25 (24h)    100 (8h)   40 (24h)    4000 (24h)
    EU2008    25 (year)  50 (24h)    200 (1h)    120 (8h)   125 (24h)   10000 (8h)
    EU2030    25 (24h)   45 (24h)    50 (24h)    120 (8h)   50 (24h)    4000 (24h)
    ========  =========  ==========  ==========  =========  ==========  ===========

    WHO2005 has no CO guideline (the 2005 global update covers PM, O3, NO2 and SO2); for NO2
    it uses the 1-h guideline, which suits hourly values better than the annual 40. Directive
    2008/50/EC has no daily PM2.5 limit: EU2008 uses the annual limit value. O3 values of both
    EU presets are target values.

    References
    ----------
    [WHO2005], [WHO2021], [EU2008], [EU2024]; [AIRLY-DOCS] for the averaging labels.

    Examples
    --------
    >>> standard_limit("pm2_5", "WHO2021")
    (15.0, '24h')
    >>> standard_limit("co", "WHO2005")
    (nan, '')
    """
    check_choice("variable", variable, _CONCENTRATIONS)
    limits = _LIMITS[check_choice("standard", standard, STANDARDS)]
    return limits.get(variable, (math.nan, ""))


def standard_percent(value: ArrayLike, *, variable: str, standard: str = "WHO2005") -> FloatArray:
    """Concentration as a percentage of a standard's limit, as Airly reports ``percent``.

    Parameters
    ----------
    value : array_like
        Concentration [µg/m³] (CO in µg/m³ too), normally the current hourly value.
    variable : str
        Canonical concentration variable, see :func:`standard_limit`.
    standard : str, default ``"WHO2005"``
        ``"WHO2005"``, ``"WHO2021"``, ``"EU2008"`` or ``"EU2030"``.

    Returns
    -------
    numpy.ndarray
        ``value / limit × 100`` rounded half up to 2 decimals (float64; 0-d for scalars). NaN
        where ``value`` is NaN or negative, and everywhere if the standard defines no limit for
        the variable.

    Notes
    -----
    Airly divides the unrounded current (60-minute) value by the limit regardless of the
    limit's averaging label ("24h" is only a label), so this function does not average either.
    The town widget of 21 May 2019 shows 21,09 % for PM2.5 5.27 µg/m³ because Airly computed
    from the unrounded concentration (e.g. 5.2725 → 21.09); with 5.27 exactly this function
    returns 21.08. Rounding is half up on the decimal value. Unknown ``variable`` or
    ``standard`` names raise :class:`ValueError`.

    References
    ----------
    [AIRLY-DOCS] Airly developer documentation, "Measurements" and "Meta: standards";
    [WHO2005]; [WHO2021]; [EU2008]; [EU2024].

    Examples
    --------
    >>> standard_percent(5.27, variable="pm2_5")
    array(21.08)
    >>> standard_percent([5.27, 5.2725], variable="pm2_5", standard="WHO2005").tolist()
    [21.08, 21.09]
    >>> standard_percent(7.06, variable="pm10")
    array(14.12)
    >>> standard_percent(5.27, variable="pm2_5", standard="WHO2021")
    array(35.13)
    """
    limit, _averaging = standard_limit(variable, standard)
    return half_up(concentration(value) / limit * 100.0, 2)


def alert_thresholds(version: str = "PL2019") -> dict[str, AlertThreshold]:
    """Smog information and alert thresholds of a version, by pollutant.

    Parameters
    ----------
    version : str, default ``"PL2019"``
        ``"PL2019"`` (Poland from 11 Oct 2019: PM10 24-h information 100 / alert 150),
        ``"PL_PRE2019"`` (PM10 200 / 300), ``"EU2008"`` (Directive 2008/50/EC Annex XII) or
        ``"EU2024"`` (Directive (EU) 2024/2881 Annex I Section 4, to be transposed by
        11 Dec 2026).

    Returns
    -------
    dict of str to AlertThreshold
        A new dictionary keyed by pollutant (``"pm10"``, ``"pm2_5"``, ``"no2"``, ``"so2"``,
        ``"o3"``); thresholds in µg/m³, NaN where the version defines none.

    Notes
    -----
    Only the numbers: no alerting logic (persistence such as "3 consecutive days" is given as
    text in ``alert_persistence``). The Polish versions include the EU-wide O3 thresholds and
    the NO2/SO2 alert thresholds of Directive 2008/50/EC; no Polish PM2.5 level exists. The
    EU2024 values are corroborated but not checked against the Official Journal annex.

    References
    ----------
    [GIOS] (Dz.U. 2019 poz. 1931); [EU2008]; [EU2024].

    Examples
    --------
    >>> pm10 = alert_thresholds("PL2019")["pm10"]
    >>> pm10.information, pm10.alert, pm10.averaging
    (100.0, 150.0, '24h')
    >>> alert_thresholds("EU2024")["pm2_5"].alert_persistence
    '3 consecutive days'
    """
    return dict(_ALERTS[check_choice("version", version, ALERT_VERSIONS)])

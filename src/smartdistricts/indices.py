"""Air-quality indices, standards and level texts — the public entry point.

Everything here is re-exported from :mod:`smartdistricts.calc`; import from this module. The full
documentation, with the rules chosen where sources disagree, is ``docs/indices.md``; sources are
cited by key (``[CITEAIR2012]``, …) from ``docs/references.md``.

Conventions
-----------
* Pollutants are keyword arguments with canonical names — ``pm2_5``, ``pm10``, ``no2``, ``o3``,
  ``so2``, ``co`` — in **µg/m³** (CO too: mg/m³ × 1000). The US AQI converts to ppm/ppb itself
  at 25 °C.
* Scalars or array-likes go in (broadcast together); a float64 :class:`numpy.ndarray` comes out
  (0-d for scalar input: ``float(x)`` or ``x.item()`` gives a Python float).
* NaN means missing and gives NaN; a pollutant passed as ``None`` is not used; 0.0 is a real
  value; negative concentrations are treated as missing. If nothing is available the result
  is NaN.
* Unknown option values (``grid``, ``version``, ``variable``, …) raise :class:`ValueError`
  naming the argument and listing the allowed values.

Quick tour
----------
CAQI (CITEAIR II, 2012) and Airly's ``AIRLY_CAQI`` (hourly CAQI over PM, two decimals):

>>> caqi(pm2_5=5.27, pm10=7.06)
array(8.78333333)
>>> airly_caqi(pm2_5=5.27, pm10=7.06)
array(8.78)
>>> caqi(pm10=[78.48, 91.77], grid="hourly").round(2).tolist()
[67.8, 75.49]

Levels, colours and texts for any index value:

>>> lv = level("AIRLY_CAQI", 8.78)
>>> lv.code, lv.color
('VERY_LOW', '#6BC926')
>>> advice("AIRLY_CAQI", 8.78, lang="en", seed=0)
'Open the windows wide and let some freshness in.'

European (EEA), Polish (GIOŚ), US EPA and UK indices:

>>> eaqi(pm2_5=5.3, no2=12.0)
array(2.)
>>> gios_index(pm10=20.0, pm2_5=14.0)
array(1.)
>>> us_aqi(pm2_5=nowcast([50, 80, 75, 90, 82, 53, 64, 74, 21, 10, 16, 13]))
array(66.)
>>> daqi(pm2_5=40.0, pm10=20.0)
array(4.)

Percent of a standard (Airly's ``standards[].percent``) and smog thresholds:

>>> standard_percent(5.27, variable="pm2_5", standard="WHO2005")
array(21.08)
>>> standard_limit("pm10", "WHO2021")
(45.0, '24h')
>>> alert_thresholds("PL2019")["pm10"].alert
150.0
"""

from __future__ import annotations

from smartdistricts.calc.breakpoints import half_up
from smartdistricts.calc.caqi import (
    CAQI_GRIDS,
    CAQI_LOCATIONS,
    CAQI_MANDATORY,
    CAQI_POLLUTANTS,
    airly_caqi,
    caqi,
    caqi_mandatory_present,
    caqi_subindex,
)
from smartdistricts.calc.daqi import DAQI_POLLUTANTS, DAQI_ROUNDING, daqi
from smartdistricts.calc.eaqi import EAQI_POLLUTANTS, EAQI_ROUNDING, EAQI_VERSIONS, eaqi
from smartdistricts.calc.epa import (
    EPA_MOLAR_VOLUME,
    MOLAR_MASS,
    NOWCAST_POLLUTANTS,
    US_AQI_POLLUTANTS,
    US_AQI_VERSIONS,
    nowcast,
    us_aqi,
    us_aqi_beyond,
    us_aqi_subindex,
)
from smartdistricts.calc.gios import GIOS_CATEGORIES, GIOS_VERSIONS, gios_index
from smartdistricts.calc.levels import (
    INDEX_NAMES,
    LANGUAGES,
    Level,
    advice,
    index_levels,
    level,
    level_codes,
    levels_of,
    unknown_level,
)
from smartdistricts.calc.standards import (
    ALERT_VERSIONS,
    STANDARDS,
    AlertThreshold,
    alert_thresholds,
    standard_limit,
    standard_percent,
)

__all__ = [
    "ALERT_VERSIONS",
    "CAQI_GRIDS",
    "CAQI_LOCATIONS",
    "CAQI_MANDATORY",
    "CAQI_POLLUTANTS",
    "DAQI_POLLUTANTS",
    "DAQI_ROUNDING",
    "EAQI_POLLUTANTS",
    "EAQI_ROUNDING",
    "EAQI_VERSIONS",
    "EPA_MOLAR_VOLUME",
    "GIOS_CATEGORIES",
    "GIOS_VERSIONS",
    "INDEX_NAMES",
    "LANGUAGES",
    "MOLAR_MASS",
    "NOWCAST_POLLUTANTS",
    "STANDARDS",
    "US_AQI_POLLUTANTS",
    "US_AQI_VERSIONS",
    "AlertThreshold",
    "Level",
    "advice",
    "airly_caqi",
    "alert_thresholds",
    "caqi",
    "caqi_mandatory_present",
    "caqi_subindex",
    "daqi",
    "eaqi",
    "gios_index",
    "half_up",
    "index_levels",
    "level",
    "level_codes",
    "levels_of",
    "nowcast",
    "standard_limit",
    "standard_percent",
    "unknown_level",
    "us_aqi",
    "us_aqi_beyond",
    "us_aqi_subindex",
]

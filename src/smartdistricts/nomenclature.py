"""Canonical variable names, units and plausibility limits.

Every reading that passes the ingest boundary is named by one of these variables and expressed in
its unit; nothing past ``smartdistricts.ingest`` sees vendor names such as ``SDS_P1`` or
``"Wartość"``. The table is data: ``docs/nomenclature.md`` documents it and a test checks that the
two agree.

Limits come in two tiers:

* ``hard`` — physically impossible values (or values in the wrong unit, such as pressure in Pa
  where hPa is expected). A reading outside them is refused with an error naming the field.
* ``soft`` — possible but implausible for an outdoor sensor in a temperate climate, or a known
  sensor saturation value (SDS011 reports 999.9 µg/m³ when saturated). A reading outside them is
  stored with the ``OUT_OF_RANGE`` quality flag and left out of means.

Sources for the soft PM ceiling: SDS011 and PMS5003 data sheets (range 0–999.9 / 0–1000 µg/m³);
the Sensor.Community map's plausibility filters (opendata-stuttgart/feinstaub-map-v2). The hard
PM ceiling of 2000 µg/m³ is the platform's refusal threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntFlag

__all__ = [
    "CANONICAL",
    "EXCLUDED_FROM_MEANS",
    "PARTICULATE",
    "VARIABLES",
    "Flag",
    "Variable",
    "variable",
]


@dataclass(frozen=True, slots=True)
class Variable:
    """One measured quantity.

    ``id`` is the stable small integer stored in the database (never reused); ``canonical`` marks
    the ten variables of the platform's core nomenclature.
    """

    id: int
    name: str
    unit: str
    label_en: str
    label_pl: str
    hard_min: float = -math.inf
    hard_max: float = math.inf
    soft_min: float = -math.inf
    soft_max: float = math.inf
    canonical: bool = False

    def refuses(self, value: float) -> bool:
        """True when ``value`` is impossible (outside the hard limits) or not finite."""
        return not (self.hard_min <= value <= self.hard_max)

    def implausible(self, value: float) -> bool:
        """True when ``value`` is possible but implausible (flag it, keep it, skip it in means)."""
        return not (self.soft_min <= value < self.soft_max)


def _pm(id_: int, name: str, label: str, label_pl: str, *, canonical: bool = False) -> Variable:
    return Variable(id_, name, "µg/m³", label, label_pl, 0.0, 2000.0, 0.0, 999.9, canonical)


def _gas(id_: int, name: str, label: str, label_pl: str, *, canonical: bool = False) -> Variable:
    return Variable(id_, name, "µg/m³", label, label_pl, 0.0, 20000.0, 0.0, 2000.0, canonical)


VARIABLES: tuple[Variable, ...] = (
    _pm(1, "pm1", "PM1", "PM1", canonical=True),
    _pm(2, "pm2_5", "PM2.5", "PM2,5", canonical=True),
    _pm(3, "pm10", "PM10", "PM10", canonical=True),
    Variable(
        4,
        "temp_air",
        "°C",
        "Temperature",
        "Temperatura",
        canonical=True,
        hard_min=-90.0,
        hard_max=70.0,
        soft_min=-45.0,
        soft_max=55.0,
    ),
    Variable(
        5,
        "relative_humidity",
        "%",
        "Humidity",
        "Wilgotność",
        canonical=True,
        hard_min=0.0,
        hard_max=120.0,
        soft_min=0.0,
        soft_max=100.01,
    ),
    Variable(
        6,
        "pressure",
        "hPa",
        "Pressure",
        "Ciśnienie",
        canonical=True,
        hard_min=300.0,
        hard_max=1100.0,
        soft_min=870.0,
        soft_max=1085.0,
    ),
    _gas(7, "no2", "NO₂", "NO₂", canonical=True),
    _gas(8, "o3", "O₃", "O₃", canonical=True),
    _gas(9, "so2", "SO₂", "SO₂", canonical=True),
    Variable(
        10,
        "co",
        "µg/m³",
        "CO",
        "CO",
        canonical=True,
        hard_min=0.0,
        hard_max=500000.0,
        soft_min=0.0,
        soft_max=100000.0,
    ),
    # Further quantities that real devices and networks send. Not part of the core nomenclature,
    # but stored under stable names rather than dropped.
    _pm(11, "pm4", "PM4", "PM4"),
    _gas(12, "no", "NO", "NO"),
    _gas(13, "nox", "NOx", "NOx"),
    _gas(14, "c6h6", "Benzene", "Benzen"),
    Variable(15, "nc0_5", "#/cm³", "Particles > 0.5 µm", "Cząstki > 0,5 µm", hard_min=0.0),
    Variable(16, "nc1", "#/cm³", "Particles ≤ 1 µm", "Cząstki ≤ 1 µm", hard_min=0.0),
    Variable(17, "nc2_5", "#/cm³", "Particles ≤ 2.5 µm", "Cząstki ≤ 2,5 µm", hard_min=0.0),
    Variable(18, "nc4", "#/cm³", "Particles ≤ 4 µm", "Cząstki ≤ 4 µm", hard_min=0.0),
    Variable(19, "nc10", "#/cm³", "Particles ≤ 10 µm", "Cząstki ≤ 10 µm", hard_min=0.0),
    Variable(
        20, "particle_size", "µm", "Typical particle size", "Typowy rozmiar cząstek", hard_min=0.0
    ),
    Variable(21, "co2", "ppm", "CO₂", "CO₂", hard_min=0.0, hard_max=100000.0),
    Variable(22, "noise_laeq", "dB(A)", "Noise LAeq", "Hałas LAeq", hard_min=0.0, hard_max=200.0),
    Variable(
        23, "noise_la_min", "dB(A)", "Noise LA min", "Hałas LA min", hard_min=0.0, hard_max=200.0
    ),
    Variable(
        24, "noise_la_max", "dB(A)", "Noise LA max", "Hałas LA max", hard_min=0.0, hard_max=200.0
    ),
    Variable(
        25,
        "pressure_sealevel",
        "hPa",
        "Sea-level pressure",
        "Ciśnienie zredukowane",
        hard_min=300.0,
        hard_max=1200.0,
    ),
    Variable(
        26, "wind_speed", "km/h", "Wind speed", "Prędkość wiatru", hard_min=0.0, hard_max=500.0
    ),
    Variable(
        27, "wind_bearing", "°", "Wind bearing", "Kierunek wiatru", hard_min=0.0, hard_max=360.0
    ),
    Variable(
        28, "ppd_p1_count", "pcs/0.01 cf", "PPD42NS P1 count", "PPD42NS licznik P1", hard_min=0.0
    ),
    Variable(
        29, "ppd_p2_count", "pcs/0.01 cf", "PPD42NS P2 count", "PPD42NS licznik P2", hard_min=0.0
    ),
    Variable(
        30, "wifi_signal", "dBm", "Wi-Fi signal", "Sygnał Wi-Fi", hard_min=-150.0, hard_max=50.0
    ),
)

_BY_NAME: dict[str, Variable] = {v.name: v for v in VARIABLES}
_BY_ID: dict[int, Variable] = {v.id: v for v in VARIABLES}
CANONICAL: tuple[str, ...] = tuple(v.name for v in VARIABLES if v.canonical)


def variable(key: str | int) -> Variable:
    """Look a variable up by canonical name or id.

    >>> variable("pm2_5").unit
    'µg/m³'
    >>> variable(6).name
    'pressure'
    """
    found = _BY_ID.get(key) if isinstance(key, int) else _BY_NAME.get(key)
    if found is None:
        raise KeyError(f"unknown variable {key!r}; known: {', '.join(_BY_NAME)}")
    return found


class Flag(IntFlag):
    """Quality flags stored with each raw reading (a bit set; 0 means no remark).

    ``OUT_OF_RANGE`` and ``STUCK`` readings are kept but left out of hourly and daily means.
    ``HUMID`` and ``FOG`` mark particulate readings taken at high relative humidity: low-cost
    optical sensors count swollen droplets, so the values read high ([SC-HUMIDITY] in
    docs/references.md). They stay in means; the humidity-corrected series is offered alongside
    (``export --humidity-corrected``).
    """

    OUT_OF_RANGE = 1
    STUCK = 2
    HUMID = 4
    FOG = 8


#: Flags that keep a reading out of hourly and daily means.
EXCLUDED_FROM_MEANS = int(Flag.OUT_OF_RANGE | Flag.STUCK)

#: Variables that humidity flags apply to.
PARTICULATE = frozenset({"pm1", "pm2_5", "pm4", "pm10"})

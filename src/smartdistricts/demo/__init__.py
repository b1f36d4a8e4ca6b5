"""Demo data for Mińsk Mazowiecki: the town, its demo districts, four sensor sites, readings.

* :mod:`smartdistricts.demo.town` — the packaged ``town.json``: an approximate town boundary,
  five invented demo districts and the four city sensor sites bought in 2019 (approximate
  positions), loaded into frozen dataclasses by :func:`load_town`.
* :mod:`smartdistricts.demo.synthetic` — a pure, deterministic, vectorised generator of realistic
  airrohr readings (PM1, PM2.5, PM10, temperature, humidity, station pressure) as a function of
  site and time, shared by the demo history and the live ``simulate`` devices, and
  :func:`demo_times`, the airrohr send cadence.

Nothing here reads files outside the package.

>>> from smartdistricts.demo import load_town, synthetic_values, demo_times
>>> town = load_town()
>>> t = demo_times(1_704_067_200, 1_704_067_200 + 86_400)
>>> values = synthetic_values(town.sites[0], t)
>>> len(t) == len(values["pm2_5"]) == 596
True
"""

from smartdistricts.demo.synthetic import (
    PROFILES,
    VARIABLES,
    SiteProfile,
    SyntheticSeries,
    demo_times,
    synthetic_series,
    synthetic_values,
    warsaw_utc_offset,
)
from smartdistricts.demo.town import DemoDistrict, DemoSite, DemoTown, load_town

__all__ = [
    "PROFILES",
    "VARIABLES",
    "DemoDistrict",
    "DemoSite",
    "DemoTown",
    "SiteProfile",
    "SyntheticSeries",
    "demo_times",
    "load_town",
    "synthetic_series",
    "synthetic_values",
    "warsaw_utc_offset",
]

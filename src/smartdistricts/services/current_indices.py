"""Current air-quality indices of a site, from the data service's cached means.

Each index uses the averaging it is defined on as far as the cached windows allow: the
60-minute means (``current``) for the hourly indices — Airly's CAQI, CAQI, the Polish index
(``PIJP`` on Airly's 0–10 scale, ``GIOS`` in the GIOŚ categories), EAQI, the US AQI from hourly
concentrations (as Airly does) — and, for the UK DAQI, the mean of the last 24 hourly means for
PM (at least 18 hours) and of the last 8 for O3 (at least 6). An index without its pollutants
has the value None and the level ``UNKNOWN``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from smartdistricts.indices import daqi, gios_index, level, unknown_level
from smartdistricts.services.airly import INDEX_TYPES, index_value
from smartdistricts.services.airnow import SiteAir, Window

__all__ = ["INDEXES", "current_indices"]

#: Index name in the API → level table in ``calc/data/levels.json``.
INDEXES: dict[str, str] = {**INDEX_TYPES, "GIOS": "GIOS", "DAQI": "DAQI"}


def _mean_of(windows: Sequence[Window], name: str, least: int) -> float | None:
    values = [w.values[name] for w in windows if name in w.values]
    return sum(values) / len(values) if len(values) >= least else None


def _value(name: str, air: SiteAir) -> float | None:
    values = air.current.values
    if name in INDEX_TYPES:
        return index_value(name, values)
    if name == "GIOS":
        pm10, pm25, o3 = values.get("pm10"), values.get("pm2_5"), values.get("o3")
        no2, so2 = values.get("no2"), values.get("so2")
        if all(v is None for v in (pm10, pm25, o3, no2, so2)):
            return None
        result = float(gios_index(pm10=pm10, pm2_5=pm25, o3=o3, no2=no2, so2=so2))
    else:  # DAQI
        pm25 = _mean_of(air.history, "pm2_5", 18)
        pm10 = _mean_of(air.history, "pm10", 18)
        o3 = _mean_of(air.history[-8:], "o3", 6)
        no2, so2 = values.get("no2"), values.get("so2")
        if all(v is None for v in (pm25, pm10, o3, no2, so2)):
            return None
        result = float(daqi(pm2_5=pm25, pm10=pm10, no2=no2, o3=o3, so2=so2))
    return None if math.isnan(result) else result


def current_indices(air: SiteAir | None, names: Sequence[str], lang: str) -> list[dict[str, Any]]:
    """``[{"index", "value", "level", "label", "description", "color"}, …]`` in ``names`` order.

    ``air`` None (a site without current data): every index ``UNKNOWN``.
    """
    out = []
    for name in names:
        table = INDEXES[name]
        value = None if air is None else _value(name, air)
        lv = unknown_level(table) if value is None else level(table, value)
        out.append(
            {
                "index": name,
                "value": value,
                "level": lv.code,
                "label": lv.label[lang],
                "description": lv.description[lang],
                "color": lv.color,
            }
        )
    return out

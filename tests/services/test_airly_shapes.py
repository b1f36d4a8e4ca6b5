"""services/airly: the vectorised answer equals one computed window by window from calc/."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from smartdistricts.indices import (
    airly_caqi,
    caqi,
    eaqi,
    gios_index,
    half_up,
    level,
    standard_limit,
    standard_percent,
    us_aqi,
)
from smartdistricts.services import airly
from smartdistricts.services.airnow import Window

VARIABLES = ("pm1", "pm2_5", "pm10", "temp_air", "relative_humidity", "pressure", "no2", "o3")
POLLUTANTS = ("pm2_5", "pm10", "no2", "o3", "so2", "co")


def reference_index(index_type: str, v: dict[str, float]) -> float:
    """One window's index from the scalar calc functions, absent pollutants passed as None."""
    g = v.get
    if index_type == "AIRLY_CAQI":
        return float(airly_caqi(pm2_5=g("pm2_5"), pm10=g("pm10")))
    if all(g(k) is None for k in ("pm2_5", "pm10", "no2", "o3", "so2")):
        return math.nan
    if index_type == "CAQI":
        full = caqi(pm2_5=g("pm2_5"), pm10=g("pm10"), no2=g("no2"), o3=g("o3"), so2=g("so2"))
        return float(half_up(full, 2))
    if index_type == "PIJP":
        return float(gios_index(pm2_5=g("pm2_5"), pm10=g("pm10"), no2=g("no2"), o3=g("o3")))
    if index_type == "EAQI":
        return float(eaqi(pm2_5=g("pm2_5"), pm10=g("pm10"), no2=g("no2"), o3=g("o3")))
    return float(us_aqi(pm2_5=g("pm2_5"), pm10=g("pm10"), no2=g("no2"), o3_1h=g("o3")))


def reference_element(w: Window, index_type: str, lang: str, standard: str) -> dict[str, Any]:
    value = reference_index(index_type, w.values)
    lv = level(airly.INDEX_TYPES[index_type], value)
    known = not math.isnan(value)
    lines = lv.advice[lang]
    standards = []
    for var in POLLUTANTS:
        if var in w.values:
            limit, averaging = standard_limit(var, standard)
            percent = float(standard_percent(w.values[var], variable=var, standard=standard))
            if not math.isnan(limit) and not math.isnan(percent):
                standards.append((airly.MEASUREMENT_NAMES[var], limit, percent, averaging))
    return {
        "values": [
            (airly.MEASUREMENT_NAMES[k], float(np.round(w.values[k], 2)))
            for k in airly.MEASUREMENT_NAMES
            if k in w.values
        ],
        "index": (
            value if known else None,
            lv.code,
            lv.description[lang],
            lines[(w.start // 3600) % len(lines)] if known and lines else None,
            lv.color,
        ),
        "standards": standards,
    }


def shape(element: dict[str, Any]) -> dict[str, Any]:
    [index] = element["indexes"]
    return {
        "values": [(v["name"], v["value"]) for v in element["values"]],
        "index": (
            index["value"],
            index["level"],
            index["description"],
            index["advice"],
            index["color"],
        ),
        "standards": [
            (s["pollutant"], s["limit"], s["percent"], s["averaging"]) for s in element["standards"]
        ],
    }


concentration = st.floats(min_value=0, max_value=600, allow_nan=False)
windows = st.lists(
    st.dictionaries(st.sampled_from(VARIABLES), concentration, max_size=len(VARIABLES)),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(
    values=windows,
    index_type=st.sampled_from(list(airly.INDEX_TYPES)),
    lang=st.sampled_from(["pl", "en"]),
    standard=st.sampled_from(["WHO2005", "WHO2021", "EU2008"]),
)
def test_vectorised_elements_equal_window_by_window(
    values: list[dict[str, float]], index_type: str, lang: str, standard: str
) -> None:
    ws = [
        Window(1_700_000_000 + 3600 * i, 1_700_003_600 + 3600 * i, v) for i, v in enumerate(values)
    ]
    got = airly.elements(airly.Windows.of(ws), index_type=index_type, lang=lang, standard=standard)
    assert [shape(e) for e in got] == [reference_element(w, index_type, lang, standard) for w in ws]
    assert [e["fromDateTime"] for e in got] == [airly.iso_ms(w.start) for w in ws]


def test_idw_weights_by_inverse_squared_distance() -> None:
    from smartdistricts.services.airnow import SiteAir
    from smartdistricts.services.registry import Site

    def air(pm25: float, pm10: float | None) -> SiteAir:
        values = {"pm2_5": pm25} if pm10 is None else {"pm2_5": pm25, "pm10": pm10}
        site = Site.__new__(Site)
        return SiteAir(site, Window(0, 3600, values), (Window(-3600, 0, {}),), 0, None, 0.0)

    out = airly.idw([(air(10.0, 20.0), 1.0), (air(30.0, None), 2.0)])
    # Weights 1 and 1/4: PM2.5 (10 + 30/4) / 1.25 = 14; PM10 only from the first site.
    assert out.names == ("pm2_5", "pm10")
    assert out.values[0].tolist() == [14.0, 20.0]
    assert np.isnan(out.values[1]).all()
    at_site = airly.idw([(air(10.0, 20.0), 2.0), (air(30.0, None), 0.005)])
    assert at_site.values[0].tolist()[0] == 30.0 and at_site.names == ("pm2_5",)

"""Level tables, colours and texts.

Reference values:
- AIRLY_CAQI, CAQI and PIJP levels and colours: Airly /v2/meta/indexes recorded 2020-03
  (piotrekjanus/aiRly test fixture) [AIRLY-DOCS] (indices.md §2.1-2.3); recorded boundary
  behaviour 24.84 -> VERY_LOW, 25.07 -> LOW; UNKNOWN payload of Airly's no-station response
  (home-assistant/core fixture, 2019).
- GIOŚ categories and colours: GIOŚ API v1 [GIOS] (§4.1). EEA bands and colours: ETC HE Report
  2024/17 [EEA2024] (§3.1). US categories and colours: EPA TAD 2018 as quoted (§5.1). DAQI
  bands and colours (§6) [DEFRA-DAQI].
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from smartdistricts.indices import (
    INDEX_NAMES,
    LANGUAGES,
    advice,
    index_levels,
    level,
    level_codes,
    unknown_level,
)

# index -> [(code, min, max, colour, values label)]
TABLES = {
    "AIRLY_CAQI": [
        ("VERY_LOW", 0, 25, "#6BC926", "0-25"),
        ("LOW", 25, 50, "#D1CF1E", "25-50"),
        ("MEDIUM", 50, 75, "#EFBB0F", "50-75"),
        ("HIGH", 75, 87.5, "#EF7120", "75-87.5"),
        ("VERY_HIGH", 87.5, 100, "#EF2A36", "87.5-100"),
        ("EXTREME", 100, 125, "#B00057", "100-125"),
        ("AIRMAGEDDON", 125, None, "#770078", "125+"),
    ],
    "CAQI": [
        ("VERY_LOW", 0, 25, "#79BC6A", "0-25"),
        ("LOW", 25, 50, "#B9CE45", "25-50"),
        ("MEDIUM", 50, 75, "#EDC100", "50-75"),
        ("HIGH", 75, 100, "#F69208", "75-100"),
        ("VERY_HIGH", 100, None, "#960018", "100+"),
    ],
    "PIJP": [
        ("VERY_GOOD", 0, 1, "#57B108", "0-1"),
        ("GOOD", 1, 3, "#B0DD10", "1-3"),
        ("MODERATE", 3, 5, "#FFD911", "3-5"),
        ("SATISFACTORY", 5, 7, "#E58100", "5-7"),
        ("BAD", 7, 10, "#E50000", "7-10"),
        ("VERY_BAD", 10, None, "#990000", "10+"),
    ],
    "GIOS": [
        ("VERY_GOOD", 0, 1, "#57B108", "0"),
        ("GOOD", 1, 2, "#B0DD10", "1"),
        ("MODERATE", 2, 3, "#FFD911", "2"),
        ("SATISFACTORY", 3, 4, "#E58100", "3"),
        ("BAD", 4, 5, "#E50000", "4"),
        ("VERY_BAD", 5, None, "#990000", "5"),
    ],
    "EAQI_2024": [
        ("GOOD", 1, 2, "#50F0E6", "1"),
        ("FAIR", 2, 3, "#50CCAA", "2"),
        ("MODERATE", 3, 4, "#F0E641", "3"),
        ("POOR", 4, 5, "#FF5050", "4"),
        ("VERY_POOR", 5, 6, "#960032", "5"),
        ("EXTREMELY_POOR", 6, None, "#7D2181", "6"),
    ],
    "EAQI_2019": [
        ("GOOD", 1, 2, "#50F0E6", "1"),
        ("FAIR", 2, 3, "#50CCAA", "2"),
        ("MODERATE", 3, 4, "#F0E641", "3"),
        ("POOR", 4, 5, "#FF5050", "4"),
        ("VERY_POOR", 5, 6, "#960032", "5"),
        ("EXTREMELY_POOR", 6, None, "#7D2181", "6"),
    ],
    "US_AQI": [
        ("GOOD", 0, 51, "#00E400", "0-50"),
        ("MODERATE", 51, 101, "#FFFF00", "51-100"),
        ("UNHEALTHY_SENSITIVE", 101, 151, "#FF7E00", "101-150"),
        ("UNHEALTHY", 151, 201, "#FF0000", "151-200"),
        ("VERY_UNHEALTHY", 201, 301, "#8F3F97", "201-300"),
        ("HAZARDOUS", 301, None, "#7E0023", "301+"),
    ],
    "DAQI": [
        ("LOW_1", 1, 2, "#9CFF9C", "1"),
        ("LOW_2", 2, 3, "#31FF00", "2"),
        ("LOW_3", 3, 4, "#31CF00", "3"),
        ("MODERATE_4", 4, 5, "#FFFF00", "4"),
        ("MODERATE_5", 5, 6, "#FFCF00", "5"),
        ("MODERATE_6", 6, 7, "#FF9A00", "6"),
        ("HIGH_7", 7, 8, "#FF6464", "7"),
        ("HIGH_8", 8, 9, "#FF0000", "8"),
        ("HIGH_9", 9, 10, "#990000", "9"),
        ("VERY_HIGH_10", 10, None, "#CE30FF", "10"),
    ],
}


def test_index_names() -> None:
    assert set(INDEX_NAMES) == set(TABLES)
    assert LANGUAGES == ("pl", "en")


@pytest.mark.parametrize("name", list(TABLES))
def test_level_tables(name: str) -> None:
    levels = index_levels(name)
    assert [(lv.code, lv.min, lv.max, lv.color, lv.values) for lv in levels] == TABLES[name]
    assert index_levels(name) is not levels  # a new list each call


BOUNDARIES = [
    (name, code, low, high)
    for name, rows in TABLES.items()
    for code, low, high, _color, _values in rows
]


@pytest.mark.parametrize(("name", "code", "low", "high"), BOUNDARIES)
def test_every_level_boundary(name: str, code: str, low: float, high: float | None) -> None:
    # Half-open [min, max): the lower limit belongs to the level, the upper one does not.
    assert level(name, low).code == code
    assert level(name, math.nextafter(low, math.inf)).code == code
    if high is not None:
        assert level(name, math.nextafter(high, -math.inf)).code == code
        assert level(name, high).code != code
    else:
        assert level(name, 1e9).code == code
        assert level(name, math.inf).code == code
    values = [low, math.nextafter(high, -math.inf) if high is not None else 1e9]
    assert level_codes(name, values).tolist() == [code, code]


def test_airly_recorded_boundaries() -> None:
    assert level("AIRLY_CAQI", 24.84).code == "VERY_LOW"
    assert level("AIRLY_CAQI", 25.07).code == "LOW"
    assert level("AIRLY_CAQI", 25.0).code == "LOW"
    assert level("AIRLY_CAQI", 75.49).code == "HIGH"  # PM10 91.77 (2019)


@pytest.mark.parametrize("name", list(TABLES))
def test_unknown_level(name: str) -> None:
    for value in (math.nan, -0.5):
        found = level(name, value)
        assert found.code == "UNKNOWN"
        assert found.color == "#999999"
        assert found.min is None
        assert found.max is None
        assert advice(name, value) is None
    assert unknown_level(name) == level(name, math.nan)
    assert level_codes(name, [math.nan]).tolist() == ["UNKNOWN"]
    assert set(unknown_level(name).description) == set(LANGUAGES)


def test_airly_unknown_description_is_byte_exact() -> None:
    # home-assistant/core tests/components/airly/fixtures/no_station.json (2019).
    text = unknown_level("AIRLY_CAQI").description["en"]
    assert text == "There are no Airly sensors in this area yet."
    assert unknown_level("AIRLY_CAQI").description["pl"]


@pytest.mark.parametrize(("name", "code", "low", "high"), BOUNDARIES)
def test_texts_for_every_level(name: str, code: str, low: float, high: float | None) -> None:
    found = level(name, low)
    for lang in LANGUAGES:
        assert found.label[lang].strip()
        assert found.description[lang].strip()
        lines = found.advice[lang]
        assert len(lines) >= 3, (name, code, lang)
        assert len(set(lines)) == len(lines)
        assert all(line.strip() and len(line) <= 120 for line in lines)


def test_advice_is_deterministic_and_rotates() -> None:
    lines = level("AIRLY_CAQI", 10.0).advice["pl"]
    picked = [advice("AIRLY_CAQI", 10.0, "pl", seed=hour) for hour in range(24)]
    assert picked == [lines[hour % len(lines)] for hour in range(24)]
    assert advice("AIRLY_CAQI", 10.0, "pl", seed=5) == advice("AIRLY_CAQI", 10.0, "pl", seed=5)
    assert len(set(picked[: len(lines)])) == len(lines)
    assert advice("AIRLY_CAQI", 10.0) == lines[0]
    assert advice("AIRLY_CAQI", 10.0, "en") in level("AIRLY_CAQI", 10.0).advice["en"]


def test_worse_levels_give_different_advice_than_the_best() -> None:
    best = set(level("AIRLY_CAQI", 0.0).advice["en"])
    worst = set(level("AIRLY_CAQI", 200.0).advice["en"])
    assert best.isdisjoint(worst)


def test_meta_shape() -> None:
    entries = [lv.meta("en") for lv in index_levels("AIRLY_CAQI")]
    assert entries[0] == {
        "minValue": 0.0,
        "maxValue": 25.0,
        "values": "0-25",
        "level": "VERY_LOW",
        "description": "Very Low",
        "color": "#6BC926",
    }
    assert entries[-1]["maxValue"] is None
    assert entries[-1]["values"] == "125+"
    assert index_levels("AIRLY_CAQI")[0].meta("pl")["description"]


def test_level_codes_vectorised() -> None:
    values = np.array([[0.0, 24.84, 25.07], [87.5, 125.0, np.nan]])
    codes = level_codes("AIRLY_CAQI", values)
    assert codes.shape == (2, 3)
    assert codes.tolist() == [
        ["VERY_LOW", "VERY_LOW", "LOW"],
        ["VERY_HIGH", "AIRMAGEDDON", "UNKNOWN"],
    ]
    assert level_codes("CAQI", np.empty(0)).shape == (0,)
    assert level_codes("GIOS", 3.0).tolist() == "SATISFACTORY"


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="index_name must be one of 'AIRLY_CAQI'"):
        level("AQI", 1.0)
    with pytest.raises(ValueError, match="index_name"):
        level_codes("caqi", [1.0])
    with pytest.raises(ValueError, match="index_name"):
        index_levels("EAQI")
    with pytest.raises(ValueError, match="index_name"):
        unknown_level("EAQI")
    with pytest.raises(ValueError, match=r"lang must be one of 'pl', 'en'"):
        advice("CAQI", 1.0, lang="de")
    with pytest.raises(ValueError, match="lang"):
        index_levels("CAQI")[0].meta("de")

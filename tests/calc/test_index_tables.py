"""The packaged data files: they parse, cite their source, and their bands are contiguous."""

from __future__ import annotations

import itertools
import json
from importlib import resources

import numpy as np
import pytest

from smartdistricts.calc.breakpoints import COLUMNS, load_table
from smartdistricts.calc.tables import read_csv

DATA = resources.files("smartdistricts.calc").joinpath("data")
# The index layer's files (other layers may ship their own data files next to them).
BREAKPOINT_FILES = [
    "caqi_citeair2012_daily.csv",
    "caqi_citeair2012_hourly.csv",
    "daqi_2012.csv",
    "eaqi_2017.csv",
    "eaqi_2019.csv",
    "eaqi_2024.csv",
    "gios_a.csv",
    "gios_b.csv",
    "us_epa_2012.csv",
    "us_epa_2024.csv",
]
ALL_CSV = [*BREAKPOINT_FILES, "standards.csv", "alert_thresholds.csv"]
BIBLIOGRAPHY_KEYS = {
    "CITEAIR2012",
    "EEA2024",
    "EEA2019",
    "EEA2017",
    "GIOS",
    "EPA2024",
    "EPA2012",
    "DEFRA-DAQI",
    "WHO2005",
    "WHO2021",
    "EU2008",
    "EU2024",
}


def test_expected_files_are_shipped() -> None:
    shipped = {entry.name for entry in DATA.iterdir()}
    assert {*ALL_CSV, "levels.json"} <= shipped


@pytest.mark.parametrize("name", ALL_CSV)
def test_every_file_cites_its_source(name: str) -> None:
    raw = read_csv(name)
    notes = " ".join(raw.notes)
    assert raw.rows
    assert "Source" in notes or "source" in notes
    assert "Confidence" in notes or "confidence" in notes or "official" in notes
    assert "http" in notes or "Dz.U." in notes or "Directive" in notes
    for row in raw.rows:
        assert row["source"] in BIBLIOGRAPHY_KEYS, (name, row)


@pytest.mark.parametrize("name", BREAKPOINT_FILES)
def test_breakpoint_tables_are_monotonic_and_contiguous(name: str) -> None:
    assert read_csv(name).header == COLUMNS
    table = load_table(name)
    for pollutant, bands in table.bands.items():
        n = len(bands.levels)
        assert n >= 2, pollutant
        low, high, step = bands.conc_low, bands.conc_high, bands.step
        # Bands increase and each band is non-empty.
        assert np.all(np.diff(low) > 0), pollutant
        closed = ~np.isnan(high)
        assert np.all(high[closed] > low[closed]), pollutant
        # Only the top band may be open.
        assert closed[:-1].all(), pollutant
        # No gaps: the next band starts where this one ends (continuous grids, step 0) or one
        # printed step above it (0.1-step or integer tables).
        expected_next = high[:-1] + step
        np.testing.assert_allclose(low[1:], expected_next, rtol=0, atol=1e-9, err_msg=pollutant)
        # Index values increase without gaps as well.
        if table.index in {"CAQI"}:
            np.testing.assert_array_equal(bands.index_low[1:], bands.index_high[:-1])
        elif table.index == "US_AQI":
            np.testing.assert_array_equal(bands.index_low[1:], bands.index_high[:-1] + 1)
        else:  # band numbers
            np.testing.assert_array_equal(bands.index_low, bands.index_high)
            np.testing.assert_array_equal(np.diff(bands.index_low), np.ones(n - 1))
        # The first band starts at zero concentration, except where a source starts a table
        # higher (documented: 1-h O3 from AQI 101, 24-h SO2 from AQI 201).
        if (table.index, pollutant) not in {("US_AQI", "o3_1h"), ("US_AQI", "so2_24h")}:
            assert low[0] == 0.0, pollutant
        assert bands.unit in {"µg/m³", "mg/m³", "ppm", "ppb"}


def test_us_epa_split_rows_continue_each_other() -> None:
    # Documented split between tables of one pollutant: 1-h SO2 ends at 304 ppb (AQI 200) and
    # 24-h SO2 takes over at 305 ppb (AQI 201); 8-h O3 ends at AQI 300, 1-h O3 covers 101-500.
    for version in ("2024", "2012"):
        table = load_table(f"us_epa_{version}.csv")
        assert table["so2_1h"].conc_high[-1] + 1 == table["so2_24h"].conc_low[0]
        assert table["so2_1h"].index_high[-1] + 1 == table["so2_24h"].index_low[0]
        assert table["o3_8h"].index_high[-1] == 300
        assert table["o3_1h"].index_low[0] == 101
        assert table["o3_1h"].index_high[-1] == 500


def test_tables_are_read_only_and_cached() -> None:
    table = load_table("eaqi_2024.csv")
    assert load_table("eaqi_2024.csv") is table
    with pytest.raises(ValueError, match="read-only"):
        table["pm2_5"].conc_low[0] = 1.0


def test_levels_json() -> None:
    data = json.loads(DATA.joinpath("levels.json").read_text(encoding="utf-8"))
    tiers = data["tiers"]
    for spec in data["indexes"].values():
        assert spec["source"]
        levels = spec["levels"]
        for this, following in itertools.pairwise(levels):
            assert this["max"] == following["min"]  # contiguous [min, max) ranges
        assert levels[-1]["max"] is None
        assert all(level["tier"] in tiers for level in levels)
    for tier in tiers.values():
        for lang in ("pl", "en"):
            assert tier["description"][lang]
            assert len(tier["advice"][lang]) >= 3
    assert data["unknown"]["color"] == "#999999"

"""The synthetic generator: deterministic, in range, and shaped like a Polish heating town."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from numpy.typing import NDArray

from smartdistricts.demo import (
    PROFILES,
    VARIABLES,
    DemoSite,
    demo_times,
    load_town,
    synthetic_series,
    synthetic_values,
    warsaw_utc_offset,
)
from smartdistricts.demo.synthetic import SyntheticSeries
from smartdistricts.nomenclature import variable

SITES = load_town().sites
SLUGS = [s.slug for s in SITES]
DAY = 86400
JANUARY = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
JULY = int(datetime(2024, 7, 1, tzinfo=UTC).timestamp())
UNITS = {
    "pm1": "µg/m³",
    "pm2_5": "µg/m³",
    "pm10": "µg/m³",
    "temp_air": "°C",
    "relative_humidity": "%",
    "pressure": "hPa",
}


def site(slug: str) -> DemoSite:
    return next(s for s in SITES if s.slug == slug)


@cache
def times(start: int, index: int) -> NDArray[np.int64]:
    return demo_times(start, start + 30 * DAY, site_index=index)


@cache
def month(slug: str, start: int) -> tuple[NDArray[np.int64], dict[str, NDArray[np.float64]]]:
    """30 days of readings at the airrohr cadence."""
    t = times(start, SLUGS.index(slug))
    return t, synthetic_values(site(slug), t)


@cache
def month_series(slug: str, start: int) -> SyntheticSeries:
    return synthetic_series(site(slug), times(start, SLUGS.index(slug)))


def local_hour(t: NDArray[np.int64]) -> NDArray[np.float64]:
    return ((t + warsaw_utc_offset(t)) % DAY).astype(np.float64) / 3600.0


# --- interface -------------------------------------------------------------------------------


def test_returns_the_canonical_variables_in_their_units() -> None:
    _, values = month("malopolska-11", JANUARY)
    assert tuple(values) == VARIABLES
    for name in VARIABLES:
        assert variable(name).unit == UNITS[name]
        assert values[name].dtype == np.float64


def test_values_are_rounded_to_two_decimals_like_the_firmware() -> None:
    _, values = month("wyszynskiego-56", JANUARY)
    for name, array in values.items():
        assert np.allclose(array * 100.0, np.round(array * 100.0), atol=1e-6), name


def test_input_shape_is_kept_and_empty_input_gives_empty_output() -> None:
    s = SITES[0]
    grid = np.arange(JANUARY, JANUARY + 12 * 145, 145, dtype=np.int64).reshape(3, 4)
    values = synthetic_values(s, grid)
    assert all(v.shape == (3, 4) for v in values.values())
    flat = synthetic_values(s, grid.ravel())
    assert all(np.array_equal(values[k].ravel(), flat[k]) for k in values)
    scalar = synthetic_values(s, JANUARY)
    assert all(v.shape == () for v in scalar.values())
    empty = synthetic_values(s, np.zeros(0, dtype=np.int64))
    assert all(v.shape == (0,) for v in empty.values())


def test_unknown_profile_is_refused_with_its_name() -> None:
    odd = dataclasses.replace(SITES[0], profile="farm")
    with pytest.raises(ValueError, match="'farm'"):
        synthetic_values(odd, np.array([JANUARY]))


# --- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
def test_single_timestamps_equal_the_whole_array(slug: str) -> None:
    t, values = month(slug, JANUARY)
    for i in range(0, len(t), 211):
        one = synthetic_values(site(slug), t[i : i + 1])
        for name in VARIABLES:
            assert one[name][0] == values[name][i], (name, int(t[i]))


def test_chunks_equal_the_whole_array_and_repeated_calls_agree() -> None:
    t, values = month("przemyslowa-7", JULY)
    chunks = [synthetic_values(site("przemyslowa-7"), c) for c in np.array_split(t, 9)]
    again = synthetic_values(site("przemyslowa-7"), t)
    for name in VARIABLES:
        assert np.array_equal(np.concatenate([c[name] for c in chunks]), values[name])
        assert np.array_equal(again[name], values[name])


def test_global_numpy_random_state_is_neither_used_nor_changed() -> None:
    np.random.seed(1)
    before = np.random.random()
    np.random.seed(1)
    first = synthetic_values(SITES[0], np.array([JANUARY, JULY]))
    assert np.random.random() == before
    np.random.seed(99)
    second = synthetic_values(SITES[0], np.array([JANUARY, JULY]))
    assert all(np.array_equal(first[k], second[k]) for k in VARIABLES)


def test_the_seed_changes_the_history() -> None:
    t = times(JANUARY, 0)[:500]
    a = synthetic_values(SITES[0], t, seed=2019)
    b = synthetic_values(SITES[0], t, seed=2020)
    assert not np.array_equal(a["pm2_5"], b["pm2_5"])
    assert not np.array_equal(a["temp_air"], b["temp_air"])


def test_sites_share_the_weather_but_not_the_local_noise() -> None:
    t = times(JANUARY, 0)
    a = synthetic_series(site("malopolska-11"), t)
    b = synthetic_series(site("przemyslowa-7"), t)
    assert np.corrcoef(a.temp_air, b.temp_air)[0, 1] > 0.97
    assert np.corrcoef(a.pressure, b.pressure)[0, 1] > 0.99
    assert abs(np.mean(a.temp_air - b.temp_air)) < 1.0
    assert 0.5 < np.corrcoef(np.log(a.pm2_5_true), np.log(b.pm2_5_true))[0, 1] < 0.99


# --- ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("start", [JANUARY, JULY], ids=["january", "july"])
def test_values_are_in_plausible_ranges(slug: str, start: int) -> None:
    _, v = month(slug, start)
    assert all(np.isfinite(a).all() for a in v.values())
    assert (v["pm1"] >= 0).all() and (v["pm2_5"] >= 0).all() and (v["pm10"] >= 0).all()
    assert (v["pm2_5"] < 500).all()
    assert ((v["relative_humidity"] >= 0) & (v["relative_humidity"] <= 100)).all()
    assert ((v["pressure"] > 960) & (v["pressure"] < 1040)).all()
    low, high = (-25.0, 14.0) if start == JANUARY else (4.0, 36.0)
    assert ((v["temp_air"] > low) & (v["temp_air"] < high)).all()


@pytest.mark.parametrize("slug", SLUGS)
@pytest.mark.parametrize("start", [JANUARY, JULY], ids=["january", "july"])
def test_pm1_below_pm2_5_below_pm10_always(slug: str, start: int) -> None:
    _, v = month(slug, start)
    assert (v["pm1"] < v["pm2_5"]).all()
    assert (v["pm2_5"] < v["pm10"]).all()


def test_pm_ratios_are_typical_and_highest_at_the_traffic_site() -> None:
    ratios = {}
    for slug in SLUGS:
        _, v = month(slug, JULY)
        dry = v["relative_humidity"] < 80
        ratios[slug] = float(np.median(v["pm10"][dry] / v["pm2_5"][dry]))
        assert 1.2 <= ratios[slug] <= 1.6, slug
        assert 0.7 <= float(np.median(v["pm1"][dry] / v["pm2_5"][dry])) <= 0.85, slug
    assert max(ratios, key=ratios.__getitem__) == "wyszynskiego-56"


# --- shape of the curves ----------------------------------------------------------------------


def test_seasonal_temperature() -> None:
    for slug in SLUGS:
        _, january = month(slug, JANUARY)
        _, july = month(slug, JULY)
        assert -6.0 < january["temp_air"].mean() < 2.0, slug
        assert 16.0 < july["temp_air"].mean() < 22.0, slug


def test_diurnal_temperature_peaks_in_the_afternoon_more_in_summer() -> None:
    ranges = []
    for start in (JANUARY, JULY):
        t, v = month("sosnkowskiego-1", start)
        h = local_hour(t)
        afternoon = v["temp_air"][(h >= 14) & (h < 17)].mean()
        dawn = v["temp_air"][(h >= 4) & (h < 7)].mean()
        assert afternoon > dawn + 3.0
        ranges.append(afternoon - dawn)
    assert ranges[1] > ranges[0] + 2.0


def test_curves_are_smooth_between_consecutive_readings() -> None:
    _, v = month("malopolska-11", JANUARY)
    assert np.abs(np.diff(v["temp_air"])).max() < 1.0
    assert np.abs(np.diff(v["pressure"])).max() < 0.5
    swing = v["pressure"].max() - v["pressure"].min()
    assert 10.0 < swing < 60.0  # synoptic variation over a month


def test_station_pressure_accounts_for_elevation() -> None:
    for slug in SLUGS:
        _, v = month(slug, JANUARY)
        sea_level = v["pressure"].mean() + site(slug).elevation / 8.3
        assert 1000.0 < sea_level < 1026.0, slug


def test_humidity_is_anticorrelated_with_temperature_and_higher_in_winter() -> None:
    t, v = month("malopolska-11", JULY)
    day = (t - JULY) // DAY
    daily_t = np.bincount(day, v["temp_air"]) / np.bincount(day)
    daily_rh = np.bincount(day, v["relative_humidity"]) / np.bincount(day)
    anomaly_t = v["temp_air"] - daily_t[day]
    anomaly_rh = v["relative_humidity"] - daily_rh[day]
    assert np.corrcoef(anomaly_t, anomaly_rh)[0, 1] < -0.7
    h = local_hour(t)
    assert v["relative_humidity"][h < 5].mean() > v["relative_humidity"][(h > 13) & (h < 17)].mean()
    _, winter = month("malopolska-11", JANUARY)
    assert winter["relative_humidity"].mean() > v["relative_humidity"].mean() + 8.0


def test_some_foggy_nights_but_not_every_night() -> None:
    t, v = month("malopolska-11", JANUARY)
    day = (t - JANUARY) // DAY
    foggy_days = {int(d) for d in day[v["relative_humidity"] >= 97.0]}
    assert 2 <= len(foggy_days) <= 20


@pytest.mark.parametrize("slug", SLUGS)
def test_evening_heating_peak_in_january(slug: str) -> None:
    t, v = month(slug, JANUARY)
    h = local_hour(t)
    evening = v["pm2_5"][(h >= 18) & (h < 22)].mean()
    night = v["pm2_5"][(h >= 3) & (h < 5)].mean()
    afternoon = v["pm2_5"][(h >= 12) & (h < 15)].mean()
    assert evening > 1.3 * night
    assert evening > 1.5 * afternoon


@pytest.mark.parametrize("slug", SLUGS)
def test_january_is_much_dirtier_than_july(slug: str) -> None:
    _, january = month(slug, JANUARY)
    _, july = month(slug, JULY)
    assert 15.0 < january["pm2_5"].mean() < 50.0
    assert 4.0 < july["pm2_5"].mean() < 16.0
    assert january["pm2_5"].mean() > 2.0 * july["pm2_5"].mean()


def test_january_has_a_smog_episode() -> None:
    t, v = month("malopolska-11", JANUARY)
    hour = (t - JANUARY) // 3600
    hourly = np.bincount(hour, v["pm2_5"]) / np.maximum(np.bincount(hour), 1)
    assert hourly.max() > 80.0


def test_humidity_artefact_inflates_pm_at_high_humidity() -> None:
    series = month_series("sosnkowskiego-1", JANUARY)
    ratio = series.pm2_5 / series.pm2_5_true
    humid = series.relative_humidity > 90
    dry = series.relative_humidity < 80
    assert humid.sum() > 100 and dry.sum() > 100
    assert ratio[humid].mean() > 1.3
    assert ratio[dry].mean() == pytest.approx(1.0, abs=0.02)
    assert np.allclose(series.pm2_5, series.pm2_5_true * series.humidity_growth)
    fog = series.relative_humidity > 98
    fog_ratio = np.median(series.pm10[fog] / series.pm2_5[fog])
    assert fog_ratio > np.median(series.pm10[dry] / series.pm2_5[dry]) + 0.3


def test_thirty_days_for_four_sites_is_fast() -> None:
    all_times = [demo_times(JULY, JULY + 30 * DAY, site_index=i) for i in range(len(SITES))]
    synthetic_values(SITES[0], all_times[0][:10])  # warm-up
    started = time.perf_counter()
    for s, t in zip(SITES, all_times, strict=True):
        synthetic_values(s, t)
    assert time.perf_counter() - started < 2.0


def test_profiles_cover_the_sites() -> None:
    assert {s.profile for s in SITES} <= set(PROFILES)


# --- cadence and local time ------------------------------------------------------------------


def test_demo_times_follow_the_airrohr_cadence() -> None:
    t = demo_times(JANUARY, JANUARY + 30 * DAY)
    assert t.dtype == np.int64
    assert t[0] >= JANUARY and t[-1] < JANUARY + 30 * DAY
    steps = np.diff(t)
    assert (steps > 0).all()
    assert steps.min() >= 145 - 6 and steps.max() <= 145 + 6
    assert np.median(steps) == 145
    assert len(t) == pytest.approx(30 * DAY / 145, abs=2)
    assert len(np.unique(steps)) > 1  # jittered


def test_demo_times_windows_continue_one_cadence() -> None:
    history = demo_times(JANUARY, JANUARY + DAY)
    live = demo_times(JANUARY + DAY - 1000, JANUARY + 2 * DAY)
    overlap = history[history >= JANUARY + DAY - 1000]
    assert np.array_equal(live[: len(overlap)], overlap)
    joined = np.union1d(history, live)
    assert (np.diff(joined) >= 139).all()


def test_demo_times_sites_have_their_own_phase() -> None:
    phases = {int(demo_times(JANUARY, JANUARY + 600, site_index=i)[0]) for i in range(4)}
    assert len(phases) > 1


def test_demo_times_refuses_bad_parameters_and_empty_windows() -> None:
    with pytest.raises(ValueError, match="jitter_s"):
        demo_times(0, 1000, interval_s=10, jitter_s=5)
    with pytest.raises(ValueError, match="interval_s"):
        demo_times(0, 1000, interval_s=0)
    assert demo_times(1000, 1000).shape == (0,)
    no_jitter = demo_times(JANUARY, JANUARY + DAY, jitter_s=0)
    assert set(np.diff(no_jitter)) == {145}


def test_warsaw_offset_matches_zoneinfo_for_every_hour_of_two_years() -> None:
    start = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp())
    t = np.arange(start, start + 2 * 366 * DAY, 3600, dtype=np.int64)
    zone = ZoneInfo("Europe/Warsaw")
    expected = [
        int(datetime.fromtimestamp(int(x), zone).utcoffset().total_seconds())  # type: ignore[union-attr]
        for x in t
    ]
    assert warsaw_utc_offset(t).tolist() == expected

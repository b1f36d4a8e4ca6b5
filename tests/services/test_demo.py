"""The demo database: the town's districts, four sites and 30 days of readings, idempotently.

One full demo per backend (about 430 000 readings) is built once and checked from every side,
which keeps the suite fast; smaller details use a two-day demo.
"""

from __future__ import annotations

import numpy as np
import pytest

from smartdistricts.calc.geo import points_in_geometry
from smartdistricts.demo import load_town
from smartdistricts.nomenclature import variable
from smartdistricts.services.demo import SENSOR_OF_VARIABLE, create_demo
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import list_devices, list_districts, list_sites
from smartdistricts.store.base import Store

NOW = 1_790_000_000  # 2026-09-21T14:13:20Z
DAY = 86400
SERIES = 4 * 6  # sites × variables


def count(store: Store, sql: str) -> int:
    row = store.read(lambda tx: tx.one(sql))
    assert row is not None
    return int(row[0])


def test_thirty_days_for_four_sites_then_only_what_is_new(
    service: IngestService, store: Store
) -> None:
    result = create_demo(service, now=NOW)
    expected = 30 * DAY / 145 * SERIES
    assert (result.districts, result.sites, result.end) == (5, 4, NOW)
    assert result.start == NOW - 30 * DAY
    assert abs(result.readings - expected) / expected < 0.005
    assert count(store, "SELECT count(*) FROM measurements") == result.readings

    # Places: five districts, four sites inside their own districts.
    town = load_town()
    districts = {d.slug: d for d in list_districts(store)}
    assert sorted(districts) == sorted(d.slug for d in town.districts)
    by_id = {d.id: d for d in districts.values()}
    sites = list_sites(store)
    assert sorted(s.slug for s in sites) == sorted(s.slug for s in town.sites)
    for site in sites:
        district = by_id[site.district_id] if site.district_id is not None else None
        assert district is not None and district.slug == town.site(site.slug).district_slug
        assert points_in_geometry([site.longitude], [site.latitude], district.geometry)[0]
    devices = list_devices(store)
    assert len(devices) == 4
    assert all(d.status == "active" and d.secret_hash and d.site_id for d in devices)
    assert {d.sensors for d in devices} == {tuple(sorted(set(SENSOR_OF_VARIABLE.values())))}

    # Six variables per site at the airrohr cadence of about 145 s.
    per_series = store.read(
        lambda tx: tx.query(
            "SELECT sensor_id, variable_id, count(*), min(time), max(time) FROM measurements"
            " GROUP BY sensor_id, variable_id"
        )
    )
    assert len(per_series) == SERIES
    assert {int(v) for _, v, *_ in per_series} == {variable(n).id for n in SENSOR_OF_VARIABLE}
    for *_, n, first, last in per_series:
        assert (int(last) - int(first)) / (int(n) - 1) == pytest.approx(145, abs=0.5)
        assert NOW - 30 * DAY <= int(first) < int(last) < NOW

    # Daily values for every local day touched, nearly all valid (the two partial days are not).
    daily = store.read(lambda tx: tx.query("SELECT hours, hours_in_day, valid FROM daily"))
    assert len(daily) == SERIES * 31
    assert sum(int(v) for *_, v in daily) >= SERIES * 29
    assert count(store, "SELECT count(*) FROM rollup_pending") == 0
    assert count(store, "SELECT count(*) FROM latest") == SERIES

    # Running it again adds nothing until time passes; then only the new readings.
    again = create_demo(service, now=NOW)
    assert (again.districts, again.sites, again.readings) == (0, 0, 0)
    assert count(store, "SELECT count(*) FROM measurements") == result.readings
    later = create_demo(service, now=NOW + 3600)
    assert (later.districts, later.sites) == (0, 0)
    assert abs(later.readings - 3600 / 145 * SERIES) <= SERIES
    assert count(store, "SELECT count(*) FROM measurements") == result.readings + later.readings
    assert count(store, "SELECT count(*) FROM districts") == 5
    assert count(store, "SELECT count(*) FROM sites") == 4


def test_demo_readings_are_plausible(service: IngestService, store: Store) -> None:
    create_demo(service, days=2, now=NOW)
    rows = store.read(
        lambda tx: tx.query("SELECT variable_id, value, flags FROM measurements ORDER BY time")
    )
    arr = np.asarray(rows, dtype=np.float64)
    for name in SENSOR_OF_VARIABLE:
        v = variable(name)
        values = arr[arr[:, 0] == v.id, 1]
        assert len(values) > 1000
        assert not any(v.implausible(x) for x in values.tolist()), name
    assert not np.any(arr[:, 2].astype(np.int64) & 3)  # neither out of range nor stuck

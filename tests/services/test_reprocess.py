"""``rollup --since``: recompute flags and aggregates; raw values never change.

A node pushes PM and relative humidity; the humidity thresholds are then changed and the period
reprocessed. Expected flags come from the thresholds applied here by hand to the paired humidity.
"""

from __future__ import annotations

from typing import Any

import pytest

from smartdistricts.config import Settings
from smartdistricts.nomenclature import Flag, variable
from smartdistricts.services.ingest import IngestService, StreamBatch
from smartdistricts.services.registry import add_device, add_site
from smartdistricts.services.reprocess import reprocess
from smartdistricts.services.rollup import roll_up_pending
from smartdistricts.store.base import Store

PM25, PM10, RH, TEMP = (variable(n).id for n in ("pm2_5", "pm10", "relative_humidity", "temp_air"))
H = 3600
T0 = 1_781_042_400  # 2026-06-09T22:00:00Z
HUMID, FOG, STUCK = int(Flag.HUMID), int(Flag.FOG), int(Flag.STUCK)
RAW = (
    "SELECT s.device_id, m.sensor_id, m.variable_id, m.time, m.value, m.source_id, m.flags"
    " FROM measurements m JOIN sensors s ON s.id = m.sensor_id"
    " ORDER BY m.sensor_id, m.variable_id, m.time"
)


def humidity_at(i: int) -> float:
    """A humidity cycle between 60 % and 98 %."""
    return 60.0 + (i * 7) % 39


def push_node(service: IngestService, uid: str, start: int, count: int) -> None:
    """One push per 145 s with PM2.5, PM10 and humidity stamped together."""
    for i in range(count):
        t = start + 145 * i
        readings = [
            ("SDS011", PM25, t, 10.0 + i % 5),
            ("SDS011", PM10, t, 15.0 + i % 7),
            ("DHT22", RH, t, humidity_at(i)),
        ]
        assert service.write(StreamBatch(uid, readings, "push", t)).outcome == "stored"


def raw(store: Store) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in store.read(lambda tx: tx.query(RAW))]


def values_of(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [r[:6] for r in rows]


def expected_humidity_bits(rh: float, humid: float, fog: float) -> int:
    return (HUMID if rh >= humid else 0) | (FOG if rh >= fog else 0)


def hourly_flags(store: Store) -> dict[tuple[int, int, int], int]:
    rows = store.read(lambda tx: tx.query("SELECT sensor_id, variable_id, hour, flags FROM hourly"))
    return {(int(s), int(v), int(h)): int(f) for s, v, h, f in rows}


def hourly_means(store: Store) -> dict[tuple[int, int, int], tuple[Any, ...]]:
    rows = store.read(
        lambda tx: tx.query(
            "SELECT sensor_id, variable_id, hour, n, n_all, total, minimum, maximum FROM hourly"
        )
    )
    return {(int(r[0]), int(r[1]), int(r[2])): tuple(r[3:]) for r in rows}


def flags_by_hour(rows: list[tuple[Any, ...]]) -> dict[tuple[int, int, int], int]:
    out: dict[tuple[int, int, int], int] = {}
    for _, s, v, t, _, _, f in rows:
        key = (s, v, t - t % H)
        out[key] = out.get(key, 0) | f
    return out


@pytest.fixture
def node(service: IngestService, store: Store) -> str:
    add_device(store, "node-1")
    push_node(service, "node-1", T0, 80)  # 3 h 13 min
    return "node-1"


def test_changed_thresholds_change_flags_but_never_values(
    service: IngestService, store: Store, settings: Settings, node: str
) -> None:
    before = raw(store)
    pm = [r for r in before if r[2] in (PM25, PM10)]
    assert {r[6] for r in pm} == {0, HUMID, HUMID | FOG}  # ingest applied 70 % / 95 %
    means_before = hourly_means(store)

    stricter = IngestService(store, Settings(db=settings.db, humid_threshold=85, fog_threshold=90))
    summary = reprocess(stricter, T0, T0 + 4 * H)
    after = raw(store)

    assert values_of(after) == values_of(before)
    rh_by_time = {r[3]: r[4] for r in after if r[2] == RH}
    for r in after:
        want = expected_humidity_bits(rh_by_time[r[3]], 85, 90) if r[2] in (PM25, PM10) else 0
        assert r[6] == want, r
    changed = sum(1 for a, b in zip(before, after, strict=True) if a[6] != b[6])
    assert changed > 0
    assert (summary.devices, summary.readings, summary.reflagged) == (1, 240, changed)
    assert hourly_flags(store) == flags_by_hour(after)
    assert hourly_means(store) == means_before  # humidity flags do not exclude readings


def test_daily_flags_follow_the_new_flags(
    service: IngestService, store: Store, settings: Settings, node: str
) -> None:
    while store.write(lambda tx: roll_up_pending(tx, service.tz)):
        pass
    relaxed = IngestService(store, Settings(db=settings.db, humid_threshold=99, fog_threshold=99))
    reprocess(relaxed, T0 - H, T0 + 5 * H)
    days = store.read(lambda tx: tx.query("SELECT variable_id, day, flags FROM daily"))
    assert days and all(int(f) == 0 for _, _, f in days)
    assert store.read(lambda tx: tx.query("SELECT count(*) FROM rollup_pending")) == [(0,)]


def test_reprocessing_part_of_the_period_leaves_the_rest(
    service: IngestService, store: Store, settings: Settings, node: str
) -> None:
    before = raw(store)
    relaxed = IngestService(store, Settings(db=settings.db, humid_threshold=99, fog_threshold=99))
    reprocess(relaxed, T0 + H, T0 + 2 * H)
    after = raw(store)
    for a, b in zip(before, after, strict=True):
        inside = T0 + H <= a[3] < T0 + 2 * H
        assert b[6] == (a[6] & ~(HUMID | FOG) if inside else a[6]), b


def test_reprocessing_with_unchanged_settings_changes_nothing(
    service: IngestService, store: Store, settings: Settings
) -> None:
    """Windows that start inside a stuck run or next to a humidity reading keep their flags."""
    add_device(store, "stuck-node")
    start = T0 + 600
    for i in range(130):  # a temperature stuck at 4.5 °C for 5 h 14 min: STUCK after 3 h
        t = start + 145 * i
        service.write(StreamBatch("stuck-node", [("BME280", TEMP, t, 4.5)], "push", t))
    # Humidity 20 s before the hour; the PM reading 20 s after it is paired with it.
    hour = T0 + 7 * H
    service.write(StreamBatch("stuck-node", [("BME280", RH, hour - 20, 90.0)], "push", hour - 20))
    service.write(StreamBatch("stuck-node", [("SDS011", PM25, hour + 20, 30.0)], "push", hour + 20))
    service.write(StreamBatch("stuck-node", [("BME280", RH, hour + 400, 50.0)], "push", hour + 400))
    before = raw(store)
    assert any(r[6] == STUCK for r in before)
    assert [r[6] for r in before if r[2] == PM25] == [HUMID]
    means = hourly_means(store)

    for since in (T0 + 4 * H, hour):
        summary = reprocess(service, since, T0 + 8 * H)
        assert summary.reflagged == 0
        assert raw(store) == before
        assert hourly_means(store) == means


def test_a_node_without_humidity_gets_no_humidity_flags(
    service: IngestService, store: Store
) -> None:
    add_device(store, "pm-only")
    for i in range(5):
        t = T0 + 145 * i
        service.write(StreamBatch("pm-only", [("SDS011", PM25, t, 12.0 + i)], "push", t))
    before = raw(store)
    summary = reprocess(service, T0, T0 + H)
    assert (summary.readings, summary.reflagged) == (5, 0)
    assert raw(store) == before


def test_a_corrupted_hourly_table_is_rebuilt(
    service: IngestService, store: Store, node: str
) -> None:
    want = hourly_means(store)
    store.write(lambda tx: tx.execute("UPDATE hourly SET n = 0, total = -1, minimum = NULL"))
    store.write(lambda tx: tx.execute(f"DELETE FROM hourly WHERE hour = {T0 + H}"))
    reprocess(service, T0, T0 + 4 * H)
    assert hourly_means(store) == want


def test_site_filter_and_progress(service: IngestService, store: Store, settings: Settings) -> None:
    add_site(store, name="Kościuszki 1", latitude=52.18, longitude=21.56)
    add_site(store, name="Warszawska 2", latitude=52.17, longitude=21.55)
    add_device(store, "a", site="kosciuszki-1")
    add_device(store, "b", site="warszawska-2")
    push_node(service, "a", T0, 10)
    push_node(service, "b", T0, 10)
    before = raw(store)
    relaxed = IngestService(store, Settings(db=settings.db, humid_threshold=99, fog_threshold=99))
    ticks: list[int] = []
    summary = reprocess(relaxed, T0, T0 + H, site="kosciuszki-1", progress=ticks.append)
    assert (summary.devices, summary.readings, ticks) == (1, 30, [1])
    after = raw(store)
    device_a = before[0][0]
    for a, b in zip(before, after, strict=True):
        assert b[6] == (a[6] & ~(HUMID | FOG) if a[0] == device_a else a[6])


def test_an_empty_or_reversed_period_is_refused(service: IngestService) -> None:
    with pytest.raises(ValueError, match="--until must be after --since"):
        reprocess(service, T0, T0)
    with pytest.raises(ValueError, match="--until must be after --since"):
        reprocess(service, T0, T0 - 1)

"""Smog-alert evaluation on stored data, on both backends: episodes, hysteresis, the outbox."""

from __future__ import annotations

import time

import pytest

from smartdistricts.calc.alerts import DEFAULT_RULES, AlertRule
from smartdistricts.config import Settings
from smartdistricts.nomenclature import VARIABLES
from smartdistricts.services.alerts import (
    active_alerts,
    add_rule,
    enqueue,
    evaluate,
    evaluate_all,
    list_episodes,
    list_rules,
    seed_default_rules,
)
from smartdistricts.services.ingest import IngestService, StreamBatch
from smartdistricts.services.registry import add_device, add_district, add_site
from smartdistricts.services.subscriptions import add_webhook, confirm, subscribe
from smartdistricts.store.base import Store, Tx

PM10 = next(v.id for v in VARIABLES if v.name == "pm10")
PM25 = next(v.id for v in VARIABLES if v.name == "pm2_5")
STEP = 145  # the airrohr default send interval [s]
# A fixed hour in the past, so evaluation times are chosen by the test.
H0 = 1_800_000_000 // 3600 - 100


def quiet(db_url: str) -> Settings:
    """Settings that do not evaluate after every commit (the test drives evaluation)."""
    return Settings(db=db_url, alerts_evaluate=False)


def make_site(store: Store, name: str = "ul. Piłsudskiego 1", uid: str = "esp8266-1") -> int:
    site = add_site(store, name=name, latitude=52.18, longitude=21.56)
    add_device(store, uid, site=site.slug)
    return site.id


def feed(service: IngestService, uid: str, hour: int, value: float, var: int = PM10) -> None:
    """One hour of readings every 145 s (full coverage) averaging ``value``; they vary a little
    so that they are not flagged as a stuck series."""
    t0 = hour * 3600
    readings = [("SDS011", var, t0 + k * STEP, value + (k % 5 - 2) * 0.5) for k in range(25)]
    service.write(StreamBatch(uid, readings, "batch-api", t0, interval_s=STEP))


def count(store: Store, sql: str) -> int:
    row = store.read(lambda tx: tx.one(sql))
    assert row is not None
    return int(row[0])


RULE = AlertRule("test-pm10", "pm10", "1h", 100.0, "custom", margin=0.1, clear_hours=2)


def test_episode_opens_and_closes_from_ingested_data(store: Store, db_url: str) -> None:
    service = IngestService(store, quiet(db_url))
    site = make_site(store)
    add_rule(store, RULE)
    values = [50, 60, 150, 170, 95, 120, 85, 80, 70, 40]  # 95 and 85 stay in the band
    for i, value in enumerate(values):
        feed(service, "esp8266-1", H0 + i, value)
        # evaluated a few minutes into the next hour, as data arrives
        store.write(lambda tx, i=i: evaluate(tx, [site], (H0 + i + 1) * 3600 + 300))
    episodes = list_episodes(store)
    assert len(episodes) == 1
    episode = episodes[0]
    assert episode.started_at == (H0 + 2) * 3600
    # ends at the first of two consecutive hours below 90 (80 and 70 after 85)
    assert episode.ended_at == (H0 + 6) * 3600
    assert episode.peak == pytest.approx(170.0)
    assert episode.peak_at == (H0 + 3) * 3600
    assert episode.site_id == site and episode.rule_key == "test-pm10"


def test_24h_rule_opens_on_the_running_mean(store: Store, db_url: str) -> None:
    service = IngestService(store, quiet(db_url))
    site = make_site(store)
    seed_default_rules(store)
    for i in range(30):
        feed(service, "esp8266-1", H0 + i, 40.0 if i < 6 else 160.0)
    store.write(lambda tx: evaluate(tx, [site], (H0 + 30) * 3600 + 60))
    keys = {e.rule_key: e for e in list_episodes(store)}
    info = keys["pl-pm10-information"]
    hourly = [40.0 if i < 6 else 160.0 for i in range(30)]
    # the running mean needs 18 valid hours of its 24 (indices.md §9): first at hour 17
    means = [
        (sum(hourly[max(0, i - 23) : i + 1]) / len(hourly[max(0, i - 23) : i + 1]), i)
        for i in range(17, 30)
    ]
    first = next(i for mean, i in means if mean >= 100.0)
    assert first == 17
    assert info.started_at == (H0 + first) * 3600
    assert info.peak == pytest.approx(160.0)
    assert info.peak_at == (H0 + 29) * 3600
    assert keys["pl-pm10-alarm"].started_at > info.started_at
    assert all(e.ended_at is None for e in keys.values())


def test_evaluating_twice_queues_each_notification_once(store: Store, db_url: str) -> None:
    service = IngestService(store, quiet(db_url))
    district = add_district(store, slug="centrum", name="Centrum", geometry=_square())
    site = make_site(store)
    store.write(lambda tx: tx.execute("UPDATE sites SET district_id = ?", (district.id,)))
    add_rule(store, RULE, scope=f"district:{district.id}")
    add_webhook(store, "http://127.0.0.1:9/hook", scope="all")
    add_webhook(store, "http://127.0.0.1:9/other", scope="site:999")  # another site: not sent
    settings = quiet(db_url)
    now = (H0 + 3) * 3600 + 60
    sub = subscribe(store, settings, "mieszkaniec@example.org", scope=f"site:{site}", now=now)
    assert sub is not None
    row = store.read(
        lambda tx: tx.one("SELECT confirm_token_hash FROM alert_subscriptions WHERE id = ?", (sub,))
    )
    assert row is not None
    _confirm_directly(store, settings, sub, now)
    for i, value in enumerate([150.0, 160.0, 155.0]):
        feed(service, "esp8266-1", H0 + i, value)
    for _ in range(2):  # the same evaluation twice: nothing new the second time
        store.write(lambda tx: evaluate(tx, [site], now))
    store.write(lambda tx: evaluate_all_tx(tx, now))
    sql = "SELECT count(*) FROM alert_notifications WHERE change = 'start'"
    assert count(store, sql) == 2  # the webhook for all sites and the confirmed subscriber
    episode = list_episodes(store)[0]
    assert store.write(lambda tx: enqueue(tx, episode.id, "start", site, now)) == 0
    # the end, evaluated twice as well
    for i in range(3, 6):
        feed(service, "esp8266-1", H0 + i, 20.0)
    later = (H0 + 6) * 3600 + 60
    for _ in range(2):
        store.write(lambda tx: evaluate(tx, [site], later))
    assert count(store, "SELECT count(*) FROM alert_notifications WHERE change = 'end'") == 2
    assert count(store, "SELECT count(*) FROM alert_episodes") == 1


def evaluate_all_tx(tx: Tx, now: int) -> object:
    sites = [int(r[0]) for r in tx.query("SELECT id FROM sites")]
    return evaluate(tx, sites, now)


def _confirm_directly(store: Store, settings: Settings, sub: int, now: int) -> None:
    from smartdistricts.services.subscriptions import alerts_key, confirm_token

    token = confirm_token(alerts_key(store, settings), sub, now)
    assert confirm(store, token, now=now)


def _square() -> dict[str, object]:
    ring = [[21.5, 52.1], [21.6, 52.1], [21.6, 52.2], [21.5, 52.2], [21.5, 52.1]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_old_transitions_are_recorded_without_notifications(store: Store, db_url: str) -> None:
    service = IngestService(store, quiet(db_url))
    site = make_site(store)
    add_rule(store, RULE)
    add_webhook(store, "http://127.0.0.1:9/hook")
    for i in range(4):
        feed(service, "esp8266-1", H0 + i, 150.0)
    # evaluated ten hours later (e.g. after an import): episode yes, stale notification no
    store.write(lambda tx: evaluate(tx, [site], (H0 + 14) * 3600))
    assert len(list_episodes(store)) == 1
    assert count(store, "SELECT count(*) FROM alert_notifications") == 0


def test_pushes_trigger_evaluation_and_the_banner_lists_the_alert(
    store: Store, db_url: str
) -> None:
    service = IngestService(store, Settings(db=db_url))  # evaluates after each commit
    site = make_site(store)
    add_rule(store, RULE)
    hour = int(time.time()) // 3600
    readings = [("SDS011", PM10, hour * 3600 + k * STEP, 180.0 + k % 2) for k in range(12)]
    service.write(StreamBatch("esp8266-1", readings, "push", hour * 3600, interval_s=STEP))
    store.write(lambda tx: None)  # the evaluation job queued by the commit ran before this
    alerts = active_alerts(store, now=time.time())
    assert [(a.site_id, a.rule_key, a.ended_at) for a in alerts] == [(site, "test-pm10", None)]
    assert alerts[0].peak == pytest.approx(180.5)
    assert alerts[0].started_at == hour * 3600


def test_seeding_default_rules_is_idempotent(store: Store) -> None:
    assert seed_default_rules(store) == len(DEFAULT_RULES)
    assert seed_default_rules(store) == 0
    stored = {r.rule.key: r.rule for r in list_rules(store)}
    assert stored["pl-pm10-information"].threshold == 100.0
    assert stored["pl-pm10-alarm"].threshold == 150.0
    assert stored["eu-pm2_5-information"].threshold == 50.0
    assert stored["eu-pm10-alert"].n_hours == 48


def test_sites_without_data_close_their_alerts(store: Store, db_url: str) -> None:
    service = IngestService(store, quiet(db_url))
    site = make_site(store)
    add_rule(store, RULE)
    feed(service, "esp8266-1", H0, 150.0)
    store.write(lambda tx: evaluate(tx, [site], (H0 + 1) * 3600 + 10))
    assert list_episodes(store)[0].ended_at is None
    # no readings for three hours: the worker's evaluation of every site ends the alert
    evaluate_all(store, (H0 + 4) * 3600 + 10)
    assert list_episodes(store)[0].ended_at == (H0 + 1) * 3600


def test_cached_evaluation_within_the_hour_matches_a_full_one(store: Store, db_url: str) -> None:
    service = IngestService(store, Settings(db=db_url))  # evaluates after each commit
    site = make_site(store)
    add_rule(store, RULE)
    add_rule(store, AlertRule("test-24h", "pm10", "24h", 100.0, "custom"))
    monitor = service.on_stored[0].__self__  # type: ignore[attr-defined]
    hour = int(time.time()) // 3600
    for i in range(20):  # a clean day so far: the 24-h mean is valid and low
        feed(service, "esp8266-1", hour - 20 + i, 30.0)
    t0 = hour * 3600

    def push(k: int, value: float) -> None:
        readings = [("SDS011", PM10, t0 + k * STEP + j, value + j % 2) for j in range(2)]
        service.write(StreamBatch("esp8266-1", readings, "push", t0 + k * STEP, interval_s=STEP))
        store.write(lambda tx: None)  # let the queued evaluation run

    for k in range(4):
        push(k, 40.0)  # full evaluation, then the cache: nothing yet
    assert list_episodes(store) == [] and monitor.cache.ready == {site}
    for k in range(4, 10):
        push(k, 400.0)  # the hour's mean climbs past 100 within the hour (cached path)
    episodes = {e.rule_key: e for e in list_episodes(store)}
    assert set(episodes) == {"test-pm10"}  # the 24-h mean is still (20·30 + x)/21 < 100
    assert episodes["test-pm10"].started_at == t0
    # a full evaluation of the same data agrees: nothing more to open
    result = store.write(lambda tx: evaluate(tx, [site]))
    assert (result.opened, result.closed) == (0, 0)
    peak = list_episodes(store)[0].peak
    mean = store.read(
        lambda tx: tx.one(
            "SELECT total / n FROM hourly WHERE hour = ? AND variable_id = ?", (t0, PM10)
        )
    )
    assert mean is not None and peak == pytest.approx(mean[0])

"""Smog-alert evaluation after each batch of 1,000 streamed readings, against the same writes
without evaluation.

SQLite (``synchronous=FULL``, as served). 50 sites with one airrohr device each and 72 hours of
history (PM10 and PM2.5, a reading every 145 s); every site has the six default rules (Polish
PM10 information/alarm levels, EU 2024/2881 information and alert thresholds) plus the
"CAQI High for 3 hours" preset: 350 (rule, site) pairs. A batch is 1,000 readings of the
current hour — 10 pushes of PM10 + PM2.5 from each of the 50 devices — written in one
transaction through ``IngestService.write_stream`` (the writer's group commit), so every site
is touched by every batch: the worst case for evaluation.

Rows: the batch alone (baseline, ``alerts_evaluate=false``); the batch with evaluation (the
commit callback queues :class:`~smartdistricts.services.alert_monitor.AlertEvaluation`, timed until
it has run); and the evaluation job alone.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from bench.common import Table
from smartdistricts.calc.alerts import PRESETS
from smartdistricts.config import Settings
from smartdistricts.nomenclature import VARIABLES
from smartdistricts.services.alerts import add_rule, evaluate, seed_default_rules
from smartdistricts.services.ingest import IngestService, StreamBatch
from smartdistricts.services.registry import add_device, add_site
from smartdistricts.store import open_store
from smartdistricts.store.base import Store, Tx

SITES = 50
HISTORY_H = 72
BATCHES = 45
_PM10 = next(v.id for v in VARIABLES if v.name == "pm10")
_PM25 = next(v.id for v in VARIABLES if v.name == "pm2_5")


def _setup(store: Store, settings: Settings, now: int) -> None:
    for i in range(SITES):
        site = add_site(store, name=f"Stanowisko {i}", latitude=52.1 + i / 1000, longitude=21.5)
        add_device(store, f"bench-{i}", site=site.slug)
    seed_default_rules(store)
    add_rule(store, PRESETS["caqi-high-3h"])
    rng = np.random.default_rng(7)
    service = IngestService(store, settings)
    start = (now // 3600 - HISTORY_H) * 3600
    times = np.arange(start, now // 3600 * 3600, 145)
    for i in range(SITES):
        pm10 = 40 + 30 * rng.random(len(times))
        pairs = list(zip(times.tolist(), pm10.tolist(), strict=True))
        readings = [("SDS011", _PM10, t, v) for t, v in pairs]
        readings += [("SDS011", _PM25, t, v * 0.7) for t, v in pairs]
        service.write(StreamBatch(f"bench-{i}", readings, "batch-api", int(start), interval_s=145))


def _batches(now: int, count: int, offset: int) -> list[list[StreamBatch]]:
    rng = np.random.default_rng(offset)
    out = []
    t = now // 3600 * 3600 + offset
    for _ in range(count):
        batch = []
        for i in range(SITES):
            readings = []
            for k in range(10):
                value = float(50 + 20 * rng.random())
                readings += [("SDS011", _PM10, t + k, value), ("SDS011", _PM25, t + k, value * 0.7)]
            batch.append(StreamBatch(f"bench-{i}", readings, "batch-api", t, interval_s=145))
        out.append(batch)
        t += 10
    return out


def _write(store: Store, service: IngestService, batches: list[StreamBatch]) -> None:
    store.write(lambda tx: service.write_stream(tx, batches))


def _time_batch(store: Store, service: IngestService, batch: list[StreamBatch]) -> float:
    """Seconds to store one batch and run the evaluation job it queued (if any)."""
    started = time.perf_counter()
    _write(store, service, batch)
    store.write(lambda tx: None)  # the evaluation job (if any) was queued before this
    return time.perf_counter() - started


def _timed(store: Store, fn: Callable[[Tx], object]) -> float:
    started = time.perf_counter()
    store.write(fn)
    return time.perf_counter() - started


def run() -> None:
    now = int(time.time())
    if now % 3600 > 3000:  # keep every batch inside one hour
        time.sleep(3600 - now % 3600 + 5)
        now = int(time.time())
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'alerts.db'}"
        quiet = Settings(db=url, alerts_evaluate=False)
        with open_store(url, synchronous="FULL") as store:
            _setup(store, quiet, now)
            sites = list(range(1, SITES + 1))
            plain = IngestService(store, quiet)
            evaluating = IngestService(store, Settings(db=url, alerts_evaluate=True))
            monitor = evaluating.on_stored[0].__self__  # type: ignore[attr-defined]
            base, with_eval = [], []
            for i, (a, b) in enumerate(
                zip(_batches(now, BATCHES, 0), _batches(now, BATCHES, 2000), strict=True)
            ):  # interleaved, so that both see the same disk and table sizes
                t_plain, t_eval = _time_batch(store, plain, a), _time_batch(store, evaluating, b)
                if i >= 5:  # warm-up: caches, the first (full) evaluation of the hour
                    base.append(t_plain)
                    with_eval.append(t_eval)
            cache = monitor.cache
            fast = [_timed(store, lambda tx: evaluate(tx, sites, cache=cache)) for _ in range(50)]
            inside = _timed(store, lambda tx: [evaluate(tx, sites, cache=cache) for _ in range(50)])
            full = [_timed(store, lambda tx: evaluate(tx, sites)) for _ in range(10)]
            noop = [_timed(store, lambda tx: None) for _ in range(50)]
            pairs = store.read(lambda tx: tx.one("SELECT count(*) FROM alert_states"))
    runs = {"base": base, "eval": with_eval, "fast": fast, "full": full, "noop": noop}
    ms = {k: float(np.median(v)) * 1000 for k, v in runs.items()}
    table = Table(
        f"Alert evaluation per batch of 1,000 readings ({SITES} sites, {pairs[0] if pairs else 0}"
        " rule × site pairs, SQLite synchronous=FULL; medians)",
        ["what", "ms per batch", "ratio to baseline"],
    )
    table.add("store the batch, no evaluation (baseline)", ms["base"], 1.0)
    table.add("store the batch + its evaluation job", ms["eval"], ms["eval"] / ms["base"])
    table.add("evaluation job alone (same hour, cached)", ms["fast"], ms["fast"] / ms["base"])
    table.add(
        "  its work inside the transaction (mean of 50)", inside * 20, inside * 20 / ms["base"]
    )
    table.add("an empty write transaction (for scale)", ms["noop"], ms["noop"] / ms["base"])
    table.add("full evaluation (first in an hour; no cache)", ms["full"], ms["full"] / ms["base"])
    table.print()

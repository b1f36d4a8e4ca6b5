"""The 24-hour forecast on held-out history: MAE of the model against persistence and climatology.

The demo town (4 sites, 120 days of *synthetic* readings from ``demo/synthetic.py``, stored
through the bulk path so the hourly means are the platform's own) is read back hour by hour;
the last 30 days are held out. The model and the climatology are fitted on the days before each
forecast origin only (refitted daily as the service refits, rolling origin); persistence needs
no fit. MAE is pooled over the four sites. Also timed: fitting and forecasting one site from the
database (``site_forecast`` with an empty cache).
"""

from __future__ import annotations

import functools
import tempfile
import time

import numpy as np

from bench.common import Table
from smartdistricts.config import Settings
from smartdistricts.services.demo import create_demo
from smartdistricts.services.forecast import VARIABLES, evaluate, site_forecast, site_hourly
from smartdistricts.services.ingest import IngestService
from smartdistricts.store import open_store

DAYS = 120
TEST_DAYS = 30
HORIZONS = (6, 12, 24)
NAMES = {"pm2_5": "PM2.5", "pm10": "PM10"}


def run() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db=f"sqlite:///{tmp}/forecast.db", sqlite_synchronous="OFF")
        store = open_store(settings.db, synchronous="OFF")
        try:
            _run(store, settings)
        finally:
            store.close()


def _run(store: object, settings: Settings) -> None:
    from smartdistricts.store.base import Store

    assert isinstance(store, Store)
    now = int(time.time())
    end = now - now % 3600
    started = time.perf_counter()
    create_demo(IngestService(store, settings), days=DAYS, now=end)
    built = time.perf_counter() - started
    site_ids = [int(r[0]) for r in store.read(lambda tx: tx.query("SELECT id FROM sites"))]
    first = end - DAYS * 86400
    grid = np.arange(first, end, 3600)
    errors: dict[tuple[str, int], list[np.ndarray]] = {}
    for site_id in site_ids:
        series = store.read(
            functools.partial(site_hourly, site_id=site_id, first_hour=first, end_hour=end)
        )
        scores = evaluate(grid, series, tz=settings.tz, test_days=TEST_DAYS, horizons=HORIZONS)
        for name, s in scores.items():
            for j, k in enumerate(HORIZONS):
                row = np.array([s.model[j], s.persistence[j], s.climatology[j], s.count[j]])
                errors.setdefault((name, k), []).append(row)
    table = Table(
        f"Forecast MAE [µg/m³] on the last {TEST_DAYS} of {DAYS} days (demo town, synthetic,"
        f" {len(site_ids)} sites pooled)",
        [
            "variable",
            "horizon",
            "model",
            "persistence",
            "climatology",
            "model / better baseline",
            "worst site's ratio",
        ],
    )
    for name in VARIABLES:
        for k in HORIZONS:
            rows = np.array(errors[(name, k)])
            weights = rows[:, 3]
            model, persistence, climatology = (
                float(np.average(rows[:, c], weights=weights)) for c in range(3)
            )
            better = min(persistence, climatology)
            worst = float(np.max(rows[:, 0] / np.minimum(rows[:, 1], rows[:, 2])))
            table.add(NAMES[name], f"{k} h", model, persistence, climatology, model / better, worst)
    table.print()
    timing = Table("Forecast cost", ["step", "time [ms]"])
    started = time.perf_counter()
    hours = site_forecast(store, site_ids[0], now=end + 600, tz=settings.tz)
    cold = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    site_forecast(store, site_ids[0], now=end + 601, tz=settings.tz)
    warm = (time.perf_counter() - started) * 1000
    assert len(hours) == 24
    timing.add(f"fit + forecast one site ({DAYS} days stored, 90 used)", cold)
    timing.add("forecast again (cached)", warm)
    timing.add("building the demo history (for scale)", built * 1000)
    timing.print()

"""The 24-hour PM2.5/PM10 forecast of a site, from its stored hourly means.

:func:`site_forecast` reads the site's hourly means (the mean of its active devices' sensors,
as ``services/airnow.py`` does for ``history``), fits the model of
:mod:`smartdistricts.calc.forecast` per variable on the last :data:`HISTORY_DAYS` days and
forecasts the 24 hours starting with the current one (Airly's convention: the ``history`` of the
last 24 full hours followed by the ``forecast`` form one 48-hour sequence; the first forecast
hour is one hour after the last full hour observed).

Costs: a fitted model is kept per site for :data:`REFIT_S` seconds (one query of ~2,000 rows
per variable and a few milliseconds of NumPy per refit); a forecast is kept per site and hour
for :data:`FORECAST_TTL_S` seconds (one query of the last two days when it is renewed). A site
with less than :data:`~smartdistricts.calc.forecast.MIN_TRAINING_HOURS` hours of a variable has
no forecast of it; with neither variable, the forecast is empty.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from smartdistricts.calc.forecast import ForecastModel, Scores, fit_forecast, predict
from smartdistricts.calc.forecast import evaluate as evaluate_series
from smartdistricts.nomenclature import variable
from smartdistricts.store.base import Store, Tx

__all__ = [
    "FORECAST_TTL_S",
    "HISTORY_DAYS",
    "REFIT_S",
    "VARIABLES",
    "ForecastHour",
    "evaluate",
    "local_calendar",
    "site_forecast",
    "site_hourly",
]

HOUR = 3600
#: Forecast variables.
VARIABLES = ("pm2_5", "pm10")
#: Hours forecast.
HORIZON_H = 24
#: Days of hourly history a model is fitted on.
HISTORY_DAYS = 90
#: A fitted model is reused this long [s].
REFIT_S = 6 * 3600
#: A forecast is reused this long within its hour [s] (late data may still arrive).
FORECAST_TTL_S = 300
#: The hours read to forecast: the anomaly predictors look back eight days.
_RECENT_H = 24 * 8 + 1
_DEFAULT_TZ = ZoneInfo("Europe/Warsaw")


@dataclass(frozen=True, slots=True)
class ForecastHour:
    """The forecast for ``[from_ts, till_ts)`` (Unix seconds): values [µg/m³] by canonical
    variable name (``pm2_5``, ``pm10``)."""

    from_ts: int
    till_ts: int
    values: dict[str, float]


def local_calendar(
    times: Sequence[int] | NDArray[np.int64], tz: tzinfo
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(local hour 0–23, 1 on Saturday/Sunday) of each Unix time [s] in ``tz``."""
    local = [datetime.fromtimestamp(int(t), tz) for t in np.asarray(times).tolist()]
    return (
        np.array([x.hour for x in local], dtype=np.int64),
        np.array([x.weekday() >= 5 for x in local], dtype=np.int64),
    )


def site_hourly(
    tx: Tx, site_id: int, first_hour: int, end_hour: int
) -> dict[str, NDArray[np.float64]]:
    """The site's hourly PM means on the grid ``[first_hour, end_hour)`` (NaN: no data), per
    variable of :data:`VARIABLES`: the mean over the site's active devices' sensors."""
    ids = [variable(v).id for v in VARIABLES]
    rows = tx.query(
        "SELECT h.hour, h.variable_id, avg(h.total / h.n) FROM hourly h"
        " JOIN sensors s ON s.id = h.sensor_id JOIN devices d ON d.id = s.device_id"
        " WHERE d.site_id = ? AND d.status = 'active' AND h.variable_id IN (?, ?)"
        " AND h.hour >= ? AND h.hour < ? AND h.n > 0 GROUP BY h.hour, h.variable_id",
        (site_id, *ids, first_hour, end_hour),
    )
    n = (end_hour - first_hour) // HOUR
    out = {v: np.full(n, np.nan) for v in VARIABLES}
    names = dict(zip(ids, VARIABLES, strict=True))
    for hour, vid, mean in rows:
        out[names[int(vid)]][(int(hour) - first_hour) // HOUR] = float(mean)
    return out


@dataclass(frozen=True, slots=True)
class _Fit:
    at: float
    models: dict[str, ForecastModel]


class _Forecaster:
    """Per-store caches of fitted models and forecasts (thread-safe; work is idempotent)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.fits: dict[int, _Fit] = {}
        self.forecasts: dict[tuple[int, int], tuple[float, list[ForecastHour]]] = {}
        self.lock = threading.Lock()

    def forecast(self, site_id: int, now: float, tz: tzinfo) -> list[ForecastHour]:
        hour_now = int(now) - int(now) % HOUR
        hit = self.forecasts.get((site_id, hour_now))
        if hit is not None and 0 <= now - hit[0] < FORECAST_TTL_S:
            return hit[1]
        fit = self.fits.get(site_id)
        if fit is None or not 0 <= now - fit.at < REFIT_S:
            fit = self._fit(site_id, hour_now, now, tz)
        first = hour_now - _RECENT_H * HOUR
        recent = self.store.read(lambda tx: site_hourly(tx, site_id, first, hour_now))
        out = _forecast_hours(fit.models, recent, first, hour_now, tz)
        with self.lock:
            if len(self.forecasts) > 10_000:
                self.forecasts.clear()
            self.forecasts[(site_id, hour_now)] = (now, out)
        return out

    def _fit(self, site_id: int, hour_now: int, now: float, tz: tzinfo) -> _Fit:
        first = hour_now - HISTORY_DAYS * 86400
        series = self.store.read(lambda tx: site_hourly(tx, site_id, first, hour_now))
        hour, weekend = local_calendar(np.arange(first, hour_now, HOUR), tz)
        models = {}
        for name, values in series.items():
            try:
                models[name] = fit_forecast(values, hour, weekend, horizons=HORIZON_H)
            except ValueError:
                continue  # too little history of this variable
        fit = _Fit(now, models)
        with self.lock:
            self.fits[site_id] = fit
        return fit


def _forecast_hours(
    models: dict[str, ForecastModel],
    recent: dict[str, NDArray[np.float64]],
    first: int,
    hour_now: int,
    tz: tzinfo,
) -> list[ForecastHour]:
    if not models:
        return []
    grid = np.arange(first, hour_now + HORIZON_H * HOUR, HOUR)
    hour, weekend = local_calendar(grid, tz)
    columns = {
        name: np.round(predict(model, recent[name], hour, weekend), 2).tolist()
        for name, model in models.items()
    }
    return [
        ForecastHour(
            hour_now + k * HOUR,
            hour_now + (k + 1) * HOUR,
            {name: column[k] for name, column in columns.items()},
        )
        for k in range(HORIZON_H)
    ]


_FORECASTERS: weakref.WeakKeyDictionary[Store, _Forecaster] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def site_forecast(
    store: Store, site_id: int, now: float | None = None, *, tz: tzinfo = _DEFAULT_TZ
) -> list[ForecastHour]:
    """The forecast of the 24 hours starting with the current UTC hour at ``now`` (default:
    the clock), oldest first; empty when the site has too little history.

    ``tz`` is the town's time zone (the diurnal profile follows local hours). Models and
    forecasts are cached per store (see the module docstring).
    """
    with _LOCK:
        forecaster = _FORECASTERS.get(store)
        if forecaster is None:
            forecaster = _FORECASTERS[store] = _Forecaster(store)
    return forecaster.forecast(site_id, time.time() if now is None else now, tz)


def evaluate(
    times: Sequence[int] | NDArray[np.int64],
    series: dict[str, NDArray[np.float64]],
    *,
    tz: tzinfo = _DEFAULT_TZ,
    test_days: int = 30,
    horizons: Sequence[int] = (6, 12, 24),
) -> dict[str, Scores]:
    """MAE of the model, persistence and climatology per variable on the last ``test_days``
    days of hourly series (``times``: the regular hourly grid [Unix s], ``series``: values
    [µg/m³] by variable, NaN where missing); trained on the part before, rolling origin (see
    :func:`smartdistricts.calc.forecast.evaluate`)."""
    grid = np.asarray(times, dtype=np.int64)
    split = len(grid) - test_days * 24
    hour, weekend = local_calendar(grid, tz)
    return {
        name: evaluate_series(values, hour, weekend, split, horizons=horizons)
        for name, values in series.items()
    }

"""Hourly PM forecast: a diurnal profile blended with anomaly persistence, fitted per horizon.

The model
---------
For one site and one variable on a regular hourly grid ``y`` [µg/m³] (NaN: no data):

1. Work in log space, ``z = ln(y + 1)``: PM is right-skewed and its daily cycle multiplies the
   level rather than adding to it; the offset of 1 µg/m³ keeps clean hours finite.
2. The *profile* ``p[d, h]`` is the mean of ``z`` by local hour of day ``h`` and day type ``d``
   (0 working day, 1 weekend), shrunk towards the all-days mean of the hour in proportion to
   how few days of that type were seen (``n / (n + shrink)``), so a short history does not
   produce a noisy weekend curve. Days are weighted by recency (half-life
   :data:`HALF_LIFE_DAYS`): the season moves the daily cycle (home heating starts in autumn).
3. The *anomaly* ``a = z − p`` is what the profile does not explain: weather, a heating evening
   colder than usual. Five predictors summarise it at the forecast origin ``t`` (the last full
   hour observed) for a target ``t + k``: ``a_last``, the latest anomaly (carried forward over
   at most :data:`MAX_GAP_H` missing hours); ``a_day``, the mean anomaly of the last 24 hours;
   ``a_same``, the anomaly at the target's hour one day earlier (the latest such hour known at
   ``t``); ``a_week``, the mean anomaly at the target's hour over the last seven days; and
   ``a_level``, the mean anomaly of the last seven days.
4. For each horizon ``k = 1 … H`` hours,
   ``ẑ(t + k) = p(t + k) + α_k + β_k·a_last + γ_k·a_day + δ_k·a_same + ε_k·a_week
   + ζ_k·a_level``, the coefficients fitted by ordinary least squares on the training
   history only. Persistence of the anomaly thus decays with the horizon as the data say
   (``β_k`` falls from ≈ 1), and the forecast relaxes towards the recent daily cycle.
5. Back to µg/m³: ``ŷ = exp(ẑ) − 1``, at least 0. The exponential of a mean of logs is a median
   (not a mean) of a log-normal error, which is what the mean absolute error rewards.

Baselines (what the model must beat, [HYNDMAN2021] §5.2): *persistence* ``ŷ(t + k) = y(t)``
and *climatology*, the mean of ``y`` by local hour of day over the training part.
:func:`evaluate` scores all three by MAE with a rolling forecast origin over a held-out final
part ([TASHMAN2000]): the model and the climatology are fitted on the part before the split and
refitted daily, as the service refits, each time on the slice of values before the origin only
(by construction), so no test hour at or after a target ever enters its forecast.

References
----------
[HYNDMAN2021] Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd ed., OTexts
2021 (simple methods as benchmarks; time-series cross-validation). [TASHMAN2000] Tashman,
"Out-of-sample tests of forecasting accuracy: an analysis and review", Int. J. Forecasting
16(4), 437–450 (2000), doi:10.1016/S0169-2070(00)00065-0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MAX_GAP_H",
    "MIN_TRAINING_HOURS",
    "ForecastModel",
    "Scores",
    "climatology_profile",
    "evaluate",
    "fit_forecast",
    "predict",
    "predict_at",
]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

#: The latest anomaly is carried forward over at most this many missing hours [h].
MAX_GAP_H = 6
#: Fewer valid training hours than this and :func:`fit_forecast` refuses to fit.
MIN_TRAINING_HOURS = 168
#: Offset of the log transform [µg/m³].
LOG_OFFSET = 1.0
#: Predictors per horizon: 1, a_last, a_day, a_same, a_week (see :func:`fit_forecast`).
N_FEATURES = 6
#: Half-life of the weights of past days in the profile [days]: the season moves the daily
#: cycle (heating starts in October), so recent weeks count more.
HALF_LIFE_DAYS = 14.0


@dataclass(frozen=True, slots=True)
class ForecastModel:
    """A fitted model: ``profile[d, h]`` in log space (d: 0 working day, 1 weekend; h: local
    hour) and ``coef[k − 1] = (α_k, β_k, γ_k)`` for horizons ``k = 1 … horizons``."""

    profile: F64
    coef: F64
    training_hours: int

    @property
    def horizons(self) -> int:
        return int(self.coef.shape[0])


@dataclass(frozen=True, slots=True)
class Scores:
    """Mean absolute errors [µg/m³] at each horizon of :func:`evaluate`, with the forecast
    count per horizon and the model that was scored."""

    horizons: tuple[int, ...]
    model: F64
    persistence: F64
    climatology: F64
    count: I64
    fitted: ForecastModel


def _calendar(hour: ArrayLike, weekend: ArrayLike, n: int) -> tuple[I64, I64]:
    h = np.asarray(hour, dtype=np.int64)
    d = np.asarray(weekend, dtype=np.int64)
    if h.shape != (n,) or d.shape != (n,):
        raise ValueError(f"hour and weekend must have {n} elements, got {h.shape} and {d.shape}")
    if n and (h.min() < 0 or h.max() > 23 or d.min() < 0 or d.max() > 1):
        raise ValueError("hour must lie in 0–23 and weekend in {0, 1}")
    return h, d


def _recency(n: int, half_life_days: float) -> F64:
    """Weights halving every ``half_life_days`` days back from the newest of ``n`` hours."""
    if half_life_days <= 0:
        return np.ones(n)
    age_days = (n - 1 - np.arange(n)) / 24.0
    out: F64 = 0.5 ** (age_days / half_life_days)
    return out


def _profile(z: F64, hour: I64, day: I64, shrink: float, weight: F64) -> F64:
    """Shrunk weighted mean of ``z`` by (day type, hour); NaN-aware, falls back to the overall
    mean. ``shrink`` counts days; weights are normalised so the newest day weighs 1."""
    ok = ~np.isnan(z)
    w = weight[ok]
    overall = float(np.average(z[ok], weights=w))
    cell = day * 24 + hour
    sums = np.bincount(cell[ok], weights=z[ok] * w, minlength=48).reshape(2, 24)
    counts = np.bincount(cell[ok], weights=w, minlength=48).reshape(2, 24)
    hour_n = counts.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        hour_mean = np.where(hour_n > 0, sums.sum(axis=0) / hour_n, overall)
        own = np.where(counts > 0, sums / counts, hour_mean)
    weight = counts / (counts + shrink)
    out: F64 = weight * own + (1.0 - weight) * hour_mean
    return out


def _anomaly_predictors(a: F64) -> tuple[F64, F64]:
    """(a_last, a_day) at every index: the latest anomaly within :data:`MAX_GAP_H` hours and
    the mean anomaly of the 24 hours ending there (NaN without data)."""
    n = len(a)
    ok = ~np.isnan(a)
    idx = np.where(ok, np.arange(n), -1)
    idx = np.maximum.accumulate(idx) if n else idx
    last = np.where((idx >= 0) & (np.arange(n) - idx <= MAX_GAP_H), a[np.maximum(idx, 0)], np.nan)
    csum = np.concatenate(([0.0], np.cumsum(np.where(ok, a, 0.0))))
    ccnt = np.concatenate(([0], np.cumsum(ok)))
    lo = np.maximum(np.arange(n) - 23, 0)
    total, count = csum[1:] - csum[lo], ccnt[1:] - ccnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        day = np.where(count >= 6, total / count, np.nan)
    return last, day


def _features(a: F64, origins: I64, horizons: int) -> F64:
    """Predictors ``out[i, k − 1, :]`` for origin ``origins[i]`` and horizon ``k``: 1,
    a_last, a_day, a_same (the anomaly 24 h before the target, or 48 h …, the latest known at
    the origin) and a_week (the mean anomaly at the target's hour on the last seven days)."""
    last, day = _anomaly_predictors(a)
    k = np.arange(1, horizons + 1)
    days_back = -(-k // 24)  # ceil(k / 24): the latest same-hour point at or before the origin
    same_idx = origins[:, None] + (k - 24 * days_back)[None, :]
    padded = np.concatenate([np.full(24 * 8 + horizons, np.nan), a])
    shift = 24 * 8 + horizons
    same = padded[same_idx + shift]
    week_idx = same_idx[:, :, None] - 24 * np.arange(7)[None, None, :]
    week_values = padded[week_idx + shift]
    count = np.count_nonzero(~np.isnan(week_values), axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        week = np.where(count >= 3, np.nansum(week_values, axis=2) / count, np.nan)
    ok = ~np.isnan(a)
    csum = np.concatenate(([0.0], np.cumsum(np.where(ok, a, 0.0))))
    ccnt = np.concatenate(([0], np.cumsum(ok)))
    lo = np.maximum(origins + 1 - 168, 0)
    total, n_week = csum[origins + 1] - csum[lo], ccnt[origins + 1] - ccnt[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        level = np.where(n_week >= 24, total / n_week, np.nan)
    m = len(origins)
    out = np.empty((m, horizons, N_FEATURES))
    out[:, :, 0] = 1.0
    out[:, :, 1] = last[origins][:, None]
    out[:, :, 2] = day[origins][:, None]
    out[:, :, 3] = same
    out[:, :, 4] = week
    out[:, :, 5] = level[:, None]
    return out


def fit_forecast(
    values: ArrayLike,
    hour: ArrayLike,
    weekend: ArrayLike,
    *,
    horizons: int = 24,
    shrink: float = 4.0,
    half_life_days: float = HALF_LIFE_DAYS,
) -> ForecastModel:
    """Fit the model on an hourly training series.

    Parameters
    ----------
    values : array of float
        Hourly means [µg/m³] on a regular hourly grid, oldest first; NaN where missing.
    hour : array of int
        Local hour of day (0–23) of each element.
    weekend : array of int or bool
        1 (True) where the element's local day is a Saturday or Sunday.
    horizons : int, default 24
        Forecast horizons fitted: 1 … ``horizons`` hours ahead.
    shrink : float, default 4
        Pseudo-count of days pulling each day-type profile towards the all-days profile [-].
    half_life_days : float, default :data:`HALF_LIFE_DAYS`
        Half-life of the days' weights in the profile [days]; 0: all days weigh the same.

    Returns
    -------
    ForecastModel

    Raises
    ------
    ValueError
        With fewer than :data:`MIN_TRAINING_HOURS` valid hours, negative values, or calendar
        arrays that do not match.

    Notes
    -----
    See the module docstring. Only ``values`` passed here are used: to keep a test period out
    of the fit, pass the slice before it.

    Examples
    --------
    >>> t = np.arange(24 * 28)
    >>> y = 20 + 10 * np.sin(2 * np.pi * (t % 24) / 24)
    >>> m = fit_forecast(y, t % 24, np.zeros_like(t))
    >>> round(float(predict(m, y, np.arange(24 * 29) % 24, np.zeros(24 * 29))[6]), 2)
    30.0
    """
    y = np.asarray(values, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError("values must be one-dimensional")
    h, d = _calendar(hour, weekend, len(y))
    if horizons < 1:
        raise ValueError("horizons must be at least 1")
    valid = int(np.count_nonzero(~np.isnan(y)))
    if valid < MIN_TRAINING_HOURS:
        raise ValueError(f"{valid} valid hours: at least {MIN_TRAINING_HOURS} are needed")
    if np.nanmin(y) < 0:
        raise ValueError("values must not be negative")
    z = np.log(y + LOG_OFFSET)
    recency = _recency(len(z), half_life_days)
    profile = _profile(z, h, d, shrink, recency)
    a = z - profile[d, h]
    n = len(a)
    origins = np.arange(max(n - horizons, 0))
    features = _features(a, origins, horizons)
    coef = np.zeros((horizons, N_FEATURES))
    for k in range(1, horizons + 1):
        x, target = features[:, k - 1, :], a[origins + k]
        use = ~(np.isnan(x).any(axis=1) | np.isnan(target))
        if np.count_nonzero(use) < 4 * N_FEATURES:
            continue  # too few complete rows: the profile alone
        xu = x[use]
        # Normal equations (6 × 6), solved by SVD: the minimum-norm solution when predictors
        # coincide (at 24 h the same-hour anomaly is the latest one).
        coef[k - 1] = np.linalg.lstsq(xu.T @ xu, xu.T @ target[use], rcond=None)[0]
    return ForecastModel(profile, coef, valid)


def predict_at(
    model: ForecastModel, values: ArrayLike, hour: ArrayLike, weekend: ArrayLike, origins: ArrayLike
) -> F64:
    """Forecasts from many origins: ``out[i, k − 1]`` is the forecast made at ``origins[i]``
    (an index into ``values``, the last hour known then) for ``k`` hours later [µg/m³].

    ``hour`` and ``weekend`` must cover ``len(values) + model.horizons`` hours (the future
    hours' calendar is known). Only ``values[: origin + 1]`` shape each origin's forecast.
    A missing predictor counts as a zero anomaly (the profile), except a missing latest
    anomaly, which takes the last day's mean anomaly.
    """
    y = np.asarray(values, dtype=np.float64)
    n, horizons = len(y), model.horizons
    h, d = _calendar(hour, weekend, n + horizons)
    o = np.asarray(origins, dtype=np.int64).reshape(-1)
    if o.size and (o.min() < 0 or o.max() >= n):
        raise ValueError("origins must index values")
    with np.errstate(invalid="ignore"):
        a = np.log(y + LOG_OFFSET) - model.profile[d[:n], h[:n]]
    x = _features(a, o, horizons)
    x[:, :, 1] = np.where(np.isnan(x[:, :, 1]), x[:, :, 2], x[:, :, 1])
    x = np.nan_to_num(x, nan=0.0)
    target = o[:, None] + np.arange(1, horizons + 1)[None, :]
    z = model.profile[d[target], h[target]] + np.einsum("mkp,kp->mk", x, model.coef)
    out: F64 = np.maximum(np.exp(z) - LOG_OFFSET, 0.0)
    return out


def predict(model: ForecastModel, values: ArrayLike, hour: ArrayLike, weekend: ArrayLike) -> F64:
    """The forecast for the ``model.horizons`` hours after the last element of ``values``
    [µg/m³]; ``hour``/``weekend`` cover ``values`` and those hours (see :func:`predict_at`)."""
    n = len(np.asarray(values))
    if n == 0:
        raise ValueError("values must not be empty")
    out: F64 = predict_at(model, values, hour, weekend, [n - 1])[0]
    return out


def climatology_profile(values: ArrayLike, hour: ArrayLike) -> F64:
    """The mean of ``values`` by local hour of day (24 values [µg/m³]; NaN-aware; an hour
    without data takes the overall mean)."""
    y = np.asarray(values, dtype=np.float64)
    h = np.asarray(hour, dtype=np.int64)
    ok = ~np.isnan(y)
    sums = np.bincount(h[ok], weights=y[ok], minlength=24)
    counts = np.bincount(h[ok], minlength=24)
    overall = float(y[ok].mean()) if ok.any() else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        out: F64 = np.where(counts > 0, sums / counts, overall)
    return out


def evaluate(
    values: ArrayLike,
    hour: ArrayLike,
    weekend: ArrayLike,
    split: int,
    *,
    horizons: Sequence[int] = (6, 12, 24),
    refit_hours: int = 24,
) -> Scores:
    """MAE of the model, persistence and climatology on the hours from ``split`` on.

    Rolling origin ([TASHMAN2000]): every origin ``t ≥ split − 1`` with a known ``values[t]``
    forecasts ``t + k`` for each horizon ``k`` whose target lies in the test part and is known;
    the three forecasts are scored on exactly the same (origin, target) pairs. The model and
    the climatology are first fitted on ``values[:split]`` and, as the service does, refitted
    every ``refit_hours`` origins on the values up to that origin only ("rolling origin with
    recalibration"; 0: never refit). Nothing at or after a target ever enters its forecast.

    Parameters
    ----------
    values, hour, weekend : arrays
        As for :func:`fit_forecast`, over the whole period (training then test).
    split : int
        Index of the first test hour.
    horizons : sequence of int
        Horizons to score [h]; the model is fitted up to the largest.
    refit_hours : int, default 24
        Origins between refits [h].

    Returns
    -------
    Scores
        ``fitted`` is the model fitted on ``values[:split]``.
    """
    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    if not 0 < split < n:
        raise ValueError(f"split must lie inside the series (1 … {n - 1}), got {split}")
    h, d = _calendar(hour, weekend, n)
    top = max(horizons)
    # The calendar beyond the end is only needed for targets past it, which are never scored.
    pad_h = np.concatenate([h, (h[-1] + np.arange(1, top + 1)) % 24])
    pad_d = np.concatenate([d, np.repeat(d[-1], top)])
    origins = np.arange(split - 1, n - 1)
    origins = origins[~np.isnan(y[origins])]
    step = refit_hours if refit_hours > 0 else n
    forecasts = np.empty((len(origins), top))
    climate = np.empty((len(origins), top))
    first: ForecastModel | None = None
    for block in range(split - 1, n - 1, step):
        inside = (origins >= block) & (origins < block + step)
        known = block + 1  # values[:known] end at the block's first origin
        model = fit_forecast(y[:known], h[:known], d[:known], horizons=top)
        first = first or model
        if not inside.any():
            continue
        o = origins[inside]
        forecasts[inside] = predict_at(model, y, pad_h, pad_d, o)
        clim = climatology_profile(y[:known], h[:known])
        climate[inside] = clim[pad_h[o[:, None] + np.arange(1, top + 1)]]
    assert first is not None
    rows = []
    for k in horizons:
        target = origins + k
        keep = target < n
        keep[keep] = ~np.isnan(y[target[keep]])
        truth = y[target[keep]]
        if not len(truth):
            rows.append((np.nan, np.nan, np.nan, 0))
            continue
        rows.append(
            (
                float(np.mean(np.abs(forecasts[keep, k - 1] - truth))),
                float(np.mean(np.abs(y[origins[keep]] - truth))),
                float(np.mean(np.abs(climate[keep, k - 1] - truth))),
                len(truth),
            )
        )
    table = np.array(rows, dtype=np.float64).reshape(len(horizons), 4)
    return Scores(
        tuple(horizons),
        table[:, 0],
        table[:, 1],
        table[:, 2],
        table[:, 3].astype(np.int64),
        first,
    )

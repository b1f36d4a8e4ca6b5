"""Per-device calibration of a low-cost PM sensor against a co-located reference instrument.

``reference ≈ a + b·pm + c·f`` fitted by ordinary least squares on paired hourly means, with
the humidity term ``f`` one of (:data:`TERMS`):

* ``"rh"`` — ``f = RH`` [%]: the form of the US-wide PurpleAir PM2.5 correction of the US EPA
  ([BARKJOHN2021]: ``0.524·PA − 0.0862·RH + 5.75``), robust and easy to read;
* ``"kohler"`` — ``f = pm · a_w / (1 − a_w)`` with ``a_w = RH/100`` capped at 0.95: the first-order
  term of the bulk κ-Köhler growth ``pm = pm_dry · (1 + (κ/1.65)·a_w/(1 − a_w))``
  ([CRILLEY2018], [DIANTONIO2018]); ``c ≈ −b·κ/1.65`` for small corrections, so the fit also
  estimates the aerosol's hygroscopicity;
* ``"none"`` — no humidity term (``c = 0``).

Honest metrics: the pairs are split by time, the first ``1 − test_fraction`` for the fit and the
rest held out; R², bias and RMSE "before" (the raw sensor) and "after" (the fit) are both
computed on the held-out pairs, so the improvement is not a property of the fitted sample.

Metrics of an estimate ``x`` against the reference ``y`` over ``n`` pairs:
``bias = mean(x − y)``, ``RMSE = sqrt(mean((x − y)²))``, and the coefficient of determination
``R² = 1 − Σ(x − y)² / Σ(y − ȳ)²`` (1 perfect, 0 no better than the reference's mean, negative
worse; unlike a squared correlation it penalises bias, so a raw sensor that reads twice the
reference scores badly).

References
----------
[BARKJOHN2021] Barkjohn, Gantt & Clements, AMT 14, 4617–4637 (2021),
doi:10.5194/amt-14-4617-2021. [CRILLEY2018] Crilley et al., AMT 11, 709–720 (2018).
[DIANTONIO2018] Di Antonio et al., Sensors 18(9), 2790 (2018).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "MIN_PAIRS",
    "TERMS",
    "Calibration",
    "CalibrationFit",
    "Metrics",
    "apply_calibration",
    "fit_calibration",
    "humidity_term",
    "metrics",
]

F64 = NDArray[np.float64]

#: Humidity terms of the fit (see the module docstring).
TERMS = ("rh", "kohler", "none")
#: Fewest complete pairs (PM, RH, reference) for a fit; each part gets at least a quarter.
MIN_PAIRS = 24
#: Water activity cap of the κ-Köhler term (as in ``calc/humidity.py``).
MAX_WATER_ACTIVITY = 0.95


@dataclass(frozen=True, slots=True)
class Metrics:
    """Agreement of an estimate with the reference: pairs, R² [-], bias and RMSE [µg/m³]."""

    n: int
    r2: float
    bias: float
    rmse: float


@dataclass(frozen=True, slots=True)
class Calibration:
    """Coefficients: corrected = ``a + b·pm + c·f(pm, RH)`` with ``f`` of ``term``."""

    a: float
    b: float
    c: float
    term: str


@dataclass(frozen=True, slots=True)
class CalibrationFit:
    """A fit and its held-out evaluation."""

    calibration: Calibration
    n_train: int
    n_test: int
    before: Metrics
    after: Metrics


def humidity_term(pm: ArrayLike, relative_humidity: ArrayLike, term: str) -> F64:
    """The humidity predictor ``f`` of ``term`` (see the module docstring).

    Parameters
    ----------
    pm : array of float
        Sensor PM [µg/m³].
    relative_humidity : array of float
        The sensor's relative humidity [%].
    term : {"rh", "kohler", "none"}

    Examples
    --------
    >>> humidity_term([10.0, 10.0], [50.0, 90.0], "kohler").round(3).tolist()
    [10.0, 90.0]
    """
    x = np.asarray(pm, dtype=np.float64)
    rh = np.asarray(relative_humidity, dtype=np.float64)
    if term == "rh":
        return np.broadcast_to(rh, np.broadcast(x, rh).shape).astype(np.float64)
    if term == "kohler":
        aw = np.clip(rh / 100.0, 0.0, MAX_WATER_ACTIVITY)
        out: F64 = x * aw / (1.0 - aw)
        return out
    if term == "none":
        return np.zeros(np.broadcast(x, rh).shape)
    raise ValueError(f"term must be one of {', '.join(TERMS)}, got {term!r}")


def apply_calibration(calibration: Calibration, pm: ArrayLike, relative_humidity: ArrayLike) -> F64:
    """Corrected PM [µg/m³]: ``a + b·pm + c·f``; NaN where an input the term needs is NaN.

    Not clipped at zero, so the corrected value is exactly the fitted line.

    Examples
    --------
    >>> apply_calibration(Calibration(5.75, 0.524, -0.0862, "rh"), [30.0], [60.0]).round(3)
    array([16.298])
    """
    x = np.asarray(pm, dtype=np.float64)
    f = humidity_term(x, relative_humidity, calibration.term)
    if calibration.term == "none":
        f = np.where(np.isnan(x), np.nan, 0.0)
    out: F64 = calibration.a + calibration.b * x + calibration.c * f
    return out


def metrics(estimate: ArrayLike, reference: ArrayLike) -> Metrics:
    """R², bias and RMSE of ``estimate`` against ``reference`` (pairs with a NaN are skipped).

    Examples
    --------
    >>> m = metrics([2.0, 4.0, 6.0], [1.0, 3.0, 5.0])
    >>> (m.n, m.bias, m.rmse, round(m.r2, 3))
    (3, 1.0, 1.0, 0.625)
    """
    x = np.asarray(estimate, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if not len(x):
        raise ValueError("no complete pairs")
    error = x - y
    total = float(np.sum(np.square(y - y.mean())))
    r2 = 1.0 - float(np.sum(np.square(error))) / total if total > 0 else float("nan")
    return Metrics(len(x), r2, float(error.mean()), float(np.sqrt(np.mean(np.square(error)))))


def fit_calibration(
    pm: ArrayLike,
    relative_humidity: ArrayLike,
    reference: ArrayLike,
    *,
    term: str = "rh",
    test_fraction: float = 0.25,
) -> CalibrationFit:
    """Fit ``reference ≈ a + b·pm + c·f`` on the earlier pairs and evaluate on the later ones.

    Parameters
    ----------
    pm : array of float
        The low-cost sensor's hourly means [µg/m³], in time order.
    relative_humidity : array of float
        The same device's hourly mean relative humidity [%] (ignored by ``term="none"``).
    reference : array of float
        The reference instrument's hourly means at the same hours [µg/m³].
    term : {"rh", "kohler", "none"}, default "rh"
        The humidity term (see the module docstring).
    test_fraction : float, default 0.25
        Share of the (latest) complete pairs held out for the metrics, in (0, 0.5].

    Returns
    -------
    CalibrationFit
        Coefficients fitted on the training pairs; ``before``/``after`` on the held-out pairs.

    Raises
    ------
    ValueError
        Fewer than :data:`MIN_PAIRS` complete pairs, an unknown term, or a degenerate training
        set (constant PM, constant humidity term), named in the message.
    """
    if term not in TERMS:
        raise ValueError(f"term must be one of {', '.join(TERMS)}, got {term!r}")
    if not 0 < test_fraction <= 0.5:
        raise ValueError(f"test_fraction must lie in (0, 0.5], got {test_fraction}")
    x = np.asarray(pm, dtype=np.float64)
    rh = np.asarray(relative_humidity, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    if not x.shape == rh.shape == y.shape or x.ndim != 1:
        raise ValueError("pm, relative_humidity and reference must be 1-D of one length")
    need = np.isnan(x) | np.isnan(y) | (np.isnan(rh) if term != "none" else False)
    x, rh, y = x[~need], rh[~need], y[~need]
    n = len(x)
    if n < MIN_PAIRS:
        raise ValueError(f"{n} complete pairs: at least {MIN_PAIRS} are needed")
    n_test = max(round(n * test_fraction), MIN_PAIRS // 4)
    n_train = n - n_test
    train = slice(0, n_train)
    if np.ptp(x[train]) == 0:
        raise ValueError("pm is constant over the training pairs: nothing to fit")
    f = humidity_term(x, rh, term)
    columns = [np.ones(n_train), x[train]]
    if term != "none":
        if np.ptp(f[train]) == 0:
            raise ValueError(
                "relative humidity is constant over the training pairs: use term 'none'"
            )
        columns.append(f[train])
    design = np.column_stack(columns)
    coef, _res, rank, _sv = np.linalg.lstsq(design, y[train], rcond=None)
    if rank < design.shape[1]:
        raise ValueError("pm and the humidity term are collinear over the training pairs")
    c = float(coef[2]) if term != "none" else 0.0
    calibration = Calibration(float(coef[0]), float(coef[1]), c, term)
    test = slice(n_train, n)
    after = apply_calibration(calibration, x[test], rh[test])
    return CalibrationFit(
        calibration,
        n_train,
        n_test,
        before=metrics(x[test], y[test]),
        after=metrics(after, y[test]),
    )

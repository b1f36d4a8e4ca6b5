"""Smog alert rules: thresholds as data, running means and a hysteresis state machine.

A rule compares an hourly series (a pollutant's 1-h mean, its 24-h running mean, or the hourly
CAQI) with a threshold. An alert **starts** at the hour in which the value has been at or above
the threshold for ``n_hours`` consecutive hours, and **ends** only at the hour in which the value
has been below the *release level* ``threshold × (1 − margin)`` — or unknown — for
``clear_hours`` consecutive hours. Both conditions together are the hysteresis: a series that
wanders around the threshold neither starts nor ends an alert on every crossing. With
``margin=0`` and ``clear_hours=1`` the rule is a plain threshold.

All functions are pure and vectorised over hours (NumPy arrays, NaN = no valid value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smartdistricts.calc.breakpoints import FloatArray
from smartdistricts.calc.caqi import caqi
from smartdistricts.calc.standards import alert_thresholds
from smartdistricts.calc.tables import check_choice

__all__ = [
    "AVERAGING",
    "DEFAULT_RULES",
    "LEVELS",
    "PRESETS",
    "RULE_VARIABLES",
    "AlertRule",
    "alert_states",
    "hourly_caqi",
    "persistent",
    "rule_series",
    "running_mean",
]

#: Averaging periods a rule may use: the 1-h mean or the 24-h running mean of hourly means.
AVERAGING = ("1h", "24h")
#: Severity labels of a rule (``custom`` for rules an operator adds).
LEVELS = ("information", "alarm", "alert", "custom")
#: Series a rule may watch: the canonical concentrations and ``caqi`` (hourly CAQI of PM).
RULE_VARIABLES = ("pm1", "pm2_5", "pm10", "no2", "o3", "so2", "co", "caqi")
#: Hours a 24-h running mean needs (75 % of 24, the daily-mean coverage rule, indices.md §9).
MIN_HOURS_24H = 18


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alert rule as data.

    ``threshold`` is in µg/m³ (index points for ``caqi``); ``n_hours`` consecutive hours at or
    above it start an alert; ``clear_hours`` consecutive hours below
    ``threshold × (1 − margin)`` (or without a valid value) end it. ``source`` is a key of
    ``docs/references.md``.
    """

    key: str
    variable: str
    averaging: str
    threshold: float
    level: str
    n_hours: int = 1
    margin: float = 0.1
    clear_hours: int = 2
    source: str = ""

    def __post_init__(self) -> None:
        check_choice("variable", self.variable, RULE_VARIABLES)
        check_choice("averaging", self.averaging, AVERAGING)
        check_choice("level", self.level, LEVELS)
        if not (self.threshold > 0 and np.isfinite(self.threshold)):
            raise ValueError(f"threshold must be a positive number, got {self.threshold}")
        if not 0 <= self.margin < 1:
            raise ValueError(f"margin must lie in [0, 1), got {self.margin}")
        if not 1 <= self.n_hours <= 24 * 7:
            raise ValueError(f"n_hours must lie in 1..168, got {self.n_hours}")
        if not 1 <= self.clear_hours <= 24 * 7:
            raise ValueError(f"clear_hours must lie in 1..168, got {self.clear_hours}")

    @property
    def release(self) -> float:
        """The level the value must fall below for the alert to end."""
        return self.threshold * (1.0 - self.margin)

    @property
    def lookback_hours(self) -> int:
        """Hours of hourly data one evaluation needs before the evaluated hour."""
        window = 24 if self.averaging == "24h" else 1
        return window - 1 + max(self.n_hours, self.clear_hours) - 1


def _rules() -> tuple[AlertRule, ...]:
    pl = alert_thresholds("PL2019")["pm10"]
    eu = alert_thresholds("EU2024")
    return (
        AlertRule(
            "pl-pm10-information", "pm10", "24h", pl.information, "information", source="GIOS"
        ),
        AlertRule("pl-pm10-alarm", "pm10", "24h", pl.alert, "alarm", source="GIOS"),
        AlertRule(
            "eu-pm10-information",
            "pm10",
            "24h",
            eu["pm10"].information,
            "information",
            source="EU2024",
        ),
        AlertRule(
            "eu-pm2_5-information",
            "pm2_5",
            "24h",
            eu["pm2_5"].information,
            "information",
            source="EU2024",
        ),
        # "3 consecutive days": the running mean above the threshold in every hour of 48 hours,
        # i.e. 72 hours of air at that level (see the Notes of alert_states).
        AlertRule(
            "eu-pm10-alert", "pm10", "24h", eu["pm10"].alert, "alert", n_hours=48, source="EU2024"
        ),
        AlertRule(
            "eu-pm2_5-alert",
            "pm2_5",
            "24h",
            eu["pm2_5"].alert,
            "alert",
            n_hours=48,
            source="EU2024",
        ),
    )


#: The rules every site gets (``smartdistricts alerts rules --seed``, the demo):
#: Polish PM10 24-h information 100 and alarm 150 µg/m³ (Dz.U. 2019 poz. 1931, [GIOS]) and the
#: Directive (EU) 2024/2881 Annex I Section 4 information / alert thresholds, 1-day averaging:
#: PM10 90, PM2.5 50 µg/m³, the alert after 3 consecutive days ([EU2024]).
DEFAULT_RULES = _rules()

#: Further ready-made rules for ``alerts add-rule --preset``: CAQI "High" (75, [CITEAIR2012])
#: or above for 3 hours.
PRESETS = {
    "caqi-high-3h": AlertRule(
        "caqi-high-3h", "caqi", "1h", 75.0, "custom", n_hours=3, source="CITEAIR2012"
    ),
    **{rule.key: rule for rule in DEFAULT_RULES},
}


def running_mean(hourly: ArrayLike, window: int = 24, min_hours: int = MIN_HOURS_24H) -> FloatArray:
    """Running mean of hourly means over ``window`` hours ending at each hour.

    Parameters
    ----------
    hourly : array_like
        Consecutive hourly means [any unit] along the last axis (one row per site for 2-D
        input), NaN where the hour has no valid value.
    window : int, default 24
        Hours in the mean (the value at index i covers hours i − window + 1 … i).
    min_hours : int, default 18
        Valid hours the window needs; fewer gives NaN (75 % coverage, indices.md §9).

    Returns
    -------
    numpy.ndarray
        The running mean (float64, same shape, at least 1-D); NaN where the window, cut at the
        start of the array, has fewer than ``min_hours`` valid hours.

    Examples
    --------
    >>> running_mean([10.0, 20.0, float("nan"), 30.0], window=2, min_hours=1).tolist()
    [10.0, 15.0, 20.0, 30.0]
    >>> running_mean([[10.0, 20.0, 30.0], [1.0, 1.0, 4.0]], window=2, min_hours=2).tolist()
    [[nan, 15.0, 25.0], [nan, 1.0, 2.5]]
    """
    x = np.atleast_1d(np.asarray(hourly, dtype=np.float64))
    valid = ~np.isnan(x)
    pad = [(0, 0)] * (x.ndim - 1) + [(1, 0)]
    total = np.pad(np.cumsum(np.where(valid, x, 0.0), axis=-1), pad)
    count = np.pad(np.cumsum(valid, axis=-1), pad)
    end = np.arange(1, x.shape[-1] + 1)
    start = np.maximum(end - window, 0)
    n = count[..., end] - count[..., start]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (total[..., end] - total[..., start]) / n
    result: FloatArray = np.where(n >= max(min_hours, 1), mean, np.nan)
    return result


def hourly_caqi(pm2_5: ArrayLike, pm10: ArrayLike) -> FloatArray:
    """Hourly CAQI of PM2.5 and PM10 1-h means [µg/m³] (NaN where both are missing).

    >>> hourly_caqi([55.0, float("nan")], [10.0, 180.0]).tolist()
    [75.0, 100.0]
    """
    return caqi(pm2_5=pm2_5, pm10=pm10, grid="hourly")


def rule_series(rule: AlertRule, hourly: ArrayLike) -> FloatArray:
    """The series a rule compares with its threshold, from consecutive hourly means (last axis).

    For ``caqi`` rules pass the hourly CAQI (:func:`hourly_caqi`); ``24h`` rules take the
    running mean (:func:`running_mean`), ``1h`` rules the hourly values unchanged.

    >>> rule = AlertRule("x", "pm10", "24h", 100.0, "custom")
    >>> float(rule_series(rule, [120.0] * 18)[-1])
    120.0
    """
    if rule.averaging == "24h":
        return running_mean(hourly, 24, MIN_HOURS_24H)
    return np.atleast_1d(np.asarray(hourly, dtype=np.float64))


def persistent(condition: ArrayLike, n: int) -> NDArray[np.bool_]:
    """True where ``condition`` held in this and the ``n − 1`` preceding elements (last axis).

    >>> persistent([True, True, False, True, True, True], 2).tolist()
    [False, True, False, False, True, True]
    """
    c = np.atleast_1d(np.asarray(condition, dtype=np.bool_))
    pad = [(0, 0)] * (c.ndim - 1) + [(1, 0)]
    run_breaks = np.pad(np.cumsum(~c, axis=-1), pad)
    end = np.arange(1, c.shape[-1] + 1)
    start = end - n
    broken: NDArray[np.int64] = run_breaks[..., end] - run_breaks[..., np.maximum(start, 0)]
    result: NDArray[np.bool_] = (start >= 0) & (broken == 0)
    return result


def alert_states(
    values: ArrayLike,
    threshold: float,
    *,
    n_hours: int = 1,
    margin: float = 0.1,
    clear_hours: int = 2,
    active: ArrayLike = False,
    final: ArrayLike | None = None,
    start_at: ArrayLike = 0,
) -> NDArray[np.bool_]:
    """Whether an alert is active after each hour (hysteresis state machine, vectorised).

    Parameters
    ----------
    values : array_like
        The rule's series: consecutive hours along the last axis (one row per site for 2-D
        input), NaN where unknown.
    threshold : float
        Start level (value ≥ threshold).
    n_hours : int, default 1
        Consecutive hours at or above ``threshold`` needed to start.
    margin : float, default 0.1
        The alert ends below ``threshold × (1 − margin)`` (the release level).
    clear_hours : int, default 2
        Consecutive hours below the release level, or unknown, needed to end.
    active : bool or array_like of bool, default False
        The state before ``start_at`` (per row for 2-D input).
    final : array_like of bool, optional
        Hours whose value is final; an alert can start on a provisional hour (the current,
        incomplete one) but ends only on final hours. Default: all final.
    start_at : int or array_like of int, default 0
        Index of the first hour to evaluate (per row for 2-D input); earlier hours only fill
        the rolling windows (their own starts and ends are ignored).

    Returns
    -------
    numpy.ndarray of bool
        The state after each hour (the shape of ``values``, at least 1-D).

    Notes
    -----
    Starting needs every one of the last ``n_hours`` values present and ≥ ``threshold``;
    ending needs none of the last ``clear_hours`` values ≥ the release level (a sensor that
    stops reporting ends its alerts after ``clear_hours``). Because the release level is below
    the threshold, no hour can satisfy both, and the state is the last of the start/end events
    (carried forward). The hysteresis band (``margin``) stops flapping when the value
    oscillates around the threshold; ``clear_hours`` stops a single clean hour from ending an
    alert. Legal texts count calendar days ("1 day", "3 consecutive days", [EU2024]; the Polish
    levels use 24-h means, [GIOS]); these rules use the running 24-h mean, evaluated hourly, so
    an alert starts within the hour the air becomes bad rather than at the end of the day. For
    "3 consecutive days" the default rules require the running mean at or above the threshold
    for 48 consecutive hours (72 hours of data), a close but stricter reading.

    Examples
    --------
    >>> alert_states([90, 101, 95, 89, 91, 85, 80], 100.0, margin=0.1, clear_hours=2).tolist()
    [False, True, True, True, True, True, False]
    >>> alert_states([101, 102, 103], 100.0, n_hours=3).tolist()
    [False, False, True]
    >>> alert_states([[95, 95], [50, 150]], 100.0, active=[True, False]).tolist()
    [[True, True], [False, True]]
    """
    v = np.atleast_1d(np.asarray(values, dtype=np.float64))
    release = threshold * (1.0 - margin)
    with np.errstate(invalid="ignore"):
        above = v >= threshold
        not_clear = v >= release
    start = persistent(above, n_hours)
    end = persistent(~not_clear, clear_hours)
    if final is not None:
        end &= np.asarray(final, dtype=np.bool_)
    col = np.arange(v.shape[-1])
    first = np.asarray(start_at)
    evaluated = col >= (first[..., None] if first.ndim else first)
    start &= evaluated
    end &= evaluated
    last_start = np.maximum.accumulate(np.where(start, col, -1), axis=-1)
    last_end = np.maximum.accumulate(np.where(end, col, -1), axis=-1)
    # Before any event the initial state holds; afterwards the later event type wins.
    no_event = (last_start < 0) & (last_end < 0)
    before = np.asarray(active, dtype=np.bool_)
    result: NDArray[np.bool_] = np.where(
        no_event, before[..., None] if before.ndim else before, last_start > last_end
    )
    return result

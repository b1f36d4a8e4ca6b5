"""Quality flags for raw readings: implausible values, stuck sensors, humid air.

Pure, vectorised functions; the ingest service stores their result in ``measurements.flags``
(bits of :class:`smartdistricts.nomenclature.Flag`). Raw values are never changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smartdistricts.nomenclature import VARIABLES, Flag

__all__ = [
    "StuckState",
    "humidity_flags",
    "nearest_within",
    "range_flags",
    "stuck_flags",
]

_SIZE = max(v.id for v in VARIABLES) + 1
_SOFT_MIN = np.full(_SIZE, -np.inf)
_SOFT_MAX = np.full(_SIZE, np.inf)
_KNOWN = np.zeros(_SIZE, dtype=bool)
_KNOWN[[v.id for v in VARIABLES]] = True
for _v in VARIABLES:
    _SOFT_MIN[_v.id] = _v.soft_min
    _SOFT_MAX[_v.id] = _v.soft_max


def range_flags(variable_id: ArrayLike, value: ArrayLike) -> NDArray[np.int64]:
    """``OUT_OF_RANGE`` where a value lies outside its variable's plausible (soft) range.

    Parameters
    ----------
    variable_id : array of int
        Variable ids (``smartdistricts.nomenclature``).
    value : array of float
        Values in the variable's canonical unit.

    Returns
    -------
    flags : array of int64
        ``Flag.OUT_OF_RANGE`` (1) or 0 per reading; NaN is out of range, as in
        :meth:`~smartdistricts.nomenclature.Variable.implausible`.

    Raises
    ------
    ValueError
        When a variable id names no variable.

    Notes
    -----
    The soft upper limit for particulate matter is 999.9 µg/m³, the saturation value of the
    SDS011 and PMS5003 (their specified range is 0–999.9/1000 µg/m³), so saturated readings are
    flagged rather than averaged. The bounds are listed in ``docs/nomenclature.md``.

    Examples
    --------
    >>> range_flags([2, 2, 5], [12.0, 999.9, 101.0]).tolist()
    [0, 1, 1]
    """
    vid = np.asarray(variable_id, dtype=np.int64)
    v = np.asarray(value, dtype=np.float64)
    index = np.clip(vid, 0, _SIZE - 1)
    known = _KNOWN[index] & (index == vid)
    if not known.all():
        raise ValueError(f"variable_id: unknown variable id(s) {sorted(set(vid[~known].tolist()))}")
    ok = (v >= _SOFT_MIN[index]) & (v < _SOFT_MAX[index])
    return np.where(ok, 0, int(Flag.OUT_OF_RANGE)).astype(np.int64)


def humidity_flags(
    relative_humidity: ArrayLike, *, humid: float = 70.0, fog: float = 95.0
) -> NDArray[np.int64]:
    """``HUMID`` (and ``FOG``) where particulate readings were taken in humid air.

    Parameters
    ----------
    relative_humidity : array of float
        Relative humidity at the time of each PM reading [%]; NaN where unknown.
    humid : float, default 70
        Threshold for ``HUMID`` [%]. Optical low-cost sensors are specified up to 70 % RH
        (SDS011 data sheet); above it particles take up water and read high.
    fog : float, default 95
        Threshold for ``FOG`` [%]; droplets are counted as particles.

    Returns
    -------
    flags : array of int64
        ``HUMID`` (4), ``HUMID | FOG`` (12) or 0.

    References
    ----------
    [SC-HUMIDITY]; [CRILLEY2018].

    Examples
    --------
    >>> humidity_flags([50.0, 80.0, 99.9, np.nan]).tolist()
    [0, 4, 12, 0]
    """
    if humid > fog:
        raise ValueError(f"humid ({humid}) must not exceed fog ({fog})")
    rh = np.asarray(relative_humidity, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = np.where(rh >= humid, int(Flag.HUMID), 0)
        out = out | np.where(rh >= fog, int(Flag.FOG), 0)
    return out.astype(np.int64)


def nearest_within(times: ArrayLike, reference: ArrayLike, tolerance: float) -> NDArray[np.int64]:
    """Index of the nearest ``reference`` time for each of ``times``, or -1 if none is close.

    ``reference`` must be sorted ascending. Used to pair a PM reading with the humidity reading
    of the same node: separate sensors are stamped about a second apart (archive files).

    Examples
    --------
    >>> nearest_within([10, 20, 100], [9, 21, 50], 5).tolist()
    [0, 1, -1]
    """
    t = np.asarray(times, dtype=np.int64)
    ref = np.asarray(reference, dtype=np.int64)
    if len(ref) == 0:
        return np.full(len(t), -1, dtype=np.int64)
    right = np.clip(np.searchsorted(ref, t), 0, len(ref) - 1)
    left = np.clip(right - 1, 0, len(ref) - 1)
    pick = np.where(np.abs(ref[left] - t) <= np.abs(ref[right] - t), left, right)
    return np.where(np.abs(ref[pick] - t) <= tolerance, pick, -1).astype(np.int64)


@dataclass(slots=True)
class StuckState:
    """Per-series state carried between batches: the current run of identical values."""

    value: NDArray[np.float64]
    start: NDArray[np.int64]
    count: NDArray[np.int64]


def stuck_flags(
    key: ArrayLike,
    time: ArrayLike,
    value: ArrayLike,
    *,
    min_count: int = 10,
    min_duration: float = 10800.0,
    prior: StuckState | None = None,
) -> tuple[NDArray[np.int64], StuckState]:
    """``STUCK`` where a series has repeated exactly the same value for too long.

    Parameters
    ----------
    key : array of int
        Series key (e.g. sensor and variable) per reading; readings must be sorted by key,
        then time.
    time : array of int
        Reading times [s].
    value : array of float
        Values.
    min_count : int, default 10
        Readings in the run before it counts as stuck.
    min_duration : float, default 10800
        Seconds the run must last before it counts as stuck (3 h: a PMS sensor reports
        integers, so short runs of the same value are normal in clean air).
    prior : StuckState, optional
        For each reading, the run its series was in before this batch (aligned with the
        readings; only the first reading of each series is read). NaN value means none.

    Returns
    -------
    flags : array of int64
        ``Flag.STUCK`` (2) or 0 per reading.
    state : StuckState
        The run state after the last reading of each series, aligned with the readings
        (meaningful at each series' last reading).

    Notes
    -----
    DHT22 humidity sensors stick at 99.9 % in fog (sensors-software#170); a broken PM sensor
    repeats its last value. The first reading of a run is not flagged; readings are flagged
    from the moment the run has lasted ``min_duration`` and ``min_count`` readings.

    Examples
    --------
    >>> t = np.arange(12) * 1800
    >>> flags, _ = stuck_flags(np.zeros(12), t, np.full(12, 99.9))
    >>> flags.tolist()
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2]
    """
    k = np.asarray(key, dtype=np.int64)
    t = np.asarray(time, dtype=np.int64)
    v = np.asarray(value, dtype=np.float64)
    n = len(v)
    if n == 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, StuckState(np.empty(0), empty, empty)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = k[1:] != k[:-1]
    same = np.zeros(n, dtype=bool)
    same[1:] = v[1:] == v[:-1]
    run_break = new_group | ~same
    run_id = np.cumsum(run_break) - 1
    first = np.flatnonzero(run_break)
    base_start = t[first].copy()
    base_count = np.zeros(len(first), dtype=np.int64)
    if prior is not None:
        continues = new_group[first] & (prior.value[first] == v[first])
        base_start[continues] = prior.start[first][continues]
        base_count[continues] = prior.count[first][continues]
    position = np.arange(n) - first[run_id]
    count = base_count[run_id] + position + 1
    start = base_start[run_id]
    stuck = (count >= min_count) & (t - start >= min_duration)
    flags = np.where(stuck, int(Flag.STUCK), 0).astype(np.int64)
    return flags, StuckState(v.copy(), start.astype(np.int64), count.astype(np.int64))

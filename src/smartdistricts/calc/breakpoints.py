"""Breakpoint tables and the vectorised operations every index is built from.

A breakpoint table (one packaged CSV file per index and version, see ``calc/data``) lists, for each
pollutant, the bands of the index in order: ``level, index_low, index_high, conc_low, conc_high,
step, unit``. This module turns a file into NumPy arrays once and offers the few operations the
indices need:

* :func:`interpolate` — piecewise-linear interpolation over continuous bands (CAQI), with the last
  segment optionally extended past the top of the table;
* :func:`band_number` — which band a value falls in, for indices that are band numbers (EEA, GIOŚ,
  DAQI) or that interpolate inside bands printed with gaps (US EPA);
* :func:`half_up` and :func:`to_steps` — rounding half up and truncation that are robust to
  binary floating point (35.45 truncates to 35.4 although the float is 35.4500000000000028…);
* :func:`worst` — the maximum over pollutants, ignoring missing ones.

Conventions shared by all indices: inputs are scalars or array-likes (broadcast together); NaN
means missing and stays NaN; negative concentrations are treated as missing (NaN).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike, NDArray

from smartdistricts.calc.tables import read_csv

__all__ = [
    "COLUMNS",
    "Bands",
    "BreakpointTable",
    "FloatArray",
    "band_number",
    "concentration",
    "half_up",
    "interpolate",
    "linear_knots",
    "load_table",
    "to_steps",
    "worst",
]

FloatArray = NDArray[np.float64]

#: Header every breakpoint file must have, in this order.
COLUMNS = (
    "index",
    "version",
    "pollutant",
    "averaging",
    "level",
    "index_low",
    "index_high",
    "conc_low",
    "conc_high",
    "step",
    "unit",
    "source",
)

# Decimal places kept when snapping a scaled float before rounding or truncating: absorbs the
# representation error of values such as 35.45 * 10 = 354.49999999999994 (about 1e-13) while
# being far below any meaningful concentration difference.
_SNAP = 9


def _snap(scaled: FloatArray) -> FloatArray:
    """Round to :data:`_SNAP` decimals; values too large for that (> ~1e299) stay as they are."""
    with np.errstate(over="ignore", invalid="ignore"):
        snapped = np.round(scaled, _SNAP)
    return np.where(np.isfinite(snapped), snapped, scaled)


def _frozen(values: Sequence[float]) -> FloatArray:
    array = np.array(values, dtype=np.float64)
    array.flags.writeable = False
    return array


def _number(text: str) -> float:
    return math.nan if text == "" else float(text)


@dataclass(frozen=True, eq=False)
class Bands:
    """The bands of one pollutant, in table order (read-only arrays, one element per band).

    ``conc_high`` and ``index_high`` are NaN for an open top band (">400").
    """

    pollutant: str
    unit: str
    step: float
    averaging: tuple[str, ...]
    levels: tuple[str, ...]
    index_low: FloatArray
    index_high: FloatArray
    conc_low: FloatArray
    conc_high: FloatArray

    @property
    def upper(self) -> FloatArray:
        """Upper limits of all bands but the last: the boundaries used by :func:`band_number`."""
        return self.conc_high[:-1]


@dataclass(frozen=True, eq=False)
class BreakpointTable:
    """One packaged breakpoint file: citation notes and the bands of each pollutant."""

    name: str
    index: str
    version: str
    notes: tuple[str, ...]
    bands: Mapping[str, Bands]

    def __getitem__(self, pollutant: str) -> Bands:
        return self.bands[pollutant]

    @property
    def pollutants(self) -> tuple[str, ...]:
        """Pollutant keys in file order."""
        return tuple(self.bands)


@functools.cache
def load_table(name: str) -> BreakpointTable:
    """Load the packaged breakpoint file ``name`` (parsed once per process).

    Raises :class:`ValueError` if the header differs from :data:`COLUMNS`, if the file mixes
    indices or versions, or if a pollutant mixes units or steps.

    >>> table = load_table("caqi_citeair2012_hourly.csv")
    >>> table.version, table["pm10"].conc_high[:4].tolist()
    ('CITEAIR2012', [25.0, 50.0, 90.0, 180.0])
    """
    raw = read_csv(name)
    if raw.header != COLUMNS:
        raise ValueError(f"{name}: header must be {','.join(COLUMNS)}")
    if {(row["index"], row["version"]) for row in raw.rows} != {
        (raw.rows[0]["index"], raw.rows[0]["version"])
    }:
        raise ValueError(f"{name}: every row must have the same index and version")
    grouped: dict[str, list[dict[str, str]]] = {}
    for row in raw.rows:
        grouped.setdefault(row["pollutant"], []).append(row)
    bands: dict[str, Bands] = {}
    for pollutant, rows in grouped.items():
        units = {row["unit"] for row in rows}
        steps = {row["step"] for row in rows}
        if len(units) != 1 or len(steps) != 1:
            raise ValueError(f"{name}: {pollutant} mixes units or steps")
        bands[pollutant] = Bands(
            pollutant=pollutant,
            unit=rows[0]["unit"],
            step=float(rows[0]["step"]),
            averaging=tuple(row["averaging"] for row in rows),
            levels=tuple(row["level"] for row in rows),
            index_low=_frozen([_number(row["index_low"]) for row in rows]),
            index_high=_frozen([_number(row["index_high"]) for row in rows]),
            conc_low=_frozen([_number(row["conc_low"]) for row in rows]),
            conc_high=_frozen([_number(row["conc_high"]) for row in rows]),
        )
    first = raw.rows[0]
    return BreakpointTable(
        name, first["index"], first["version"], raw.notes, MappingProxyType(bands)
    )


def concentration(values: ArrayLike) -> FloatArray:
    """Return ``values`` as a float64 array with negative values replaced by NaN.

    >>> concentration([1.0, -0.5, float("nan"), 0.0]).tolist()
    [1.0, nan, nan, 0.0]
    """
    array = np.asarray(values, dtype=np.float64)
    return np.where(array < 0.0, np.nan, array)


def linear_knots(bands: Bands, *, extend: bool) -> tuple[FloatArray, FloatArray, float]:
    """Knots ``(xp, fp, right)`` for :func:`interpolate` over continuous bands.

    The knots are the band limits. With ``extend=True`` one far knot continues the last closed
    segment with the same slope; its distance is the segment width times 2**900 (a power of two,
    so the slope is bit-for-bit the one inside the segment) and only values beyond about 1e270
    fall past it and give ``inf``. With ``extend=False`` values above the top limit get the top
    index (``right``).
    """
    closed = ~np.isnan(bands.conc_high)
    xp = np.append(bands.conc_low[closed], bands.conc_high[closed][-1])
    fp = np.append(bands.index_low[closed], bands.index_high[closed][-1])
    if np.any(np.diff(xp) <= 0) or np.any(bands.conc_low[1:] != bands.conc_high[:-1]):
        raise ValueError(f"{bands.pollutant}: bands are not contiguous and increasing")
    if not extend:
        return xp, fp, float(fp[-1])
    scale = 2.0**900
    far_x = xp[-1] + (xp[-1] - xp[-2]) * scale
    far_y = fp[-1] + (fp[-1] - fp[-2]) * scale
    return np.append(xp, far_x), np.append(fp, far_y), math.inf


def interpolate(values: ArrayLike, knots: tuple[FloatArray, FloatArray, float]) -> FloatArray:
    """Piecewise-linear interpolation through ``knots``; negative and NaN values give NaN.

    >>> knots = linear_knots(load_table("caqi_citeair2012_hourly.csv")["pm10"], extend=True)
    >>> interpolate([0.0, 7.06, 91.77, 270.0, -1.0], knots).round(4).tolist()
    [0.0, 7.06, 75.4917, 125.0, nan]
    """
    xp, fp, right = knots
    array = np.asarray(values, dtype=np.float64)
    return np.asarray(np.interp(array, xp, fp, left=np.nan, right=right), dtype=np.float64)


def band_number(values: ArrayLike, upper: FloatArray) -> FloatArray:
    """0-based number of the band each value falls in; bands are right-closed.

    ``upper`` holds the upper limits of all bands but the open last one: a value belongs to the
    first band whose upper limit it does not exceed. NaN stays NaN.

    >>> band_number([0.0, 20.0, 20.05, 50.0, 1e6, float("nan")], np.array([20.0, 50.0]))
    array([ 0.,  0.,  1.,  1.,  2., nan])
    """
    array = np.asarray(values, dtype=np.float64)
    number = np.searchsorted(upper, array, side="left").astype(np.float64)
    return np.where(np.isnan(array), np.nan, number)


def half_up(values: ArrayLike, decimals: int = 0) -> FloatArray:
    """Round half up (towards +inf) to ``decimals`` places, on the decimal value.

    Python's :func:`round` and :func:`numpy.round` round half to even, and a float such as 2.675
    is stored as 2.67499999…; this function snaps the scaled value to 9 decimal places first, so
    the result is what rounding the printed decimal number would give. Intended for
    non-negative values (indices, percentages).

    >>> half_up([0.5, 1.5, 2.5, 40.905, 66.46], 0).tolist()
    [1.0, 2.0, 3.0, 41.0, 66.0]
    >>> half_up([2.675, 1.005, 8.783333, 21.075], 2).tolist()
    [2.68, 1.01, 8.78, 21.08]
    """
    scale = 10.0**decimals
    with np.errstate(over="ignore"):
        scaled = _snap(np.asarray(values, dtype=np.float64) * scale)
    return np.asarray(np.floor(scaled + 0.5) / scale, dtype=np.float64)


def to_steps(values: ArrayLike, step: float) -> FloatArray:
    """Truncate to a multiple of ``step`` and return the number of whole steps (as float).

    Working in whole steps keeps the later comparisons exact (35.4 is 354 steps of 0.1, whereas
    354 * 0.1 is 35.400000000000006). The scaled value is snapped to 9 decimal places first, so
    35.45 → 354 and 0.054 ppm obtained by a unit conversion → 54, not 53.

    >>> to_steps([35.45, 9.05, 9.1, 0.0, 17.41], 0.1).tolist()
    [354.0, 90.0, 91.0, 0.0, 174.0]
    """
    scale = round(1.0 / step)
    with np.errstate(over="ignore"):
        scaled = _snap(np.asarray(values, dtype=np.float64) * scale)
    return np.asarray(np.floor(scaled), dtype=np.float64)


def worst(parts: Sequence[FloatArray]) -> FloatArray:
    """Element-wise maximum over ``parts`` ignoring NaN; NaN where all are NaN or none given.

    The parts must be fresh intermediate arrays: the first one is reused for the result when its
    shape allows (this saves a large allocation on big inputs).

    >>> worst([np.array([1.0, np.nan, np.nan]), np.array([2.0, 3.0, np.nan])]).tolist()
    [2.0, 3.0, nan]
    >>> worst([])
    array(nan)
    """
    if not parts:
        return np.asarray(np.nan, dtype=np.float64)
    first, rest = parts[0], parts[1:]
    shape = np.broadcast_shapes(*(part.shape for part in parts))
    if rest and first.shape == shape and first.ndim > 0 and first.flags.writeable:
        for part in rest:
            np.fmax(first, part, out=first)
        return first
    return np.asarray(functools.reduce(np.fmax, parts), dtype=np.float64)

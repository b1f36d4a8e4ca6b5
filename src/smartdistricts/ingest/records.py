"""What every ingest module produces: columnar readings named in the canonical nomenclature.

Parsers return :class:`Readings` (NumPy columns plus the list of sensors they refer to) and the
:class:`Rejection` of every line or value they could not take, with its line number. Vendor names
and units stop here: past this boundary a reading is ``(sensor, variable id, UTC seconds, value)``.
"""

from __future__ import annotations

import datetime as _dt
import time as _time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from smartdistricts.errors import FieldError
from smartdistricts.nomenclature import VARIABLES

__all__ = [
    "IngestError",
    "LineMap",
    "Readings",
    "Rejection",
    "SensorRef",
    "split_refused",
]

#: Readings stamped further than this in the future are refused [s].
MAX_FUTURE_S = 600
#: Readings before this instant (2000-01-01T00:00:00Z) are refused as clock errors [s].
MIN_TIME_S = 946_684_800


class IngestError(FieldError):
    """Input that cannot be taken, with the field (JSON path or column) that is wrong."""


@dataclass(frozen=True, slots=True)
class SensorRef:
    """A sensor as the source names it; the ingest service resolves it to a stored sensor.

    ``device_uid`` names the physical node (``esp8266-13597771``, or for archive data the
    Sensor.Community location, ``sensor.community:location:3121``); ``sensor_type`` the measuring
    part on it (``SDS011``, ``BME280``); ``external_id`` the sensor's id in another network.
    """

    device_uid: str
    sensor_type: str
    external_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Rejection:
    """One line or value that was not imported, and why."""

    source: str
    line: int | None
    reason: str
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        what = f" [{self.field}]" if self.field else ""
        return f"{where}{what}: {self.reason}"


@dataclass(frozen=True, slots=True)
class LineMap:
    """Where the lines of several files read as one table came from.

    File ``sources[k]`` starts at line ``starts[k]`` of the joined text (its header, dropped
    from all files but the first, counts as the line before).
    """

    sources: tuple[str, ...]
    starts: NDArray[np.int64]

    def locate(self, line: int | None) -> tuple[str, int | None]:
        """(file, line in that file) of a line of the joined text."""
        if line is None or line < 2:
            return self.sources[0], line
        k = int(np.searchsorted(self.starts, line, side="right")) - 1
        return self.sources[k], line - int(self.starts[k]) + 2

    def relocate(self, rejections: list[Rejection]) -> list[Rejection]:
        out = []
        for r in rejections:
            source, line = self.locate(r.line)
            out.append(Rejection(source, line, r.reason, r.field))
        return out


def _i64(values: object = ()) -> NDArray[np.int64]:
    return np.asarray(values, dtype=np.int64)


@dataclass(slots=True)
class Readings:
    """Columnar readings.

    ``sensor`` indexes into ``sensors``; ``line`` is the source line of each reading (0: none).
    """

    sensors: list[SensorRef] = field(default_factory=list)
    sensor: NDArray[np.int64] = field(default_factory=_i64)
    variable: NDArray[np.int64] = field(default_factory=_i64)
    time: NDArray[np.int64] = field(default_factory=_i64)
    value: NDArray[np.float64] = field(default_factory=lambda: np.asarray([], dtype=np.float64))
    line: NDArray[np.int64] = field(default_factory=_i64)

    def __len__(self) -> int:
        return len(self.time)

    def take(self, mask_or_index: NDArray[np.bool_] | NDArray[np.int64]) -> Readings:
        return Readings(
            self.sensors,
            self.sensor[mask_or_index],
            self.variable[mask_or_index],
            self.time[mask_or_index],
            self.value[mask_or_index],
            self.line[mask_or_index],
        )

    @staticmethod
    def concat(parts: list[Readings]) -> Readings:
        """Join readings from several sources, merging their sensor lists."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return Readings()
        sensors: list[SensorRef] = []
        index: dict[SensorRef, int] = {}
        remapped = []
        for part in parts:
            mapping = np.empty(len(part.sensors), dtype=np.int64)
            for i, ref in enumerate(part.sensors):
                if ref not in index:
                    index[ref] = len(sensors)
                    sensors.append(ref)
                mapping[i] = index[ref]
            remapped.append(mapping[part.sensor])
        return Readings(
            sensors,
            np.concatenate(remapped),
            np.concatenate([p.variable for p in parts]),
            np.concatenate([p.time for p in parts]),
            np.concatenate([p.value for p in parts]),
            np.concatenate([p.line for p in parts]),
        )


_HARD_MIN = np.full(max(v.id for v in VARIABLES) + 1, -np.inf)
_HARD_MAX = np.full(max(v.id for v in VARIABLES) + 1, np.inf)
for _v in VARIABLES:
    _HARD_MIN[_v.id] = _v.hard_min
    _HARD_MAX[_v.id] = _v.hard_max
_NAMES = {v.id: v for v in VARIABLES}


def _iso(seconds: int) -> str:
    """``2018-03-07T00:00:26Z`` for messages (the raw number when out of datetime's range)."""
    try:
        return _dt.datetime.fromtimestamp(seconds, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def split_refused(
    readings: Readings, source: str, *, now: float | None = None
) -> tuple[Readings, list[Rejection]]:
    """Separate readings that must be refused (impossible value or time) from the rest.

    Refused: non-finite values, values outside the variable's hard limits (nomenclature.py),
    times before 2000 or more than ten minutes in the future.
    """
    if not len(readings):
        return readings, []
    now = _time.time() if now is None else now
    v = readings.value
    bad_value = (
        ~np.isfinite(v) | (v < _HARD_MIN[readings.variable]) | (v > _HARD_MAX[readings.variable])
    )
    bad_time = (readings.time > now + MAX_FUTURE_S) | (readings.time < MIN_TIME_S)
    bad = bad_value | bad_time
    if not bad.any():
        return readings, []
    rejections = []
    for i in np.flatnonzero(bad).tolist():
        var = _NAMES[int(readings.variable[i])]
        line = int(readings.line[i]) or None
        if bad_time[i]:
            when = "in the future" if readings.time[i] > now else "before 2000"
            reason = f"time {_iso(int(readings.time[i]))} is {when}"
            rejections.append(Rejection(source, line, reason, "time"))
        else:
            reason = (
                f"{var.name} {v[i]:g} {var.unit} is outside the possible range"
                f" {var.hard_min:g}–{var.hard_max:g} {var.unit}"
            )
            rejections.append(Rejection(source, line, reason, var.name))
    return readings.take(~bad), rejections

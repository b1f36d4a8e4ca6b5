"""The batch format for other devices: ``[{"sensor", "time", "variable", "value"}, …]``.

* ``sensor`` — a sensor id (integer) or, for a device authenticating as itself, a sensor type
  name on that device (``"BAM1020"``; created on first use).
* ``time`` — ISO 8601 with a time zone (``2026-11-27T12:00:00Z``, ``…+01:00``) or Unix seconds.
* ``variable`` — a variable name of the nomenclature (``pm2_5``); ``value`` a finite number in
  that variable's unit.

The whole request is validated first; any error refuses all of it (422) and lists the problems.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass
from datetime import datetime

from smartdistricts.ingest.airrohr import load_json
from smartdistricts.ingest.records import MAX_FUTURE_S, MIN_TIME_S, IngestError
from smartdistricts.nomenclature import variable

__all__ = ["MAX_ITEMS", "BatchItem", "parse_batch"]

MAX_ITEMS = 10_000
MAX_ERRORS = 50


@dataclass(frozen=True, slots=True)
class BatchItem:
    sensor: int | str
    time: int
    variable_id: int
    value: float


class BatchErrors(IngestError):
    """Several problems in one batch; ``problems`` lists (field, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        field, message = problems[0]
        n = len(problems) - 1
        more = f" (and {n} more problem{'s' if n > 1 else ''})" if n else ""
        super().__init__(field, message + more)
        self.problems = problems


def _time_of(raw: object, now: float) -> int:
    if isinstance(raw, bool):
        raise ValueError("must be an ISO 8601 time with a zone or Unix seconds")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise ValueError("must be finite")
        seconds = int(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"{text[:40]!r} is not an ISO 8601 time") from None
        if when.tzinfo is None:
            raise ValueError(f"{text[:40]!r} has no time zone; add Z or an offset like +01:00")
        seconds = int(when.timestamp())
    else:
        raise ValueError("must be an ISO 8601 time with a zone or Unix seconds")
    if seconds > now + MAX_FUTURE_S:
        raise ValueError("is in the future")
    if seconds < MIN_TIME_S:
        raise ValueError("is before 2000")
    return seconds


def parse_batch(body: bytes, *, now: float | None = None) -> list[BatchItem]:
    """Validate a batch body; raises :class:`IngestError` (``BatchErrors`` for item problems).

    >>> parse_batch(b'[{"sensor": 3, "time": "2026-01-01T00:00:00Z",'
    ...             b' "variable": "pm10", "value": 12.5}]', now=1.8e9)
    [BatchItem(sensor=3, time=1767225600, variable_id=3, value=12.5)]
    """
    now = _time.time() if now is None else now
    doc = load_json(body)
    if not isinstance(doc, list):
        raise IngestError("body", "must be a JSON array of {sensor, time, variable, value}")
    if not doc:
        raise IngestError("body", "is an empty array")
    if len(doc) > MAX_ITEMS:
        raise IngestError("body", f"has more than {MAX_ITEMS} items; split it", status=413)
    items: list[BatchItem] = []
    problems: list[tuple[str, str]] = []
    seen: set[tuple[int | str, int, int]] = set()
    for i, raw in enumerate(doc):
        if len(problems) >= MAX_ERRORS:
            break
        where = f"[{i}]"
        if not isinstance(raw, dict):
            problems.append((where, "must be an object"))
            continue
        missing = [k for k in ("sensor", "time", "variable", "value") if k not in raw]
        if missing:
            problems.append((f"{where}.{missing[0]}", "is missing"))
            continue
        sensor = raw["sensor"]
        if isinstance(sensor, bool) or not (
            (isinstance(sensor, int) and sensor > 0)
            or (isinstance(sensor, str) and 0 < len(sensor.strip()) <= 64)
        ):
            problems.append((f"{where}.sensor", "must be a sensor id or a sensor type name"))
            continue
        name = raw["variable"]
        try:
            var = variable(name) if isinstance(name, str) else None
        except KeyError:
            var = None
        if var is None:
            problems.append((f"{where}.variable", f"{str(name)[:40]!r} is not a known variable"))
            continue
        value = raw["value"]
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append((f"{where}.value", "must be a number"))
            continue
        value = float(value)
        if var.refuses(value):
            problems.append(
                (
                    f"{where}.value",
                    f"{var.name} {value:g} {var.unit} is outside the possible range"
                    f" {var.hard_min:g}–{var.hard_max:g} {var.unit}",
                )
            )
            continue
        try:
            seconds = _time_of(raw["time"], now)
        except ValueError as exc:
            problems.append((f"{where}.time", str(exc)))
            continue
        key = (sensor.strip() if isinstance(sensor, str) else sensor, seconds, var.id)
        if key in seen:
            problems.append((where, "repeats an earlier item (same sensor, time and variable)"))
            continue
        seen.add(key)
        items.append(BatchItem(key[0], seconds, var.id, value))
    if problems:
        raise BatchErrors(problems)
    return items

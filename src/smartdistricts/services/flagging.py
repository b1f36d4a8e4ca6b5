"""Quality flags computed against stored data: pairing PM readings with the node's humidity.

Humidity and particulate matter come from different sensors of one node (an SDS011 and a DHT22,
say), often in different files or pushes. A PM reading is paired with the node's relative
humidity reading nearest in time within ``humidity_pairing_s``; when humidity arrives after the
PM readings, the stored PM readings are re-flagged. Raw values never change, only flags.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from smartdistricts.calc.quality import humidity_flags, nearest_within
from smartdistricts.config import Settings
from smartdistricts.nomenclature import PARTICULATE, Flag, variable
from smartdistricts.store.base import Tx

__all__ = ["HUMIDITY_BITS", "PM_IDS", "RH_ID", "device_humidity", "reflag_humidity"]

PM_IDS = np.array(sorted(variable(name).id for name in PARTICULATE), dtype=np.int64)
RH_ID = variable("relative_humidity").id
HUMIDITY_BITS = int(Flag.HUMID | Flag.FOG)
_PM_LIST = ",".join(str(i) for i in PM_IDS.tolist())


def device_humidity(
    tx: Tx, device_id: int, start: int, end: int
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """The node's stored humidity readings in [start, end], sorted by time.

    When a node has two humidity sensors (a DHT22 and a BME280), both are used: the pairing
    takes the nearest in time.
    """
    rows = tx.query(
        "SELECT m.time, m.value FROM measurements m JOIN sensors s ON s.id = m.sensor_id"
        " WHERE s.device_id = ? AND m.variable_id = ? AND m.time >= ? AND m.time <= ?"
        f" AND m.flags & {int(Flag.OUT_OF_RANGE)} = 0 ORDER BY m.time",
        (device_id, RH_ID, start, end),
    )
    if not rows:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    arr = np.asarray(rows, dtype=np.float64)
    return arr[:, 0].astype(np.int64), arr[:, 1]


def humidity_in_spans(
    tx: Tx, spans: list[tuple[int, int, int]]
) -> dict[int, tuple[NDArray[np.int64], NDArray[np.float64]]]:
    """Stored humidity readings of several nodes, each in its (device, start, end) span.

    One statement for many spans (``UNION ALL`` of indexed range scans) instead of a query
    per span: a bulk import asks for the edges of every node's humidity in each batch.
    """
    found: dict[int, list[tuple[int, float]]] = {}
    part = (
        "SELECT s.device_id, m.time, m.value FROM measurements m"
        " JOIN sensors s ON s.id = m.sensor_id WHERE s.device_id = ? AND m.variable_id = ?"
        f" AND m.time >= ? AND m.time <= ? AND m.flags & {int(Flag.OUT_OF_RANGE)} = 0"
    )
    for start in range(0, len(spans), 200):
        chunk = spans[start : start + 200]
        params: list[int] = []
        for device_id, lo, hi in chunk:
            params += [device_id, RH_ID, lo, hi]
        for device_id, t, value in tx.query(" UNION ALL ".join([part] * len(chunk)), params):
            found.setdefault(int(device_id), []).append((int(t), float(value)))
    out = {}
    for device_id, rows in found.items():
        rows.sort()
        out[device_id] = (
            np.fromiter((t for t, _v in rows), np.int64, len(rows)),
            np.fromiter((v for _t, v in rows), np.float64, len(rows)),
        )
    return out


def pair_humidity(
    times: NDArray[np.int64],
    rh_times: NDArray[np.int64],
    rh_values: NDArray[np.float64],
    settings: Settings,
) -> NDArray[np.int64]:
    """Humidity flag bits for PM readings at ``times`` given the node's humidity series.

    >>> s = Settings()
    >>> pair_humidity(np.array([100, 1000]), np.array([90]), np.array([80.0]), s).tolist()
    [4, 0]
    >>> pair_humidity(np.array([100]), np.array([], dtype=np.int64), np.array([]), s).tolist()
    [0]
    """
    if len(rh_times) == 0:  # a node without humidity readings: nothing to flag
        return np.zeros(len(times), dtype=np.int64)
    order = np.argsort(rh_times, kind="stable")
    idx = nearest_within(times, rh_times[order], settings.humidity_pairing_s)
    rh = np.where(idx >= 0, rh_values[order][np.maximum(idx, 0)], np.nan)
    return humidity_flags(rh, humid=settings.humid_threshold, fog=settings.fog_threshold)


def reflag_humidity(
    tx: Tx, device_id: int, start: int, end: int, settings: Settings
) -> list[tuple[int, int, int]]:
    """Recompute the humidity bits of a node's stored PM readings in [start, end].

    Returns the (sensor, variable, time) of readings whose flags changed, so that their hours
    can be recomputed.
    """
    rows = tx.query(
        "SELECT m.sensor_id, m.variable_id, m.time, m.flags FROM measurements m"
        " JOIN sensors s ON s.id = m.sensor_id"
        f" WHERE s.device_id = ? AND m.variable_id IN ({_PM_LIST}) AND m.time >= ? AND m.time <= ?",
        (device_id, start, end),
    )
    if not rows:
        return []
    arr = np.asarray(rows, dtype=np.int64)
    w = settings.humidity_pairing_s
    # Only humidity that can pair with these readings matters.
    rh_t, rh_v = device_humidity(tx, device_id, int(arr[:, 2].min()) - w, int(arr[:, 2].max()) + w)
    new_bits = pair_humidity(arr[:, 2], rh_t, rh_v, settings)
    old = arr[:, 3]
    new = (old & ~HUMIDITY_BITS) | new_bits
    changed = np.flatnonzero(new != old)
    if not len(changed):
        return []
    tx.executemany(
        "UPDATE measurements SET flags = ? WHERE sensor_id = ? AND variable_id = ? AND time = ?",
        [(int(new[i]), int(arr[i, 0]), int(arr[i, 1]), int(arr[i, 2])) for i in changed.tolist()],
    )
    return [(int(arr[i, 0]), int(arr[i, 1]), int(arr[i, 2])) for i in changed.tolist()]

"""Resolving the sensors a source names to stored sensor ids, creating what is missing.

Runs on the writer (inside its transactions). The cache is only filled after a commit, so a
rolled-back transaction never leaves ids behind that do not exist.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from smartdistricts.ingest.records import SensorRef
from smartdistricts.services.registry import district_for_point, slugify
from smartdistricts.store.base import Tx

__all__ = ["SensorDirectory", "estimate_interval"]

DEFAULT_INTERVAL_S = 145.0  # airrohr default send interval (firmware ``interval`` 145 000 ms)


def estimate_interval(times: NDArray[np.int64]) -> float:
    """Typical spacing of a sensor's readings [s] (median of positive gaps)."""
    if len(times) < 3:
        return DEFAULT_INTERVAL_S
    gaps = np.diff(np.sort(times))
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if len(gaps) else DEFAULT_INTERVAL_S


@dataclass
class SensorDirectory:
    """(device id, sensor type) → sensor id, and sensor id → expected interval."""

    ids: dict[tuple[int, str], int] = field(default_factory=dict)
    external: dict[str, int] = field(default_factory=dict)
    device_of: dict[int, int] = field(default_factory=dict)
    devices: dict[str, int] = field(default_factory=dict)

    def sensor_id(
        self,
        tx: Tx,
        device_id: int,
        sensor_type: str,
        interval_s: float | Callable[[], float] | None = None,
    ) -> int:
        """The sensor of this type on this device, created if new."""
        key = (device_id, sensor_type)
        found = self.ids.get(key)
        if found is not None:
            return found
        row = tx.one(
            "SELECT id FROM sensors WHERE device_id = ? AND type = ?", (device_id, sensor_type)
        )
        if row is None:
            interval = interval_s() if callable(interval_s) else interval_s
            sensor_id = tx.insert_id(
                "INSERT INTO sensors (device_id, type, interval_s) VALUES (?, ?, ?) RETURNING id",
                (device_id, sensor_type, interval or DEFAULT_INTERVAL_S),
            )
        else:
            sensor_id = int(row[0])
        tx.on_commit(lambda: self._remember(key, sensor_id))
        return sensor_id

    def _remember(self, key: tuple[int, str], sensor_id: int) -> None:
        self.ids[key] = sensor_id
        self.device_of[sensor_id] = key[0]

    def resolve(
        self,
        tx: Tx,
        refs: list[SensorRef],
        intervals: Callable[[int], float],
        *,
        source: str,
    ) -> NDArray[np.int64]:
        """Stored sensor ids for ``refs`` (devices, sites and sensors created as needed).

        ``intervals(i)`` gives the expected spacing of ``refs[i]``'s readings; it is only
        called for sensors that have to be created.
        """
        out = np.empty(len(refs), dtype=np.int64)
        for i, ref in enumerate(refs):
            if ref.external_id:
                sid = self.external.get(ref.external_id)
                if sid is None:
                    row = tx.one("SELECT id FROM sensors WHERE external_id = ?", (ref.external_id,))
                    if row is not None:
                        sid = int(row[0])
                        tx.on_commit(
                            functools.partial(self.external.__setitem__, ref.external_id, sid)
                        )
                if sid is not None:
                    out[i] = sid
                    continue
            device_id = self.device_id(tx, ref, source=source)
            sid = self.sensor_id(tx, device_id, ref.sensor_type, functools.partial(intervals, i))
            if ref.external_id:
                tx.execute(
                    "UPDATE sensors SET external_id = ? WHERE id = ? AND external_id IS NULL",
                    (ref.external_id, sid),
                )
            out[i] = sid
        return out

    def device_id(self, tx: Tx, ref: SensorRef, *, source: str) -> int:
        """The device a reference names; imported devices are created active, with a site
        when the source gives a position (Sensor.Community locations)."""
        found = self.devices.get(ref.device_uid)
        if found is not None:
            return found
        row = tx.one("SELECT id FROM devices WHERE uid = ?", (ref.device_uid,))
        if row is not None:
            device_id = int(row[0])
        else:
            site_id = self._site_for(tx, ref, source=source)
            device_id = tx.insert_id(
                "INSERT INTO devices (uid, kind, status, site_id, name)"
                " VALUES (?, 'import', 'active', ?, ?) RETURNING id",
                (ref.device_uid, site_id, f"imported from {source}"),
            )
        uid = ref.device_uid
        tx.on_commit(lambda: self.devices.__setitem__(uid, device_id))
        return device_id

    @staticmethod
    def _site_for(tx: Tx, ref: SensorRef, *, source: str) -> int | None:
        if ref.latitude is None or ref.longitude is None or not ref.location:
            return None
        network = "sensor.community"
        row = tx.one(
            "SELECT id FROM sites WHERE source = ? AND external_id = ?", (network, ref.location)
        )
        if row is not None:
            return int(row[0])
        slug = slugify(f"sc-{ref.location}")
        if tx.one("SELECT 1 FROM sites WHERE slug = ?", (slug,)):
            slug = f"{slug}-{source}"
        return tx.insert_id(
            "INSERT INTO sites (slug, name, latitude, longitude, district_id, source, external_id,"
            " approximate) VALUES (?, ?, ?, ?, ?, ?, ?, 1) RETURNING id",
            (
                slug,
                f"Sensor.Community {ref.location}",
                ref.latitude,
                ref.longitude,
                district_for_point(tx, ref.latitude, ref.longitude),
                network,
                ref.location,
            ),
        )

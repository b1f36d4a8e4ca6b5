"""Streaming ingest: device pushes, MQTT messages and batch-API calls.

A request becomes a :class:`StreamBatch` (one device's readings) handed to the writer as a
:class:`StreamWrite` job. Jobs that queue up together are stored with one statement per table, in
one transaction; the caller's future resolves after the commit, so an HTTP 2xx or an MQTT
acknowledgement is only sent for durable data.

Per reading the writer computes the quality flags (implausible value, stuck series, humid air —
pairing PM with the node's humidity in the same push, or the node's latest humidity reading) and
updates the latest values, the hourly aggregates and the queue of days to roll up.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from smartdistricts.config import Settings
from smartdistricts.ingest.airrohr import AirrohrPush
from smartdistricts.nomenclature import PARTICULATE, VARIABLES, Flag
from smartdistricts.services.alert_monitor import AlertMonitor
from smartdistricts.services.flagging import RH_ID
from smartdistricts.services.registry import audit
from smartdistricts.services.rollup import (
    add_to_hourly,
    hour_ranges,
    hourly_increments,
    local_day,
    recompute_hourly,
    roll_up_pending,
)
from smartdistricts.services.sensors import SensorDirectory
from smartdistricts.store.base import Store, Tx
from smartdistricts.store.sources import source_id
from smartdistricts.store.values import execute_values

__all__ = ["IngestService", "StreamBatch", "StreamResult", "StreamWrite"]

#: How often the writer recomputes the days queued by new readings [s]. Readings queue their
#: day when their series enters a new hour, so a day is recomputed about once an hour per series.
ROLLUP_INTERVAL_S = 10.0
#: Days recomputed per writer pause: small, so that pushes never wait long behind a rollup.
ROLLUP_CHUNK = 250

_PM = frozenset(v.id for v in VARIABLES if v.name in PARTICULATE)
_HUMID = int(Flag.HUMID)
_FOG = int(Flag.FOG)  # same rule as calc.quality.humidity_flags, scalar (hot path)
_SOFT = {v.id: (v.soft_min, v.soft_max) for v in VARIABLES}

_INSERT = (
    "INSERT INTO measurements (sensor_id, variable_id, time, value, flags, source_id)"
    " VALUES {values} ON CONFLICT DO NOTHING"
)
_DEVICE_STATUS = """
WITH v (id, seen, address, version, signal, interval_s, hash, pushed) AS (VALUES {values})
UPDATE devices SET
  last_seen_at = CAST(v.seen AS BIGINT),
  last_address = coalesce(CAST(v.address AS TEXT), devices.last_address),
  software_version = coalesce(CAST(v.version AS TEXT), devices.software_version),
  last_signal = coalesce(CAST(v.signal AS DOUBLE PRECISION), devices.last_signal),
  send_interval_s = coalesce(CAST(v.interval_s AS DOUBLE PRECISION), devices.send_interval_s),
  last_push_hash = coalesce(CAST(v.hash AS TEXT), devices.last_push_hash),
  last_push_at = coalesce(CAST(v.pushed AS BIGINT), devices.last_push_at)
FROM v WHERE devices.id = CAST(v.id AS BIGINT)
"""
#: Newest reading and run state per series; an older reading never replaces a newer one.
LATEST_UPSERT = """
INSERT INTO latest (sensor_id, variable_id, time, value, flags, run_start, run_count)
VALUES {values}
ON CONFLICT (sensor_id, variable_id) DO UPDATE SET
  time = excluded.time, value = excluded.value, flags = excluded.flags,
  run_start = excluded.run_start, run_count = excluded.run_count
WHERE excluded.time >= latest.time
"""


@dataclass(slots=True)
class StreamBatch:
    """One request's readings from one device: (sensor type, variable id, time, value)."""

    device_uid: str
    readings: list[tuple[str, int, int, float]]
    source: str
    received_at: int
    software_version: str | None = None
    signal: float | None = None
    interval_s: float | None = None
    body_hash: str | None = None
    remote_addr: str | None = None
    #: The times are the server's receipt stamps (pushes, MQTT), not the device's own: a stamp
    #: not after the series' newest one (two pushes in one second) moves to the next second, so
    #: an acknowledged push is never lost to a key collision.
    stamped: bool = False
    #: Create the device in quarantine if it does not exist (open registration).
    register: bool = False
    register_secret_hash: str | None = None


@dataclass(slots=True)
class StreamResult:
    outcome: Literal["stored", "duplicate", "unknown_device", "disabled"]
    stored: int = 0
    quarantined: bool = False
    device_id: int | None = None


#: A device as the writer caches it: (id, status, last body hash, time of that push).
_Device = tuple[int, str, str | None, int | None]


#: The newest reading of a series and its run of equal values:
#: (time, value, flags, run start, run length). Plain tuples of numbers are not tracked by the
#: garbage collector, so a cache of a million of them does not slow collections down.
_Run = tuple[int, float, int, int, int]


def batch_from_push(
    push: AirrohrPush,
    body: bytes,
    *,
    source: str,
    address: str | None = None,
    register: bool = False,
    secret_hash: str | None = None,
) -> StreamBatch:
    """A validated airrohr push (HTTP or MQTT) as readings stamped with the receipt time."""
    now = int(time.time())
    interval = push.status.get("interval")
    return StreamBatch(
        device_uid=push.device_uid,
        readings=[(stype, var, now, value) for stype, var, value in push.values],
        source=source,
        received_at=now,
        software_version=push.software_version,
        signal=push.status.get("signal"),
        interval_s=interval / 1000.0 if interval and interval > 0 else None,
        body_hash=hashlib.blake2b(body, digest_size=16).hexdigest(),
        remote_addr=address,
        register=register,
        register_secret_hash=secret_hash,
        stamped=True,
    )


class StreamWrite:
    """Writer job for one :class:`StreamBatch`; neighbours are written together."""

    __slots__ = ("batch", "service")

    def __init__(self, service: IngestService, batch: StreamBatch) -> None:
        self.service = service
        self.batch = batch

    def __call__(self, tx: Tx) -> StreamResult:
        return self.service.write_stream(tx, [self.batch])[0]

    @classmethod
    def run_batch(cls, tx: Tx, jobs: list[StreamWrite]) -> list[StreamResult]:
        return jobs[0].service.write_stream(tx, [job.batch for job in jobs])


@dataclass
class IngestService:
    """Writes readings; its caches belong to the writer thread and change only after commits."""

    store: Store
    settings: Settings
    sensors: SensorDirectory = field(default_factory=SensorDirectory)

    def __post_init__(self) -> None:
        self._devices: dict[str, _Device] = {}
        self._runs: dict[tuple[int, int], _Run] = {}
        self._loaded_sensors: set[int] = set()
        self._humidity: dict[int, tuple[int, float]] = {}
        self._registry_version: object = None
        self.tz = self.settings.tz
        self.store.writer.add_idle_task(self._roll_up, ROLLUP_INTERVAL_S)
        #: Called on the writer thread after each commit with the ids of the sensors that got
        #: readings; must be quick (the smog-alert monitor only queues an evaluation job).
        self.on_stored: list[Callable[[list[int], int], None]] = []
        if self.settings.alerts_evaluate:
            self.on_stored.append(AlertMonitor(self.store).sensors_stored)

    # -- public ------------------------------------------------------------------------------
    async def submit(self, batch: StreamBatch) -> StreamResult:
        """Store a batch; returns once it is durable."""
        return await self.store.awrite(StreamWrite(self, batch))

    def write(self, batch: StreamBatch) -> StreamResult:
        return self.store.write(StreamWrite(self, batch))

    def _roll_up(self, tx: Tx) -> bool:
        return roll_up_pending(tx, self.tz, limit=ROLLUP_CHUNK)

    def notify_stored(self, sensor_ids: list[int], oldest: int) -> None:
        """Tell the ``on_stored`` hooks which sensors got readings and the oldest reading's
        time [Unix s] (after a commit)."""
        for hook in self.on_stored:
            hook(sensor_ids, oldest)

    # -- writer side -------------------------------------------------------------------------
    def _check_registry(self, tx: Tx) -> None:
        """Forget cached devices when the registry changed (any change writes audit_log)."""
        row = tx.one("SELECT max(id) FROM audit_log")
        version = None if row is None else row[0]
        if version != self._registry_version:
            self._devices.clear()
            self._registry_version = version

    def _device(self, tx: Tx, batch: StreamBatch) -> _Device | None:
        device = self._devices.get(batch.device_uid)
        if device is None:
            row = tx.one(
                "SELECT id, status, last_push_hash, last_push_at FROM devices WHERE uid = ?",
                (batch.device_uid,),
            )
            if row is None and batch.register:
                device_id = tx.insert_id(
                    "INSERT INTO devices (uid, kind, status, secret_hash, last_address)"
                    " VALUES (?, 'airrohr', 'quarantine', ?, ?) RETURNING id",
                    (batch.device_uid, batch.register_secret_hash, batch.remote_addr),
                )
                audit(
                    tx,
                    "push",
                    "device.register",
                    batch.device_uid,
                    {"address": batch.remote_addr, "status": "quarantine"},
                )
                row = (device_id, "quarantine", None, None)
            if row is None:
                return None
            device = (int(row[0]), str(row[1]), row[2], row[3])
        return device

    def _run(self, tx: Tx, sensor_id: int, variable_id: int) -> _Run | None:
        if sensor_id not in self._loaded_sensors:
            for var, t, value, flags, start, count in tx.query(
                "SELECT variable_id, time, value, flags, run_start, run_count FROM latest"
                " WHERE sensor_id = ?",
                (sensor_id,),
            ):
                self._runs.setdefault(
                    (sensor_id, int(var)),
                    (int(t), float(value), int(flags), int(start), int(count)),
                )
            self._loaded_sensors.add(sensor_id)
        return self._runs.get((sensor_id, variable_id))

    def write_stream(self, tx: Tx, batches: list[StreamBatch]) -> list[StreamResult]:
        settings = self.settings
        self._check_registry(tx)
        results: list[StreamResult] = []
        rows: list[tuple[int, int, int, float, int, int]] = []
        runs: dict[tuple[int, int], _Run] = {}
        devices: dict[str, _Device] = {}
        pushed: dict[str, tuple[str, int]] = {}  # body hashes seen in this transaction
        humidity: dict[int, tuple[int, float]] = {}
        device_rows: dict[int, tuple[object, ...]] = {}
        days: set[tuple[int, int, int]] = set()
        tz = self.tz
        for batch in batches:
            device = devices.get(batch.device_uid) or self._device(tx, batch)
            if device is None:
                results.append(StreamResult("unknown_device"))
                continue
            if device[1] == "disabled":
                results.append(StreamResult("disabled", device_id=device[0]))
                continue
            last_hash, last_at = pushed.get(batch.device_uid, (device[2], device[3]))
            if (
                batch.body_hash is not None
                and batch.body_hash == last_hash
                and last_at is not None
                and batch.received_at - last_at <= settings.push_dedup_window_s
            ):
                results.append(StreamResult("duplicate", device_id=device[0]))
                continue
            devices[batch.device_uid] = device
            if batch.body_hash is not None:
                pushed[batch.device_uid] = (batch.body_hash, batch.received_at)
            src = source_id(batch.source)
            pushed_rh = [v for _s, var, _t, v in batch.readings if var == RH_ID]
            rh_time = batch.received_at
            rh_value: float | None = None
            if pushed_rh:
                rh_value = sorted(pushed_rh)[len(pushed_rh) // 2]  # a node has 1–2 RH sensors
                humidity[device[0]] = (rh_time, rh_value)
            else:
                known = humidity.get(device[0]) or self._humidity.get(device[0])
                rh_value = (
                    known[1]
                    if known is not None
                    and abs(known[0] - batch.received_at) <= settings.humidity_pairing_s
                    else None
                )
            for sensor_type, var, t, value in batch.readings:
                sid = self.sensors.sensor_id(tx, device[0], sensor_type, batch.interval_s)
                low, high = _SOFT[var]
                flags = 0 if low <= value < high else int(Flag.OUT_OF_RANGE)
                key = (sid, var)
                prev = runs.get(key) or self._run(tx, sid, var)
                if batch.stamped and prev is not None and t <= prev[0]:
                    t = prev[0] + 1
                if prev is None or t > prev[0]:
                    if prev is not None and value == prev[1]:
                        start, count = prev[3], prev[4] + 1
                    else:
                        start, count = t, 1
                    if (
                        count >= settings.stuck_min_count
                        and t - start >= settings.stuck_min_duration_s
                    ):
                        flags |= int(Flag.STUCK)
                    newer = True
                else:
                    start, count, newer = prev[3], prev[4], False
                if var in _PM and rh_value is not None:
                    if rh_value >= settings.humid_threshold:
                        flags |= _HUMID
                    if rh_value >= settings.fog_threshold:
                        flags |= _FOG
                rows.append((sid, var, t, value, flags, src))
                if prev is None or t // 3600 != prev[0] // 3600:
                    # A new hour (or a late reading): the day's mean changes. Within an hour
                    # only the hourly row moves, so days are queued about once an hour.
                    days.add((sid, var, local_day(t // 3600, tz)))
                    if prev is not None:
                        days.add((sid, var, local_day(prev[0] // 3600, tz)))
                if newer:
                    runs[key] = (t, value, flags, start, count)
            quarantined = device[1] == "quarantine"
            results.append(
                StreamResult("stored", len(batch.readings), quarantined, device_id=device[0])
            )
            device_rows[device[0]] = (
                device[0],
                batch.received_at,
                batch.remote_addr,
                batch.software_version,
                batch.signal,
                batch.interval_s,
                batch.body_hash,
                batch.received_at if batch.body_hash else None,
            )
        if rows:
            self._store_rows(tx, rows, runs, days)
        if device_rows:
            execute_values(tx, _DEVICE_STATUS, list(device_rows.values()))
            intervals = [
                (b.interval_s, devices[b.device_uid][0])
                for b in batches
                if b.interval_s and b.device_uid in devices
            ]
            if intervals:
                tx.executemany(
                    "UPDATE sensors SET interval_s = ? WHERE device_id = ? AND interval_s <> ?",
                    [(i, d, i) for i, d in intervals],
                )

        stored_sensors = list({row[0] for row in rows})
        oldest = min(row[2] for row in rows) if rows else 0

        def commit() -> None:
            if stored_sensors:
                self.notify_stored(stored_sensors, oldest)
            self._runs.update(runs)
            self._humidity.update(humidity)
            for uid, device in devices.items():
                if uid in pushed:
                    device = (device[0], device[1], *pushed[uid])
                self._devices[uid] = device

        tx.on_commit(commit)
        return results

    def _store_rows(
        self,
        tx: Tx,
        rows: list[tuple[int, int, int, float, int, int]],
        runs: dict[tuple[int, int], _Run],
        days: set[tuple[int, int, int]],
    ) -> None:
        inserted = execute_values(tx, _INSERT, rows)
        arr = np.asarray([r[:3] for r in rows], dtype=np.int64)
        sensor, variable, times = arr[:, 0], arr[:, 1], arr[:, 2]
        if inserted == len(rows):
            values = np.asarray([r[3] for r in rows], dtype=np.float64)
            flags = np.asarray([r[4] for r in rows], dtype=np.int64)
            add_to_hourly(tx, hourly_increments(sensor, variable, times, values, flags))
        else:  # some were duplicates: recompute the touched hours from what is stored
            recompute_hourly(tx, hour_ranges(sensor, variable, times))
        if runs:
            execute_values(tx, LATEST_UPSERT, [(s, v, *run) for (s, v), run in runs.items()])
        execute_values(
            tx,
            "INSERT INTO rollup_pending (sensor_id, variable_id, day) VALUES {values}"
            " ON CONFLICT DO NOTHING",
            list(days),
        )

"""The hook after ingest commits: which sites got readings, and one queued evaluation.

Readings arrive on the writer thread (pushes, MQTT, batch API, imports); after each commit the
ingest service tells the :class:`AlertMonitor` which sensors got readings. The monitor only
records their ids and, when no evaluation is pending, submits one :class:`AlertEvaluation` job
to the same writer, so the alert rules run after the readings are durable and a failing rule
can never roll readings back (see :mod:`smartdistricts.services.alerts`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from smartdistricts.services.alerts import EvaluationResult, HourlyCache, evaluate
from smartdistricts.store.base import Store, Tx

__all__ = ["AlertEvaluation", "AlertMonitor"]

log = logging.getLogger(__name__)


class AlertEvaluation:
    """Writer job: evaluate the rules for the sites behind the sensors the monitor collected."""

    __slots__ = ("monitor",)

    def __init__(self, monitor: AlertMonitor) -> None:
        self.monitor = monitor

    def __call__(self, tx: Tx) -> EvaluationResult:
        sensors, reset = self.monitor.take()
        if not sensors:
            return EvaluationResult()
        cache = self.monitor.cache
        if reset:
            cache.forget()
        marks = ", ".join("?" * len(sensors))
        sites = [
            int(r[0])
            for r in tx.query(
                "SELECT DISTINCT d.site_id FROM sensors s JOIN devices d ON d.id = s.device_id"
                f" WHERE s.id IN ({marks}) AND d.site_id IS NOT NULL",
                sorted(sensors),
            )
        ]
        try:
            return evaluate(tx, sites, cache=cache)
        except Exception:
            cache.forget()
            self.monitor.put_back(sensors)
            raise


class AlertMonitor:
    """Collects the sensors whose readings were committed and queues one evaluation job.

    ``sensors_stored`` is called from the writer's commit callbacks (writer thread); it only
    records ids and, when no evaluation is pending, submits one :class:`AlertEvaluation`.
    Readings older than the current hour (an import, a late batch) make the next evaluation
    re-read the hourly data instead of using its :class:`HourlyCache`.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.cache = HourlyCache()
        self._pending: set[int] = set()
        self._reset = False
        self._queued = False
        self._lock = threading.Lock()
        self.evaluations = 0

    def sensors_stored(self, sensor_ids: Iterable[int], oldest: int | None = None) -> None:
        with self._lock:
            self._pending.update(sensor_ids)
            if oldest is not None and oldest < int(time.time()) // 3600 * 3600:
                self._reset = True
            if self._queued or not self._pending:
                return
            self._queued = True
        try:
            self.store.submit(AlertEvaluation(self))
        except Exception:  # writer stopping or overloaded: the next batch tries again
            with self._lock:
                self._queued = False
            log.warning("alert evaluation not queued", exc_info=True)

    def take(self) -> tuple[set[int], bool]:
        with self._lock:
            taken, self._pending = self._pending, set()
            reset, self._reset = self._reset, False
            self._queued = False
            self.evaluations += 1
        return taken, reset

    def put_back(self, sensors: set[int]) -> None:
        with self._lock:
            self._pending.update(sensors)

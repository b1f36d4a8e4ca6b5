"""``smartdistricts worker``: one long-running process running the scheduled jobs.

Jobs (:class:`~smartdistricts.services.jobs.Job`) are the importers (Airly, GIOŚ,
Sensor.Community) and the rollup of queued daily values, plus any job registered with
:func:`register_job`. The worker runs each job when it is due; a job says when it wants to run
next (``JobResult.next_run``). A job that raises is logged and retried with exponential back-off
(:data:`BACKOFF_MIN_S` doubling up to :data:`BACKOFF_MAX_S`); the others carry on.

State lives in the database, so a restarted worker continues where the last one stopped:

* ``worker_jobs`` — per job: last run, last success, next run, what the last round stored, the
  last error and the failures in a row. On start the worker honours the stored next runs (an
  importer spacing its calls over the day keeps its rhythm across restarts).
* ``worker_runs`` — a log of rounds (the newest :data:`RUNS_KEPT` per job are kept).
* ``worker_heartbeat`` — refreshed every :data:`HEARTBEAT_S` seconds by a thread of the
  process, also during a round, with the job running and since when; ``smartdistricts worker
  status`` reports a worker whose beat is older than the stale limit as down (non-zero exit
  code, for a monitoring check) and a round running for long as such.

Stopping: SIGTERM or SIGINT (Ctrl-C) lets the running round finish (importers store a round's
readings and cursors in one transaction, so even a ``kill -9`` loses nothing, but a clean stop
does not even repeat a call), records the stop and exits with code 0.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from smartdistricts.config import Settings
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.jobs import Job, JobResult
from smartdistricts.services.rollup import roll_up_pending
from smartdistricts.store.base import Store, Tx

__all__ = [
    "BACKOFF_MAX_S",
    "BACKOFF_MIN_S",
    "HEARTBEAT_S",
    "Heartbeat",
    "JobStatus",
    "RollupJob",
    "Worker",
    "WorkerStatus",
    "available_jobs",
    "build_jobs",
    "register_job",
    "stop_on_signals",
    "worker_status",
]

log = logging.getLogger(__name__)

#: Seconds between heartbeats while the worker waits for the next job.
HEARTBEAT_S = 10.0
#: ``worker status`` calls a worker down when its last beat is older than this [s].
STALE_AFTER_S = 120.0
#: First retry delay after a failed round, doubled per failure in a row [s].
BACKOFF_MIN_S = 60.0
#: Longest retry delay after failures [s].
BACKOFF_MAX_S = 3600.0
#: Rounds kept per job in ``worker_runs``.
RUNS_KEPT = 500

#: Builds a job from the ingest service and the settings; None when it is not configured.
JobFactory = Callable[[IngestService, Settings], Job | None]
_FACTORIES: dict[str, JobFactory] = {}


def register_job(name: str, factory: JobFactory) -> None:
    """Add a job the worker runs (``name`` is what ``--job`` and ``worker status`` show)."""
    _FACTORIES[name] = factory


class RollupJob:
    """Recomputes the daily values queued by new readings (``rollup_pending``).

    The ingest service's writer also does this when idle; as a job it is visible in
    ``worker status`` and catches up after an import in one go.
    """

    name = "rollup"

    def __init__(self, service: IngestService, interval_s: float) -> None:
        self.service = service
        self.interval_s = interval_s

    def run(self, now: float) -> JobResult:
        store, tz = self.service.store, self.service.tz
        pending = store.read(lambda tx: tx.one("SELECT count(*) FROM rollup_pending"))
        while store.write(lambda tx: roll_up_pending(tx, tz, limit=5000)):
            pass
        days = 0 if pending is None else int(pending[0])
        return JobResult(now + self.interval_s, days, message=f"{days} daily value(s) recomputed")


def _airly(service: IngestService, settings: Settings) -> Job | None:
    from smartdistricts.services.airly_import import AirlyImporter

    return AirlyImporter.from_settings(service, settings)


def _gios(service: IngestService, settings: Settings) -> Job | None:
    from smartdistricts.services.gios_import import GiosImporter

    return GiosImporter(service, settings=settings)


def _sensor_community(service: IngestService, settings: Settings) -> Job | None:
    from smartdistricts.services.sensor_community_import import SensorCommunityImporter

    return SensorCommunityImporter(service, settings=settings)


def _rollup(service: IngestService, settings: Settings) -> Job | None:
    return RollupJob(service, settings.worker_rollup_s)


def _alerts(service: IngestService, settings: Settings) -> Job | None:
    from smartdistricts.services.notify import NotifyJob

    return NotifyJob(service.store, settings)


register_job("airly", _airly)
register_job("gios", _gios)
register_job("sensor-community", _sensor_community)
register_job("rollup", _rollup)
register_job("alerts", _alerts)


def available_jobs() -> list[str]:
    return list(_FACTORIES)


def build_jobs(
    service: IngestService, settings: Settings, names: list[str] | None = None
) -> list[Job]:
    """The jobs named (default: ``worker_jobs``, or every registered job when empty) that the
    settings configure; ValueError for an unknown name."""
    wanted = names or [n.strip() for n in settings.worker_jobs.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in _FACTORIES]
    if unknown:
        raise ValueError(
            f"unknown job(s) {', '.join(unknown)}; known: {', '.join(available_jobs())}"
        )
    jobs = []
    for name in wanted or available_jobs():
        job = _FACTORIES[name](service, settings)
        if job is None:
            log.info("job %s is not configured; skipped", name)
        else:
            jobs.append(job)
    return jobs


# -- status ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class JobStatus:
    name: str
    last_run_at: int | None
    last_ok_at: int | None
    next_run_at: int | None
    last_stored: int
    last_skipped: int
    last_message: str | None
    last_error: str | None
    last_error_at: int | None
    failures: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    name: str
    pid: int
    host: str
    started_at: int
    beat_at: int
    stopped_at: int | None
    #: The job running at the last beat, and since when.
    job: str | None
    job_started_at: int | None


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    heartbeat: Heartbeat | None
    jobs: list[JobStatus]

    def age(self, now: float) -> float | None:
        """Seconds since the last heartbeat (None: no worker ever ran)."""
        return None if self.heartbeat is None else now - self.heartbeat.beat_at

    def healthy(self, now: float, stale_after: float = STALE_AFTER_S) -> bool:
        """A worker is running and beat within ``stale_after`` seconds."""
        age = self.age(now)
        return (
            age is not None
            and age <= stale_after
            and self.heartbeat is not None
            and self.heartbeat.stopped_at is None
        )


_JOB_COLS = (
    "name, last_run_at, last_ok_at, next_run_at, last_stored, last_skipped, last_message,"
    " last_error, last_error_at, failures"
)


def worker_status(store: Store, name: str = "worker") -> WorkerStatus:
    def read(tx: Tx) -> WorkerStatus:
        beat = tx.one(
            "SELECT name, pid, host, started_at, beat_at, stopped_at, job, job_started_at"
            " FROM worker_heartbeat WHERE name = ?",
            (name,),
        )
        rows = tx.query(f"SELECT {_JOB_COLS} FROM worker_jobs ORDER BY name")
        return WorkerStatus(
            None if beat is None else Heartbeat(*beat),
            [JobStatus(*row) for row in rows],
        )

    return store.read(read)


# -- the loop ----------------------------------------------------------------------------------
class Worker:
    """Runs ``jobs`` until ``stop`` is set (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        jobs: list[Job],
        *,
        name: str = "worker",
        heartbeat_s: float = HEARTBEAT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        names = [job.name for job in jobs]
        if len(set(names)) != len(names):
            raise ValueError(f"job names must be unique, got {names}")
        self.store = store
        self.jobs = jobs
        self.name = name
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.next_run: dict[str, float] = {}
        self.failures: dict[str, int] = {}
        #: The job running now and since when (read by the heartbeat thread).
        self.current: tuple[str, float] | None = None

    def run(self, stop: threading.Event, *, once: bool = False) -> None:
        """Run due jobs until ``stop`` is set; ``once``: run every job one time and return."""
        self._load()
        self._beat(started=True)
        done = threading.Event()
        beater = threading.Thread(
            target=self._beat_until, args=(done,), name="worker-heartbeat", daemon=True
        )
        beater.start()
        try:
            while not stop.is_set():
                for job in sorted(self.jobs, key=lambda j: self.next_run[j.name]):
                    if stop.is_set():
                        break
                    if once or self.next_run[job.name] <= self.clock():
                        self.run_job(job)
                if once:
                    break
                wait = min(self.next_run.values(), default=self.clock() + self.heartbeat_s)
                stop.wait(max(0.0, min(wait - self.clock(), self.heartbeat_s)))
        finally:
            done.set()
            beater.join(30)
            self._close_jobs()
            self._beat(stopped=True)
            log.info("worker %s stopped", self.name)

    def _close_jobs(self) -> None:
        """Release what jobs hold (HTTP clients, thread pools) for those that have ``close``."""
        for job in self.jobs:
            close = getattr(job, "close", None)
            if callable(close):
                try:
                    close()
                except Exception:
                    log.exception("closing job %s failed", job.name)

    def run_job(self, job: Job) -> JobResult | None:
        """One round of ``job``, its outcome recorded; None when it failed."""
        now = self.clock()
        self.current = (job.name, now)
        self._beat()  # status shows the round at once
        try:
            result = job.run(now)
        except Exception as exc:
            self.current = None
            failures = self.failures.get(job.name, 0) + 1
            self.failures[job.name] = failures
            delay = min(BACKOFF_MAX_S, BACKOFF_MIN_S * 2 ** (failures - 1))
            self.next_run[job.name] = now + delay
            log.exception(
                "job %s failed (%d in a row); retrying in %.0f s", job.name, failures, delay
            )
            self._record(job.name, now, None, f"{type(exc).__name__}: {exc}")
            self._beat()
            return None
        self.current = None
        self.failures[job.name] = 0
        self.next_run[job.name] = result.next_run
        log.info(
            "job %s: stored %d, skipped %d; %s",
            job.name,
            result.stored,
            result.skipped,
            result.message,
        )
        self._record(job.name, now, result, None)
        self._beat()
        return result

    def _load(self) -> None:
        """Next runs and failure counts saved by an earlier worker."""
        now = self.clock()
        rows = self.store.read(
            lambda tx: tx.query("SELECT name, next_run_at, failures FROM worker_jobs")
        )
        saved = {str(name): (nxt, int(failures)) for name, nxt, failures in rows}
        for job in self.jobs:
            nxt, failures = saved.get(job.name, (None, 0))
            self.next_run[job.name] = now if nxt is None else min(float(nxt), now + 86400)
            self.failures[job.name] = failures

    def _record(self, name: str, now: float, result: JobResult | None, error: str | None) -> None:
        finished = self.clock()
        nxt = int(self.next_run[name])
        failures = self.failures[name]

        def write(tx: Tx) -> None:
            if result is not None:
                tx.execute(
                    "INSERT INTO worker_jobs (name, last_run_at, last_ok_at, next_run_at,"
                    " last_stored, last_skipped, last_message, failures)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, 0) ON CONFLICT (name) DO UPDATE SET"
                    " last_run_at = excluded.last_run_at, last_ok_at = excluded.last_ok_at,"
                    " next_run_at = excluded.next_run_at, last_stored = excluded.last_stored,"
                    " last_skipped = excluded.last_skipped, last_message = excluded.last_message,"
                    " failures = 0",
                    (name, int(now), int(now), nxt, result.stored, result.skipped, result.message),
                )
            else:
                tx.execute(
                    "INSERT INTO worker_jobs (name, last_run_at, next_run_at, last_error,"
                    " last_error_at, failures) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at,"
                    " next_run_at = excluded.next_run_at, last_error = excluded.last_error,"
                    " last_error_at = excluded.last_error_at, failures = excluded.failures",
                    (name, int(now), nxt, error, int(now), failures),
                )
            tx.execute(
                "INSERT INTO worker_runs (job, started_at, finished_at, stored, skipped, error,"
                " message) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    now,
                    finished,
                    0 if result is None else result.stored,
                    0 if result is None else result.skipped,
                    error,
                    None if result is None else result.message,
                ),
            )
            tx.execute(
                "DELETE FROM worker_runs WHERE job = ? AND id <= ("
                " SELECT id FROM worker_runs WHERE job = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (name, name, RUNS_KEPT),
            )

        self.store.write(write)

    def _beat(self, *, started: bool = False, stopped: bool = False) -> None:
        now = int(self.clock())
        if started:
            row = (self.name, os.getpid(), socket.gethostname(), now, now)
            self.store.write(
                lambda tx: tx.execute(
                    "INSERT INTO worker_heartbeat (name, pid, host, started_at, beat_at)"
                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                    " pid = excluded.pid, host = excluded.host, started_at = excluded.started_at,"
                    " beat_at = excluded.beat_at, stopped_at = NULL",
                    row,
                )
            )
            return
        job, since = self.current or (None, None)
        sql = (
            "UPDATE worker_heartbeat SET beat_at = ?, stopped_at = ?, job = ?, job_started_at = ?"
            " WHERE name = ?"
        )
        params = (
            now,
            now if stopped else None,
            job,
            None if since is None else int(since),
            self.name,
        )
        self.store.write(lambda tx: tx.execute(sql, params))

    def _beat_until(self, done: threading.Event) -> None:
        """The heartbeat thread: beat every ``heartbeat_s`` until ``done`` is set."""
        while not done.wait(self.heartbeat_s):
            try:
                self._beat()
            except Exception:  # the database is away: the stale beat will tell
                log.exception("worker heartbeat failed")


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGTERM or SIGINT (a second signal stops at once); restore afterwards."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if received:
            raise SystemExit(128 + signum)
        received.append(signum)
        log.warning("signal %d: stopping after the current round", signum)
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)

"""``smartdistricts worker``: scheduling, back-off, status, signals and restart safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.ingest.replay import ReplayServer
from tests.ingest.test_airly_import import MEASUREMENTS, VALID, installation_json

from smartdistricts.cli.main import cli
from smartdistricts.ingest.airly import device_uid
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.jobs import JobResult
from smartdistricts.services.worker import (
    BACKOFF_MIN_S,
    RollupJob,
    Worker,
    build_jobs,
    worker_status,
)
from smartdistricts.store import open_store
from smartdistricts.store.base import Store

KEY = "worker-test-key"


class Counting:
    """A job that counts its rounds and asks to run again after ``every`` seconds."""

    def __init__(self, name: str, every: float, *, fail: bool = False) -> None:
        self.name = name
        self.every = every
        self.fail = fail
        self.calls: list[float] = []

    def run(self, now: float) -> JobResult:
        self.calls.append(now)
        if self.fail:
            raise OSError("network down")
        return JobResult(now + self.every, stored=2, skipped=1, message=f"round {len(self.calls)}")


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def test_due_jobs_run_and_failures_back_off(store: Store) -> None:
    clock = Clock(1_800_000_000.0)
    good, bad = Counting("good", 300), Counting("bad", 300, fail=True)
    worker = Worker(store, [good, bad], clock=clock)
    stop = threading.Event()
    worker.run(stop, once=True)
    assert len(good.calls) == len(bad.calls) == 1
    assert worker.next_run["good"] == clock.now + 300
    assert worker.next_run["bad"] == clock.now + BACKOFF_MIN_S
    clock.now += BACKOFF_MIN_S
    worker.run_job(bad)
    assert worker.next_run["bad"] == clock.now + 2 * BACKOFF_MIN_S  # doubled
    status = {j.name: j for j in worker_status(store).jobs}
    assert status["bad"].failures == 2 and status["bad"].last_error == "OSError: network down"
    assert status["good"].last_stored == 2 and status["good"].last_message == "round 1"
    assert status["good"].next_run_at == 1_800_000_300
    runs = store.read(lambda tx: tx.query("SELECT job, error FROM worker_runs ORDER BY id"))
    assert runs == [
        ("good", None),
        ("bad", "OSError: network down"),
        ("bad", "OSError: network down"),
    ]
    # A new worker keeps the schedule and the failure count it finds in the database.
    again = Worker(store, [Counting("good", 300), bad], clock=clock)
    again._load()
    assert again.next_run["good"] == 1_800_000_300 and again.failures["bad"] == 2


def test_the_loop_waits_for_due_jobs_and_stops_on_request(store: Store) -> None:
    job = Counting("tick", 0.2)
    worker = Worker(store, [job], heartbeat_s=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    thread.start()
    time.sleep(1.0)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert 3 <= len(job.calls) <= 7  # every 0.2 s, not in a busy loop
    beat = worker_status(store).heartbeat
    assert beat is not None and beat.stopped_at is not None and beat.pid == os.getpid()


def test_rollup_job_empties_the_queue(store: Store, service: IngestService) -> None:
    store.write(
        lambda tx: tx.execute(
            "INSERT INTO rollup_pending (sensor_id, variable_id, day) VALUES (1, 2, 20261127)"
        )
    )
    result = RollupJob(service, 60).run(1000.0)
    assert (result.next_run, result.stored) == (1060.0, 1)
    assert store.read(lambda tx: tx.one("SELECT count(*) FROM rollup_pending")) == (0,)


def test_job_selection(service: IngestService) -> None:
    from dataclasses import replace

    settings = replace(service.settings, worker_jobs="airly,rollup")
    assert [j.name for j in build_jobs(service, settings)] == ["rollup"]  # Airly: no key
    keyed = replace(settings, airly_api_key=KEY, airly_installations="1")
    jobs = build_jobs(service, keyed)
    assert [j.name for j in jobs] == ["airly", "rollup"]
    with pytest.raises(ValueError, match="unknown job"):
        build_jobs(service, settings, ["nope"])


# -- the worker process ------------------------------------------------------------------------
class WorkerProcess:
    def __init__(self, db: str, airly_url: str, installations: str) -> None:
        self.env = {
            **os.environ,
            "SMARTDISTRICTS_DB": db,
            "SMARTDISTRICTS_AIRLY_API_KEY": KEY,
            "SMARTDISTRICTS_AIRLY_BASE_URL": airly_url,
            "SMARTDISTRICTS_AIRLY_INSTALLATIONS": installations,
            "SMARTDISTRICTS_WORKER_JOBS": "airly,rollup",
        }
        self.log = tempfile.NamedTemporaryFile(prefix="smartdistricts-worker-", suffix=".log")  # noqa: SIM115
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "smartdistricts", "-v", "worker"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        return self

    def output(self) -> str:
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")

    def cli(self, *args: str) -> Result:
        """A command run in this process (quicker than a subprocess) on the same settings."""
        env = {k: v for k, v in self.env.items() if k.startswith("SMARTDISTRICTS_")}
        return CliRunner().invoke(cli, list(args), env=env)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def wait_until(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.fixture
def airly() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        for ident in (10216, 10213):
            server.add(f"/v2/installations/{ident}", body=installation_json(ident))
        yield server


def readings_per_key(db_url: str) -> dict[str, list[tuple[int, int, int]]]:
    """Per device: (variable, time, rows) of its stored readings."""
    with open_store(db_url) as store:
        rows = store.read(
            lambda tx: tx.query(
                "SELECT d.uid, m.variable_id, m.time, count(*) FROM measurements m"
                " JOIN sensors s ON s.id = m.sensor_id JOIN devices d ON d.id = s.device_id"
                " GROUP BY d.uid, m.variable_id, m.time ORDER BY 1, 2, 3"
            )
        )
    out: dict[str, list[tuple[int, int, int]]] = {}
    for uid, variable_id, t, n in rows:
        out.setdefault(str(uid), []).append((int(variable_id), int(t), int(n)))
    return out


def test_sigterm_stops_cleanly_and_status_tells(db_url: str, airly: ReplayServer) -> None:
    airly.add(MEASUREMENTS, {"installationId": "10216"}, file=VALID)
    proc = WorkerProcess(db_url, airly.url, "10216")
    try:
        assert proc.cli("worker", "status").exit_code == 1  # never ran
        proc.start()
        assert airly.wait_for(lambda: airly.count(MEASUREMENTS) == 1, 60)
        wait_until(lambda: readings_per_key(db_url).get(device_uid(10216)))
        status = proc.cli("worker", "status")
        assert status.exit_code == 0, status.output
        assert "worker: running" in status.stdout and "airly: last run" in status.stdout
        assert "250 reading(s) stored" in status.stdout
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(30) == 0, proc.output()
        assert "worker: stopped" in proc.output()
        assert KEY not in proc.output()
        stopped = proc.cli("worker", "status")
        assert stopped.exit_code == 1 and "worker: stopped at" in stopped.stdout
        report = json.loads(proc.cli("worker", "status", "--json").stdout)
        assert report["healthy"] is False and report["heartbeat"]["stopped_at"] is not None
        jobs = {job["name"]: job for job in report["jobs"]}
        assert sorted(jobs) == ["airly", "rollup"] and jobs["airly"]["last_stored"] == 250
        assert jobs["airly"]["next_run_at"] > jobs["airly"]["last_run_at"] + 500  # spread out
    finally:
        proc.close()


def test_kill_9_mid_round_then_restart_neither_duplicates_nor_skips(
    db_url: str, airly: ReplayServer
) -> None:
    """Killed while waiting for the second installation's answer, restarted: every reading of
    both recorded answers is stored exactly once, and no call is repeated needlessly."""
    hold = threading.Event()
    airly.add(MEASUREMENTS, {"installationId": "10216"}, file=VALID)
    airly.add(MEASUREMENTS, {"installationId": "10213"}, file=VALID, hold=hold, times=1)
    airly.add(MEASUREMENTS, {"installationId": "10213"}, file=VALID)
    proc = WorkerProcess(db_url, airly.url, "10216,10213")
    try:
        proc.start()
        assert airly.wait_for(lambda: airly.count(MEASUREMENTS, installationId="10213") == 1, 60)
        assert proc.proc is not None
        proc.proc.kill()  # SIGKILL while the round waits for Airly
        proc.proc.wait(10)
        hold.set()
        before = readings_per_key(db_url)
        assert len(before.get(device_uid(10216), [])) == 250
        assert device_uid(10213) not in before
        stale = proc.cli("worker", "status", "--stale-after", "0")
        assert stale.exit_code == 1 and "NOT RESPONDING" in stale.stdout
        proc.start()  # the same database, a new process
        wait_until(lambda: len(readings_per_key(db_url).get(device_uid(10213), [])) == 250, 60)
        proc.proc.send_signal(signal.SIGTERM)
        assert proc.proc.wait(30) == 0, proc.output()
    finally:
        proc.close()
    after = readings_per_key(db_url)
    expected = [(v, t, 1) for v, t, _n in after[device_uid(10216)]]
    assert after[device_uid(10216)] == before[device_uid(10216)]  # nothing added twice
    assert after[device_uid(10213)] == expected  # the same 250 readings, once each
    assert airly.count(MEASUREMENTS, installationId="10216") == 1  # not fetched again
    assert airly.count(MEASUREMENTS, installationId="10213") == 2  # the lost call, repeated


def test_sigterm_lets_the_running_round_finish(db_url: str, airly: ReplayServer) -> None:
    hold = threading.Event()
    airly.add(MEASUREMENTS, {"installationId": "10216"}, file=VALID, hold=hold)
    proc = WorkerProcess(db_url, airly.url, "10216")
    try:
        proc.start()
        assert airly.wait_for(lambda: airly.count(MEASUREMENTS) == 1, 60)
        assert proc.proc is not None
        busy = proc.cli("worker", "status")
        assert busy.exit_code == 0 and "running airly since" in busy.output
        proc.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert proc.proc.poll() is None  # still waiting for Airly's answer
        hold.set()
        assert proc.proc.wait(30) == 0, proc.output()
    finally:
        hold.set()
        proc.close()
    assert len(readings_per_key(db_url)[device_uid(10216)]) == 250

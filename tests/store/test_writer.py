"""The single writer: group commit, ``run_batch`` merging, failure isolation, callbacks, idle work.

Every test holds the writer inside a job that waits on an event, so the jobs submitted meanwhile
queue up and are taken as one batch when it is released: the batching is deterministic.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import pytest

from smartdistricts.store import WriterOverloaded, make_backend, open_store
from smartdistricts.store.base import Store, Tx, WriterSession
from smartdistricts.store.writer import Writer, WriterStopped

INSERT = "INSERT INTO audit_log (actor, action, subject) VALUES (?, ?, ?)"


def subjects(store: Store) -> list[str]:
    return [r[0] for r in store.read(lambda tx: tx.query("SELECT subject FROM audit_log"))]


def insert(subject: str, log: list[str] | None = None) -> Callable[[Tx], str]:
    """A job that inserts one audit row and records its commit in ``log``."""

    def job(tx: Tx) -> str:
        tx.execute(INSERT, ("test", "insert", subject))
        if log is not None:
            tx.on_commit(lambda: log.append(subject))
        return subject

    return job


def failing(subject: str, log: list[str] | None = None) -> Callable[[Tx], str]:
    """A job that writes, then fails: nothing it did may survive."""

    def job(tx: Tx) -> str:
        insert(subject, log)(tx)
        raise LookupError(f"{subject} fails on purpose")

    return job


@contextmanager
def held(submit: Callable[[Callable[[Tx], Any]], Future[Any]]) -> Iterator[None]:
    """Keep the writer busy in one job until the block exits."""
    started, release = threading.Event(), threading.Event()

    def block(tx: Tx) -> None:
        started.set()
        assert release.wait(10)

    future = submit(block)
    assert started.wait(10)
    try:
        yield
    finally:
        release.set()
        future.result(10)


class Tagged:
    """A job class with ``run_batch``: neighbours of this class run in one call."""

    def __init__(self, calls: list[int], subject: str) -> None:
        self.calls = calls
        self.subject = subject

    def __call__(self, tx: Tx) -> str:
        return self.run_batch(tx, [self])[0]

    @classmethod
    def run_batch(cls, tx: Tx, jobs: list[Tagged]) -> list[str]:
        jobs[0].calls.append(len(jobs))
        tx.executemany(INSERT, [("test", "batch", job.subject) for job in jobs])
        if any(job.subject.startswith("bad") for job in jobs):
            raise LookupError("a bad job in the batch")
        return [job.subject.upper() for job in jobs]


class OtherTagged(Tagged):
    """Same behaviour, another class: never merged with :class:`Tagged`."""


def test_jobs_queued_together_share_one_transaction(store: Store) -> None:
    stats = store.writer.stats
    before = (stats.transactions, stats.jobs)
    with held(store.submit):
        futures = [store.submit(insert(f"s{i}")) for i in range(50)]
        assert store.writer.backlog() == 50
        assert not any(f.done() for f in futures)
    assert [f.result(10) for f in futures] == [f"s{i}" for i in range(50)]
    assert (stats.transactions - before[0], stats.jobs - before[1]) == (2, 51)
    assert stats.mean_batch > 1
    assert sorted(subjects(store)) == sorted(f"s{i}" for i in range(50))


def test_max_batch_splits_the_queue(db_url: str) -> None:
    with open_store(db_url, synchronous="NORMAL", max_batch=4) as store:
        before = store.writer.stats.transactions
        with held(store.submit):
            futures = [store.submit(insert(f"s{i}")) for i in range(10)]
        for f in futures:
            f.result(10)
        assert store.writer.stats.transactions - before == 1 + 3  # 4 + 4 + 2


def test_readers_are_not_blocked_by_an_open_write_and_see_only_commits(store: Store) -> None:
    inside, release = threading.Event(), threading.Event()

    def slow(tx: Tx) -> None:
        tx.execute(INSERT, ("test", "slow", "uncommitted"))
        inside.set()
        assert release.wait(10)

    future = store.submit(slow)
    try:
        assert inside.wait(10)
        started = time.perf_counter()
        assert subjects(store) == []
        assert time.perf_counter() - started < 2
    finally:
        release.set()
    future.result(10)
    assert subjects(store) == ["uncommitted"]


def test_a_returned_write_is_visible_to_every_reader(store: Store) -> None:
    store.write(insert("durable"))
    seen: list[list[str]] = []
    thread = threading.Thread(target=lambda: seen.append(subjects(store)))
    thread.start()
    thread.join(10)
    assert seen == [["durable"]]


def test_run_batch_merges_neighbours_of_the_same_class(store: Store) -> None:
    calls: list[int] = []
    with held(store.submit):
        futures: list[Future[Any]] = [
            store.submit(Tagged(calls, "a")),
            store.submit(Tagged(calls, "b")),
            store.submit(Tagged(calls, "c")),
            store.submit(insert("plain")),
            store.submit(Tagged(calls, "d")),
            store.submit(OtherTagged(calls, "e")),
            store.submit(OtherTagged(calls, "f")),
        ]
    assert [f.result(10) for f in futures] == ["A", "B", "C", "plain", "D", "E", "F"]
    assert calls == [3, 1, 2]
    assert sorted(subjects(store)) == ["a", "b", "c", "d", "e", "f", "plain"]


def test_a_failing_job_fails_alone_and_leaves_nothing(store: Store) -> None:
    committed: list[str] = []
    failed_before = store.writer.stats.failed_batches
    with held(store.submit):
        good1 = store.submit(insert("good1", committed))
        bad = store.submit(failing("bad", committed))
        good2 = store.submit(insert("good2", committed))
    assert good1.result(10) == "good1"
    assert good2.result(10) == "good2"
    with pytest.raises(LookupError, match="bad fails on purpose"):
        bad.result(10)
    assert sorted(subjects(store)) == ["good1", "good2"]
    assert sorted(committed) == ["good1", "good2"]  # callbacks of the failed batch never ran
    assert store.writer.stats.failed_batches == failed_before + 1


def test_a_failing_run_batch_is_split_into_single_jobs(store: Store) -> None:
    calls: list[int] = []
    with held(store.submit):
        futures = [store.submit(Tagged(calls, s)) for s in ("x", "bad", "y")]
    assert futures[0].result(10) == "X"
    assert futures[2].result(10) == "Y"
    with pytest.raises(LookupError, match="bad job"):
        futures[1].result(10)
    assert calls == [3, 1, 1, 1]
    assert sorted(subjects(store)) == ["x", "y"]


def test_write_raises_the_jobs_error_and_the_writer_carries_on(store: Store) -> None:
    with pytest.raises(LookupError, match="alone fails"):
        store.write(failing("alone"))
    assert store.write(insert("after")) == "after"
    assert subjects(store) == ["after"]
    assert store.writer.running


def test_a_failing_commit_callback_does_not_rerun_committed_work(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    runs: list[str] = []
    done: list[str] = []

    def fail() -> None:
        raise ZeroDivisionError("callback failed")

    def noisy(tx: Tx) -> str:
        runs.append("noisy")
        tx.execute(INSERT, ("test", "insert", "noisy"))
        tx.on_commit(fail)
        tx.on_commit(lambda: done.append("after the failing callback"))
        return "ok"

    with caplog.at_level(logging.ERROR), held(store.submit):
        futures = [store.submit(noisy), store.submit(insert("neighbour"))]
    assert [f.result(10) for f in futures] == ["ok", "neighbour"]
    assert runs == ["noisy"]
    assert sorted(subjects(store)) == ["neighbour", "noisy"]
    assert done == ["after the failing callback"]
    assert "ZeroDivisionError" in caplog.text


def test_cancelled_jobs_are_skipped(store: Store) -> None:
    with held(store.submit):
        cancelled = store.submit(insert("never"))
        assert cancelled.cancel()
        kept = store.submit(insert("kept"))
    assert kept.result(10) == "kept"
    assert subjects(store) == ["kept"]


def wake(store: Store) -> None:
    """Let the writer notice a new idle task now, not after its current wait."""
    store.write(lambda tx: None)


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    """Idle-task timing does not depend on the backend: one backend keeps the suite fast."""
    with open_store(sqlite_url, synchronous="NORMAL") as store:
        yield store


def test_idle_tasks_run_in_their_own_transactions_until_done(sqlite_store: Store) -> None:
    store = sqlite_store
    calls: list[float] = []

    def task(tx: Tx) -> bool:
        calls.append(time.monotonic())
        tx.execute(INSERT, ("idle", "tick", f"t{len(calls)}"))
        return len(calls) < 4  # more work three times: called again soon

    store.writer.add_idle_task(task, interval=0.8)
    wake(store)
    deadline = time.monotonic() + 10
    while len(calls) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert len(gaps) >= 4
    assert max(gaps[:3]) < 0.6  # "more" brings the next call forward
    assert gaps[3] >= 0.8  # then it waits a whole interval
    assert sorted(subjects(store))[:4] == ["t1", "t2", "t3", "t4"]


def test_a_failing_idle_task_is_logged_rolled_back_and_retried_later(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    store = sqlite_store
    calls: list[int] = []

    def task(tx: Tx) -> bool:
        calls.append(1)
        tx.execute(INSERT, ("idle", "tick", "rolled back"))
        raise RuntimeError("idle failure")

    with caplog.at_level(logging.ERROR):
        store.writer.add_idle_task(task, interval=0.05)
        wake(store)
        deadline = time.monotonic() + 10
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(calls) >= 2
    assert "writer idle task task failed" in caplog.text
    assert store.write(insert("still writing")) == "still writing"
    assert subjects(store) == ["still writing"]


def test_a_full_queue_refuses_work_with_writer_overloaded(db_url: str) -> None:
    backend = make_backend(db_url, synchronous="NORMAL")
    writer = Writer(backend.writer_session, queue_size=3).start()
    try:
        with held(writer.submit):
            queued = [writer.submit(lambda tx: tx.one("SELECT 1")) for _ in range(3)]
            assert writer.backlog() == 3
            with pytest.raises(WriterOverloaded, match="3 jobs"):
                writer.submit(lambda tx: tx.one("SELECT 1"))
        assert [f.result(10) for f in queued] == [(1,)] * 3
    finally:
        writer.stop()
        backend.close()


def test_stop_finishes_queued_work_then_refuses_more(db_url: str) -> None:
    store = open_store(db_url, synchronous="NORMAL")
    try:
        stopper = threading.Thread(target=store.writer.stop)
        with held(store.submit):
            futures = [store.submit(insert(f"q{i}")) for i in range(5)]
            stopper.start()
            deadline = time.monotonic() + 10
            while store.writer.running and time.monotonic() < deadline:
                time.sleep(0.01)
        stopper.join(10)
        assert [f.result(10) for f in futures] == [f"q{i}" for i in range(5)]
        assert not store.writer.running
        with pytest.raises(WriterStopped):
            store.submit(insert("late"))
        assert sorted(subjects(store)) == [f"q{i}" for i in range(5)]
    finally:
        store.close()


def test_a_session_that_cannot_open_fails_start() -> None:
    def broken() -> WriterSession:
        raise ConnectionRefusedError("no database here")

    with pytest.raises(ConnectionRefusedError, match="no database here"):
        Writer(broken).start()


def test_awrite_resolves_after_commit(store: Store) -> None:
    async def main() -> list[str]:
        return list(await asyncio.gather(*(store.awrite(insert(f"a{i}")) for i in range(5))))

    assert asyncio.run(main()) == [f"a{i}" for i in range(5)]
    assert sorted(subjects(store)) == [f"a{i}" for i in range(5)]


def test_a_failed_commit_is_rolled_back_and_the_writer_carries_on(sqlite_store: Store) -> None:
    """A deferred foreign-key violation makes SQLite's COMMIT itself fail."""

    def orphan_sensor(tx: Tx) -> None:
        tx.execute("PRAGMA defer_foreign_keys = ON")
        tx.execute(INSERT, ("test", "insert", "with the orphan"))
        tx.execute("INSERT INTO sensors (device_id, type) VALUES (424242, 'SDS011')")

    with pytest.raises(Exception, match="FOREIGN KEY"):
        sqlite_store.write(orphan_sensor)
    assert sqlite_store.write(insert("after")) == "after"
    assert subjects(sqlite_store) == ["after"]


@pytest.mark.postgres
def test_the_writer_reconnects_after_losing_its_connection(pg_url: str) -> None:
    import psycopg

    with open_store(pg_url, synchronous="NORMAL") as store:
        store.write(insert("before"))
        pid = store.write(lambda tx: tx.one("SELECT pg_backend_pid()"))
        assert pid is not None
        with psycopg.connect(pg_url.split("?")[0], autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid[0],))
        with pytest.raises(psycopg.OperationalError):
            store.write(insert("lost with the connection"))
        assert store.write(insert("after")) == "after"
        assert sorted(subjects(store)) == ["after", "before"]

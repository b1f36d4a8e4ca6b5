"""The single writer: one thread, one connection, group commit.

Callers hand the writer callables (``fn(tx) -> result``) and get a future. The writer takes
everything that queued up while the previous transaction was committing, runs it in one
transaction, commits, and only then resolves the futures — so an acknowledgement always means the
data is on disk, while one fsync covers many callers.

A job whose class defines ``run_batch(tx, jobs) -> results`` is run together with its neighbours
of the same class in one call (e.g. all device pushes of a commit share one ``executemany``).

If a transaction fails, the writer rolls it back and retries each job on its own, so one bad job
fails alone. Jobs must therefore keep side effects outside the database in ``tx.on_commit``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from smartdistricts.store.base import Tx, WriterSession

__all__ = ["Writer", "WriterOverloaded", "WriterStats"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class WriterOverloaded(RuntimeError):
    """The write queue is full; the caller should ask the client to retry later."""


class WriterStopped(RuntimeError):
    """The writer has been stopped."""


class _LoopResult:
    """A result slot resolved on an asyncio loop (cheaper than wrapping a thread future)."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[Any] = loop.create_future()

    def set_running_or_notify_cancel(self) -> bool:
        return not self.future.cancelled()

    def set_result(self, result: Any) -> None:
        self.loop.call_soon_threadsafe(_resolve, self.future, result, None)

    def set_exception(self, exc: BaseException) -> None:
        self.loop.call_soon_threadsafe(_resolve, self.future, None, exc)


def _resolve(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


@dataclass(slots=True)
class _Job:
    fn: Callable[[Tx], Any]
    future: Future[Any] | _LoopResult


@dataclass(slots=True)
class WriterStats:
    transactions: int = 0
    jobs: int = 0
    failed_batches: int = 0
    busy_seconds: float = 0.0

    @property
    def mean_batch(self) -> float:
        return self.jobs / self.transactions if self.transactions else 0.0


@dataclass(slots=True)
class _IdleTask:
    fn: Callable[[Tx], bool]
    interval: float
    due: float = 0.0


_STOP = object()


@dataclass
class Writer:
    """Owns the write connection; see the module docstring."""

    session_factory: Callable[[], WriterSession]
    max_batch: int = 2000
    queue_size: int = 50_000
    name: str = "smartdistricts-writer"
    stats: WriterStats = field(default_factory=WriterStats)

    def __post_init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(self.queue_size)
        self._idle: list[_IdleTask] = []
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Writer:
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish every queued job, then close the connection."""
        if self._thread is None or self._stopped.is_set():
            return
        self._stopped.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stopped.is_set()

    def add_idle_task(self, fn: Callable[[Tx], bool], interval: float) -> None:
        """Run ``fn(tx)`` in its own transaction at most every ``interval`` seconds.

        ``fn`` returns True when it has more work, to be called again soon.
        """
        self._idle.append(_IdleTask(fn, interval, time.monotonic() + interval))

    # -- submitting ----------------------------------------------------------------------------
    def submit(self, fn: Callable[[Tx], T]) -> Future[T]:
        if self._stopped.is_set() or self._thread is None:
            raise WriterStopped("the writer is not running")
        future: Future[T] = Future()
        try:
            self._queue.put_nowait(_Job(fn, future))
        except queue.Full:
            raise WriterOverloaded(f"write queue full ({self.queue_size} jobs)") from None
        return future

    def submit_async(self, fn: Callable[[Tx], T]) -> asyncio.Future[T]:
        """Like :meth:`submit`, for the running event loop: await the returned future."""
        if self._stopped.is_set() or self._thread is None:
            raise WriterStopped("the writer is not running")
        slot = _LoopResult(asyncio.get_running_loop())
        try:
            self._queue.put_nowait(_Job(fn, slot))
        except queue.Full:
            raise WriterOverloaded(f"write queue full ({self.queue_size} jobs)") from None
        return slot.future

    def backlog(self) -> int:
        return self._queue.qsize()

    # -- the thread ----------------------------------------------------------------------------
    def _main(self) -> None:
        try:
            session = self.session_factory()
        except BaseException as exc:  # reported to start()
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop(session)
        finally:
            session.close()

    def _loop(self, session: WriterSession) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=self._idle_timeout())
            except queue.Empty:
                self._run_idle(session)
                continue
            if first is _STOP:
                stopping = True
                batch: list[_Job] = []
            else:
                batch = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    continue
                batch.append(item)
            if batch:
                self._run_batch(session, batch)
            if stopping and not self._queue.empty():
                stopping = False  # drain what arrived meanwhile, then stop
                self._queue.put(_STOP)
            else:
                self._run_idle(session, only_due=True)

    def _idle_timeout(self) -> float:
        if not self._idle:
            return 1.0
        now = time.monotonic()
        return max(0.01, min(task.due for task in self._idle) - now)

    def _run_idle(self, session: WriterSession, *, only_due: bool = False) -> None:
        now = time.monotonic()
        for task in self._idle:
            if task.due > now:
                continue
            try:
                with session.transaction() as tx:
                    more = task.fn(tx)
            except Exception:
                log.exception("writer idle task %s failed", getattr(task.fn, "__name__", task.fn))
                more = False
            # With a backlog, come back soon, but leave room for the write batches in between.
            task.due = time.monotonic() + (min(0.2, task.interval) if more else task.interval)
            if only_due:
                break  # one idle task between batches keeps latency low

    def _run_batch(self, session: WriterSession, batch: list[_Job]) -> None:
        jobs = [job for job in batch if job.future.set_running_or_notify_cancel()]
        if not jobs:
            return
        started = time.perf_counter()
        try:
            with session.transaction() as tx:
                results = _execute(tx, jobs)
        except Exception as exc:
            self.stats.failed_batches += 1
            if len(jobs) == 1:
                jobs[0].future.set_exception(exc)
            else:
                for job in jobs:  # isolate the culprit
                    self._run_alone(session, job)
            return
        finally:
            self.stats.busy_seconds += time.perf_counter() - started
        self.stats.transactions += 1
        self.stats.jobs += len(jobs)
        for job, result in zip(jobs, results, strict=True):
            job.future.set_result(result)

    def _run_alone(self, session: WriterSession, job: _Job) -> None:
        try:
            with session.transaction() as tx:
                result = _execute(tx, [job])[0]
        except Exception as exc:
            job.future.set_exception(exc)
        else:
            self.stats.transactions += 1
            self.stats.jobs += 1
            job.future.set_result(result)


def _execute(tx: Tx, jobs: list[_Job]) -> list[Any]:
    """Run jobs in order; neighbours that share a ``run_batch`` class run in one call."""
    results: list[Any] = []
    i = 0
    while i < len(jobs):
        run_batch = getattr(type(jobs[i].fn), "run_batch", None)
        if run_batch is None:
            results.append(jobs[i].fn(tx))
            i += 1
            continue
        j = i + 1
        while j < len(jobs) and type(jobs[j].fn) is type(jobs[i].fn):
            j += 1
        results.extend(run_batch(tx, [job.fn for job in jobs[i:j]]))
        i = j
    return results

"""Streaming writes in their own process: the HTTP server parses, a child process stores.

In one Python process the request handlers and the writer share one interpreter lock: under
load each waits for the other, and the tail latency of pushes grows. The server therefore hands
validated :class:`~smartdistricts.services.ingest.StreamBatch` es to a child process that owns the
stream writer (group commit, quality flags, aggregates) and answers each batch after its commit.
The server resolves the waiting request when the answer arrives, so a 2xx still means durable.

Messages are pickled lists sent over a pipe, a batch of requests at a time in both directions.
If the child dies, waiting requests fail (the client gets 503 and the device sends again later)
and a new child is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import itertools
import logging
import multiprocessing
import pickle
import queue
import threading
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any

from smartdistricts.config import Settings
from smartdistricts.services.ingest import IngestService, StreamBatch, StreamResult, StreamWrite

__all__ = ["IngestProcess", "IngestProcessError"]

log = logging.getLogger(__name__)
#: Requests waiting for the child at most; more are refused with WriterOverloaded (503).
MAX_PENDING = 50_000
_STOP = b"stop"


class IngestProcessError(RuntimeError):
    """The ingest process is not available (starting, restarting or gone)."""


# -- the child -------------------------------------------------------------------------------------
def _child_main(settings: Settings, conn: Connection) -> None:
    from smartdistricts.store import open_store

    # The writer's caches (latest values, devices, sensors) are large and live forever, and
    # the work creates no reference cycles: collect young objects rarely, old ones almost never.
    gc.set_threshold(50_000, 50, 1_000)

    store = open_store(settings.db, migrate=False, synchronous=settings.sqlite_synchronous)
    service = IngestService(store, settings)
    answers: queue.Queue[tuple[int, Any, bool] | None] = queue.Queue()

    def answer() -> None:
        while True:
            item = answers.get()
            if item is None:
                return
            chunk = [item]
            while True:
                try:
                    more = answers.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    conn.send_bytes(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
                    return
                chunk.append(more)
            conn.send_bytes(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))

    sender = threading.Thread(target=answer, name="ingest-answers", daemon=True)
    sender.start()
    try:
        while True:
            try:
                message = conn.recv_bytes()
            except (EOFError, OSError):
                break
            if message == _STOP:
                break
            for request_id, work in pickle.loads(message):  # noqa: S301 (our own pipe)
                future: Future[Any] = store.submit(_job(service, work))
                future.add_done_callback(functools.partial(_answer, answers, request_id))
    finally:
        store.close()  # finishes queued writes
        answers.put(None)
        sender.join(10)


def _answer(answers: queue.Queue[Any], request_id: int, future: Future[Any]) -> None:
    exc = future.exception()
    if exc is None:
        answers.put((request_id, future.result(), False))
    else:  # sent as text: not every exception survives pickling
        answers.put((request_id, f"{type(exc).__name__}: {exc}", True))


def _job(service: IngestService, work: StreamBatch | list[StreamBatch]) -> Any:
    if isinstance(work, StreamBatch):
        return StreamWrite(service, work)
    return lambda tx: service.write_stream(tx, work)


# -- the parent ------------------------------------------------------------------------------------
class IngestProcess:
    """The server's side: submit batches, await their durable results."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._outbox: list[tuple[int, Any]] = []
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._reader: threading.Thread | None = None
        self._sends: queue.Queue[bytes | None] = queue.Queue()
        self._sender: threading.Thread | None = None
        self._closing = False

    # lifecycle ------------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe(duplex=True)
        self._process = context.Process(
            target=_child_main, args=(self.settings, child), name="smartdistricts-ingest"
        )
        self._process.start()
        child.close()
        self._conn = parent
        self._reader = threading.Thread(target=self._read, name="ingest-reader", daemon=True)
        self._reader.start()
        if self._sender is None:
            self._sender = threading.Thread(target=self._send, name="ingest-sender", daemon=True)
            self._sender.start()

    def close(self) -> None:
        """Stop the child after it has stored everything it was given."""
        self._closing = True
        self._sends.put(_STOP)  # after every queued message; the child stops reading there
        self._sends.put(None)
        if self._sender is not None:
            self._sender.join(10)
        if self._process is not None:
            self._process.join(30)
            if self._process.is_alive():
                self._process.kill()
        if self._reader is not None:
            self._reader.join(5)  # the child's exit closed the pipe: the reader has ended
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def backlog(self) -> int:
        return len(self._pending)

    # submitting (event loop thread) ------------------------------------------------------------
    def submit(self, work: StreamBatch | list[StreamBatch]) -> asyncio.Future[Any]:
        """Queue work for the child; the future resolves after its commit."""
        from smartdistricts.store.writer import WriterOverloaded

        if self._loop is None or self._closing:
            raise IngestProcessError("the ingest process is not running")
        if len(self._pending) >= MAX_PENDING:
            raise WriterOverloaded(f"{MAX_PENDING} writes are waiting")
        request_id = next(self._ids)
        future = self._loop.create_future()
        self._pending[request_id] = future
        self._outbox.append((request_id, work))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        return future

    async def write(self, batch: StreamBatch) -> StreamResult:
        result: StreamResult = await self.submit(batch)
        return result

    def _flush(self) -> None:
        """Send everything submitted during this turn of the loop as one message."""
        self._flush_scheduled = False
        outbox, self._outbox = self._outbox, []
        if outbox:
            self._sends.put(pickle.dumps(outbox, protocol=pickle.HIGHEST_PROTOCOL))

    def _send(self) -> None:
        while True:
            data = self._sends.get()
            if data is None:
                return
            conn = self._conn
            try:
                if conn is None:
                    raise OSError("no ingest process")
                conn.send_bytes(data)
            except OSError as exc:
                if data != _STOP:
                    self._fail_ids([rid for rid, _w in pickle.loads(data)], exc)  # noqa: S301

    # answers (reader thread) -------------------------------------------------------------------
    def _read(self) -> None:
        conn = self._conn
        assert conn is not None and self._loop is not None
        while True:
            try:
                data = conn.recv_bytes()
            except (EOFError, OSError):
                break
            answers = pickle.loads(data)  # noqa: S301 (our own pipe)
            self._loop.call_soon_threadsafe(self._resolve, answers)
        if not self._closing:
            log.error("the ingest process stopped; starting a new one")
            self._loop.call_soon_threadsafe(self._restart)

    def _resolve(self, answers: list[tuple[int, Any, bool]]) -> None:
        for request_id, value, failed in answers:
            future = self._pending.pop(request_id, None)
            if future is None or future.done():
                continue
            if failed:
                future.set_exception(
                    value if isinstance(value, BaseException) else IngestProcessError(str(value))
                )
            else:
                future.set_result(value)

    def _fail_ids(self, ids: list[int], exc: BaseException) -> None:
        if self._loop is not None:
            error = IngestProcessError(f"the ingest process is not available ({exc})")
            self._loop.call_soon_threadsafe(self._resolve, [(i, error, True) for i in ids])

    def _restart(self) -> None:
        waiting = list(self._pending)
        self._resolve(
            [(i, IngestProcessError("the ingest process stopped"), True) for i in waiting]
        )
        if not self._closing and self._loop is not None:
            self.start(self._loop)

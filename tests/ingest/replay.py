"""A local HTTP server replaying recorded responses, for testing importers of web APIs.

Routes are keyed by path and (optionally) query; each answers with a status, a body (a recorded
file or bytes) and headers. The server can also play a rate-limited API the way Airly's gateway
does: ``X-RateLimit-*`` headers on every answer, a per-day (UTC) and per-minute count, and 429
``{"message": "API rate limit exceeded"}`` once a limit is used up. Its clock is a parameter, so
a test can drive a simulated day. Every request is logged (path, query, headers) for assertions.

Usage::

    with ReplayServer() as server:
        server.add("/v2/meta/indexes", file=DATA / "airly/meta_indexes_2020.json")
        httpx.get(server.url + "/v2/meta/indexes")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

__all__ = ["RateLimit", "ReplayServer", "Reply", "Request"]


@dataclass(slots=True)
class Reply:
    """One recorded answer. ``hold``: wait until this event is set before answering."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None
    content_type: str = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    time: float


@dataclass(slots=True)
class RateLimit:
    """Limits per UTC day and per minute, counted on the server's clock like Airly's gateway:
    every request counts, answered or refused."""

    per_day: int
    per_minute: int | None = None
    #: Send ``Retry-After`` (seconds to the reset) with 429 answers.
    retry_after: bool = False
    #: Leave out the ``X-RateLimit-Remaining-*`` headers (Airly sometimes does).
    hide_remaining: bool = False
    day_counts: dict[int, int] = field(default_factory=dict)
    minute_counts: dict[int, int] = field(default_factory=dict)
    refused: int = 0

    def count(self, now: float) -> tuple[bool, dict[str, str]]:
        """Count one request at ``now``; (allowed, headers to send)."""
        day, minute = int(now // 86400), int(now // 60)
        used_day = self.day_counts.get(day, 0) + 1
        used_minute = self.minute_counts.get(minute, 0) + 1
        self.day_counts[day] = used_day
        self.minute_counts[minute] = used_minute
        allowed = used_day <= self.per_day and (
            self.per_minute is None or used_minute <= self.per_minute
        )
        headers = {"X-RateLimit-Limit-day": str(self.per_day)}
        if not self.hide_remaining:
            headers["X-RateLimit-Remaining-day"] = str(max(0, self.per_day - used_day))
        if self.per_minute is not None:
            headers["X-RateLimit-Limit-minute"] = str(self.per_minute)
            if not self.hide_remaining:
                headers["X-RateLimit-Remaining-minute"] = str(max(0, self.per_minute - used_minute))
        if not allowed:
            self.refused += 1
            if self.retry_after:
                reset = (day + 1) * 86400 if used_day > self.per_day else (minute + 1) * 60
                headers["Retry-After"] = str(int(reset - now))
        return allowed, headers


Key = tuple[str, frozenset[tuple[str, str]] | None]


class ReplayServer:
    """A threaded HTTP server on 127.0.0.1 answering from recorded replies (see module doc)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.routes: dict[Key, list[Reply]] = {}
        self.requests: list[Request] = []
        self.rate_limit: RateLimit | None = None
        self.received = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    # -- configuration -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(
        self,
        path: str,
        query: Mapping[str, str] | None = None,
        *,
        file: Path | None = None,
        body: bytes | str = b"",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        hold: threading.Event | None = None,
        times: int | None = None,
    ) -> None:
        """Answer GET ``path`` (with exactly ``query``, or any query when None).

        Several replies added for one route are given in turn; the last one repeats, unless
        ``times`` limits how often this one is given.
        """
        data = file.read_bytes() if file is not None else body
        reply = Reply(
            status,
            data.encode() if isinstance(data, str) else data,
            dict(headers or {}),
            hold,
        )
        key: Key = (path, None if query is None else frozenset(query.items()))
        replies = self.routes.setdefault(key, [])
        replies.extend([reply] * (times or 1))

    def count(self, path: str, **query: str) -> int:
        """Requests received for ``path`` whose query includes ``query``."""
        return sum(
            1
            for r in self.requests
            if r.path == path and all(r.query.get(k) == v for k, v in query.items())
        )

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        """Wait until ``predicate()`` holds (checked after every request)."""
        with self.received:
            return self.received.wait_for(predicate, timeout)

    # -- serving -------------------------------------------------------------------------------
    def _route(self, path: str, query: dict[str, str]) -> Reply | None:
        for key in ((path, frozenset(query.items())), (path, None)):
            replies = self.routes.get(key)
            if replies:
                return replies.pop(0) if len(replies) > 1 else replies[0]
        return None

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        now = self.clock()
        with self.received:
            self.requests.append(
                Request(
                    "GET",
                    parts.path,
                    query,
                    {k.lower(): v for k, v in handler.headers.items()},
                    now,
                )
            )
            limit = self.rate_limit
            allowed, extra = (True, {}) if limit is None else limit.count(now)
            reply = self._route(parts.path, query) if allowed else None
            self.received.notify_all()
        if not allowed:
            reply = Reply(429, b'{"message":"API rate limit exceeded"}')
        elif reply is None:
            reply = Reply(404, b'{"errorCode":"NOT_FOUND","message":"Not found"}')
        if reply.hold is not None:
            reply.hold.wait(30)
        handler.send_response(reply.status)
        handler.send_header("Content-Type", reply.content_type)
        handler.send_header("Content-Length", str(len(reply.body)))
        for name, value in {**extra, **reply.headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(reply.body)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(5)

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

"""The ASGI application: routes of the API and the portal, wired to one store.

``create_app(settings)`` opens the database at startup and closes it (finishing queued writes) at
shutdown; pass ``store=`` to share an already open store (tests, benchmarks).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from smartdistricts import __version__
from smartdistricts.api.context import AppContext, context
from smartdistricts.api.errors import (
    ApiError,
    api_error_handler,
    http_exception_handler,
    server_error_handler,
)
from smartdistricts.api.measurements import post_measurements
from smartdistricts.api.push import PATH as PUSH_PATH
from smartdistricts.api.push import PushEndpoint
from smartdistricts.config import Settings
from smartdistricts.services.ingest_process import IngestProcess
from smartdistricts.store import open_store
from smartdistricts.store.base import Store

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def ping(request: Request) -> Response:
    """Liveness: answers ``pong`` without touching the database."""
    return PlainTextResponse("pong")


async def health(request: Request) -> Response:
    """Readiness: the database answers and the writer runs."""
    ctx = context(request)
    started = time.perf_counter()
    ctx.store.read(lambda tx: tx.one("SELECT 1"))
    body = {
        "status": "ok" if ctx.store.writer.running and _process_ok(ctx) else "degraded",
        "version": __version__,
        "database": ctx.store.dialect.name,
        "database_ms": round((time.perf_counter() - started) * 1000, 3),
        "writer_backlog": ctx.writer_backlog(),
        "uptime_s": int(time.time() - ctx.started_at),
    }
    return Response(
        orjson.dumps(body),
        status_code=200 if ctx.store.writer.running and _process_ok(ctx) else 503,
        media_type="application/json",
    )


class _App(Starlette):
    """Starlette, plus a few hot routes served before the router and middleware stack."""

    hot: dict[str, ASGIApp]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self.hot.get(scope["path"])
            if handler is not None:
                scope["app"] = self
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _process_ok(ctx: AppContext) -> bool:
    return ctx.process is None or ctx.process.alive


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    on_startup: Callable[[AppContext], Any] | None = None,
) -> Starlette:
    """Build the application; ``on_startup(ctx)`` may start background work (the simulator)."""
    settings = settings or Settings.from_env()
    from smartdistricts.web.routes import routes as web_routes

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own = store is None
        opened = store or open_store(settings.db, synchronous=settings.sqlite_synchronous)
        ctx = AppContext.create(settings, opened)
        if settings.ingest_process:
            ctx.process = IngestProcess(settings)
            ctx.process.start(asyncio.get_running_loop())
        app.state.ctx = ctx
        background = None
        if on_startup is not None:
            background = await on_startup(ctx)
        try:
            yield
        finally:
            if background is not None:
                background.cancel()
                with contextlib.suppress(BaseException):
                    await background
            if ctx.process is not None:
                await asyncio.to_thread(ctx.process.close)
            if own:
                opened.close()

    push = PushEndpoint()
    routes = [
        Route("/api/v1/ping", ping, methods=["GET"]),
        Route("/api/v1/health", health, methods=["GET"]),
        Route(PUSH_PATH, push, methods=["POST"]),
        Route("/api/v1/measurements", post_measurements, methods=["POST"]),
        *web_routes(),
    ]
    app = _App(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_exception_handler,
            Exception: server_error_handler,
        },
    )
    app.hot = {PUSH_PATH: push}
    return app

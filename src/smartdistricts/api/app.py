"""The ASGI application: the API, the Airly-compatible API, the widget and the portal.

``create_app(settings)`` opens the database at startup and closes it (finishing queued writes) at
shutdown; pass ``store=`` to share an already open store (tests, benchmarks).

The application is FastAPI (routing, validation, the OpenAPI description at ``/openapi.json``
and ``/docs``). The busiest routes — device pushes, the Airly-compatible API, the widget and the
liveness check — are plain ASGI handlers dispatched before the router and middleware
(``HOT_ROUTES``): they answer from caches in a few microseconds of Python. Their OpenAPI
description comes from declarations in the routers, and tests hold both to the same schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from smartdistricts import __version__
from smartdistricts.api.context import AppContext, context
from smartdistricts.api.errors import (
    ApiError,
    api_error_handler,
    http_exception_handler,
    server_error_handler,
    validation_error_handler,
)
from smartdistricts.config import Settings
from smartdistricts.services.ingest_process import IngestProcess
from smartdistricts.store import open_store
from smartdistricts.store.base import Store

__all__ = ["create_app"]

log = logging.getLogger(__name__)
_PONG = b"pong"


async def ping(scope: Scope, receive: Receive, send: Send) -> None:
    """Liveness: ``pong``, without touching the database (also the benchmarks' hello world)."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"4")],
        }
    )
    await send({"type": "http.response.body", "body": _PONG})


def _process_ok(ctx: AppContext) -> bool:
    return ctx.process is None or ctx.process.alive


async def health(request: Request) -> dict[str, Any]:
    """Readiness: the database answers and the writers run."""
    ctx = context(request)
    started = time.perf_counter()
    ctx.store.read(lambda tx: tx.one("SELECT 1"))
    ok = ctx.store.writer.running and _process_ok(ctx)
    if not ok:
        raise ApiError(503, "a writer is not running", code="degraded")
    return {
        "status": "ok",
        "version": __version__,
        "database": ctx.store.dialect.name,
        "database_ms": round((time.perf_counter() - started) * 1000, 3),
        "writer_backlog": ctx.writer_backlog(),
        "uptime_s": int(time.time() - ctx.started_at),
    }


class App(FastAPI):
    """FastAPI plus hot routes served before the router and the middleware stack."""

    hot: dict[str, ASGIApp]
    hot_prefixes: tuple[tuple[str, ASGIApp], ...]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            handler = self.hot.get(path)
            if handler is None:
                for prefix, candidate in self.hot_prefixes:
                    if path.startswith(prefix):
                        handler = candidate
                        break
            if handler is not None:
                scope["app"] = self
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self.state.ctx
        return ctx


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    on_startup: Callable[[AppContext], Any] | None = None,
) -> App:
    """Build the application; ``on_startup(ctx)`` may start background work (the simulator)."""
    settings = settings or Settings.from_env()
    from smartdistricts.api import airly_api, measurements, native, push
    from smartdistricts.web import alerts as alert_pages
    from smartdistricts.web import editor, places, widget
    from smartdistricts.web import routes as web

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
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

    app = App(
        title="smartdistricts",
        version=__version__,
        summary="A town's air: device ingest, measurements, indices, an Airly-compatible API.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        exception_handlers={
            ApiError: api_error_handler,
            HTTPException: http_exception_handler,
            RequestValidationError: validation_error_handler,
            Exception: server_error_handler,
        },
    )
    app.add_api_route("/api/v1/health", health, methods=["GET"], tags=["service"])
    app.include_router(push.router)
    app.include_router(measurements.router)
    app.include_router(airly_api.router)
    app.include_router(native.router)
    app.include_router(widget.router)
    app.include_router(editor.router)
    app.include_router(places.router)
    app.include_router(alert_pages.router)
    app.include_router(web.router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    widgets = widget.WidgetEndpoint()
    app.hot = {"/api/v1/ping": ping, push.PATH: push.PushEndpoint(), widget.SCRIPT_PATH: widgets}
    app.hot.update(dict.fromkeys(web.HOME_PATHS, web.HomeEndpoint()))
    app.hot_prefixes = (("/widget/", widgets), ("/v2/", airly_api.AirlyEndpoint()))
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI description, with the platform's security schemes."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "AirlyKey": {"type": "apiKey", "in": "header", "name": "apikey"},
            "ApiKey": {"type": "http", "scheme": "bearer"},
            "DeviceBasic": {"type": "http", "scheme": "basic"},
        }
        app.openapi_schema = schema
    return app.openapi_schema

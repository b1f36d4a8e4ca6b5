"""What request handlers share: settings, the store, the ingest service, caches and limits."""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from smartdistricts.api.errors import ApiError
from smartdistricts.api.limits import RateLimiter
from smartdistricts.config import Settings
from smartdistricts.services.access import DeviceDirectory
from smartdistricts.services.airnow import AirNow
from smartdistricts.services.ingest import IngestService, StreamBatch
from smartdistricts.services.ingest_process import IngestProcess, IngestProcessError
from smartdistricts.store.base import Store
from smartdistricts.store.writer import WriterOverloaded

__all__ = [
    "AppContext",
    "basic_credentials",
    "client_address",
    "context",
    "parse_basic",
    "read_body",
]

MAX_BODY = 1_000_000
CHALLENGE = {"WWW-Authenticate": 'Basic realm="smartdistricts devices"'}


@dataclass
class AppContext:
    settings: Settings
    store: Store
    ingest: IngestService
    devices: DeviceDirectory
    device_pushes: RateLimiter
    auth_failures: RateLimiter
    registrations: RateLimiter
    air: AirNow
    started_at: float = field(default_factory=time.time)
    process: IngestProcess | None = None

    async def write_stream(self, work: StreamBatch | list[StreamBatch]) -> Any:
        """Store streamed readings (in the ingest process when there is one); returns once
        durable: a ``StreamResult``, or a list of them for a list of batches."""
        if self.process is not None:
            return await self.process.submit(work)
        if isinstance(work, StreamBatch):
            return await self.ingest.submit(work)
        service = self.ingest
        return await self.store.awrite(lambda tx: service.write_stream(tx, work))

    def writer_backlog(self) -> int:
        return self.store.writer.backlog() + (self.process.backlog() if self.process else 0)

    @classmethod
    def create(cls, settings: Settings, store: Store) -> AppContext:
        return cls(
            settings=settings,
            store=store,
            ingest=IngestService(store, settings),
            devices=DeviceDirectory(store),
            device_pushes=RateLimiter(settings.device_pushes_per_minute, 60.0),
            auth_failures=RateLimiter(settings.auth_failures_per_minute, 60.0),
            registrations=RateLimiter(settings.registrations_per_hour, 3600.0),
            air=AirNow(store),
        )


async def store_stream(ctx: AppContext, work: StreamBatch | list[StreamBatch]) -> Any:
    """``ctx.write_stream`` with the answers for an unavailable writer (503, retry later)."""
    try:
        return await ctx.write_stream(work)
    except IngestProcessError:
        raise ApiError(
            503, "storage is restarting; try again shortly", headers={"Retry-After": "5"}
        ) from None
    except WriterOverloaded:
        raise ApiError(
            503, "the server is busy; try again shortly", headers={"Retry-After": "5"}
        ) from None


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(user, password) from an ``Authorization: Basic`` header; None if absent."""
    return parse_basic(request.headers.get("authorization"))


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an ``Authorization`` header value if it is Basic; None if absent."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(
            401, "malformed Basic credentials", field="Authorization", headers=CHALLENGE
        ) from None
    user, sep, password = decoded.partition(":")
    if not sep:
        raise ApiError(
            401, "malformed Basic credentials (no ':')", field="Authorization", headers=CHALLENGE
        )
    return user, password


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refusing more than ``limit`` bytes with 413 (without reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise ApiError(413, f"body larger than {limit} bytes", field="body")
        except ValueError:
            raise ApiError(400, "invalid Content-Length", field="Content-Length") from None
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body larger than {limit} bytes", field="body")
        chunks.append(chunk)
    return b"".join(chunks)

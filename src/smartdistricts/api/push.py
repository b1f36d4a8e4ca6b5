"""``POST /api/v1/push/sensor-community``: the airrohr firmware's "send to own API" target.

Configure the device's "Send to own API" with this server, path ``/api/v1/push/sensor-community``,
and the user and password printed by ``smartdistricts devices add`` (user = the device id). The
firmware sends no timestamp: the server stamps the receipt time (UTC). Answers: 201 stored,
202 stored in quarantine (unknown device under open registration), 200 duplicate (the same body
again within the de-duplication window), 4xx with a JSON error naming the field otherwise.

This is the busiest route (every device, every 145 s), so it is a plain ASGI application that
the app dispatches to before the router: no request object, no middleware stack.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from smartdistricts.api.context import CHALLENGE, AppContext, parse_basic, store_stream
from smartdistricts.api.errors import ApiError, documented, error_body
from smartdistricts.ingest.airrohr import MAX_BODY, parse_push
from smartdistricts.ingest.records import IngestError
from smartdistricts.services.ingest import batch_from_push
from smartdistricts.services.security import hash_secret

__all__ = ["PATH", "PushEndpoint", "handle_push", "router"]

PATH = "/api/v1/push/sensor-community"
log = logging.getLogger(__name__)
_JSON = (b"content-type", b"application/json")


def _auth_failure(
    ctx: AppContext, address: str, message: str, field: str = "Authorization", status: int = 401
) -> ApiError:
    """The error for a failed authentication; too many from one address turn into 429."""
    if not ctx.auth_failures.allow(address):
        return ApiError(
            429,
            "too many failed authentications from this address; wait a minute",
            headers={"Retry-After": "60"},
        )
    return ApiError(status, message, field=field, headers=CHALLENGE if status == 401 else None)


async def handle_push(
    ctx: AppContext, headers: dict[str, str], body: bytes, address: str
) -> tuple[int, dict[str, Any]]:
    """Validate, authenticate and store one push; returns (status, JSON body) or raises."""
    try:
        push = parse_push(body, x_sensor=headers.get("x-sensor"), x_pin=headers.get("x-pin"))
    except IngestError as exc:
        raise ApiError(exc.status, exc.message, field=exc.field) from None
    credentials = parse_basic(headers.get("authorization"))
    device = ctx.devices.get(push.device_uid)
    register = False
    secret_hash = None
    if device is None:
        if not ctx.settings.open_registration:
            raise _auth_failure(
                ctx,
                address,
                f"unknown device {push.device_uid!r}; register it with"
                " 'smartdistricts devices add'",
                field="X-Sensor",
                status=403,
            )
        if not ctx.registrations.allow(address):
            raise ApiError(
                429, "too many new devices from this address", headers={"Retry-After": "3600"}
            )
        register = True
        secret_hash = hash_secret(credentials[1]) if credentials else None
    else:
        if device.status == "disabled":
            raise ApiError(403, f"device {push.device_uid!r} is disabled", field="X-Sensor")
        if device.secret_hash is None:
            # Only a device that registered itself without a password (open registration) may
            # push without one, and only while it waits in quarantine. Imported devices have no
            # password until the operator issues one.
            if not (device.status == "quarantine" and ctx.settings.open_registration):
                raise _auth_failure(
                    ctx,
                    address,
                    f"device {push.device_uid!r} has no credentials yet; issue them with"
                    f" 'smartdistricts devices secret {push.device_uid}'",
                )
        else:
            if credentials is None:
                raise _auth_failure(ctx, address, "credentials required (HTTP Basic)")
            user, password = credentials
            if user not in (push.device_uid, ""):
                raise _auth_failure(ctx, address, "the user must be the device id (X-Sensor)")
            if not device.accepts(password):
                raise _auth_failure(ctx, address, "wrong device credentials")
    if not ctx.device_pushes.allow(push.device_uid):
        retry = ctx.device_pushes.retry_after(push.device_uid)
        raise ApiError(429, "this device pushes too often", headers={"Retry-After": str(retry)})
    batch = batch_from_push(
        push, body, source="push", address=address, register=register, secret_hash=secret_hash
    )
    result = await store_stream(ctx, batch)
    if result.outcome in ("unknown_device", "disabled") or register:
        ctx.devices.forget(push.device_uid)
    if result.outcome == "unknown_device":
        raise ApiError(403, f"unknown device {push.device_uid!r}", field="X-Sensor")
    if result.outcome == "disabled":
        raise ApiError(403, f"device {push.device_uid!r} is disabled", field="X-Sensor")
    payload: dict[str, Any] = {
        "device": push.device_uid,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(batch.received_at)),
        "stored": result.stored,
        "status": result.outcome if not result.quarantined else "quarantine",
    }
    if push.ignored:
        payload["ignored"] = push.ignored
    status = 200 if result.outcome == "duplicate" else 202 if result.quarantined else 201
    return status, payload


router = APIRouter(tags=["ingest"])


@router.post(
    PATH,
    summary="Store a push of the airrohr firmware (its 'send to own API' target)",
    responses={
        200: {"description": "The same body again: acknowledged, not stored twice"},
        201: {"description": "Stored (durable)"},
        202: {"description": "Stored in quarantine (unknown device under open registration)"},
        400: documented("No device id, or the body is not JSON"),
        401: documented("Missing or wrong device credentials"),
        403: documented("Unknown or disabled device"),
        413: documented("Body larger than 1 MB"),
        422: documented("A value or field is wrong; the error names it"),
        429: documented("Too many pushes or failed logins"),
    },
    openapi_extra={
        "parameters": [
            {
                "name": "X-Sensor",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "Device id, e.g. esp8266-13597771",
            },
            {
                "name": "X-PIN",
                "in": "header",
                "required": False,
                "schema": {"type": "string"},
                "description": "Sensor slot of a per-sensor push",
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["sensordatavalues"],
                        "properties": {
                            "esp8266id": {"type": "string"},
                            "software_version": {"type": "string"},
                            "sensordatavalues": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["value_type", "value"],
                                    "properties": {
                                        "value_type": {"type": "string"},
                                        "value": {"type": "string"},
                                    },
                                },
                            },
                        },
                    }
                }
            },
        },
        "security": [{"DeviceBasic": []}],
    },
)
async def push_documented(request: Request) -> Response:
    """The same handler through the router (normally the hot route answers first)."""
    ctx: AppContext = request.app.state.ctx
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        body = await _read_body(_receive_of(request), headers.get("content-length"), MAX_BODY)
        status, payload = await handle_push(
            ctx, headers, body, request.client.host if request.client else "unknown"
        )
    except ApiError as exc:
        return Response(
            error_body(exc.status, exc.message, field=exc.field, code=exc.code),
            status_code=exc.status,
            headers=exc.headers,
            media_type="application/json",
        )
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")


def _receive_of(request: Request) -> Any:
    return request.receive


class PushEndpoint:
    """The push route as a bare ASGI application (see the module docstring)."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["method"] != "POST":
            await _send(send, 405, error_body(405, "use POST"), [(b"allow", b"POST")])
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        address = client[0] if client else "unknown"
        extra: list[tuple[bytes, bytes]] = []
        try:
            body = await _read_body(receive, headers.get("content-length"), MAX_BODY)
            ctx: AppContext = scope["app"].state.ctx
            status, payload = await handle_push(ctx, headers, body, address)
            content = orjson.dumps(payload)
        except ApiError as exc:
            status = exc.status
            content = error_body(exc.status, exc.message, field=exc.field, code=exc.code)
            extra = [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
        except Exception:
            log.exception("push failed")
            status, content = 500, error_body(500, "internal error; see the operator's log")
        await _send(send, status, content, extra)


async def _read_body(receive: Any, declared: str | None, limit: int) -> bytes:
    """The request body, refusing more than ``limit`` bytes (413) before reading it all."""
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise ApiError(400, "invalid Content-Length", field="Content-Length") from None
        if too_big:
            raise ApiError(413, f"body larger than {limit} bytes", field="body")
    chunks = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "the client went away", field="body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"body larger than {limit} bytes", field="body")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def _send(send: Any, status: int, content: bytes, extra: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", str(len(content)).encode()), *extra],
        }
    )
    await send({"type": "http.response.body", "body": content})

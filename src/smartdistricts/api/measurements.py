"""``POST /api/v1/measurements``: readings from devices other than airrohr nodes.

Authenticate with an API key that has the ``write`` scope (``Authorization: Bearer <key>`` or
``X-API-Key``; a key tied to a device may only write that device's sensors) or with a device's
own HTTP Basic credentials. The body format is described in :mod:`smartdistricts.ingest.batch`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from smartdistricts.api.context import (
    basic_credentials,
    client_address,
    context,
    read_body,
    store_stream,
)
from smartdistricts.api.errors import ApiError, documented
from smartdistricts.ingest.batch import BatchErrors, parse_batch
from smartdistricts.ingest.records import IngestError
from smartdistricts.services.access import find_api_key, find_sensors
from smartdistricts.services.ingest import StreamBatch

__all__ = ["post_measurements", "router"]

MAX_BATCH_BODY = 4_000_000


@dataclass(frozen=True, slots=True)
class _Writer:
    """Who is writing: a device (by id) or an unrestricted key (device None)."""

    device_id: int | None
    device_uid: str | None


def _api_key(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return request.headers.get("x-api-key")


def _failed(request: Request, message: str) -> ApiError:
    """A failed authentication; too many from one address become 429."""
    if not context(request).auth_failures.allow(client_address(request)):
        return ApiError(429, "too many failed authentications", headers={"Retry-After": "60"})
    return ApiError(401, message, field="Authorization")


def _authenticate(request: Request) -> _Writer:
    ctx = context(request)
    key = _api_key(request)
    if key is not None:
        found = find_api_key(ctx.store, key)
        if found is None:
            raise _failed(request, "unknown or revoked API key")
        api_key, device_uid = found
        if not api_key.scopes & {"write", "admin"}:
            raise ApiError(
                403, "this API key may not write (scope 'write' needed)", field="Authorization"
            )
        return _Writer(api_key.device_id, device_uid)
    credentials = basic_credentials(request)
    if credentials is None:
        raise ApiError(
            401,
            "credentials required: an API key (Bearer) or the device's Basic credentials",
            field="Authorization",
        )
    user, password = credentials
    device = ctx.devices.get(user)
    if device is None or device.status == "disabled" or not device.accepts(password):
        raise _failed(request, "wrong device credentials")
    return _Writer(device.id, device.uid)


router = APIRouter(tags=["ingest"])

_ITEM = {
    "type": "object",
    "required": ["sensor", "time", "variable", "value"],
    "properties": {
        "sensor": {
            "description": "A sensor id, or (with device credentials) a sensor type name",
            "oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "maxLength": 64}],
        },
        "time": {
            "description": "ISO 8601 with a time zone, or Unix seconds",
            "oneOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}],
        },
        "variable": {"type": "string", "description": "A variable of docs/nomenclature.md"},
        "value": {"type": "number"},
    },
}


@router.post(
    "/api/v1/measurements",
    status_code=201,
    summary="Store readings from devices other than airrohr nodes",
    responses={
        201: {"description": "Stored (durable)"},
        400: documented("The body is not JSON"),
        401: documented("No or wrong credentials"),
        403: documented("The key may not write this sensor"),
        413: documented("Body larger than the limit"),
        409: documented("A device in the batch is disabled or in quarantine"),
        422: documented("A problem with the body; every problem is listed"),
        429: documented("Too many failed authentications from this address"),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": _ITEM, "minItems": 1, "maxItems": 10000}
                }
            },
        },
        "security": [{"ApiKey": []}, {"DeviceBasic": []}],
    },
)
async def post_measurements(request: Request) -> Response:
    """Readings ``[{sensor, time, variable, value}, …]``, all or nothing."""
    ctx = context(request)
    writer = _authenticate(request)
    body = await read_body(request, MAX_BATCH_BODY)
    try:
        items = parse_batch(body)
    except BatchErrors as exc:
        raise ApiError(
            422,
            exc.message,
            field=exc.field,
            details=[{"field": f, "message": m} for f, m in exc.problems],
        ) from None
    except IngestError as exc:
        raise ApiError(exc.status, exc.message, field=exc.field) from None

    known = find_sensors(
        ctx.store, sorted({int(i.sensor) for i in items if isinstance(i.sensor, int)})
    )
    batches: dict[str, StreamBatch] = {}
    now = int(time.time())
    for n, item in enumerate(items):
        if isinstance(item.sensor, int):
            if item.sensor not in known:
                raise ApiError(422, f"no sensor {item.sensor}", field=f"[{n}].sensor")
            entry = known[item.sensor]
            uid, stype = entry.device_uid, entry.type
            if writer.device_id is not None and entry.device_id != writer.device_id:
                raise ApiError(
                    403, f"sensor {item.sensor} belongs to another device", field=f"[{n}].sensor"
                )
        else:
            if writer.device_uid is None:
                raise ApiError(
                    422,
                    "a sensor type name needs device credentials; give a sensor id",
                    field=f"[{n}].sensor",
                )
            uid, stype = writer.device_uid, item.sensor
        batch = batches.get(uid)
        if batch is None:
            batch = batches[uid] = StreamBatch(
                uid, [], "batch-api", now, remote_addr=client_address(request)
            )
        batch.readings.append((stype, item.variable_id, item.time, item.value))
    results = await store_stream(ctx, list(batches.values()))
    refused = [r for r in results if r.outcome != "stored"]
    if refused:  # a device was disabled or deleted meanwhile
        raise ApiError(409, f"a device is {refused[0].outcome.replace('_', ' ')}")
    return Response(
        orjson.dumps({"accepted": len(items), "devices": len(batches)}),
        status_code=201,
        media_type="application/json",
    )

"""``POST /api/v1/push/sensor-community``: the airrohr firmware's "send to own API" target.

Configure the device's "Send to own API" with this server, path ``/api/v1/push/sensor-community``,
and the user and password printed by ``smartdistricts devices add`` (user = the device id). The
firmware sends no timestamp: the server stamps the receipt time (UTC). Answers: 201 stored,
202 stored in quarantine (unknown device under open registration), 200 duplicate (the same body
again within the de-duplication window), 4xx with a JSON error naming the field otherwise.
"""

from __future__ import annotations

import hashlib
import time

import orjson
from starlette.requests import Request
from starlette.responses import Response

from smartdistricts.api.context import (
    CHALLENGE,
    basic_credentials,
    client_address,
    context,
    read_body,
)
from smartdistricts.api.errors import ApiError
from smartdistricts.ingest.airrohr import MAX_BODY, parse_push
from smartdistricts.ingest.records import IngestError
from smartdistricts.services.ingest import StreamBatch
from smartdistricts.services.security import hash_secret
from smartdistricts.store.writer import WriterOverloaded

__all__ = ["push_sensor_community"]


def _auth_failure(
    request: Request, message: str, field: str = "Authorization", status: int = 401
) -> ApiError:
    """The error for a failed authentication; too many from one address turn into 429."""
    ctx = context(request)
    if not ctx.auth_failures.allow(client_address(request)):
        return ApiError(
            429,
            "too many failed authentications from this address; wait a minute",
            headers={"Retry-After": "60"},
        )
    return ApiError(status, message, field=field, headers=CHALLENGE if status == 401 else None)


async def push_sensor_community(request: Request) -> Response:
    ctx = context(request)
    body = await read_body(request, MAX_BODY)
    try:
        push = parse_push(
            body, x_sensor=request.headers.get("x-sensor"), x_pin=request.headers.get("x-pin")
        )
    except IngestError as exc:
        raise ApiError(exc.status, exc.message, field=exc.field) from None
    address = client_address(request)
    credentials = basic_credentials(request)
    device = ctx.devices.get(push.device_uid)
    register = False
    secret_hash = None
    if device is None:
        if not ctx.settings.open_registration:
            raise _auth_failure(
                request,
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
                    request,
                    f"device {push.device_uid!r} has no credentials yet; issue them with"
                    f" 'smartdistricts devices secret {push.device_uid}'",
                )
        else:
            if credentials is None:
                raise _auth_failure(request, "credentials required (HTTP Basic)")
            user, password = credentials
            if user not in (push.device_uid, ""):
                raise _auth_failure(request, "the user must be the device id (X-Sensor)")
            if not device.accepts(password):
                raise _auth_failure(request, "wrong device credentials")
    if not ctx.device_pushes.allow(push.device_uid):
        retry = ctx.device_pushes.retry_after(push.device_uid)
        raise ApiError(429, "this device pushes too often", headers={"Retry-After": str(retry)})
    now = int(time.time())
    interval = push.status.get("interval")
    batch = StreamBatch(
        device_uid=push.device_uid,
        readings=[(stype, var, now, value) for stype, var, value in push.values],
        source="push",
        received_at=now,
        software_version=push.software_version,
        signal=push.status.get("signal"),
        interval_s=interval / 1000.0 if interval and interval > 0 else None,
        body_hash=hashlib.blake2b(body, digest_size=16).hexdigest(),
        remote_addr=address,
        register=register,
        register_secret_hash=secret_hash,
        stamped=True,
    )
    try:
        result = await ctx.ingest.submit(batch)
    except WriterOverloaded:
        raise ApiError(
            503, "the server is busy; try again shortly", headers={"Retry-After": "5"}
        ) from None
    if result.outcome == "unknown_device":
        ctx.devices.forget(push.device_uid)
        raise ApiError(403, f"unknown device {push.device_uid!r}", field="X-Sensor")
    if result.outcome == "disabled":
        ctx.devices.forget(push.device_uid)
        raise ApiError(403, f"device {push.device_uid!r} is disabled", field="X-Sensor")
    if register:
        ctx.devices.forget(push.device_uid)
    payload = {
        "device": push.device_uid,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        "stored": result.stored,
        "status": result.outcome if not result.quarantined else "quarantine",
    }
    if push.ignored:
        payload["ignored"] = push.ignored
    status = 200 if result.outcome == "duplicate" else 202 if result.quarantined else 201
    return Response(orjson.dumps(payload), status_code=status, media_type="application/json")

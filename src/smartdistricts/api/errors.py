"""One JSON shape for every error of the native API.

``{"error": {"status": 422, "code": "invalid_field", "message": "…", "field": "…"}}`` — ``field``
names the header, query parameter or JSON path at fault (``sensordatavalues[2].value``) when
there is one; ``details`` lists further problems of the same request.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "ApiError",
    "ErrorBody",
    "documented",
    "error_body",
    "error_response",
    "http_exception_handler",
    "server_error_handler",
    "validation_error_handler",
]


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    status: int
    code: str
    message: str
    field: str | None = None
    details: list[ErrorDetail] | None = None


class ErrorBody(BaseModel):
    """``{"error": {"status", "code", "message", "field"?, "details"?}}`` (docs/api.md#errors)."""

    error: ErrorInfo


def documented(description: str) -> dict[str, Any]:
    """An error answer for a route's ``responses`` in the OpenAPI description."""
    return {"model": ErrorBody, "description": description}


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_field",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """Raise in a handler to answer with the standard error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code or _CODES.get(status, "error")
        self.details = details
        self.headers = headers


def error_body(
    status: int,
    message: str,
    *,
    field: str | None = None,
    code: str | None = None,
    details: list[dict[str, Any]] | None = None,
) -> bytes:
    """The JSON bytes of the standard error shape."""
    body: dict[str, Any] = {
        "status": status,
        "code": code or _CODES.get(status, "error"),
        "message": message,
    }
    if field is not None:
        body["field"] = field
    if details:
        body["details"] = details
    return orjson.dumps({"error": body})


def error_response(
    status: int,
    message: str,
    *,
    field: str | None = None,
    code: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        error_body(status, message, field=field, code=code, details=details),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status,
        exc.message,
        field=exc.field,
        code=exc.code,
        details=exc.details,
        headers=exc.headers,
    )


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else _CODES.get(exc.status_code, "error")
    return error_response(exc.status_code, message, headers=dict(exc.headers or {}))


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    """``("query", "lat")`` → ``lat``; ``("body", 3, "value")`` → ``[3].value``."""
    parts = [p for p in location if p not in ("query", "path", "header", "body", "cookie")]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or str(location[0] if location else "request")


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    """FastAPI's parameter validation errors in the platform's error shape (422 or 400)."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))}
        for e in exc.errors()
    ]
    first = problems[0] if problems else {"field": "request", "message": "invalid"}
    return error_response(
        422, f"{first['field']}: {first['message']}", field=first["field"], details=problems
    )


async def server_error_handler(request: Request, exc: Exception) -> Response:
    return error_response(500, "internal error; the operator's log has the details")

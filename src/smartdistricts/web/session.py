"""The editors' area's browser session: cookie, CSRF check, form parsing, login rate limits.

* The session cookie (``sd_session``) holds a random token; the database holds its SHA-256
  (:mod:`smartdistricts.services.accounts`). It is ``HttpOnly``, ``SameSite=Lax``, limited to
  ``/`` and ``Secure`` when the ``base_url`` setting is ``https://…``.
* Every POST form carries the session's CSRF token (``csrf`` field), checked before anything
  else is done (403 when missing or wrong). The login form, which has no session yet, uses a
  double-submit token: a random ``sd_login_csrf`` cookie that the form must repeat.
* Forms are parsed with a byte limit (413 naming the field ``body`` past it), so an upload
  larger than ``upload_max_bytes`` is refused while it streams in.
* Sign-in attempts are limited per client address and per user name
  (``login_attempts_per_minute``; 429 with ``Retry-After``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response

from smartdistricts.api.context import context
from smartdistricts.api.errors import ApiError
from smartdistricts.api.limits import RateLimiter
from smartdistricts.config import Settings
from smartdistricts.services.accounts import User, csrf_ok, csrf_token, session_user

__all__ = [
    "COOKIE",
    "LOGIN_COOKIE",
    "LoginLimits",
    "SignedIn",
    "check_csrf",
    "check_login_csrf",
    "clear_session_cookie",
    "login_limits",
    "new_login_csrf",
    "read_form",
    "set_login_cookie",
    "set_session_cookie",
    "signed_in",
]

COOKIE = "sd_session"
LOGIN_COOKIE = "sd_login_csrf"
#: Room for the other form fields on top of an upload's own limit [bytes].
FORM_OVERHEAD = 256_000


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The account behind a request's session cookie, with the session's CSRF token."""

    user: User
    token: str

    @property
    def csrf(self) -> str:
        return csrf_token(self.token)


def signed_in(request: Request) -> SignedIn | None:
    token = request.cookies.get(COOKIE)
    user = session_user(context(request).store, token)
    return None if user is None or token is None else SignedIn(user, token)


def _secure(settings: Settings) -> bool:
    return settings.base_url.lower().startswith("https://")


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(settings)
    )


def new_login_csrf() -> str:
    """A fresh double-submit token for the login form."""
    return secrets.token_urlsafe(24)


def set_login_cookie(response: Response, token: str, settings: Settings) -> None:
    """Send the login form's token as a cookie too (the form must repeat it)."""
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/redakcja/",
        httponly=True,
        samesite="strict",
        secure=_secure(settings),
    )


def check_login_csrf(request: Request, form: FormData) -> None:
    cookie = request.cookies.get(LOGIN_COOKIE)
    given = form.get("csrf")
    if not cookie or not isinstance(given, str) or not hmac.compare_digest(cookie, given):
        raise ApiError(403, "missing or wrong CSRF token; reload the form", field="csrf")


def check_csrf(session: SignedIn, form: FormData) -> None:
    given = form.get("csrf")
    if not isinstance(given, str) or not csrf_ok(session.token, given):
        raise ApiError(403, "missing or wrong CSRF token; reload the form", field="csrf")


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"form larger than {limit} bytes", field="body")
        yield chunk


async def read_form(request: Request, *, limit: int, max_files: int = 1) -> FormData:
    """The request's form (urlencoded or multipart), refusing more than ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise ApiError(400, "invalid Content-Length", field="Content-Length") from None
        if too_big:
            raise ApiError(413, f"form larger than {limit} bytes", field="body")
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        if kind == "multipart/form-data":
            return await MultiPartParser(
                request.headers, _limited(request, limit), max_files=max_files, max_fields=40
            ).parse()
        if kind == "application/x-www-form-urlencoded":
            return await FormParser(request.headers, _limited(request, limit)).parse()
        if not kind and declared in (None, "0"):
            return FormData()  # no body at all: an empty form (refused by the CSRF check)
    except MultiPartException as exc:
        raise ApiError(400, f"malformed form: {exc.message}", field="body") from None
    raise ApiError(415, "send a form (urlencoded or multipart)", field="Content-Type")


@dataclass
class LoginLimits:
    by_address: RateLimiter
    by_name: RateLimiter

    def allow(self, address: str, name: str) -> int | None:
        """None when a sign-in attempt may go ahead, else the seconds to wait."""
        key = name.strip().lower()[:100]
        if not self.by_address.allow(address):
            return self.by_address.retry_after(address)
        if not self.by_name.allow(key):
            return self.by_name.retry_after(key)
        return None


def login_limits(request: Request) -> LoginLimits:
    """The application's sign-in limiters (created on first use)."""
    state = request.app.state
    limits: LoginLimits | None = getattr(state, "login_limits", None)
    if limits is None:
        rate = context(request).settings.login_attempts_per_minute
        limits = LoginLimits(RateLimiter(rate, 60.0), RateLimiter(rate, 60.0))
        state.login_limits = limits
    return limits

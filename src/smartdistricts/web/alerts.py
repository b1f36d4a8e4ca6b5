"""Smog-alert pages: history and subscription, confirmation, one-click unsubscribe, Atom feed.

* ``/alerty``, ``/en/alerts`` — active alerts, the history of episodes (``?page=N``) and the
  subscription form; ``.json`` twins; ``POST`` subscribes (double opt-in).
* ``/alerty/potwierdz/{token}``, ``/en/alerts/confirm/{token}`` — confirmation links.
* ``/alerty/wypisz/{token}``, ``/en/alerts/unsubscribe/{token}`` — ``GET`` shows a button,
  ``POST`` unsubscribes (the one-click ``List-Unsubscribe-Post`` of RFC 8058 posts here).
* ``/alerty.atom``, ``/en/alerts.atom`` — Atom feed of episodes.

The subscription form is protected by a signed double-submit token: a random nonce and its
HMAC (alerts key) in a ``SameSite=Strict`` cookie and in the form; both must match and the HMAC
verify. Subscriptions are rate-limited per e-mail address and per client address.

Importing this module registers the portal banner's data (``alerts``: the active alerts, see
:func:`smartdistricts.services.alerts.active_alerts`) with
:func:`smartdistricts.web.pages.add_context_provider`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from smartdistricts.api.context import client_address, context
from smartdistricts.api.errors import ApiError
from smartdistricts.api.limits import RateLimiter
from smartdistricts.services.alerts import Episode, active_alerts, list_episodes
from smartdistricts.services.registry import list_districts, list_sites
from smartdistricts.services.subscriptions import (
    SubscriptionError,
    alerts_key,
    check_email,
    confirm,
    subscribe,
    unsubscribe,
)
from smartdistricts.web import i18n
from smartdistricts.web.feed import ATOM_TYPE, FeedEntry, atom_feed
from smartdistricts.web.pages import add_context_provider, json_page, paths, render_page
from smartdistricts.web.session import read_form

__all__ = ["CSRF_COOKIE", "router"]

router = APIRouter(include_in_schema=False)

CSRF_COOKIE = "sd_alerts_csrf"
PAGE_SIZE = 50
_FORM_LIMIT = 4096
_TOKEN_PATHS = {
    "pl": ("/alerty/potwierdz/", "/alerty/wypisz/"),
    "en": ("/en/alerts/confirm/", "/en/alerts/unsubscribe/"),
}
_LABELS = {"pm2_5": "PM2.5", "pm10": "PM10", "pm1": "PM1", "caqi": "CAQI"}


def _banner(request: Request, lang: str) -> dict[str, Any]:
    try:
        return {"alerts": active_alerts(context(request).store)}
    except Exception:  # the banner must never break a page
        return {"alerts": []}


add_context_provider(_banner)


# -- helpers -----------------------------------------------------------------------------------
def _csrf_token(key: bytes) -> str:
    nonce = secrets.token_urlsafe(18)
    mac = hmac.new(key, f"csrf|{nonce}".encode(), hashlib.sha256).digest()[:18]
    return f"{nonce}.{base64.urlsafe_b64encode(mac).decode()}"


def _csrf_ok(key: bytes, cookie: str | None, given: object) -> bool:
    if not cookie or not isinstance(given, str) or not hmac.compare_digest(cookie, given):
        return False
    nonce, _, mac = given.partition(".")
    expected = hmac.new(key, f"csrf|{nonce}".encode(), hashlib.sha256).digest()[:18]
    return hmac.compare_digest(base64.urlsafe_b64encode(expected).decode(), mac)


def _limiter(request: Request) -> RateLimiter:
    state = request.app.state
    found: RateLimiter | None = getattr(state, "alert_subscriptions", None)
    if found is None:
        rate = context(request).settings.alerts_subscriptions_per_hour
        found = state.alert_subscriptions = RateLimiter(rate, per=3600.0)
    return found


def _other(lang: str) -> str:
    return "en" if lang == "pl" else "pl"


def _label(variable: str) -> str:
    return _LABELS.get(variable, variable.upper())


def _episode_json(e: Episode, lang: str) -> dict[str, Any]:
    p = paths(lang)
    return {**e.as_dict(), "variable_label": _label(e.variable), "site_url": p.site(e.site_id)}


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "")
    if raw == "":
        return 1
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100_000:
        raise ApiError(422, "page: use a whole number from 1", field="page")
    return int(raw)


def history_data(request: Request, lang: str, page: int = 1) -> dict[str, Any]:
    """What the history page shows (and its JSON twin returns)."""
    ctx = context(request)
    episodes = list_episodes(ctx.store, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    p = paths(lang)
    return {
        "active": [_episode_json(e, lang) for e in active_alerts(ctx.store)],
        "episodes": [_episode_json(e, lang) for e in episodes[:PAGE_SIZE]],
        "page": page,
        "next_page": page + 1 if len(episodes) > PAGE_SIZE else None,
        "feed_url": p.alerts_feed,
    }


def _scopes(request: Request) -> list[tuple[str, str]]:
    store = context(request).store
    options = [("all", "")]
    options += [(f"district:{d.id}", d.name) for d in list_districts(store)]
    options += [(f"site:{s.id}", s.name) for s in list_sites(store) if s.active]
    return options


def _history(request: Request, lang: str, *, status_code: int = 200, **extra: Any) -> Response:
    data = history_data(request, lang, _page_number(request))
    key = alerts_key(context(request).store, context(request).settings)
    token = _csrf_token(key)
    p = paths(lang)
    response = render_page(
        request,
        "alerts/history.html",
        lang,
        status_code=status_code,
        d=data,
        csrf=token,
        scopes=_scopes(request),
        json_url=p.json(p.alerts),
        label=_label,
        when=lambda t: i18n.format_datetime(t, lang, context(request).settings.tz),
        **extra,
    )
    response.set_cookie(
        CSRF_COOKIE, token, max_age=3600, path="/", httponly=True, samesite="strict"
    )
    response.headers["cache-control"] = "no-store"
    return response


async def _subscribe(request: Request, lang: str) -> Response:
    ctx = context(request)
    form = await read_form(request, limit=_FORM_LIMIT, max_files=0)
    key = alerts_key(ctx.store, ctx.settings)
    if not _csrf_ok(key, request.cookies.get(CSRF_COOKIE), form.get("csrf")):
        raise ApiError(403, "missing or wrong CSRF token; reload the form", field="csrf")
    email = form.get("email")
    scope = form.get("scope") or "all"
    if not isinstance(email, str) or not isinstance(scope, str):
        raise ApiError(422, "email: required", field="email")
    try:
        address = check_email(email)
    except SubscriptionError as exc:
        raise ApiError(422, f"{exc.field}: {exc}", field=exc.field) from None
    limiter = _limiter(request)
    for bucket in (f"email:{address}", f"addr:{client_address(request)}"):
        if not limiter.allow(bucket):
            raise ApiError(
                429,
                "too many subscription requests; try again later",
                field="email",
                headers={"Retry-After": str(limiter.retry_after(bucket))},
            )
    if scope not in {value for value, _ in _scopes(request)}:
        raise ApiError(422, "scope: choose one of the listed places", field="scope")
    try:
        subscribe(ctx.store, ctx.settings, address, scope=scope, lang=lang)
    except SubscriptionError as exc:
        raise ApiError(422, f"{exc.field}: {exc}", field=exc.field) from None
    # The same answer whether or not the address was subscribed already.
    return _history(request, lang, status_code=202, sent_to=address)


def _message(request: Request, lang: str, title: str, text: str, status: int) -> HTMLResponse:
    response = render_page(
        request,
        "alerts/message.html",
        lang,
        status_code=status,
        title=title,
        text=text,
        switch=paths(_other(lang)).alerts,
    )
    response.headers["cache-control"] = "no-store"
    response.headers["referrer-policy"] = "no-referrer"
    return response


def _confirm(request: Request, lang: str, token: str) -> HTMLResponse:
    if len(token) <= 200 and confirm(context(request).store, token):
        return _message(
            request,
            lang,
            i18n.gettext(lang, "Subskrypcja potwierdzona"),
            i18n.gettext(lang, "Od teraz będziemy wysyłać alerty smogowe na Twój adres."),
            200,
        )
    return _message(
        request,
        lang,
        i18n.gettext(lang, "Nieprawidłowy link"),
        i18n.gettext(
            lang, "Link potwierdzający jest nieprawidłowy albo wygasł. Zapisz się ponownie."
        ),
        404,
    )


def _unsubscribe_form(request: Request, lang: str) -> HTMLResponse:
    response = render_page(
        request,
        "alerts/unsubscribe.html",
        lang,
        action=request.url.path,
        switch=paths(_other(lang)).alerts,
    )
    response.headers["cache-control"] = "no-store"
    response.headers["referrer-policy"] = "no-referrer"
    return response


def _unsubscribe(request: Request, lang: str, token: str) -> HTMLResponse:
    if len(token) <= 200 and unsubscribe(context(request).store, token):
        return _message(
            request,
            lang,
            i18n.gettext(lang, "Wypisano"),
            i18n.gettext(lang, "Nie będziemy już wysyłać alertów smogowych na ten adres."),
            200,
        )
    return _message(
        request,
        lang,
        i18n.gettext(lang, "Nieprawidłowy link"),
        i18n.gettext(lang, "Ten link jest nieprawidłowy."),
        404,
    )


def _feed(request: Request, lang: str) -> Response:
    ctx = context(request)
    base = ctx.settings.base_url
    p = paths(lang)
    tz = ctx.settings.tz
    entries = []
    for e in list_episodes(ctx.store, limit=PAGE_SIZE):
        label = _label(e.variable)
        title = i18n.gettext(lang, "Alert smogowy") + f": {e.site_name} — {label}"
        ended = (
            i18n.gettext(lang, "trwa")
            if e.ended_at is None
            else i18n.gettext(lang, "koniec") + " " + i18n.format_datetime(e.ended_at, lang, tz)
        )
        threshold = i18n.gettext(lang, "Próg")
        peak = i18n.gettext(lang, "szczyt")
        began = i18n.gettext(lang, "początek")
        summary = (
            f"{threshold} {i18n.format_number(e.threshold, lang)} ({e.averaging}), "
            f"{peak} {i18n.format_number(e.peak, lang)}; "
            f"{began} {i18n.format_datetime(e.started_at, lang, tz)}, {ended}."
        )
        entries.append(
            FeedEntry(
                id=f"{base}/alerty#episode-{e.id}",
                title=title,
                url=f"{base}{p.alerts}#episode-{e.id}",
                updated=float(e.ended_at or e.started_at),
                published=float(e.started_at),
                summary=summary,
                categories=(e.level, e.rule_key),
            )
        )
    body = atom_feed(
        feed_id=f"{base}{p.alerts_feed}",
        title=i18n.gettext(lang, "Alerty smogowe") + f" · {ctx.settings.attribution}",
        self_url=f"{base}{p.alerts_feed}",
        alternate_url=f"{base}{p.alerts}",
        author=ctx.settings.attribution,
        lang=lang,
        entries=entries,
    )
    return Response(body, media_type=ATOM_TYPE, headers={"cache-control": "public, max-age=60"})


# -- routes ------------------------------------------------------------------------------------
@router.get("/alerty")
async def alerts_page(request: Request) -> Response:
    return _history(request, "pl")


@router.get("/en/alerts")
async def alerts_page_en(request: Request) -> Response:
    return _history(request, "en")


@router.post("/alerty")
async def alerts_subscribe(request: Request) -> Response:
    return await _subscribe(request, "pl")


@router.post("/en/alerts")
async def alerts_subscribe_en(request: Request) -> Response:
    return await _subscribe(request, "en")


@router.get("/alerty.json")
async def alerts_json(request: Request) -> Response:
    return json_page(history_data(request, "pl", _page_number(request)))


@router.get("/en/alerts.json")
async def alerts_json_en(request: Request) -> Response:
    return json_page(history_data(request, "en", _page_number(request)))


@router.get("/alerty.atom")
async def alerts_feed(request: Request) -> Response:
    return _feed(request, "pl")


@router.get("/en/alerts.atom")
async def alerts_feed_en(request: Request) -> Response:
    return _feed(request, "en")


@router.get("/alerty/potwierdz/{token}")
async def alerts_confirm(request: Request, token: str) -> Response:
    return _confirm(request, "pl", token)


@router.get("/en/alerts/confirm/{token}")
async def alerts_confirm_en(request: Request, token: str) -> Response:
    return _confirm(request, "en", token)


@router.get("/alerty/wypisz/{token}")
async def alerts_unsubscribe_form(request: Request, token: str) -> Response:
    return _unsubscribe_form(request, "pl")


@router.get("/en/alerts/unsubscribe/{token}")
async def alerts_unsubscribe_form_en(request: Request, token: str) -> Response:
    return _unsubscribe_form(request, "en")


@router.post("/alerty/wypisz/{token}")
async def alerts_unsubscribe(request: Request, token: str) -> Response:
    return _unsubscribe(request, "pl", token)


@router.post("/en/alerts/unsubscribe/{token}")
async def alerts_unsubscribe_en(request: Request, token: str) -> Response:
    return _unsubscribe(request, "en", token)

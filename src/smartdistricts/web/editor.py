"""The editors' area (``/redakcja/…``): sign in, write, preview, publish and withdraw articles,
upload photos; the audit log and the users list for administrators. Uploaded photos are served
at ``/media/{file}``.

Pages are Polish (strings through gettext, catalogue ``locale/en/LC_MESSAGES/editor.po``), have
no JavaScript and send a strict Content-Security-Policy. Every POST checks the session's CSRF
token first (:mod:`smartdistricts.web.session`). Work is done by
:mod:`smartdistricts.services.news`, :mod:`~smartdistricts.services.photos` and
:mod:`~smartdistricts.services.accounts`; bad input re-renders the form with the field at fault
and a 4xx status.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from smartdistricts.api.context import client_address, context
from smartdistricts.api.errors import ApiError
from smartdistricts.services import accounts, news, photos
from smartdistricts.web import i18n
from smartdistricts.web.session import (
    FORM_OVERHEAD,
    SignedIn,
    check_csrf,
    check_login_csrf,
    clear_session_cookie,
    login_limits,
    new_login_csrf,
    read_form,
    set_login_cookie,
    set_session_cookie,
    signed_in,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PREFIX = "/redakcja"
LANG = "pl"
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'self' 'unsafe-inline'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_MEDIA_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "public, max-age=31536000, immutable",
}
_SMALL_FORM = 200_000


@pass_context
def _gettext(ctx: Context, message: str) -> str:
    return i18n.gettext(ctx.get("lang") or LANG, message)


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    return i18n.ngettext(ctx.get("lang") or LANG, singular, plural, n)


_env = Environment(
    loader=PackageLoader("smartdistricts.web", "templates"),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]


def _render(
    request: Request,
    template: str,
    *,
    session: SignedIn | None = None,
    status: int = 200,
    **data: Any,
) -> HTMLResponse:
    ctx = context(request)

    def when(ts: int | None) -> str:
        return "" if ts is None else i18n.format_datetime(ts, LANG, ctx.settings.tz)

    html = _env.get_template(f"editor/{template}").render(
        lang=LANG, user=session.user if session else None,
        csrf=session.csrf if session else "", when=when, prefix=PREFIX, **data,
    )  # fmt: skip
    return HTMLResponse(html, status_code=status, headers=_HEADERS)


def _t(message: str) -> str:
    return i18n.gettext(LANG, message)


def _to_login() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/logowanie", status_code=303, headers=_HEADERS)


def _require(request: Request) -> SignedIn:
    """The signed-in account of a POST (401 otherwise)."""
    session = signed_in(request)
    if session is None:
        raise ApiError(401, "sign in at /redakcja/logowanie", field="session")
    return session


# -- sign in and out ---------------------------------------------------------------------------
@router.get(PREFIX)
@router.get(PREFIX + "/")
async def editor_home(request: Request) -> Response:
    if signed_in(request) is None:
        return _to_login()
    return RedirectResponse(f"{PREFIX}/artykuly", status_code=303, headers=_HEADERS)


def _login_page(
    request: Request, *, status: int = 200, error: str = "", name: str = ""
) -> Response:
    token = new_login_csrf()
    response = _render(
        request, "login.html", status=status, error=error, name=name, login_csrf=token
    )
    set_login_cookie(response, token, context(request).settings)
    return response


@router.get(PREFIX + "/logowanie")
async def login_form(request: Request) -> Response:
    if signed_in(request) is not None:
        return RedirectResponse(f"{PREFIX}/artykuly", status_code=303, headers=_HEADERS)
    return _login_page(request)


@router.post(PREFIX + "/logowanie")
async def login(request: Request) -> Response:
    ctx = context(request)
    form = await read_form(request, limit=_SMALL_FORM, max_files=0)
    check_login_csrf(request, form)
    name = str(form.get("name") or "")[:100]
    password = str(form.get("password") or "")
    wait = login_limits(request).allow(client_address(request), name)
    if wait is not None:
        response = _login_page(
            request, status=429, name=name,
            error=_t("Zbyt wiele prób logowania. Spróbuj ponownie za %(s)d s.") % {"s": wait},
        )  # fmt: skip
        response.headers["Retry-After"] = str(wait)
        return response
    user = await asyncio.to_thread(accounts.authenticate, ctx.store, name, password)
    if user is None:
        return _login_page(
            request, status=401, name=name, error=_t("Nieprawidłowa nazwa użytkownika lub hasło.")
        )
    session = await asyncio.to_thread(
        accounts.start_session,
        ctx.store,
        user,
        hours=ctx.settings.session_hours,
        address=client_address(request),
    )
    response = RedirectResponse(f"{PREFIX}/artykuly", status_code=303, headers=_HEADERS)
    set_session_cookie(response, session.token, ctx.settings)
    return response


@router.post(PREFIX + "/wyloguj")
async def logout(request: Request) -> Response:
    session = _require(request)
    check_csrf(session, await read_form(request, limit=_SMALL_FORM, max_files=0))
    ctx = context(request)
    await asyncio.to_thread(accounts.end_session, ctx.store, session.token, user=session.user)
    response = _to_login()
    clear_session_cookie(response, ctx.settings)
    return response


# -- articles ----------------------------------------------------------------------------------
@router.get(PREFIX + "/artykuly")
async def article_list(request: Request) -> Response:
    session = signed_in(request)
    if session is None:
        return _to_login()
    items = news.list_articles(context(request).store)
    return _render(request, "list.html", session=session, articles=items)


def _empty_form() -> dict[str, Any]:
    return {
        "id": None, "lang": "pl", "title": "", "slug": "", "lead": "", "body_md": "",
        "tags": "", "photo_id": None, "photo_url": None, "photo_alt": "", "credit": "",
        "author": "", "state": "draft", "published_at": None,
    }  # fmt: skip


def _form_of(article: news.DraftArticle) -> dict[str, Any]:
    return {
        "id": article.id, "lang": article.lang, "title": article.title, "slug": article.slug,
        "lead": article.lead, "body_md": article.body_md, "tags": ", ".join(article.tags),
        "photo_id": article.photo_id, "photo_url": article.photo_thumb_url,
        "photo_alt": article.photo_alt, "credit": article.credit, "author": article.author,
        "state": article.state(), "published_at": article.published_at,
    }  # fmt: skip


@router.get(PREFIX + "/artykuly/nowy")
async def new_article(request: Request) -> Response:
    session = signed_in(request)
    if session is None:
        return _to_login()
    return _render(request, "edit.html", session=session, form=_empty_form())


@router.get(PREFIX + "/artykuly/{article_id}")
async def edit_article(request: Request, article_id: int) -> Response:
    session = signed_in(request)
    if session is None:
        return _to_login()
    article = news.draft_article(context(request).store, article_id)
    if article is None:
        raise ApiError(404, f"no article {article_id}", field="id")
    return _render(request, "edit.html", session=session, form=_form_of(article))


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _photo_id(value: str) -> int | None:
    try:
        return int(value) if value.strip() else None
    except ValueError:
        raise news.NewsError("photo_id", "not a number", 422) from None


async def _upload(request: Request, session: SignedIn, form: FormData) -> photos.Photo | None:
    upload = form.get("photo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    settings = context(request).settings
    data = await upload.read(settings.upload_max_bytes + 1)
    return await asyncio.to_thread(
        photos.save_photo,
        context(request).store,
        settings.media_dir,
        data,
        max_bytes=settings.upload_max_bytes,
        original_name=upload.filename,
        user_id=session.user.id,
    )


def _form_limit(request: Request) -> int:
    return context(request).settings.upload_max_bytes + FORM_OVERHEAD


@router.post(PREFIX + "/artykuly/nowy")
async def create_article(request: Request) -> Response:
    return await _save(request, None)


@router.post(PREFIX + "/artykuly/{article_id}")
async def update_article(request: Request, article_id: int) -> Response:
    return await _save(request, article_id)


async def _save(request: Request, article_id: int | None) -> Response:
    session = _require(request)
    form = await read_form(request, limit=_form_limit(request))
    try:
        check_csrf(session, form)
        return await _save_form(request, session, form, article_id)
    finally:
        await form.close()  # the uploaded file's temporary copy


async def _save_form(
    request: Request, session: SignedIn, form: FormData, article_id: int | None
) -> Response:
    store = context(request).store
    skip = ("id", "state", "published_at")
    values = {k: _field(form, k) for k in _empty_form() if k not in skip}
    shown: dict[str, Any] = {**_empty_form(), **values, "id": article_id}
    if article_id is not None:
        existing = news.draft_article(store, article_id)
        if existing is None:
            raise ApiError(404, f"no article {article_id}", field="id")
        shown.update(state=existing.state(), published_at=existing.published_at)
    try:
        photo_id = _photo_id(values["photo_id"])
        if _field(form, "action") == "preview":
            preview = news.render_markdown(values["body_md"])
            return _render(request, "edit.html", session=session, form=shown, preview=preview)
        photo = await _upload(request, session, form)
        if photo is not None:
            photo_id = photo.id
        article = await asyncio.to_thread(
            news.save_article, store, user_id=session.user.id, lang=values["lang"],
            title=values["title"], lead=values["lead"], body_md=values["body_md"],
            tags=values["tags"], photo_id=photo_id, photo_alt=values["photo_alt"],
            credit=values["credit"], author=values["author"], slug=values["slug"],
            article_id=article_id,
        )  # fmt: skip
    except news.NewsError as exc:
        error = _t("Pole „%(field)s”: %(message)s") % {"field": exc.field, "message": exc.message}
        return _render(
            request, "edit.html", session=session, form=shown, error=error, status=exc.status
        )
    return RedirectResponse(
        f"{PREFIX}/artykuly/{article.id}?zapisano=1", status_code=303, headers=_HEADERS
    )


def _parse_local(value: str, request: Request) -> int | None:
    """A ``datetime-local`` field in the town's time zone → Unix seconds (None when empty)."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ApiError(
            422, "use YYYY-MM-DDTHH:MM for the publication time", field="published_at"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=context(request).settings.tz)
    return int(moment.timestamp())


@router.post(PREFIX + "/artykuly/{article_id}/publikuj")
async def publish(request: Request, article_id: int) -> Response:
    session = _require(request)
    form = await read_form(request, limit=_SMALL_FORM, max_files=0)
    check_csrf(session, form)
    at = _parse_local(_field(form, "published_at"), request)
    try:
        await asyncio.to_thread(
            news.publish_article, context(request).store, article_id, user_id=session.user.id,
            at=at,
        )  # fmt: skip
    except news.NewsError as exc:
        raise ApiError(exc.status, exc.message, field=exc.field) from None
    return RedirectResponse(f"{PREFIX}/artykuly", status_code=303, headers=_HEADERS)


@router.post(PREFIX + "/artykuly/{article_id}/wycofaj")
async def unpublish(request: Request, article_id: int) -> Response:
    session = _require(request)
    check_csrf(session, await read_form(request, limit=_SMALL_FORM, max_files=0))
    try:
        await asyncio.to_thread(
            news.unpublish_article, context(request).store, article_id, user_id=session.user.id
        )
    except news.NewsError as exc:
        raise ApiError(exc.status, exc.message, field=exc.field) from None
    return RedirectResponse(f"{PREFIX}/artykuly", status_code=303, headers=_HEADERS)


# -- photos ------------------------------------------------------------------------------------
@router.get(PREFIX + "/zdjecia")
async def photo_form(request: Request) -> Response:
    session = signed_in(request)
    if session is None:
        return _to_login()
    return _render(request, "photos.html", session=session, photo=None)


@router.post(PREFIX + "/zdjecia")
async def upload_photo(request: Request) -> Response:
    session = _require(request)
    form = await read_form(request, limit=_form_limit(request))
    try:
        check_csrf(session, form)
        photo = await _upload(request, session, form)
        if photo is None:
            raise news.NewsError("photo", "choose a file", 422)
    except news.NewsError as exc:
        error = _t("Pole „%(field)s”: %(message)s") % {"field": exc.field, "message": exc.message}
        return _render(
            request, "photos.html", session=session, photo=None, error=error, status=exc.status
        )
    finally:
        await form.close()
    return _render(request, "photos.html", session=session, photo=photo, status=201)


# -- administrators ----------------------------------------------------------------------------
@router.get(PREFIX + "/dziennik")
async def audit_log(request: Request) -> Response:
    session = signed_in(request)
    if session is None:
        return _to_login()
    if not session.user.is_admin:
        raise ApiError(403, "administrators only", field="role")
    entries = accounts.audit_entries(context(request).store, limit=300)
    return _render(request, "audit.html", session=session, entries=entries)


@router.get(PREFIX + "/uzytkownicy")
async def users(request: Request) -> Response:
    session = signed_in(request)
    if session is None:
        return _to_login()
    if not session.user.is_admin:
        raise ApiError(403, "administrators only", field="role")
    return _render(
        request, "users.html", session=session, users=accounts.list_users(context(request).store)
    )


# -- uploaded files ----------------------------------------------------------------------------
@router.get("/media/{name}")
async def media(request: Request, name: str) -> Response:
    """An uploaded photo: only stored random names, always ``image/jpeg``, never sniffed."""
    path = photos.media_file(context(request).settings.media_dir, name)
    if path is None:
        raise ApiError(404, "no such file", field="name")
    return FileResponse(path, media_type="image/jpeg", headers=_MEDIA_HEADERS)

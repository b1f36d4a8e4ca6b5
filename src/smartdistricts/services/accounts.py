"""Editors' and administrators' accounts, sessions and the audit log.

* Passwords are hashed with argon2id (argon2-cffi's defaults); a hash made with older
  parameters is replaced at the next successful sign-in.
* A session is a random token in the browser's cookie; the database keeps only its SHA-256, so
  a copy of the database lets nobody sign in. Sessions expire after ``session_hours``.
* The CSRF token of a session is derived from the session token (another SHA-256 with a
  different prefix): forms carry it, the server recomputes it; it reveals nothing about the
  session token and needs no storage.
* Every change made through an account is written to ``audit_log`` with :func:`audit`.

Roles: ``admin`` (everything, including the users list and the audit log) and ``editor``
(articles and photos).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from smartdistricts.errors import FieldError
from smartdistricts.store.base import Store, Tx

__all__ = [
    "ROLES",
    "AccountError",
    "AuditEntry",
    "Session",
    "User",
    "add_user",
    "audit",
    "audit_entries",
    "authenticate",
    "csrf_token",
    "end_session",
    "get_user",
    "list_users",
    "session_user",
    "set_password",
    "start_session",
]

ROLES = ("admin", "editor")
MIN_PASSWORD = 10
MAX_PASSWORD = 1_000
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
_hasher = PasswordHasher()
#: Verified against when the user does not exist, so both cases take the same time.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


class AccountError(FieldError):
    """Bad input for an account: the field at fault and an HTTP status."""


@dataclass(frozen=True, slots=True)
class User:
    id: int
    name: str
    display_name: str
    role: str
    active: bool
    created_at: int
    last_login_at: int | None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class Session:
    """A started session: the raw token goes into the cookie and is never stored."""

    token: str
    user: User
    expires_at: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    time: int
    actor: str
    user_id: int | None
    action: str
    subject: str
    detail: dict[str, Any]


def audit(
    tx: Tx,
    user_id: int | None,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
    *,
    actor: str | None = None,
) -> None:
    """Record that the account ``user_id`` did ``action`` to ``target`` (who, what, when).

    Without an account (a command run on the server) ``actor`` names who did it.
    """
    tx.execute(
        "INSERT INTO audit_log (time, actor, action, subject, detail, user_id)"
        " VALUES (?, COALESCE((SELECT name FROM users WHERE id = ?), ?), ?, ?, ?, ?)",
        (
            int(time.time()),
            user_id,
            actor or "system",
            action,
            target,
            json.dumps(detail or {}, ensure_ascii=False),
            user_id,
        ),
    )


def _check_name(name: str) -> str:
    name = name.strip().lower()
    if not _NAME.match(name):
        raise AccountError("name", "2-40 characters: lower-case letters, digits, '.', '_' or '-'")
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError("password", f"at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError("password", f"at most {MAX_PASSWORD} characters")


_USER_COLS = "id, name, display_name, role, active, created_at, last_login_at"


def _user(row: tuple[Any, ...]) -> User:
    return User(
        int(row[0]),
        row[1],
        row[2],
        row[3],
        bool(row[4]),
        int(row[5]),
        None if row[6] is None else int(row[6]),
    )


def add_user(
    store: Store,
    name: str,
    password: str,
    *,
    role: str = "editor",
    display_name: str | None = None,
    actor_id: int | None = None,
    actor: str | None = None,
) -> User:
    """Create an account; raises :class:`AccountError` (409 when the name is taken)."""
    name = _check_name(name)
    if role not in ROLES:
        raise AccountError("role", f"use one of {', '.join(ROLES)}, got {role!r}")
    _check_password(password)
    shown = (display_name or name).strip()[:100] or name
    hashed = _hasher.hash(password)

    def write(tx: Tx) -> User:
        if tx.one("SELECT 1 FROM users WHERE name = ?", (name,)) is not None:
            raise AccountError("name", f"user {name!r} already exists", 409)
        user_id = tx.insert_id(
            "INSERT INTO users (name, display_name, role, password_hash) VALUES (?, ?, ?, ?)"
            " RETURNING id",
            (name, shown, role, hashed),
        )
        audit(tx, actor_id, "user.add", f"user:{name}", {"role": role}, actor=actor)
        row = tx.one(f"SELECT {_USER_COLS} FROM users WHERE id = ?", (user_id,))
        assert row is not None
        return _user(row)

    return store.write(write)


def set_password(
    store: Store,
    name: str,
    password: str,
    *,
    actor_id: int | None = None,
    actor: str | None = None,
) -> None:
    """Change a password; every session of the account ends."""
    name = _check_name(name)
    _check_password(password)
    hashed = _hasher.hash(password)

    def write(tx: Tx) -> None:
        row = tx.one("SELECT id FROM users WHERE name = ?", (name,))
        if row is None:
            raise AccountError("name", f"no user {name!r}", 404)
        tx.execute(
            "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?",
            (hashed, int(time.time()), row[0]),
        )
        tx.execute("DELETE FROM sessions WHERE user_id = ?", (row[0],))
        audit(tx, actor_id, "user.passwd", f"user:{name}", actor=actor)

    store.write(write)


def list_users(store: Store) -> list[User]:
    rows = store.read(lambda tx: tx.query(f"SELECT {_USER_COLS} FROM users ORDER BY name"))
    return [_user(r) for r in rows]


def get_user(store: Store, name: str) -> User | None:
    row = store.read(
        lambda tx: tx.one(
            f"SELECT {_USER_COLS} FROM users WHERE name = ?",
            (name.strip().lower(),),
        )
    )
    return None if row is None else _user(row)


def authenticate(store: Store, name: str, password: str) -> User | None:
    """The active account with this name and password, or None (same work either way)."""
    key = name.strip().lower()
    row = store.read(
        lambda tx: tx.one(
            f"SELECT {_USER_COLS}, password_hash FROM users WHERE name = ?",
            (key,),
        )
    )
    stored = row[7] if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password[:MAX_PASSWORD])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or not row[4]:
        return None
    if _hasher.check_needs_rehash(stored):
        rehashed = _hasher.hash(password)
        store.write(
            lambda tx: tx.execute(
                "UPDATE users SET password_hash = ? WHERE id = ?", (rehashed, row[0])
            )
        )
    return _user(row[:7])


def _token_hash(token: str) -> str:
    return hashlib.sha256(b"session:" + token.encode()).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session (derived, so nothing else is stored)."""
    return hashlib.sha256(b"csrf:" + session_token.encode()).hexdigest()


def csrf_ok(session_token: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(session_token), str(given))


def start_session(store: Store, user: User, *, hours: float, address: str | None = None) -> Session:
    """Sign ``user`` in: a new random token (stored hashed) valid for ``hours``."""
    token = secrets.token_urlsafe(32)
    now = int(time.time())
    expires = now + int(hours * 3600)

    def write(tx: Tx) -> None:
        tx.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        tx.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, address)"
            " VALUES (?, ?, ?, ?, ?)",
            (_token_hash(token), user.id, now, expires, address),
        )
        tx.execute("UPDATE users SET last_login_at = ? WHERE id = ?", (now, user.id))
        audit(tx, user.id, "session.login", f"user:{user.name}", {"address": address})

    store.write(write)
    return Session(token, user, expires)


def session_user(store: Store, token: str | None, *, now: float | None = None) -> User | None:
    """The active account signed in with this cookie token, or None (unknown or expired)."""
    if not token or len(token) > 200:
        return None
    cutoff = int(time.time() if now is None else now)
    row = store.read(
        lambda tx: tx.one(
            "SELECT u.id, u.name, u.display_name, u.role, u.active, u.created_at,"
            " u.last_login_at FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_hash = ? AND s.expires_at > ?",
            (_token_hash(token), cutoff),
        )
    )
    if row is None or not row[4]:
        return None
    return _user(row)


def end_session(store: Store, token: str, *, user: User | None = None) -> None:
    """Sign out: forget the session."""

    def write(tx: Tx) -> None:
        if tx.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),)):
            who = user.name if user else "?"
            audit(tx, user.id if user else None, "session.logout", f"user:{who}")

    store.write(write)


def audit_entries(store: Store, *, limit: int = 200, offset: int = 0) -> list[AuditEntry]:
    """The newest audit entries first."""
    rows = store.read(
        lambda tx: tx.query(
            "SELECT id, time, actor, user_id, action, subject, detail FROM audit_log"
            " ORDER BY id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
    )
    return [
        AuditEntry(
            int(r[0]),
            int(r[1]),
            r[2],
            None if r[3] is None else int(r[3]),
            r[4],
            r[5],
            json.loads(r[6]) if r[6] else {},
        )
        for r in rows
    ]

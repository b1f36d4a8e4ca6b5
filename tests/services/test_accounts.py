"""Accounts: argon2 hashes, sessions stored hashed with expiry, the audit log (both backends)."""

from __future__ import annotations

import hashlib
import time

import pytest

from smartdistricts.services import accounts
from smartdistricts.services.accounts import AccountError
from smartdistricts.store.base import Store

PASSWORD = "zielone-drzewa-2026"


def test_passwords_are_stored_as_argon2id_hashes(store: Store) -> None:
    user = accounts.add_user(store, "Ania", PASSWORD, role="admin", display_name="Anna Kowalska")
    assert (user.name, user.display_name, user.role, user.is_admin) == (
        "ania",
        "Anna Kowalska",
        "admin",
        True,
    )
    stored = store.read(lambda tx: tx.one("SELECT password_hash FROM users WHERE id = ?", (1,)))
    assert stored is not None
    assert stored[0].startswith("$argon2id$")
    assert PASSWORD not in stored[0]
    assert accounts.authenticate(store, "ania", PASSWORD) == user
    assert accounts.authenticate(store, " ANIA ", PASSWORD) == user
    assert accounts.authenticate(store, "ania", PASSWORD + "x") is None
    assert accounts.authenticate(store, "nobody", PASSWORD) is None


def test_bad_accounts_are_refused_naming_the_field(store: Store) -> None:
    accounts.add_user(store, "ania", PASSWORD)
    cases = [
        (("ania", PASSWORD), {}, "name", 409),
        (("x", PASSWORD), {}, "name", 422),
        (("zły login", PASSWORD), {}, "name", 422),
        (("bartek", "krótkie"), {}, "password", 422),
        (("bartek", PASSWORD), {"role": "root"}, "role", 422),
    ]
    for args, kwargs, field, status in cases:
        with pytest.raises(AccountError) as caught:
            accounts.add_user(store, *args, **kwargs)
        assert (caught.value.field, caught.value.status) == (field, status)
    assert [u.name for u in accounts.list_users(store)] == ["ania"]


def test_password_change_ends_every_session(store: Store) -> None:
    user = accounts.add_user(store, "ania", PASSWORD)
    session = accounts.start_session(store, user, hours=12, address="192.0.2.1")
    assert accounts.session_user(store, session.token) is not None
    accounts.set_password(store, "ania", "nowe-haslo-do-redakcji")
    assert accounts.session_user(store, session.token) is None
    assert accounts.authenticate(store, "ania", PASSWORD) is None
    assert accounts.authenticate(store, "ania", "nowe-haslo-do-redakcji") is not None
    with pytest.raises(AccountError) as caught:
        accounts.set_password(store, "nobody", "nowe-haslo-do-redakcji")
    assert caught.value.status == 404


def test_sessions_are_stored_hashed_and_expire(store: Store) -> None:
    user = accounts.add_user(store, "ania", PASSWORD)
    session = accounts.start_session(store, user, hours=2)
    rows = store.read(lambda tx: tx.query("SELECT token_hash, expires_at FROM sessions"))
    assert len(rows) == 1
    assert session.token not in rows[0][0]
    assert rows[0][0] == hashlib.sha256(b"session:" + session.token.encode()).hexdigest()
    assert abs(int(rows[0][1]) - (time.time() + 7200)) < 5
    assert accounts.session_user(store, session.token) == accounts.get_user(store, "ania")
    assert accounts.session_user(store, session.token, now=time.time() + 7201) is None
    assert accounts.session_user(store, session.token[:-1] + "x") is None
    assert accounts.session_user(store, None) is None
    accounts.end_session(store, session.token, user=user)
    assert accounts.session_user(store, session.token) is None


def test_csrf_token_belongs_to_its_session(store: Store) -> None:
    user = accounts.add_user(store, "ania", PASSWORD)
    one = accounts.start_session(store, user, hours=1)
    two = accounts.start_session(store, user, hours=1)
    assert accounts.csrf_ok(one.token, accounts.csrf_token(one.token))
    assert not accounts.csrf_ok(one.token, accounts.csrf_token(two.token))
    assert not accounts.csrf_ok(one.token, "")
    assert not accounts.csrf_ok(one.token, None)
    assert accounts.csrf_token(one.token) != one.token


def test_disabled_accounts_cannot_sign_in(store: Store) -> None:
    user = accounts.add_user(store, "ania", PASSWORD)
    session = accounts.start_session(store, user, hours=1)
    store.write(lambda tx: tx.execute("UPDATE users SET active = 0 WHERE id = ?", (user.id,)))
    assert accounts.authenticate(store, "ania", PASSWORD) is None
    assert accounts.session_user(store, session.token) is None


def test_audit_log_records_who_what_when(store: Store) -> None:
    admin = accounts.add_user(store, "ania", PASSWORD, role="admin")
    accounts.add_user(store, "bartek", PASSWORD, actor_id=admin.id)
    before = int(time.time())
    store.write(lambda tx: accounts.audit(tx, admin.id, "article.publish", "article:7", {"x": 1}))
    newest = accounts.audit_entries(store, limit=2)
    assert [e.action for e in newest] == ["article.publish", "user.add"]
    entry = newest[0]
    assert (entry.actor, entry.user_id, entry.subject, entry.detail) == (
        "ania",
        admin.id,
        "article:7",
        {"x": 1},
    )
    assert before <= entry.time <= time.time()
    assert newest[1].actor == "ania" and newest[1].subject == "user:bartek"
    first = accounts.audit_entries(store)[-1]
    assert (first.actor, first.user_id) == ("system", None)  # created from the command line

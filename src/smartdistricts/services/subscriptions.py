"""Who receives smog alerts: residents' e-mail subscriptions and webhooks, with their tokens.

**Subscriptions** store hashes only. Confirm and unsubscribe tokens are derived with
HMAC-SHA256 from the alerts key (``SMARTDISTRICTS_ALERTS_SECRET`` or a random key kept in the
database), the subscription id and, for the confirm token, the time of the request: the
dispatcher can rebuild a token for an e-mail without the database holding it.

Residents subscribe with double opt-in (:func:`subscribe`, then :func:`confirm` from the link
in the confirmation e-mail) and leave with one click (:func:`unsubscribe`); webhooks are added
by the operator (:func:`add_webhook`). Delivery is :mod:`smartdistricts.services.notify`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

from smartdistricts.config import Settings
from smartdistricts.services.alerts import check_scope
from smartdistricts.store.base import Store, Tx

__all__ = [
    "CONFIRM_VALID_S",
    "SubscriptionError",
    "Webhook",
    "add_webhook",
    "alerts_key",
    "check_email",
    "confirm",
    "confirm_token",
    "list_webhooks",
    "sign",
    "subscribe",
    "token_hash",
    "unsubscribe",
    "unsubscribe_token",
]

#: A confirmation link is valid this long [s].
CONFIRM_VALID_S = 7 * 86400
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)
_keys: dict[str, bytes] = {}


# -- keys and tokens ---------------------------------------------------------------------------
def alerts_key(store: Store, settings: Settings) -> bytes:
    """The key for tokens: the setting, or a random key stored once in ``alert_keys``."""
    if settings.alerts_secret:
        return settings.alerts_secret.encode()
    cached = _keys.get(store.url)
    if cached is None:

        def run(tx: Tx) -> str:
            tx.execute(
                "INSERT INTO alert_keys (name, value) VALUES ('tokens', ?)"
                " ON CONFLICT (name) DO NOTHING",
                (secrets.token_urlsafe(32),),
            )
            row = tx.one("SELECT value FROM alert_keys WHERE name = 'tokens'")
            assert row is not None
            return str(row[0])

        cached = _keys[store.url] = store.write(run).encode()
    return cached


def _derive(key: bytes, *parts: object) -> str:
    digest = hmac.new(key, "|".join(map(str, parts)).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


def confirm_token(key: bytes, subscription_id: int, requested_at: int) -> str:
    return f"{subscription_id}.{_derive(key, 'confirm', subscription_id, requested_at)}"


def unsubscribe_token(key: bytes, subscription_id: int, email: str) -> str:
    return f"{subscription_id}.{_derive(key, 'unsubscribe', subscription_id, email)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``body`` with the webhook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# -- subscriptions -----------------------------------------------------------------------------
class SubscriptionError(ValueError):
    """Bad subscription input; ``field`` names the form field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def check_email(email: str) -> str:
    """Normalised address, or SubscriptionError naming ``email``."""
    address = email.strip()
    if not address or len(address) > 254 or not _EMAIL.match(address):
        raise SubscriptionError("email", "not a valid e-mail address")
    local, _, domain = address.rpartition("@")
    if len(local) > 64:
        raise SubscriptionError("email", "not a valid e-mail address")
    return f"{local}@{domain.lower()}"


def subscribe(
    store: Store,
    settings: Settings,
    email: str,
    *,
    scope: str = "all",
    lang: str = "pl",
    now: float | None = None,
) -> int | None:
    """Record a subscription request and queue its confirmation e-mail.

    Returns the subscription id, or None when the address is already subscribed and confirmed
    for the scope (nothing is sent; the caller answers the same either way, so the form does
    not reveal who subscribed).
    """
    address = check_email(email)
    try:
        check_scope(scope)
    except ValueError as exc:
        raise SubscriptionError("scope", str(exc)) from None
    if lang not in ("pl", "en"):
        raise SubscriptionError("lang", "use 'pl' or 'en'")
    key = alerts_key(store, settings)
    now_s = int(time.time() if now is None else now)

    def run(tx: Tx) -> int | None:
        row = tx.one(
            "SELECT id, confirmed_at, unsubscribed_at FROM alert_subscriptions"
            " WHERE email = ? AND scope = ?",
            (address, scope),
        )
        if row is not None and row[1] is not None and row[2] is None:
            return None
        if row is None:
            sub_id = tx.insert_id(
                "INSERT INTO alert_subscriptions (email, scope, lang, confirm_token_hash,"
                " unsubscribe_token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (address, scope, lang, secrets.token_hex(16), secrets.token_hex(16), now_s),
            )
        else:
            sub_id = int(row[0])
        tx.execute(
            "UPDATE alert_subscriptions SET lang = ?, created_at = ?, confirm_token_hash = ?,"
            " unsubscribe_token_hash = ?, confirmed_at = NULL, unsubscribed_at = NULL"
            " WHERE id = ?",
            (
                lang,
                now_s,
                token_hash(confirm_token(key, sub_id, now_s)),
                token_hash(unsubscribe_token(key, sub_id, address)),
                sub_id,
            ),
        )
        tx.execute(
            "INSERT INTO alert_notifications (dedup_key, episode_id, change, channel, target_id,"
            " next_attempt_at, created_at) VALUES (?, NULL, 'confirm', 'email', ?, ?, ?)"
            " ON CONFLICT (dedup_key) DO NOTHING",
            (f"confirm:{sub_id}:{now_s}", sub_id, now_s, now_s),
        )
        return sub_id

    return store.write(run)


def confirm(store: Store, token: str, now: float | None = None) -> bool:
    """Confirm the subscription of a confirmation link; False if unknown or expired."""
    now_s = int(time.time() if now is None else now)
    return bool(
        store.write(
            lambda tx: tx.execute(
                "UPDATE alert_subscriptions SET confirmed_at = coalesce(confirmed_at, ?)"
                " WHERE confirm_token_hash = ? AND unsubscribed_at IS NULL AND created_at >= ?",
                (now_s, token_hash(token), now_s - CONFIRM_VALID_S),
            )
        )
    )


def unsubscribe(store: Store, token: str, now: float | None = None) -> bool:
    """End the subscription of an unsubscribe link (idempotent); False if unknown."""
    now_s = int(time.time() if now is None else now)

    def run(tx: Tx) -> bool:
        row = tx.one(
            "SELECT id FROM alert_subscriptions WHERE unsubscribe_token_hash = ?",
            (token_hash(token),),
        )
        if row is None:
            return False
        tx.execute(
            "UPDATE alert_subscriptions SET unsubscribed_at = coalesce(unsubscribed_at, ?)"
            " WHERE id = ?",
            (now_s, row[0]),
        )
        tx.execute(
            "UPDATE alert_notifications SET status = 'dropped' WHERE channel = 'email'"
            " AND target_id = ? AND status = 'pending'",
            (row[0],),
        )
        return True

    return store.write(run)


# -- webhooks ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Webhook:
    """A webhook as listed (the secret is never part of it)."""

    id: int
    url: str
    scope: str
    description: str
    active: bool


def add_webhook(
    store: Store, url: str, *, secret: str | None = None, scope: str = "all", description: str = ""
) -> tuple[Webhook, str]:
    """Register a webhook; returns it and its signing secret (shown once)."""
    if not url.startswith(("http://", "https://")) or len(url) > 2000:
        raise ValueError(f"url must be an http(s) URL, got {url!r}")
    check_scope(scope)
    key = secret or secrets.token_urlsafe(32)
    hook_id = store.write(
        lambda tx: tx.insert_id(
            "INSERT INTO alert_webhooks (url, secret, scope, description) VALUES (?, ?, ?, ?)"
            " RETURNING id",
            (url, key, scope, description),
        )
    )
    return Webhook(hook_id, url, scope, description, True), key


def list_webhooks(store: Store) -> list[Webhook]:
    rows = store.read(
        lambda tx: tx.query(
            "SELECT id, url, scope, description, active FROM alert_webhooks ORDER BY id"
        )
    )
    return [Webhook(int(r[0]), r[1], r[2], r[3], bool(r[4])) for r in rows]

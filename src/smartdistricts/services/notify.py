"""Delivering smog alerts: signed webhooks and e-mail over SMTP, with retries.

The outbox (``alert_notifications``, filled by ``services/alerts.py``) is worked off by
:func:`deliver_due` — from ``smartdistricts alerts send`` or, on a schedule, by
:class:`NotifyJob` in ``smartdistricts worker``. A row is *claimed* (its next attempt moved
into the future) before it is sent, so two dispatchers never send it at the same time, and
marked ``sent`` only after the receiver accepted it (HTTP 2xx, or the SMTP server took the
message). Failures are retried after ``alerts_retry_base_s × 2^(attempt − 1)`` seconds (at most
an hour) until ``alerts_max_attempts``. Delivery is therefore at least once; the
``Idempotency-Key`` header (webhooks) and the ``X-Smartdistricts-Idempotency-Key`` header
(e-mails) carry the row's unique key so receivers can drop the rare repeat after a crash between
sending and recording.

**Webhooks** receive ``POST`` JSON; ``X-Smartdistricts-Signature: sha256=<hex>`` is
HMAC-SHA256 of the raw body with the webhook's secret, ``X-Smartdistricts-Timestamp`` repeats the
body's ``sent_at`` (signed with the body) so receivers can refuse old replays.

Who receives alerts (subscribers, webhooks) and their tokens are in
:mod:`smartdistricts.services.subscriptions`.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import httpx
import orjson

from smartdistricts.config import Settings
from smartdistricts.services.alerts import (
    Episode,
    HourlyCache,
    evaluate_all,
    find_episode,
)
from smartdistricts.services.jobs import JobResult
from smartdistricts.services.subscriptions import (
    alerts_key,
    confirm_token,
    sign,
    unsubscribe_token,
)
from smartdistricts.store.base import Store, Tx

__all__ = ["DeliveryReport", "NotifyJob", "deliver_due", "episode_payload"]

log = logging.getLogger(__name__)

#: A claimed notification is retried after this long if its dispatcher died mid-send [s].
CLAIM_S = 300
#: Longest retry delay [s].
MAX_DELAY_S = 3600


# -- delivery ----------------------------------------------------------------------------------
@dataclass(slots=True)
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class _Failure(Exception):
    """A delivery attempt failed (message kept for the row's ``last_error``)."""


_TEXTS = {
    "pl": {
        "start": "Alert smogowy: {level} — {site}",
        "end": "Koniec alertu smogowego — {site}",
        "confirm": "Potwierdź subskrypcję alertów smogowych",
        "start_body": (
            "Od {start} w punkcie pomiarowym {site} przekroczony jest próg {threshold} "
            "({variable}, średnia {averaging}). Najwyższa wartość: {peak}.\n"
            "Ogranicz przebywanie na zewnątrz i nie wietrz mieszkania."
        ),
        "end_body": "Alert w punkcie {site} ({variable}) zakończył się {end}. Najwyższa "
        "wartość: {peak}.",
        "confirm_body": (
            "Ktoś (zapewne Ty) poprosił o alerty smogowe na ten adres.\n"
            "Aby je otrzymywać, otwórz link:\n{link}\n\nJeśli to nie Ty, zignoruj tę wiadomość."
        ),
        "footer": "Wypisz się jednym kliknięciem: {link}",
        "levels": {
            "information": "poziom informowania",
            "alarm": "poziom alarmowy",
            "alert": "próg alarmowy UE",
            "custom": "próg",
        },
    },
    "en": {
        "start": "Smog alert: {level} — {site}",
        "end": "Smog alert over — {site}",
        "confirm": "Confirm your smog alert subscription",
        "start_body": (
            "Since {start} the {threshold} threshold is exceeded at {site} "
            "({variable}, {averaging} mean). Highest value: {peak}.\n"
            "Limit time outdoors and keep the windows closed."
        ),
        "end_body": "The alert at {site} ({variable}) ended at {end}. Highest value: {peak}.",
        "confirm_body": (
            "Someone (probably you) asked for smog alerts at this address.\n"
            "To receive them, open this link:\n{link}\n\nIf it was not you, ignore this e-mail."
        ),
        "footer": "Unsubscribe with one click: {link}",
        "levels": {
            "information": "information level",
            "alarm": "alarm level",
            "alert": "EU alert threshold",
            "custom": "threshold",
        },
    },
}
_PATHS = {
    "pl": ("/alerty/potwierdz/", "/alerty/wypisz/"),
    "en": ("/en/alerts/confirm/", "/en/alerts/unsubscribe/"),
}


def _local(t: int | None, settings: Settings) -> str:
    if t is None:
        return "–"
    return datetime.fromtimestamp(t, UTC).astimezone(settings.tz).strftime("%Y-%m-%d %H:%M")


#: How variables are written in messages.
VARIABLE_LABELS = {"pm2_5": "PM2.5", "pm10": "PM10", "pm1": "PM1", "caqi": "CAQI"}


def episode_payload(episode: Episode, change: str, key: str, sent_at: int) -> dict[str, Any]:
    return {
        "event": f"alert.{change}",
        "idempotency_key": key,
        "sent_at": sent_at,
        "episode": episode.as_dict(),
    }


def _post_webhook(
    client: httpx.Client, url: str, secret: str, payload: dict[str, Any], key: str
) -> None:
    body = orjson.dumps(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "smartdistricts-alerts",
        "X-Smartdistricts-Event": str(payload["event"]),
        "X-Smartdistricts-Timestamp": str(payload["sent_at"]),
        "X-Smartdistricts-Signature": sign(secret, body),
        "Idempotency-Key": key,
    }
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise _Failure(f"{type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise _Failure(f"HTTP {response.status_code}")


def _send_mail(settings: Settings, message: EmailMessage) -> None:
    if not settings.smtp_host:
        raise _Failure("smtp_host is not set")
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.alerts_timeout_s
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password)
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise _Failure(f"{type(exc).__name__}: {exc}") from None


def _mail(
    settings: Settings, to: str, subject: str, body: str, key: str, unsubscribe: str | None
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    message["X-Smartdistricts-Idempotency-Key"] = key
    if unsubscribe is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(body)
    return message


def _fmt(value: float, variable: str) -> str:
    return f"{value:.0f}" if variable == "caqi" else f"{value:.0f} µg/m³"


def _email_for(tx: Tx, settings: Settings, key: bytes, row: tuple[Any, ...]) -> EmailMessage | None:
    """Build the e-mail of an outbox row; None when it must not be sent any more."""
    _id, dedup, episode_id, change, _channel, target = row[:6]
    sub = tx.one(
        "SELECT id, email, lang, created_at, confirmed_at, unsubscribed_at"
        " FROM alert_subscriptions WHERE id = ?",
        (target,),
    )
    if sub is None or sub[5] is not None:
        return None
    sub_id, email, lang, requested_at = int(sub[0]), sub[1], sub[2], int(sub[3])
    texts = _TEXTS.get(lang, _TEXTS["pl"])
    confirm_path, unsub_path = _PATHS[lang if lang in _PATHS else "pl"]
    unsub_link = settings.base_url + unsub_path + unsubscribe_token(key, sub_id, email)
    if change == "confirm":
        if sub[4] is not None or dedup != f"confirm:{sub_id}:{requested_at}":
            return None  # confirmed already, or superseded by a newer request
        link = settings.base_url + confirm_path + confirm_token(key, sub_id, requested_at)
        body = str(texts["confirm_body"]).format(link=link)
        return _mail(settings, email, str(texts["confirm"]), body, dedup, None)
    if sub[4] is None:
        return None
    episode = find_episode(tx, int(episode_id))
    if episode is None:
        return None
    levels: dict[str, str] = texts["levels"]  # type: ignore[assignment]
    values = {
        "site": episode.site_name,
        "level": levels.get(episode.level, episode.level),
        "threshold": _fmt(episode.threshold, episode.variable),
        "variable": VARIABLE_LABELS.get(episode.variable, episode.variable.upper()),
        "averaging": episode.averaging,
        "peak": _fmt(episode.peak, episode.variable),
        "start": _local(episode.started_at, settings),
        "end": _local(episode.ended_at, settings),
    }
    subject = str(texts[change]).format(**values)
    body = str(texts[f"{change}_body"]).format(**values)
    body += "\n\n" + str(texts["footer"]).format(link=unsub_link)
    return _mail(settings, email, subject, body, dedup, unsub_link)


def _execute(sql: str, params: tuple[Any, ...], tx: Tx) -> int:
    return tx.execute(sql, params)


_DUE = (
    "SELECT id, dedup_key, episode_id, change, channel, target_id, attempts"
    " FROM alert_notifications WHERE status = 'pending' AND next_attempt_at <= ?"
    " ORDER BY id LIMIT ?"
)


def deliver_due(
    store: Store, settings: Settings, now: float | None = None, *, limit: int = 200
) -> DeliveryReport:
    """Send every due notification once; see the module docstring."""
    report = DeliveryReport()
    now_s = int(time.time() if now is None else now)
    due = store.read(lambda tx: tx.query(_DUE, (now_s, limit)))
    if not due:
        return report
    key = alerts_key(store, settings)
    with httpx.Client(timeout=settings.alerts_timeout_s, follow_redirects=False) as client:
        for row in due:
            claimed = store.write(
                functools.partial(
                    _execute,
                    "UPDATE alert_notifications SET next_attempt_at = ?"
                    " WHERE id = ? AND status = 'pending' AND next_attempt_at <= ?",
                    (now_s + CLAIM_S, row[0], now_s),
                )
            )
            if not claimed:
                continue  # another dispatcher took it
            try:
                sent = _deliver(store, settings, key, client, row, now_s)
            except _Failure as exc:
                _record_failure(store, settings, row, str(exc), now_s, report)
                continue
            store.write(
                functools.partial(
                    _execute,
                    "UPDATE alert_notifications SET status = ?, sent_at = ?,"
                    " attempts = attempts + 1, last_error = NULL WHERE id = ?",
                    ("sent" if sent else "dropped", now_s, row[0]),
                )
            )
            report.sent += int(sent)
    return report


def _deliver(
    store: Store,
    settings: Settings,
    key: bytes,
    client: httpx.Client,
    row: tuple[Any, ...],
    now_s: int,
) -> bool:
    """One attempt; True when delivered, False when the row no longer applies."""
    channel = row[4]
    if channel == "webhook":
        found = store.read(
            lambda tx: (
                tx.one("SELECT url, secret, active FROM alert_webhooks WHERE id = ?", (row[5],)),
                find_episode(tx, int(row[2])),
            )
        )
        hook, episode = found
        if hook is None or not hook[2] or episode is None:
            return False
        payload = episode_payload(episode, row[3], row[1], now_s)
        _post_webhook(client, hook[0], hook[1], payload, row[1])
        return True
    message = store.read(lambda tx: _email_for(tx, settings, key, row))
    if message is None:
        return False
    _send_mail(settings, message)
    return True


def _record_failure(
    store: Store,
    settings: Settings,
    row: tuple[Any, ...],
    error: str,
    now_s: int,
    report: DeliveryReport,
) -> None:
    attempts = int(row[6]) + 1
    give_up = attempts >= settings.alerts_max_attempts
    delay = min(MAX_DELAY_S, settings.alerts_retry_base_s * 2 ** (attempts - 1))
    store.write(
        lambda tx: tx.execute(
            "UPDATE alert_notifications SET attempts = ?, status = ?, next_attempt_at = ?,"
            " last_error = ? WHERE id = ?",
            (attempts, "failed" if give_up else "pending", now_s + delay, error[:500], row[0]),
        )
    )
    report.failed += int(give_up)
    report.retried += int(not give_up)
    report.errors.append(f"{row[1]}: {error}")
    log.warning("alert notification %s failed (attempt %d): %s", row[1], attempts, error)


class NotifyJob:
    """``smartdistricts worker`` job: evaluates every site's rules (so alerts of sites that
    stopped reporting end too) at most every ``evaluate_every_s``, then delivers the outbox."""

    name = "alerts"

    def __init__(self, store: Store, settings: Settings, *, evaluate_every_s: float = 300.0):
        self.store = store
        self.settings = settings
        self.evaluate_every_s = evaluate_every_s
        self._evaluated = 0.0
        self._cache = HourlyCache()

    def run(self, now: float) -> JobResult:
        if now - self._evaluated >= self.evaluate_every_s:
            evaluate_all(self.store, now, cache=self._cache)
            self._evaluated = now
        report = deliver_due(self.store, self.settings, now)
        pending = self.store.read(
            lambda tx: tx.one(
                "SELECT min(next_attempt_at) FROM alert_notifications WHERE status = 'pending'"
            )
        )
        next_due = pending[0] if pending and pending[0] is not None else now + 30
        return JobResult(
            next_run=max(now + 1, min(float(next_due), now + 30)),
            stored=report.sent,
            skipped=report.failed,
            message=f"{report.sent} sent, {report.retried} to retry, {report.failed} failed",
        )

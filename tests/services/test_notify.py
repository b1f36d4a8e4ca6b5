"""Delivering alerts for real: a local HTTP receiver for webhooks, aiosmtpd for e-mail."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller
from starlette.testclient import TestClient
from tests.conftest import free_port
from tests.services.test_alerts import H0, RULE, feed, make_site

from smartdistricts.api.app import create_app
from smartdistricts.config import Settings
from smartdistricts.services.alerts import add_rule, evaluate
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.notify import NotifyJob, deliver_due
from smartdistricts.services.subscriptions import add_webhook, subscribe
from smartdistricts.store.base import Store


# -- a webhook receiver that refuses the first attempts ----------------------------------------
class Receiver(ThreadingHTTPServer):
    def __init__(self, fail_first: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fail_first = fail_first
        self.requests: list[tuple[dict[str, str], bytes, int]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 503 if len(self.server.requests) < self.server.fail_first else 204
        self.server.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(fail_first=2)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# -- a local SMTP server -----------------------------------------------------------------------
class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_webhook_is_signed_retried_with_back_off_and_delivered_once(
    store: Store, db_url: str, receiver: Receiver
) -> None:
    settings = Settings(db=db_url, alerts_evaluate=False, alerts_retry_base_s=30)
    service = IngestService(store, settings)
    site = make_site(store)
    add_rule(store, RULE)
    hook, secret = add_webhook(store, receiver.url)
    for i in range(2):
        feed(service, "esp8266-1", H0 + i, 150.0)
    now = (H0 + 2) * 3600 + 60
    store.write(lambda tx: evaluate(tx, [site], now))

    first = deliver_due(store, settings, now)
    assert (first.sent, first.retried) == (0, 1)
    assert deliver_due(store, settings, now + 29).sent == 0  # not due before 30 s
    assert len(receiver.requests) == 1
    second = deliver_due(store, settings, now + 30)
    assert (second.sent, second.retried) == (0, 1)
    assert deliver_due(store, settings, now + 30 + 59).sent == 0  # the delay doubled: 60 s
    third = deliver_due(store, settings, now + 30 + 60)
    assert third.sent == 1
    for later in (now + 1000, now + 100_000):  # never again
        assert deliver_due(store, settings, later).sent == 0
    assert [status for _h, _b, status in receiver.requests] == [503, 503, 204]

    keys = {headers["idempotency-key"] for headers, _b, _s in receiver.requests}
    assert len(keys) == 1  # the same key on every attempt
    headers, raw, _status = receiver.requests[-1]
    expected = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-smartdistricts-signature"], expected)
    forged = "sha256=" + hmac.new(b"wrong", raw, hashlib.sha256).hexdigest()
    assert headers["x-smartdistricts-signature"] != forged
    payload = orjson.loads(raw)
    assert payload["event"] == "alert.start"
    assert payload["idempotency_key"] == keys.pop()
    assert str(payload["sent_at"]) == headers["x-smartdistricts-timestamp"]
    assert payload["episode"]["site_id"] == site
    assert payload["episode"]["peak"] == pytest.approx(150.0)
    assert hook.id > 0
    status = store.read(lambda tx: tx.query("SELECT status, attempts FROM alert_notifications"))
    assert status == [("sent", 3)]


def test_webhook_gives_up_after_the_last_attempt(
    store: Store, db_url: str, receiver: Receiver
) -> None:
    settings = Settings(db=db_url, alerts_evaluate=False, alerts_max_attempts=2)
    receiver.fail_first = 10
    service = IngestService(store, settings)
    site = make_site(store)
    add_rule(store, RULE)
    add_webhook(store, receiver.url)
    feed(service, "esp8266-1", H0, 150.0)
    now = (H0 + 1) * 3600 + 60
    store.write(lambda tx: evaluate(tx, [site], now))
    deliver_due(store, settings, now)
    assert deliver_due(store, settings, now + 10_000).failed == 1
    assert deliver_due(store, settings, now + 100_000).sent == 0
    assert len(receiver.requests) == 2


def test_email_double_opt_in_alert_and_one_click_unsubscribe(
    store: Store, db_url: str, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    settings = Settings(
        db=db_url,
        alerts_evaluate=False,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        smtp_from="alerty@miasto.example",
        base_url="http://testserver",
        ingest_process=False,
    )
    service = IngestService(store, settings)
    site = make_site(store)
    add_rule(store, RULE)
    now = (H0 + 2) * 3600 + 60
    assert subscribe(store, settings, "Ala@Example.org", now=now) is not None
    assert subscribe(store, settings, "nobody@example.org", now=now) is not None  # never confirms
    deliver_due(store, settings, now)
    assert len(inbox.messages) == 2
    confirmation = inbox.to("Ala@example.org")[0]
    assert "List-Unsubscribe" not in confirmation
    link = re.search(r"http://testserver(/alerty/potwierdz/\S+)", body(confirmation))
    assert link is not None

    app = create_app(settings, store=store)
    with TestClient(app) as client:
        assert client.get(link.group(1)).status_code == 200
        assert client.get("/alerty/potwierdz/1.forged").status_code == 404

        for i in range(2):
            feed(service, "esp8266-1", H0 + i, 150.0)
        store.write(lambda tx: evaluate(tx, [site], now))
        assert deliver_due(store, settings, now).sent == 1  # only the confirmed subscriber
        assert len(inbox.to("nobody@example.org")) == 1  # still just the confirmation
        alert = inbox.to("Ala@example.org")[-1]
        assert "ul. Piłsudskiego 1" in str(alert["Subject"])
        assert "150 µg/m³" in body(alert)
        assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert alert["X-Smartdistricts-Idempotency-Key"]
        unsubscribe = str(alert["List-Unsubscribe"]).strip().strip("<>")
        assert unsubscribe in body(alert)
        path = unsubscribe.removeprefix("http://testserver")
        page = client.get(path)
        assert page.status_code == 200 and 'method="post"' in page.text
        # what a mail client sends for one-click unsubscribe (RFC 8058): no cookies, no token
        one_click = client.post(
            path,
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert one_click.status_code == 200

    # the episode ends: nobody is subscribed and confirmed any more
    for i in range(2, 5):
        feed(service, "esp8266-1", H0 + i, 10.0)
    later = (H0 + 5) * 3600 + 60
    store.write(lambda tx: evaluate(tx, [site], later))
    deliver_due(store, settings, later)
    assert len(inbox.messages) == 3


def test_email_stays_queued_without_an_smtp_server(store: Store, db_url: str) -> None:
    settings = Settings(db=db_url, alerts_evaluate=False, smtp_host="")
    subscribe(store, settings, "ala@example.org", now=H0 * 3600)
    report = deliver_due(store, settings, H0 * 3600)
    assert report.retried == 1 and "smtp_host" in report.errors[0]


def test_notify_job_runs_evaluation_and_delivery(
    store: Store, db_url: str, receiver: Receiver
) -> None:
    settings = replace(Settings(db=db_url, alerts_evaluate=False), alerts_retry_base_s=1)
    receiver.fail_first = 0
    service = IngestService(store, settings)
    make_site(store)
    add_rule(store, RULE)
    add_webhook(store, receiver.url)
    for i in range(2):
        feed(service, "esp8266-1", H0 + i, 150.0)
    result = NotifyJob(store, settings).run(float((H0 + 2) * 3600 + 60))
    assert result.stored == 1 and len(receiver.requests) == 1
    assert result.next_run > (H0 + 2) * 3600 + 60

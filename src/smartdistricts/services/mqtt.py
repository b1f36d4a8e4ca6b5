"""MQTT ingest: airrohr JSON payloads from a broker, acknowledged only once stored.

Devices (or a gateway) publish the firmware's combined JSON payload to a topic such as
``sensors/esp8266-13597771``; the device id is the first topic level after the subscription's
fixed prefix, or else the payload's ``esp8266id``. The listener subscribes with QoS 1 and a
persistent session (``clean_session=False``), and sends each PUBACK only after the readings are
committed: if the listener dies first, the broker delivers the message again. A re-delivered
message is recognised by its body and not stored twice (``push_dedup_window_s``). The paho client
reconnects with exponential back-off (1 s up to 2 min).

Authentication is the broker's (per-device credentials and an ACL that lets each device publish
only to its own topic; see docs/operations.md); the listener still refuses unknown devices
unless open registration is on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from smartdistricts.ingest.airrohr import device_uid_from_body, load_json, parse_push
from smartdistricts.ingest.records import IngestError
from smartdistricts.services.ingest import (
    IngestService,
    StreamBatch,
    StreamResult,
    StreamWrite,
    batch_from_push,
)

__all__ = ["MqttListener", "MqttStats", "device_from_topic"]

log = logging.getLogger(__name__)


def device_from_topic(topic: str, subscription: str) -> str | None:
    """The device id a topic names: the topic level where the filter's first wildcard is.

    >>> device_from_topic("sensors/esp8266-13597771", "sensors/#")
    'esp8266-13597771'
    >>> device_from_topic("town/esp32-ab12/data", "town/+/data")
    'esp32-ab12'
    >>> device_from_topic("sensors", "sensors/#") is None
    True
    """
    filter_levels = subscription.split("/")
    position = next(
        (i for i, level in enumerate(filter_levels) if level in {"#", "+"}), len(filter_levels)
    )
    levels = topic.split("/")
    return levels[position] if position < len(levels) and levels[position] else None


@dataclass
class MqttStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    connects: int = 0
    last_error: str | None = None
    errors: list[str] = field(default_factory=list)


class MqttListener:
    """Subscribes to ``topic`` on ``broker`` (``mqtt://user:pass@host:port``) and stores pushes."""

    def __init__(
        self,
        service: IngestService,
        broker: str,
        topic: str,
        *,
        client_id: str = "smartdistricts-ingest",
        username: str | None = None,
        password: str | None = None,
        on_result: Callable[[str, StreamResult | None], None] | None = None,
    ) -> None:
        parts = urlsplit(broker)
        if parts.scheme not in {"mqtt", "tcp", "mqtts"}:
            raise ValueError(f"--broker: expected mqtt://host:port, got {broker!r}")
        self.service = service
        self.topic = topic
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.stats = MqttStats()
        self.on_result = on_result
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            manual_ack=True,
        )
        user = username or parts.username
        if user:
            self.client.username_pw_set(user, password or parts.password)
        if parts.scheme == "mqtts":
            self.client.tls_set()
        self.client.reconnect_delay_set(min_delay=1, max_delay=120)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # -- paho callbacks (network thread) -----------------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        if getattr(reason, "is_failure", False):
            self.stats.last_error = f"connect refused: {reason}"
            log.warning("MQTT connect refused: %s", reason)
            return
        self.stats.connects += 1
        client.subscribe(self.topic, qos=1)
        self.connected.set()
        log.info("MQTT connected to %s:%s, subscribed to %s", self.host, self.port, self.topic)

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: object,
        reason: object,
        properties: object,
    ) -> None:
        self.connected.clear()
        if getattr(reason, "is_failure", False):
            log.warning("MQTT disconnected (%s); reconnecting with back-off", reason)

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        try:
            batch = self._batch(msg)
        except IngestError as exc:
            self._refuse(msg, f"{exc.field}: {exc.message}")
            return
        future = self.service.store.submit(StreamWrite(self.service, batch))
        future.add_done_callback(lambda f: self._done(msg, f))

    def _batch(self, msg: mqtt.MQTTMessage) -> StreamBatch:
        payload = bytes(msg.payload)
        uid = device_from_topic(msg.topic, self.topic)
        if uid is None:
            doc = load_json(payload)
            uid = device_uid_from_body(doc) if isinstance(doc, dict) else None
        if uid is None:
            raise IngestError("topic", "names no device and the payload has no esp8266id")
        push = parse_push(payload, x_sensor=uid)
        device = self.service.store.read(
            lambda tx: tx.one("SELECT status FROM devices WHERE uid = ?", (push.device_uid,))
        )
        register = device is None and self.service.settings.open_registration
        if device is None and not register:
            raise IngestError("topic", f"unknown device {push.device_uid!r}")
        return batch_from_push(push, payload, source="mqtt", register=register)

    def _refuse(self, msg: mqtt.MQTTMessage, reason: str) -> None:
        self.stats.refused += 1
        self.stats.last_error = reason
        if len(self.stats.errors) < 100:
            self.stats.errors.append(f"{msg.topic}: {reason}")
        log.warning("MQTT message on %s refused: %s", msg.topic, reason)
        self.client.ack(msg.mid, msg.qos)  # a poison message must not come back forever
        if self.on_result:
            self.on_result(msg.topic, None)

    def _done(self, msg: mqtt.MQTTMessage, future: object) -> None:
        try:
            result: StreamResult = future.result()  # type: ignore[attr-defined]
        except Exception as exc:  # not stored: no PUBACK, the broker will deliver it again
            self.stats.last_error = f"store failed: {exc}"
            log.error("MQTT message on %s not stored: %s", msg.topic, exc)
            return
        if result.outcome == "stored":
            self.stats.stored += 1
        elif result.outcome == "duplicate":
            self.stats.duplicates += 1
        else:
            self.stats.refused += 1
        self.client.ack(msg.mid, msg.qos)
        if self.on_result:
            self.on_result(msg.topic, result)

    # -- running -----------------------------------------------------------------------------
    def start(self) -> None:
        """Connect and run the network loop in a background thread."""
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Run until ``stop`` is set (or forever)."""
        self.start()
        try:
            while stop is None or not stop.is_set():
                time.sleep(0.2)
        finally:
            self.stop()

"""MQTT ingest against the real Mosquitto on 127.0.0.1:1883 (QoS 1, acknowledged after commit)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from tests.conftest import require_service

from smartdistricts.config import Settings
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.mqtt import MqttListener
from smartdistricts.services.registry import add_device
from smartdistricts.store.base import Store

pytestmark = pytest.mark.mqtt
BROKER = "mqtt://127.0.0.1:1883"


def payload(pm10: str, chip: str | None = None) -> bytes:
    body: dict[str, object] = {
        "software_version": "NRZ-2024-135",
        "sensordatavalues": [
            {"value_type": "SDS_P1", "value": pm10},
            {"value_type": "SDS_P2", "value": "5.27"},
            {"value_type": "BME280_pressure", "value": "100405.00"},
        ],
    }
    if chip is not None:
        body["esp8266id"] = chip
    return orjson.dumps(body)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def prefix() -> str:
    return f"sdtest/{uuid.uuid4().hex[:10]}"


@pytest.fixture
def publisher() -> Iterator[mqtt.Client]:
    require_service("Mosquitto", "127.0.0.1", 1883)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    yield client
    client.loop_stop()
    client.disconnect()


@pytest.fixture
def listener(service: IngestService, prefix: str) -> Iterator[MqttListener]:
    require_service("Mosquitto", "127.0.0.1", 1883)
    mq = MqttListener(service, BROKER, f"{prefix}/#", client_id=f"sd-{uuid.uuid4().hex[:8]}")
    mq.start()
    assert mq.connected.wait(10), "listener did not connect"
    time.sleep(0.2)  # subscription settles
    yield mq
    mq.stop()


def pm10_values(store: Store) -> list[float]:
    return [
        float(r[0])
        for r in store.read(
            lambda tx: tx.query(
                "SELECT value FROM measurements WHERE variable_id = 3 ORDER BY time"
            )
        )
    ]


def publish(client: mqtt.Client, topic: str, body: bytes) -> None:
    info = client.publish(topic, body, qos=1)
    info.wait_for_publish(5)


def test_payloads_are_stored_in_canonical_units(
    store: Store, listener: MqttListener, publisher: mqtt.Client, prefix: str
) -> None:
    add_device(store, "esp8266-13597771")
    publish(publisher, f"{prefix}/esp8266-13597771", payload("7.06"))
    assert wait_for(lambda: listener.stats.stored == 1), listener.stats
    values = store.read(
        lambda tx: tx.query(
            "SELECT v.name, m.value, src.name FROM measurements m JOIN variables v"
            " ON v.id = m.variable_id JOIN sources src ON src.id = m.source_id ORDER BY v.name"
        )
    )
    assert values == [
        ("pm10", 7.06, "mqtt"),
        ("pm2_5", 5.27, "mqtt"),
        ("pressure", 1004.05, "mqtt"),
    ]


def test_device_from_body_when_the_topic_names_none(
    store: Store, listener: MqttListener, publisher: mqtt.Client, prefix: str
) -> None:
    add_device(store, "esp8266-42")
    publish(publisher, prefix, payload("9.00", chip="42"))
    assert wait_for(lambda: listener.stats.stored == 1), listener.stats
    assert pm10_values(store) == [9.0]


def test_bad_and_unknown_messages_are_refused_without_blocking_the_rest(
    store: Store, listener: MqttListener, publisher: mqtt.Client, prefix: str
) -> None:
    add_device(store, "esp8266-1")
    publish(publisher, f"{prefix}/esp8266-1", b"{not json")
    publish(publisher, f"{prefix}/esp8266-1", payload("2500.00"))  # PM over 2000
    publish(publisher, f"{prefix}/esp8266-999", payload("3.00"))  # unknown device
    publish(publisher, f"{prefix}/esp8266-1", payload("4.00"))
    assert wait_for(lambda: listener.stats.stored == 1 and listener.stats.refused == 3), (
        listener.stats
    )
    assert pm10_values(store) == [4.0]
    assert any("sensordatavalues[0].value" in e for e in listener.stats.errors)


def test_redelivered_message_is_stored_once(
    store: Store, listener: MqttListener, publisher: mqtt.Client, prefix: str
) -> None:
    add_device(store, "esp8266-5")
    body = payload("6.00")
    publish(publisher, f"{prefix}/esp8266-5", body)
    publish(publisher, f"{prefix}/esp8266-5", body)
    assert wait_for(lambda: listener.stats.stored + listener.stats.duplicates == 2), listener.stats
    assert listener.stats.duplicates == 1
    assert pm10_values(store) == [6.0]


def test_messages_sent_while_the_listener_is_down_arrive_after_restart(
    store: Store, service: IngestService, publisher: mqtt.Client, prefix: str, settings: Settings
) -> None:
    add_device(store, "esp8266-8")
    client_id = f"sd-{uuid.uuid4().hex[:8]}"
    first = MqttListener(service, BROKER, f"{prefix}/#", client_id=client_id)
    first.start()
    assert first.connected.wait(10)
    time.sleep(0.2)
    first.stop()  # the broker keeps the persistent session and queues QoS 1 messages
    publish(publisher, f"{prefix}/esp8266-8", payload("11.00"))
    publish(publisher, f"{prefix}/esp8266-8", payload("12.00"))
    again = MqttListener(service, BROKER, f"{prefix}/#", client_id=client_id)
    again.start()
    try:
        assert wait_for(lambda: again.stats.stored == 2), again.stats
    finally:
        again.stop()
    assert sorted(pm10_values(store)) == [11.0, 12.0]


def test_broker_url_is_checked(service: IngestService) -> None:
    with pytest.raises(ValueError, match="--broker"):
        MqttListener(service, "http://127.0.0.1:1883", "x/#")

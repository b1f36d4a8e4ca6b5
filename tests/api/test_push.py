"""POST /api/v1/push/sensor-community: the airrohr firmware's "send to own API" target."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient
from tests.api.conftest import UID, basic

from smartdistricts.nomenclature import variable
from smartdistricts.services.registry import approve_device, set_device_status
from smartdistricts.store.base import Store

PATH = "/api/v1/push/sensor-community"

# The firmware's combined payload (structure from airrohr-firmware NRZ-2024-135; the values are
# the town widget's: PM2.5 5.27, PM10 7.06, 14.09 °C, 1004.05 hPa sent as Pa, 71.97 %).
FIRMWARE_BODY = (
    b'{"esp8266id": "13597771", "software_version": "NRZ-2024-135", "sensordatavalues":['
    b'{"value_type":"SDS_P1","value":"7.06"},{"value_type":"SDS_P2","value":"5.27"},'
    b'{"value_type":"BME280_temperature","value":"14.09"},'
    b'{"value_type":"BME280_pressure","value":"100405.00"},'
    b'{"value_type":"BME280_humidity","value":"71.97"},'
    b'{"value_type":"samples","value":"869211"},{"value_type":"min_micro","value":"28"},'
    b'{"value_type":"max_micro","value":"20083"},{"value_type":"interval","value":"145000"},'
    b'{"value_type":"signal","value":"-67"}]}'
)


def headers(uid: str = UID, password: str | None = None, **extra: str) -> dict[str, str]:
    h = {
        "Content-Type": "application/json",
        "X-Sensor": uid,
        "X-MAC-ID": "esp8266-5ccf7fabcdef",
        "User-Agent": "NRZ-2024-135/13597771/5ccf7fabcdef",
    }
    if password is not None:
        h.update(basic(uid, password))
    h.update(extra)
    return h


def stored(store: Store) -> list[tuple[Any, ...]]:
    return store.read(
        lambda tx: tx.query(
            "SELECT s.type, m.variable_id, m.value, m.time, m.flags FROM measurements m"
            " JOIN sensors s ON s.id = m.sensor_id ORDER BY s.type, m.variable_id"
        )
    )


def test_firmware_push_is_stored_in_canonical_units(
    client: TestClient, store: Store, device: tuple[str, str]
) -> None:
    uid, password = device
    before = int(time.time())
    response = client.post(PATH, content=FIRMWARE_BODY, headers=headers(uid, password))
    after = int(time.time())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["device"] == uid and body["stored"] == 5 and body["status"] == "stored"
    rows = stored(store)
    got = {(t, variable(int(v)).name): value for t, v, value, _t, _f in rows}
    assert got == {
        ("BME280", "temp_air"): 14.09,
        ("BME280", "pressure"): 1004.05,  # Pa → hPa
        ("BME280", "relative_humidity"): 71.97,
        ("SDS011", "pm10"): 7.06,
        ("SDS011", "pm2_5"): 5.27,
    }
    assert all(before <= t <= after for _s, _v, _x, t, _f in rows)  # receipt time, UTC
    # PM taken at 71.97 % RH carries the HUMID flag (threshold 70 %); the rest none.
    flags = {(t, variable(int(v)).name): f for t, v, _x, _t, f in rows}
    assert flags[("SDS011", "pm10")] == 4 and flags[("BME280", "temp_air")] == 0
    status = store.read(
        lambda tx: tx.one(
            "SELECT software_version, last_signal, send_interval_s, last_seen_at FROM devices"
            " WHERE uid = ?",
            (uid,),
        )
    )
    assert status is not None
    assert status[:3] == ("NRZ-2024-135", -67.0, 145.0) and before <= status[3] <= after
    hourly = store.read(lambda tx: tx.query("SELECT n, total FROM hourly WHERE variable_id = 2"))
    assert hourly == [(1, 5.27)]
    latest = store.read(lambda tx: tx.query("SELECT value FROM latest WHERE variable_id = 3"))
    assert latest == [(7.06,)]


def test_per_sensor_pushes_with_x_pin(
    client: TestClient, store: Store, device: tuple[str, str]
) -> None:
    uid, password = device
    pm = _body(_item("P1", "7.06"), _item("P2", "5.27"))
    bme = _body(_item("temperature", "14.09"), _item("pressure", "100405.00"),
                _item("humidity", "71.97"))  # fmt: skip
    assert (
        client.post(PATH, content=pm, headers=headers(uid, password, **{"X-PIN": "1"})).status_code
        == 201
    )
    assert (
        client.post(
            PATH, content=bme, headers=headers(uid, password, **{"x-pin": "11"})
        ).status_code
        == 201
    )
    got = {(t, variable(int(v)).name): value for t, v, value, _t, _f in stored(store)}
    assert got[("PM", "pm10")] == 7.06 and got[("PM", "pm2_5")] == 5.27
    assert got[("BME280", "pressure")] == 1004.05


def test_resent_body_is_acknowledged_but_stored_once(
    client: TestClient, store: Store, device: tuple[str, str]
) -> None:
    uid, password = device
    first = client.post(PATH, content=FIRMWARE_BODY, headers=headers(uid, password))
    again = client.post(PATH, content=FIRMWARE_BODY, headers=headers(uid, password))
    assert first.status_code == 201
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert len(stored(store)) == 5


@pytest.mark.parametrize(
    ("make_headers", "status", "field"),
    [
        (lambda pw: headers(UID), 401, "Authorization"),
        (lambda pw: headers(UID, "wrong-password"), 401, "Authorization"),
        (lambda pw: {**headers(UID), **basic("someone-else", pw)}, 401, "Authorization"),
        (lambda pw: {**headers(UID), "Authorization": "Basic !!!not-base64"}, 401, "Authorization"),
        (lambda pw: headers("esp8266-99999999", pw), 403, "X-Sensor"),
    ],
    ids=["missing", "wrong", "other-user", "malformed", "unknown-device"],
)
def test_credentials_are_checked(
    client: TestClient,
    store: Store,
    device: tuple[str, str],
    make_headers: Any,
    status: int,
    field: str,
) -> None:
    body = FIRMWARE_BODY.replace(b'"esp8266id": "13597771", ', b"")  # identity from X-Sensor
    response = client.post(PATH, content=body, headers=make_headers(device[1]))
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["status"] == status and error["field"] == field
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic")
    assert stored(store) == []


def test_disabled_device_is_refused(
    client: TestClient, store: Store, device: tuple[str, str]
) -> None:
    set_device_status(store, device[0], "disabled")
    response = client.post(PATH, content=FIRMWARE_BODY, headers=headers(*device))
    assert response.status_code == 403 and response.json()["error"]["field"] == "X-Sensor"
    assert stored(store) == []


def test_imported_device_without_credentials_is_refused(client: TestClient, store: Store) -> None:
    store.write(
        lambda tx: tx.execute(
            "INSERT INTO devices (uid, kind, status) VALUES (?, 'import', 'active')", (UID,)
        )
    )
    response = client.post(PATH, content=FIRMWARE_BODY, headers=headers(UID))
    assert response.status_code == 401
    assert "devices secret" in response.json()["error"]["message"]
    assert stored(store) == []


def test_open_registration_quarantines_then_approval_publishes(
    open_client: TestClient, store: Store
) -> None:
    response = open_client.post(PATH, content=FIRMWARE_BODY, headers=headers(UID, "chosen-pw"))
    assert response.status_code == 202 and response.json()["status"] == "quarantine"
    row = store.read(
        lambda tx: tx.one("SELECT status, secret_hash FROM devices WHERE uid = ?", (UID,))
    )
    assert row is not None and row[0] == "quarantine" and row[1] and "chosen-pw" not in row[1]
    assert len(stored(store)) == 5  # kept, not public
    assert open_client.get("/index.json").json()["sites"] == []
    # The password given at registration is now the device's (trust on first use).
    wrong = open_client.post(
        PATH, content=FIRMWARE_BODY.replace(b"7.06", b"8.06"), headers=headers(UID, "another")
    )
    assert wrong.status_code == 401
    approve_device(store, UID)
    time.sleep(1.1)  # the device cache notices registry changes within a second
    ok = open_client.post(
        PATH, content=FIRMWARE_BODY.replace(b"7.06", b"9.06"), headers=headers(UID, "chosen-pw")
    )
    assert ok.status_code == 201, ok.text


def test_closed_registration_refuses_unknown_devices(client: TestClient, store: Store) -> None:
    response = client.post(PATH, content=FIRMWARE_BODY, headers=headers(UID, "x"))
    assert response.status_code == 403
    assert store.read(lambda tx: tx.one("SELECT count(*) FROM devices"))[0] == 0


def _item(kind: str, value: Any) -> dict[str, Any]:
    return {"value_type": kind, "value": value}


def _body(*items: dict[str, Any], **top: Any) -> bytes:
    return orjson.dumps(
        {"software_version": "NRZ-2024-135", "sensordatavalues": list(items), **top}
    )


BAD_PUSHES: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("not-json", b"{nope", {}, 400, "body"),
    (
        "invalid-utf8",
        b'{"sensordatavalues":[{"value_type":"SDS_P1","value":"\xff\xfe"}]}',
        {},
        400,
        "body",
    ),
    ("nan-literal", b'{"sensordatavalues":[{"value_type":"SDS_P1","value":NaN}]}', {}, 400, "body"),
    (
        "infinity-literal",
        b'{"sensordatavalues":[{"value_type":"SDS_P1","value":Infinity}]}',
        {},
        400,
        "body",
    ),
    ("nan-string", _body(_item("SDS_P1", "nan")), {}, 422, "sensordatavalues[0].value"),
    ("inf-string", _body(_item("SDS_P1", "inf")), {}, 422, "sensordatavalues[0].value"),
    (
        "pm-over-2000",
        _body(_item("SDS_P2", "5.27"), _item("SDS_P1", "2500.00")),
        {},
        422,
        "sensordatavalues[1].value",
    ),
    (
        "pressure-in-hpa",
        _body(_item("BME280_pressure", "1004.05")),
        {},
        422,
        "sensordatavalues[0].value",
    ),
    ("negative-pm", _body(_item("SDS_P1", "-3")), {}, 422, "sensordatavalues[0].value"),
    ("value-bool", _body(_item("SDS_P1", True)), {}, 422, "sensordatavalues[0].value"),
    ("value-null", _body(_item("SDS_P1", None)), {}, 422, "sensordatavalues[0].value"),
    ("value-object", _body(_item("SDS_P1", {"v": 1})), {}, 422, "sensordatavalues[0].value"),
    ("value-text", _body(_item("SDS_P1", "seven")), {}, 422, "sensordatavalues[0].value"),
    ("missing-value", _body({"value_type": "SDS_P1"}), {}, 422, "sensordatavalues[0].value"),
    ("missing-type", _body({"value": "1"}), {}, 422, "sensordatavalues[0].value_type"),
    (
        "type-not-string",
        _body({"value_type": 7, "value": "1"}),
        {},
        422,
        "sensordatavalues[0].value_type",
    ),
    ("item-not-object", _body("SDS_P1"), {}, 422, "sensordatavalues[0]"),  # type: ignore[arg-type]
    (
        "duplicate-type",
        _body(_item("SDS_P1", "1"), _item("SDS_P1", "2")),
        {},
        422,
        "sensordatavalues[1].value_type",
    ),
    ("no-values", b'{"software_version":"x"}', {}, 422, "sensordatavalues"),
    ("values-not-list", b'{"sensordatavalues":{"a":1}}', {}, 422, "sensordatavalues"),
    ("empty-values", b'{"sensordatavalues":[]}', {}, 422, "sensordatavalues"),
    ("body-is-list", b"[1,2,3]", {}, 422, "body"),
    ("empty-body", b"", {}, 400, "body"),
    (
        "version-not-string",
        _body(_item("SDS_P1", "1"), software_version=5),
        {},
        422,
        "software_version",
    ),
    ("id-mismatch", _body(_item("SDS_P1", "1"), esp8266id="1"), {}, 422, "esp8266id"),
    ("bad-pin", _body(_item("P1", "1")), {"X-PIN": "99"}, 400, "X-PIN"),
    ("too-large", b'{"sensordatavalues":[' + b" " * 1_000_001 + b"]}", {}, 413, "body"),
]


@pytest.mark.parametrize(
    ("body", "extra", "status", "field"),
    [case[1:] for case in BAD_PUSHES],
    ids=[case[0] for case in BAD_PUSHES],
)
def test_bad_pushes_get_a_4xx_naming_the_field_and_store_nothing(
    client: TestClient,
    store: Store,
    device: tuple[str, str],
    body: bytes,
    extra: dict[str, str],
    status: int,
    field: str,
) -> None:
    response = client.post(PATH, content=body, headers=headers(*device, **extra))
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["status"] == status and error["field"] == field and error["message"]
    assert stored(store) == []


def test_missing_x_sensor_header(client: TestClient, store: Store, device: tuple[str, str]) -> None:
    h = headers(*device)
    del h["X-Sensor"]
    response = client.post(
        PATH, content=b'{"sensordatavalues":[{"value_type":"SDS_P1","value":"1"}]}', headers=h
    )
    assert response.status_code == 400 and response.json()["error"]["field"] == "X-Sensor"


def test_device_push_rate_is_limited(store: Store, settings: Any, device: tuple[str, str]) -> None:
    from dataclasses import replace

    from smartdistricts.api.app import create_app

    app = create_app(replace(settings, device_pushes_per_minute=3), store=store)
    with TestClient(app) as client:
        codes = [
            client.post(
                PATH,
                content=FIRMWARE_BODY.replace(b"869211", str(i).encode()),
                headers=headers(*device),
            ).status_code
            for i in range(5)
        ]
    assert codes[:3] == [201, 201, 201] and codes[3:] == [429, 429]


def test_failed_authentications_are_limited_per_address(
    store: Store, settings: Any, device: tuple[str, str]
) -> None:
    from dataclasses import replace

    from smartdistricts.api.app import create_app

    app = create_app(replace(settings, auth_failures_per_minute=3), store=store)
    with TestClient(app) as client:
        codes = [
            client.post(
                PATH, content=FIRMWARE_BODY, headers=headers(device[0], "guess")
            ).status_code
            for _ in range(5)
        ]
        assert codes == [401, 401, 401, 429, 429]
        # Even the right password waits now: the address is throttled, not the device.
        good = client.post(PATH, content=FIRMWARE_BODY, headers=headers(*device))
    assert good.status_code == 201  # a correct login is not counted as a failure

"""POST /api/v1/measurements: the batch API for devices other than airrohr nodes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient
from tests.api.conftest import basic

from smartdistricts.services.registry import add_api_key, add_device, revoke_api_key
from smartdistricts.store.base import Store

PATH = "/api/v1/measurements"
T0 = "2026-11-01T10:00:00Z"
T0_S = 1793527200  # the same instant as Unix seconds


@pytest.fixture
def station(store: Store) -> tuple[str, str, int]:
    """An API device with one sensor: (uid, password, sensor id)."""
    _device, secret = add_device(
        store, "townhall-bam", kind="api", external_sensors={"BAM1020": "town:bam"}
    )
    row = store.read(lambda tx: tx.one("SELECT id FROM sensors WHERE external_id = 'town:bam'"))
    assert row is not None
    return "townhall-bam", secret, int(row[0])


def rows(store: Store) -> list[tuple[Any, ...]]:
    return store.read(
        lambda tx: tx.query(
            "SELECT m.sensor_id, v.name, m.time, m.value, src.name FROM measurements m"
            " JOIN variables v ON v.id = m.variable_id JOIN sources src ON src.id = m.source_id"
            " ORDER BY m.time, v.name"
        )
    )


def post(client: TestClient, body: Any, **headers: str) -> Any:
    return client.post(PATH, content=orjson.dumps(body), headers=headers)


def test_write_key_stores_readings_with_their_times(
    client: TestClient, store: Store, station: tuple[str, str, int]
) -> None:
    _key, token = add_api_key(store, "gateway", scopes={"write"})
    sid = station[2]
    body = [
        {"sensor": sid, "time": T0, "variable": "pm10", "value": 31.5},
        {"sensor": sid, "time": "2026-11-01T12:00:00+01:00", "variable": "pm10", "value": 33},
        {"sensor": sid, "time": T0_S + 7200, "variable": "pm2_5", "value": 20.25},
    ]
    response = post(client, body, Authorization=f"Bearer {token}")
    assert response.status_code == 201, response.text
    assert response.json() == {"accepted": 3, "devices": 1}
    assert rows(store) == [
        (sid, "pm10", T0_S, 31.5, "batch-api"),
        (sid, "pm10", T0_S + 3600, 33.0, "batch-api"),
        (sid, "pm2_5", T0_S + 7200, 20.25, "batch-api"),
    ]


def test_resending_a_batch_stores_nothing_twice_and_keeps_aggregates_right(
    client: TestClient, store: Store, station: tuple[str, str, int]
) -> None:
    _key, token = add_api_key(store, "gateway", scopes={"write"})
    sid = station[2]
    body = [
        {"sensor": sid, "time": T0_S + i * 600, "variable": "pm10", "value": 10.0 + i}
        for i in range(6)
    ]
    for _ in range(3):
        assert post(client, body, **{"X-API-Key": token}).status_code == 201
    assert len(rows(store)) == 6
    hourly = store.read(lambda tx: tx.query("SELECT hour, n, n_all, total FROM hourly"))
    assert hourly == [(T0_S, 6, 6, sum(10.0 + i for i in range(6)))]


def test_device_credentials_may_name_sensors_by_type(
    client: TestClient, store: Store, station: tuple[str, str, int]
) -> None:
    uid, secret, _sid = station
    body = [{"sensor": "SPS30", "time": T0, "variable": "pm1", "value": 3.5}]
    response = post(client, body, **basic(uid, secret))
    assert response.status_code == 201, response.text
    types = store.read(lambda tx: tx.query("SELECT type FROM sensors ORDER BY type"))
    assert types == [("BAM1020",), ("SPS30",)]


def test_key_tied_to_a_device_cannot_write_other_sensors(
    client: TestClient, store: Store, station: tuple[str, str, int]
) -> None:
    add_device(store, "other-station", kind="api", external_sensors={"X": "other:x"})
    other = store.read(lambda tx: tx.one("SELECT id FROM sensors WHERE external_id = 'other:x'"))
    assert other is not None
    _key, token = add_api_key(store, "bam only", scopes={"write"}, device=station[0])
    ok = post(client, [{"sensor": station[2], "time": T0, "variable": "pm10", "value": 1}],
              Authorization=f"Bearer {token}")  # fmt: skip
    assert ok.status_code == 201
    refused = post(client, [{"sensor": int(other[0]), "time": T0, "variable": "pm10", "value": 1}],
                   Authorization=f"Bearer {token}")  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "[0].sensor"


@pytest.mark.parametrize(
    ("auth", "status"),
    [
        ("none", 401),
        ("garbage", 401),
        ("revoked", 401),
        ("read-only", 403),
        ("wrong-device-pw", 401),
    ],
)
def test_authentication(
    client: TestClient, store: Store, station: tuple[str, str, int], auth: str, status: int
) -> None:
    _k, read_token = add_api_key(store, "reader", scopes={"read"})
    key, revoked = add_api_key(store, "old", scopes={"write"})
    revoke_api_key(store, key.prefix)
    headers = {
        "none": {},
        "garbage": {"Authorization": "Bearer sdk_zzzzzzzz_notakeynotakeynotakey"},
        "revoked": {"Authorization": f"Bearer {revoked}"},
        "read-only": {"X-API-Key": read_token},
        "wrong-device-pw": basic(station[0], "nope"),
    }[auth]
    response = post(
        client, [{"sensor": station[2], "time": T0, "variable": "pm10", "value": 1}], **headers
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["field"] == "Authorization"
    assert rows(store) == []


S = "SENSOR"  # replaced by the station's sensor id


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (
            b'{"sensor": S, "time": "2026-11-01T10:00:00Z", "variable": "pm10", "value": NaN}',
            "body",
        ),
        ({"sensor": S, "time": T0, "variable": "pm10"}, "[1].value"),
        ({"sensor": S, "time": T0, "variable": "pm10", "value": None}, "[1].value"),
        ({"sensor": S, "time": T0, "variable": "pm10", "value": "12"}, "[1].value"),
        ({"sensor": S, "time": T0, "variable": "pm10", "value": 2500}, "[1].value"),
        ({"sensor": S, "time": T0, "variable": "soot", "value": 1}, "[1].variable"),
        ({"sensor": S, "time": "2026-11-01T10:00:00", "variable": "pm10", "value": 1}, "[1].time"),
        ({"sensor": S, "time": "2999-01-01T00:00:00Z", "variable": "pm10", "value": 1}, "[1].time"),
        ({"sensor": S, "time": "yesterday", "variable": "pm10", "value": 1}, "[1].time"),
        ({"sensor": True, "time": T0, "variable": "pm10", "value": 1}, "[1].sensor"),
        ({"sensor": 99999, "time": T0, "variable": "pm10", "value": 1}, "[1].sensor"),
    ],
    ids=[
        "nan",
        "missing-value",
        "null-value",
        "string-value",
        "pm-over-2000",
        "unknown-variable",
        "naive-time",
        "future",
        "unreadable-time",
        "bool-sensor",
        "unknown-sensor",
    ],
)
def test_bad_items_refuse_the_whole_batch_naming_the_field(
    client: TestClient,
    store: Store,
    station: tuple[str, str, int],
    item: dict[str, Any] | bytes,
    field: str,
) -> None:
    _key, token = add_api_key(store, "gateway", scopes={"write"})
    sid = station[2]
    good = orjson.dumps({"sensor": sid, "time": T0, "variable": "pm2_5", "value": 4.0})
    if isinstance(item, bytes):
        bad = item.replace(b"S,", str(sid).encode() + b",")
    else:
        bad = orjson.dumps({k: (sid if v == S else v) for k, v in item.items()})
    body = b"[" + good + b"," + bad + b"]"
    response = client.post(PATH, content=body, headers={"Authorization": f"Bearer {token}"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["field"] == field
    assert rows(store) == []  # nothing of the batch was stored


def test_several_problems_are_listed(
    client: TestClient, store: Store, station: tuple[str, str, int]
) -> None:
    _key, token = add_api_key(store, "gateway", scopes={"write"})
    body = [
        {"sensor": station[2], "time": T0, "variable": "pm10", "value": -1},
        {"sensor": station[2], "time": T0, "variable": "nope", "value": 1},
    ]
    response = post(client, body, Authorization=f"Bearer {token}")
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [d["field"] for d in details] == ["[0].value", "[1].variable"]

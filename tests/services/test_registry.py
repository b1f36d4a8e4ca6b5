"""The registry: districts, sites, devices, API keys, the audit log, and secrets stored hashed."""

from __future__ import annotations

from typing import Any

import pytest

from smartdistricts.nomenclature import variable
from smartdistricts.services.ingest import IngestService, StreamBatch
from smartdistricts.services.registry import (
    RegistryError,
    add_api_key,
    add_device,
    add_district,
    add_site,
    approve_device,
    check_api_key,
    list_api_keys,
    list_devices,
    list_districts,
    list_sites,
    remove_device,
    reset_device_secret,
    revoke_api_key,
    set_device_status,
    slugify,
)
from smartdistricts.services.rollup import roll_up_pending
from smartdistricts.services.security import hash_secret, verify_secret
from smartdistricts.store.base import Store, Tx

PM25 = variable("pm2_5").id
T0 = 1_781_042_400


def square(x0: float, y0: float, size: float) -> list[list[float]]:
    """A closed counter-clockwise ring [longitude, latitude]."""
    return [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]


WEST = {"type": "Polygon", "coordinates": [square(21.50, 52.15, 0.05)]}
#: East with a hole (a park) and a detached part.
EAST = {
    "type": "MultiPolygon",
    "coordinates": [
        [square(21.55, 52.15, 0.05), square(21.57, 52.17, 0.01)],
        [square(21.70, 52.15, 0.01)],
    ],
}


def audit_actions(store: Store) -> list[tuple[str, str, str]]:
    rows = store.read(
        lambda tx: tx.query("SELECT actor, action, subject FROM audit_log ORDER BY id")
    )
    return [(a, b, c) for a, b, c in rows]


def all_text(store: Store) -> list[str]:
    """Every text value in every table of the database."""

    def run(tx: Tx) -> list[str]:
        if tx.dialect.name == "sqlite":
            tables = [r[0] for r in tx.query("SELECT name FROM sqlite_master WHERE type = 'table'")]
        else:
            tables = [
                r[0]
                for r in tx.query(
                    "SELECT table_name FROM information_schema.tables"
                    " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                )
            ]
        assert {"devices", "api_keys", "audit_log"} <= set(tables)
        return [str(v) for t in tables for row in tx.query(f"SELECT * FROM {t}") for v in row]

    return store.read(run)


# -- districts and sites --------------------------------------------------------------------------
def test_sites_get_the_district_whose_polygon_holds_them(store: Store) -> None:
    west = add_district(store, slug="west", name="Zachód", geometry=WEST)
    east = add_district(store, slug="east", name="Wschód", geometry=EAST, approximate=True)
    assert (east.geometry, east.approximate, west.approximate) == (EAST, True, False)
    sites = {
        "in-west": (52.17, 21.52),
        "in-east": (52.16, 21.56),
        "in-the-park": (52.175, 21.575),  # inside east's hole
        "detached-east": (52.155, 21.705),
        "nowhere": (52.30, 21.90),
    }
    for slug, (lat, lon) in sites.items():
        add_site(store, name=slug.title(), slug=slug, latitude=lat, longitude=lon)
    got = {s.slug: s.district_id for s in list_sites(store)}
    assert got == {
        "in-west": west.id,
        "in-east": east.id,
        "in-the-park": None,
        "detached-east": east.id,
        "nowhere": None,
    }


def test_a_new_district_adopts_the_sites_without_one(store: Store) -> None:
    add_site(store, name="Early", latitude=52.17, longitude=21.52)
    add_site(store, name="Elsewhere", latitude=52.40, longitude=21.52)
    west = add_district(store, slug="west", name="West", geometry=WEST)
    assert {s.slug: s.district_id for s in list_sites(store)} == {
        "early": west.id,
        "elsewhere": None,
    }
    again = add_district(store, slug="west", name="West renamed", geometry=WEST)
    assert again.id == west.id
    assert [(d.slug, d.name) for d in list_districts(store)] == [("west", "West renamed")]


def test_a_named_district_wins_and_must_exist(store: Store) -> None:
    add_district(store, slug="west", name="West", geometry=WEST)
    east = add_district(store, slug="east", name="East", geometry=EAST)
    site = add_site(store, name="Placed", latitude=52.17, longitude=21.52, district="east")
    assert site.district_id == east.id
    with pytest.raises(RegistryError, match="no district 'south'"):
        add_site(store, name="Lost", latitude=52.17, longitude=21.52, district="south")


def test_duplicate_site_slugs_are_refused(store: Store) -> None:
    first = add_site(
        store,
        name="ul. Małopolska 11",
        latitude=52.18,
        longitude=21.56,
        elevation=115.5,
        street="Małopolska",
        number="11",
        city="Mińsk Mazowiecki",
        sponsor="Miasto",
    )
    assert first.slug == "ul-malopolska-11"
    assert (first.elevation, first.street, first.city, first.sponsor) == (
        115.5,
        "Małopolska",
        "Mińsk Mazowiecki",
        "Miasto",
    )
    with pytest.raises(RegistryError, match="slug 'ul-malopolska-11' exists already"):
        add_site(store, name="Ul. Małopolska 11!", latitude=52.0, longitude=21.0)
    assert len(list_sites(store)) == 1
    assert [a for _, a, _ in audit_actions(store)] == ["site.add"]  # the refusal left nothing


def test_duplicate_external_ids_are_refused(store: Store) -> None:
    add_site(store, name="A", latitude=52, longitude=21, source="airly.pl", external_id="77")
    add_site(store, name="B", latitude=52, longitude=21, source="gios", external_id="77")
    with pytest.raises(RegistryError, match=r"a site with airly\.pl id '77' exists already"):
        add_site(store, name="C", latitude=52, longitude=21, source="airly.pl", external_id="77")
    assert [s.slug for s in list_sites(store)] == ["a", "b"]


@pytest.mark.parametrize(("lat", "lon", "what"), [(91, 21, "latitude"), (52, -181, "longitude")])
def test_impossible_positions_are_refused(store: Store, lat: float, lon: float, what: str) -> None:
    with pytest.raises(RegistryError, match=what):
        add_site(store, name="Off the map", latitude=lat, longitude=lon)


def test_district_geometry_must_be_a_polygon(store: Store) -> None:
    with pytest.raises(ValueError, match="expected Polygon or MultiPolygon"):
        add_district(store, slug="p", name="P", geometry={"type": "Point", "coordinates": [0, 0]})


@pytest.mark.parametrize(
    ("text", "slug"),
    [("Łódzka 5", "lodzka-5"), ("  Żółć / Gęś  ", "zolc-ges"), ("!!!", "site")],
)
def test_slugify(text: str, slug: str) -> None:
    assert slugify(text) == slug


# -- devices --------------------------------------------------------------------------------------
def test_add_device_with_a_site_and_external_sensors(store: Store) -> None:
    add_site(store, name="Roof", latitude=52.18, longitude=21.56)
    device, secret = add_device(
        store, "esp8266-1", site="roof", name="on the roof", external_sensors={"SDS011": "sc:5"}
    )
    assert (device.uid, device.kind, device.status, device.name) == (
        "esp8266-1",
        "airrohr",
        "active",
        "on the roof",
    )
    assert device.site_id == list_sites(store)[0].id
    assert len(secret) >= 32 and verify_secret(secret, device.secret_hash)
    assert [d.sensors for d in list_devices(store)] == [("SDS011",)]


@pytest.mark.parametrize(
    ("uid", "kwargs", "message"),
    [
        ("bad uid", {}, "device uid 'bad uid'"),
        ("-leading", {}, "device uid"),
        ("x" * 65, {}, "device uid"),
        ("ok", {"kind": "toaster"}, "device kind 'toaster'"),
        ("ok", {"site": "nowhere"}, "no site 'nowhere'"),
        ("ok", {"site": 999}, "no site 999"),
    ],
)
def test_bad_devices_are_refused(
    store: Store, uid: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(RegistryError, match=message):
        add_device(store, uid, **kwargs)
    assert list_devices(store) == []


def test_duplicate_devices_are_refused(store: Store) -> None:
    add_device(store, "esp8266-1")
    with pytest.raises(RegistryError, match="exists already"):
        add_device(store, "esp8266-1")


def test_quarantined_device_is_approved_placed_and_given_new_credentials(
    service: IngestService, store: Store
) -> None:
    site = add_site(store, name="Garden", latitude=52.18, longitude=21.56)
    batch = StreamBatch(
        "esp8266-77",
        [("SDS011", PM25, T0, 10.0)],
        "push",
        T0,
        register=True,
        register_secret_hash=hash_secret("first-secret"),
    )
    assert service.write(batch).quarantined
    assert [d.uid for d in list_devices(store, status="quarantine")] == ["esp8266-77"]
    device, secret = approve_device(store, "esp8266-77", site="garden", new_credentials=True)
    assert (device.status, device.site_id) == ("active", site.id)
    assert secret is not None and verify_secret(secret, device.secret_hash)
    assert not verify_secret("first-secret", device.secret_hash)
    assert list_devices(store, status="quarantine") == []
    kept, none = approve_device(store, "esp8266-77")
    assert (none, kept.secret_hash, kept.site_id) == (None, device.secret_hash, site.id)
    with pytest.raises(RegistryError, match="no device 'esp8266-0'"):
        approve_device(store, "esp8266-0")


def test_a_disabled_device_is_not_stored(service: IngestService, store: Store) -> None:
    add_device(store, "esp8266-2")
    assert set_device_status(store, "esp8266-2", "disabled").status == "disabled"
    result = service.write(StreamBatch("esp8266-2", [("SDS011", PM25, T0, 1.0)], "push", T0))
    assert result.outcome == "disabled"
    assert set_device_status(store, "esp8266-2", "active").status == "active"
    result = service.write(StreamBatch("esp8266-2", [("SDS011", PM25, T0, 1.0)], "push", T0))
    assert (result.outcome, result.stored) == ("stored", 1)
    with pytest.raises(RegistryError, match="status 'broken'"):
        set_device_status(store, "esp8266-2", "broken")


def counts(store: Store, device_uid: str) -> dict[str, int]:
    def run(tx: Tx) -> dict[str, int]:
        out = {}
        for table in ("measurements", "hourly", "daily", "latest", "rollup_pending"):
            row = tx.one(
                f"SELECT count(*) FROM {table} t JOIN sensors s ON s.id = t.sensor_id"
                " JOIN devices d ON d.id = s.device_id WHERE d.uid = ?",
                (device_uid,),
            )
            out[table] = int(row[0]) if row else 0
        return out

    return store.read(run)


def orphans(store: Store) -> int:
    def run(tx: Tx) -> int:
        total = 0
        for table in ("measurements", "hourly", "daily", "latest", "rollup_pending"):
            row = tx.one(
                f"SELECT count(*) FROM {table} t WHERE NOT EXISTS"
                " (SELECT 1 FROM sensors s WHERE s.id = t.sensor_id)"
            )
            total += int(row[0]) if row else 0
        return total

    return store.read(run)


def test_remove_device_deletes_its_readings_and_aggregates(
    service: IngestService, store: Store
) -> None:
    for uid in ("keep", "gone"):
        add_device(store, uid)
        readings = [("SDS011", PM25, T0 + 145 * i, 5.0 + i) for i in range(30)]
        readings += [("BME280", variable("temp_air").id, T0, 20.0)]
        service.write(StreamBatch(uid, readings, "push", T0 + 145 * 29))
    store.write(lambda tx: roll_up_pending(tx, service.tz, limit=1))  # leave some queued
    add_api_key(store, "gone's key", scopes={"write"}, device="gone")
    kept = counts(store, "keep")
    assert counts(store, "gone")["measurements"] == 31
    assert counts(store, "gone")["hourly"] > 0

    assert remove_device(store, "gone") == 31
    assert counts(store, "keep") == kept
    assert orphans(store) == 0
    assert [d.uid for d in list_devices(store)] == ["keep"]
    assert list_api_keys(store) == []
    assert ("cli", "device.remove", "gone") in audit_actions(store)
    with pytest.raises(RegistryError, match="no device 'gone'"):
        remove_device(store, "gone")


def test_ids_of_removed_devices_are_not_reused(service: IngestService, store: Store) -> None:
    """A long-running ingest service caches device and sensor ids; a new device must never
    inherit the id of a removed one, or its readings land on a sensor that no longer exists."""
    for uid in ("first", "second"):
        add_device(store, uid)
        service.write(StreamBatch(uid, [("SDS011", PM25, T0, 1.0)], "push", T0))
    removed = {d.uid: d.id for d in list_devices(store)}["second"]
    remove_device(store, "second")
    newcomer, _ = add_device(store, "third")
    assert newcomer.id != removed
    readings = [("BME280", variable("temp_air").id, T0, 2.0), ("SDS011", PM25, T0 + 1, 3.0)]
    assert service.write(StreamBatch("third", readings, "push", T0 + 1)).stored == 2
    assert counts(store, "third")["measurements"] == 2
    assert orphans(store) == 0
    by_type = store.read(
        lambda tx: tx.query(
            "SELECT s.type, m.variable_id FROM measurements m JOIN sensors s ON s.id = m.sensor_id"
            " JOIN devices d ON d.id = s.device_id WHERE d.uid = 'third' ORDER BY s.type"
        )
    )
    assert by_type == [("BME280", variable("temp_air").id), ("SDS011", PM25)]


# -- secrets and keys -----------------------------------------------------------------------------
def test_secrets_are_stored_only_hashed(service: IngestService, store: Store) -> None:
    _, device_secret = add_device(store, "esp8266-9")
    new_secret = reset_device_secret(store, "esp8266-9")
    service.write(
        StreamBatch(
            "esp8266-10",
            [("SDS011", PM25, T0, 1.0)],
            "push",
            T0,
            register=True,
            register_secret_hash=hash_secret("registered-secret"),
        )
    )
    _, approved_secret = approve_device(store, "esp8266-10", new_credentials=True)
    key, full_key = add_api_key(store, "analyst", scopes={"read", "write"}, device="esp8266-9")
    assert approved_secret is not None
    secrets = [device_secret, new_secret, approved_secret, full_key, full_key.split("_", 2)[2]]
    assert all(len(s) >= 16 for s in secrets)
    text = all_text(store)
    for secret in secrets:
        assert not any(secret in cell for cell in text), secret
    assert any(hash_secret(new_secret) == cell for cell in text)
    assert key.prefix in full_key


def test_api_keys_are_checked_and_revoked(store: Store) -> None:
    key, full = add_api_key(store, "portal", scopes={"read"}, daily_limit=1000, minute_limit=60)
    assert (key.scopes, key.daily_limit, key.minute_limit, key.revoked_at) == (
        frozenset({"read"}),
        1000,
        60,
        None,
    )
    found = store.read(lambda tx: check_api_key(tx, full))
    assert found == key
    assert store.read(lambda tx: check_api_key(tx, full + "x")) is None
    assert store.read(lambda tx: check_api_key(tx, full[:-1] + chr(ord(full[-1]) ^ 1))) is None
    assert store.read(lambda tx: check_api_key(tx, "sdk_nothex!_" + "a" * 32)) is None
    assert store.read(lambda tx: check_api_key(tx, "bearer nonsense")) is None
    revoked = revoke_api_key(store, key.prefix)
    assert revoked.revoked_at is not None
    assert store.read(lambda tx: check_api_key(tx, full)) is None
    with pytest.raises(RegistryError, match="no active API key"):
        revoke_api_key(store, key.prefix)
    assert [k.prefix for k in list_api_keys(store)] == [key.prefix]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scopes": {"read", "root"}}, r"scopes \['root'\]"),
        ({"scopes": set()}, r"scopes \[\]"),
        ({"device": "nobody"}, "no device 'nobody'"),
    ],
)
def test_bad_api_keys_are_refused(store: Store, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        add_api_key(store, "bad", **kwargs)
    assert list_api_keys(store) == []


def test_every_change_is_in_the_audit_log(service: IngestService, store: Store) -> None:
    add_district(store, slug="west", name="West", geometry=WEST, actor="admin")
    add_site(store, name="Roof", latitude=52.17, longitude=21.52, actor="admin")
    add_device(store, "esp8266-5", site="roof", actor="admin")
    approve_device(store, "esp8266-5", actor="admin")
    set_device_status(store, "esp8266-5", "disabled", actor="admin")
    reset_device_secret(store, "esp8266-5", actor="admin")
    key, _ = add_api_key(store, "k", actor="admin")
    revoke_api_key(store, key.prefix, actor="admin")
    remove_device(store, "esp8266-5", actor="admin")
    assert audit_actions(store) == [
        ("admin", "district.put", "west"),
        ("admin", "site.add", "roof"),
        ("admin", "device.add", "esp8266-5"),
        ("admin", "device.approve", "esp8266-5"),
        ("admin", "device.disabled", "esp8266-5"),
        ("admin", "device.secret", "esp8266-5"),
        ("admin", "apikey.add", key.prefix),
        ("admin", "apikey.revoke", key.prefix),
        ("admin", "device.remove", "esp8266-5"),
    ]
    times = store.read(lambda tx: tx.query("SELECT time, detail FROM audit_log"))
    assert all(int(t) > 1_700_000_000 and d.startswith("{") for t, d in times)

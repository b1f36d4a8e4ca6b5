"""Districts, sites, devices and API keys: the platform's registry.

Every function takes the :class:`~smartdistricts.store.Store` and runs its writes on the writer,
so the CLI and the web server can use them alike. Changes are written to ``audit_log``.
"""

from __future__ import annotations

import json
import re
import time
import unicodedata
from dataclasses import dataclass, replace
from typing import Any

from smartdistricts.calc.geo import points_in_geometry
from smartdistricts.services.security import (
    hash_secret,
    new_api_key,
    new_secret,
    split_api_key,
    verify_secret,
)
from smartdistricts.store.base import Store, Tx

__all__ = [
    "ApiKey",
    "Device",
    "District",
    "RegistryError",
    "Site",
    "add_api_key",
    "add_device",
    "add_district",
    "add_site",
    "approve_device",
    "audit",
    "check_api_key",
    "find_device",
    "list_api_keys",
    "list_devices",
    "list_districts",
    "list_sites",
    "revoke_api_key",
    "slugify",
]

SCOPES = frozenset({"read", "write", "admin"})
_UID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


class RegistryError(ValueError):
    """A registry request that cannot be done (unknown id, duplicate, bad value)."""


@dataclass(frozen=True, slots=True)
class District:
    id: int
    slug: str
    name: str
    geometry: dict[str, Any]
    approximate: bool


@dataclass(frozen=True, slots=True)
class Site:
    id: int
    slug: str
    name: str
    latitude: float
    longitude: float
    elevation: float | None
    street: str | None
    number: str | None
    city: str | None
    district_id: int | None
    sponsor: str | None
    source: str
    external_id: str | None
    approximate: bool
    active: bool


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    uid: str
    kind: str
    status: str
    site_id: int | None
    name: str | None
    secret_hash: str | None
    created_at: int
    last_seen_at: int | None
    software_version: str | None
    last_signal: float | None
    sensors: tuple[str, ...] = ()
    #: Ids of ``sensors`` (same order): what the batch API's ``sensor`` field takes.
    sensor_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    prefix: str
    name: str
    scopes: frozenset[str]
    device_id: int | None
    daily_limit: int | None
    minute_limit: int | None
    created_at: int
    last_used_at: int | None
    revoked_at: int | None


def slugify(text: str) -> str:
    """A URL slug: ``"ul. Małopolska 11"`` → ``"ul-malopolska-11"``.

    >>> slugify("ul. Małopolska 11")
    'ul-malopolska-11'
    """
    text = text.replace("ł", "l").replace("Ł", "L")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "site"


def audit(
    tx: Tx, actor: str, action: str, subject: str, detail: dict[str, Any] | None = None
) -> None:
    tx.execute(
        "INSERT INTO audit_log (time, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
        (int(time.time()), actor, action, subject, json.dumps(detail or {}, ensure_ascii=False)),
    )


# -- districts ---------------------------------------------------------------------------------
_DISTRICT_COLS = "id, slug, name, geometry, approximate"


def _district(row: tuple[Any, ...]) -> District:
    return District(int(row[0]), row[1], row[2], json.loads(row[3]), bool(row[4]))


def add_district(
    store: Store,
    *,
    slug: str,
    name: str,
    geometry: dict[str, Any],
    approximate: bool = False,
    actor: str = "cli",
) -> District:
    """Add or replace a district (by slug); sites inside it are assigned to it."""
    points_in_geometry([0.0], [0.0], geometry)  # validates the geometry type
    text = json.dumps(geometry, separators=(",", ":"))

    def run(tx: Tx) -> District:
        tx.execute(
            "INSERT INTO districts (slug, name, geometry, approximate) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (slug) DO UPDATE SET name = excluded.name,"
            " geometry = excluded.geometry, approximate = excluded.approximate",
            (slug, name, text, int(approximate)),
        )
        row = tx.one(f"SELECT {_DISTRICT_COLS} FROM districts WHERE slug = ?", (slug,))
        assert row is not None
        district = _district(row)
        sites = tx.query("SELECT id, longitude, latitude FROM sites WHERE district_id IS NULL")
        if sites:
            inside = points_in_geometry(
                [s[1] for s in sites], [s[2] for s in sites], district.geometry
            )
            tx.executemany(
                "UPDATE sites SET district_id = ? WHERE id = ?",
                [(district.id, s[0]) for s, hit in zip(sites, inside, strict=True) if hit],
            )
        audit(tx, actor, "district.put", slug, {"name": name})
        return district

    return store.write(run)


def list_districts(store: Store) -> list[District]:
    return store.read(
        lambda tx: [
            _district(r) for r in tx.query(f"SELECT {_DISTRICT_COLS} FROM districts ORDER BY id")
        ]
    )


def district_for_point(tx: Tx, latitude: float, longitude: float) -> int | None:
    for row in tx.query("SELECT id, geometry FROM districts ORDER BY id"):
        if points_in_geometry([longitude], [latitude], json.loads(row[1]))[0]:
            return int(row[0])
    return None


# -- sites ---------------------------------------------------------------------------------------
_SITE_COLS = (
    "id, slug, name, latitude, longitude, elevation, street, number, city, district_id,"
    " sponsor, source, external_id, approximate, active"
)


def _site(row: tuple[Any, ...]) -> Site:
    return Site(
        int(row[0]),
        row[1],
        row[2],
        float(row[3]),
        float(row[4]),
        None if row[5] is None else float(row[5]),
        row[6],
        row[7],
        row[8],
        None if row[9] is None else int(row[9]),
        row[10],
        row[11],
        row[12],
        bool(row[13]),
        bool(row[14]),
    )


def _check_position(latitude: float, longitude: float) -> None:
    if not -90 <= latitude <= 90:
        raise RegistryError(f"latitude {latitude} must lie between -90 and 90")
    if not -180 <= longitude <= 180:
        raise RegistryError(f"longitude {longitude} must lie between -180 and 180")


def insert_site(
    tx: Tx,
    *,
    name: str,
    latitude: float,
    longitude: float,
    slug: str | None = None,
    elevation: float | None = None,
    street: str | None = None,
    number: str | None = None,
    city: str | None = None,
    district: str | None = None,
    sponsor: str | None = None,
    source: str = "smartdistricts",
    external_id: str | None = None,
    approximate: bool = False,
    actor: str = "cli",
) -> Site:
    """Insert a site inside the caller's transaction (see :func:`add_site`)."""
    _check_position(latitude, longitude)
    slug = slug or slugify(name)
    if tx.one("SELECT 1 FROM sites WHERE slug = ?", (slug,)):
        raise RegistryError(f"a site with slug {slug!r} exists already")
    if external_id is not None and tx.one(
        "SELECT 1 FROM sites WHERE source = ? AND external_id = ?", (source, external_id)
    ):
        raise RegistryError(f"a site with {source} id {external_id!r} exists already")
    if district:
        row = tx.one("SELECT id FROM districts WHERE slug = ?", (district,))
        if row is None:
            raise RegistryError(f"no district {district!r}")
        district_id: int | None = int(row[0])
    else:
        district_id = district_for_point(tx, latitude, longitude)
    site_id = tx.insert_id(
        "INSERT INTO sites (slug, name, latitude, longitude, elevation, street, number, city,"
        " district_id, sponsor, source, external_id, approximate)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            slug,
            name,
            latitude,
            longitude,
            elevation,
            street,
            number,
            city,
            district_id,
            sponsor,
            source,
            external_id,
            int(approximate),
        ),
    )
    audit(tx, actor, "site.add", slug, {"name": name, "latitude": latitude, "longitude": longitude})
    row = tx.one(f"SELECT {_SITE_COLS} FROM sites WHERE id = ?", (site_id,))
    assert row is not None
    return _site(row)


def add_site(store: Store, **fields: Any) -> Site:
    """Add a site; the district is found from the position unless named (by slug)."""
    return store.write(lambda tx: insert_site(tx, **fields))


def list_sites(store: Store) -> list[Site]:
    return store.read(
        lambda tx: [_site(r) for r in tx.query(f"SELECT {_SITE_COLS} FROM sites ORDER BY id")]
    )


def find_site(tx: Tx, key: str | int) -> Site:
    """A site by id or slug."""
    text = str(key)
    if text.isdigit():
        row = tx.one(f"SELECT {_SITE_COLS} FROM sites WHERE id = ?", (int(text),))
    else:
        row = tx.one(f"SELECT {_SITE_COLS} FROM sites WHERE slug = ?", (text,))
    if row is None:
        raise RegistryError(f"no site {key!r}")
    return _site(row)


# -- devices -------------------------------------------------------------------------------------
_DEVICE_COLS = (
    "d.id, d.uid, d.kind, d.status, d.site_id, d.name, d.secret_hash, d.created_at,"
    " d.last_seen_at, d.software_version, d.last_signal"
)


def _device(row: tuple[Any, ...], sensors: tuple[str, ...] = ()) -> Device:
    return Device(
        int(row[0]),
        row[1],
        row[2],
        row[3],
        None if row[4] is None else int(row[4]),
        row[5],
        row[6],
        int(row[7]),
        None if row[8] is None else int(row[8]),
        row[9],
        None if row[10] is None else float(row[10]),
        sensors,
    )


def find_device(tx: Tx, uid: str) -> Device | None:
    row = tx.one(f"SELECT {_DEVICE_COLS} FROM devices d WHERE d.uid = ?", (uid,))
    return None if row is None else _device(row)


def _require_device(tx: Tx, uid: str) -> Device:
    device = find_device(tx, uid)
    if device is None:
        raise RegistryError(f"no device {uid!r}")
    return device


def add_device(
    store: Store,
    uid: str,
    *,
    kind: str = "airrohr",
    site: str | int | None = None,
    name: str | None = None,
    external_sensors: dict[str, str] | None = None,
    actor: str = "cli",
) -> tuple[Device, str]:
    """Register a device; returns it and its secret (shown once, stored hashed).

    ``external_sensors`` maps a sensor type to its id in another network, e.g.
    ``{"SDS011": "sensor.community:5331"}``, so archive files of that sensor land on this device.
    """
    if not _UID.match(uid):
        raise RegistryError(f"device uid {uid!r}: use letters, digits and . _ : - (≤ 64)")
    if kind not in {"airrohr", "api", "import"}:
        raise RegistryError(f"device kind {kind!r}: use airrohr, api or import")
    secret = new_secret()

    def run(tx: Tx) -> Device:
        if find_device(tx, uid) is not None:
            raise RegistryError(f"device {uid!r} exists already")
        site_id = None if site is None else find_site(tx, site).id
        device_id = tx.insert_id(
            "INSERT INTO devices (uid, kind, status, site_id, name, secret_hash, approved_at)"
            " VALUES (?, ?, 'active', ?, ?, ?, ?) RETURNING id",
            (uid, kind, site_id, name, hash_secret(secret), int(time.time())),
        )
        for sensor_type, external_id in (external_sensors or {}).items():
            tx.execute(
                "INSERT INTO sensors (device_id, type, external_id) VALUES (?, ?, ?)",
                (device_id, sensor_type, external_id),
            )
        audit(tx, actor, "device.add", uid, {"kind": kind, "site": site})
        return _require_device(tx, uid)

    return store.write(run), secret


def list_devices(store: Store, *, status: str | None = None) -> list[Device]:
    def run(tx: Tx) -> list[Device]:
        sensors: dict[int, list[tuple[int, str]]] = {}
        for device_id, sensor_id, sensor_type in tx.query(
            "SELECT device_id, id, type FROM sensors ORDER BY device_id, type"
        ):
            sensors.setdefault(int(device_id), []).append((int(sensor_id), sensor_type))
        where, params = ("WHERE d.status = ?", (status,)) if status else ("", ())
        rows = tx.query(f"SELECT {_DEVICE_COLS} FROM devices d {where} ORDER BY d.id", params)
        out = []
        for r in rows:
            mine = sensors.get(int(r[0]), [])
            device = _device(r, tuple(t for _i, t in mine))
            out.append(replace(device, sensor_ids=tuple(i for i, _t in mine)))
        return out

    return store.read(run)


def approve_device(
    store: Store,
    uid: str,
    *,
    site: str | int | None = None,
    new_credentials: bool = False,
    actor: str = "cli",
) -> tuple[Device, str | None]:
    """Move a quarantined device to active (optionally placing it and issuing a new secret)."""
    secret = new_secret() if new_credentials else None

    def run(tx: Tx) -> Device:
        device = _require_device(tx, uid)
        site_id = device.site_id if site is None else find_site(tx, site).id
        tx.execute(
            "UPDATE devices SET status = 'active', approved_at = ?, site_id = ?,"
            " secret_hash = coalesce(?, secret_hash) WHERE id = ?",
            (int(time.time()), site_id, None if secret is None else hash_secret(secret), device.id),
        )
        audit(tx, actor, "device.approve", uid, {"site": site, "new_credentials": new_credentials})
        return _require_device(tx, uid)

    return store.write(run), secret


def set_device_status(store: Store, uid: str, status: str, *, actor: str = "cli") -> Device:
    if status not in {"active", "quarantine", "disabled"}:
        raise RegistryError(f"status {status!r}: use active, quarantine or disabled")

    def run(tx: Tx) -> Device:
        device = _require_device(tx, uid)
        if status == "active" and device.status == "quarantine":
            raise RegistryError(
                f"device {uid!r} is in quarantine: review it and use 'devices approve'"
            )
        tx.execute("UPDATE devices SET status = ? WHERE id = ?", (status, device.id))
        audit(tx, actor, f"device.{status}", uid)
        return _require_device(tx, uid)

    return store.write(run)


def reset_device_secret(store: Store, uid: str, *, actor: str = "cli") -> str:
    secret = new_secret()

    def run(tx: Tx) -> None:
        device = _require_device(tx, uid)
        tx.execute(
            "UPDATE devices SET secret_hash = ? WHERE id = ?", (hash_secret(secret), device.id)
        )
        audit(tx, actor, "device.secret", uid)

    store.write(run)
    return secret


def remove_device(store: Store, uid: str, *, actor: str = "cli") -> int:
    """Delete a device with its sensors and all their readings; returns readings deleted."""

    def run(tx: Tx) -> int:
        device = _require_device(tx, uid)
        ids = [
            int(r[0]) for r in tx.query("SELECT id FROM sensors WHERE device_id = ?", (device.id,))
        ]
        deleted = 0
        for sensor_id in ids:
            deleted += tx.execute("DELETE FROM measurements WHERE sensor_id = ?", (sensor_id,))
            for table in ("hourly", "daily", "latest", "rollup_pending"):
                tx.execute(f"DELETE FROM {table} WHERE sensor_id = ?", (sensor_id,))
        tx.execute("DELETE FROM sensors WHERE device_id = ?", (device.id,))
        tx.execute("DELETE FROM api_keys WHERE device_id = ?", (device.id,))
        tx.execute("DELETE FROM devices WHERE id = ?", (device.id,))
        audit(tx, actor, "device.remove", uid, {"readings": deleted})
        return deleted

    return store.write(run)


# -- API keys ------------------------------------------------------------------------------------
_KEY_COLS = (
    "id, prefix, name, scopes, device_id, daily_limit, minute_limit, created_at, last_used_at,"
    " revoked_at"
)


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(
        int(row[0]),
        row[1],
        row[2],
        frozenset(row[3].split()),
        None if row[4] is None else int(row[4]),
        row[5],
        row[6],
        int(row[7]),
        row[8],
        row[9],
    )


def add_api_key(
    store: Store,
    name: str,
    *,
    scopes: set[str] | frozenset[str] = frozenset({"read"}),
    device: str | None = None,
    daily_limit: int | None = None,
    minute_limit: int | None = None,
    actor: str = "cli",
) -> tuple[ApiKey, str]:
    """Create an API key; returns it and the full key string (shown once, stored hashed)."""
    unknown = set(scopes) - SCOPES
    if unknown or not scopes:
        raise RegistryError(f"scopes {sorted(unknown) or '[]'}: use {', '.join(sorted(SCOPES))}")
    full, prefix, secret = new_api_key()

    def run(tx: Tx) -> ApiKey:
        device_id = None if device is None else _require_device(tx, device).id
        key_id = tx.insert_id(
            "INSERT INTO api_keys (prefix, secret_hash, name, scopes, device_id, daily_limit,"
            " minute_limit) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                prefix,
                hash_secret(secret),
                name,
                " ".join(sorted(scopes)),
                device_id,
                daily_limit,
                minute_limit,
            ),
        )
        audit(tx, actor, "apikey.add", prefix, {"name": name, "scopes": sorted(scopes)})
        row = tx.one(f"SELECT {_KEY_COLS} FROM api_keys WHERE id = ?", (key_id,))
        assert row is not None
        return _key(row)

    return store.write(run), full


def list_api_keys(store: Store) -> list[ApiKey]:
    return store.read(
        lambda tx: [_key(r) for r in tx.query(f"SELECT {_KEY_COLS} FROM api_keys ORDER BY id")]
    )


def revoke_api_key(store: Store, prefix: str, *, actor: str = "cli") -> ApiKey:
    def run(tx: Tx) -> ApiKey:
        if not tx.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE prefix = ? AND revoked_at IS NULL",
            (int(time.time()), prefix),
        ):
            raise RegistryError(f"no active API key with prefix {prefix!r}")
        audit(tx, actor, "apikey.revoke", prefix)
        row = tx.one(f"SELECT {_KEY_COLS} FROM api_keys WHERE prefix = ?", (prefix,))
        assert row is not None
        return _key(row)

    return store.write(run)


def check_api_key(tx: Tx, key: str) -> ApiKey | None:
    """The active key matching ``key``, or None (wrong, malformed or revoked)."""
    parts = split_api_key(key)
    if parts is None:
        return None
    row = tx.one(
        f"SELECT {_KEY_COLS}, secret_hash FROM api_keys WHERE prefix = ? AND revoked_at IS NULL",
        (parts[0],),
    )
    if row is None or not verify_secret(parts[1], row[-1]):
        return None
    return _key(row[:-1])

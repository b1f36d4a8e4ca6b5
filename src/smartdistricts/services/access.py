"""Who may write: device and API-key lookups for the request handlers, cached.

Every registry change (add, approve, disable, new secret, remove, open registration) writes an
``audit_log`` row. The cache is dropped as soon as the newest audit id changes (checked at most
once a second), so a disabled device or a replaced secret takes effect within a second, while
the steady state costs no query per request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from smartdistricts.services.registry import ApiKey, check_api_key
from smartdistricts.services.security import verify_secret
from smartdistricts.store.base import Store, Tx

__all__ = [
    "DeviceDirectory",
    "DeviceEntry",
    "KeyDirectory",
    "SensorEntry",
    "find_api_key",
    "find_sensors",
]


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    id: int
    uid: str
    status: str
    secret_hash: str | None
    site_id: int | None

    def accepts(self, password: str | None) -> bool:
        """True when ``password`` is this device's secret."""
        return password is not None and verify_secret(password, self.secret_hash)


@dataclass(frozen=True, slots=True)
class SensorEntry:
    id: int
    device_id: int
    device_uid: str
    type: str


def _registry_version(tx: Tx) -> object:
    row = tx.one("SELECT max(id) FROM audit_log")
    return None if row is None else row[0]


@dataclass
class DeviceDirectory:
    """Device lookups by uid (see the module docstring for how the cache stays fresh)."""

    store: Store
    ttl: float = 600.0
    check_every: float = 1.0
    # Plain tuples (no objects) so that the garbage collector does not have to walk them.
    _cache: dict[str, tuple[float, tuple[int, str, str, str | None, int | None] | None]] = field(
        default_factory=dict
    )
    _version: object = None
    _checked: float = -1e9

    def _check_version(self, now: float) -> None:
        if now - self._checked < self.check_every:
            return
        self._checked = now
        version = self.store.read(_registry_version)
        if version != self._version:
            self._cache.clear()
            self._version = version

    def get(self, uid: str) -> DeviceEntry | None:
        now = time.monotonic()
        self._check_version(now)
        hit = self._cache.get(uid)
        if hit is not None and now - hit[0] < self.ttl:
            return None if hit[1] is None else DeviceEntry(*hit[1])
        row = self.store.read(
            lambda tx: tx.one(
                "SELECT id, uid, status, secret_hash, site_id FROM devices WHERE uid = ?", (uid,)
            )
        )
        values = None if row is None else (int(row[0]), row[1], row[2], row[3], row[4])
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[uid] = (now, values)
        return None if values is None else DeviceEntry(*values)

    def forget(self, uid: str) -> None:
        self._cache.pop(uid, None)


class KeyDirectory:
    """API keys by their full text, verified once and cached (see the module docstring)."""

    def __init__(self, store: Store, *, check_every: float = 1.0) -> None:
        self.store = store
        self.check_every = check_every
        self._cache: dict[str, ApiKey | None] = {}
        self._version: object = None
        self._checked = -1e9

    def get(self, key: str) -> ApiKey | None:
        """The active key, or None (unknown, malformed or revoked)."""
        now = time.monotonic()
        if now - self._checked >= self.check_every:
            self._checked = now
            version = self.store.read(_registry_version)
            if version != self._version:
                self._cache.clear()
                self._version = version
        if key in self._cache:
            return self._cache[key]
        found = self.store.read(lambda tx: check_api_key(tx, key))
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key] = found
        return found


def find_api_key(store: Store, key: str) -> tuple[ApiKey, str | None] | None:
    """The active API key and the uid of the device it is tied to (if any), or None."""

    def run(tx: Tx) -> tuple[ApiKey, str | None] | None:
        found = check_api_key(tx, key)
        if found is None:
            return None
        if found.device_id is None:
            return found, None
        row = tx.one("SELECT uid FROM devices WHERE id = ?", (found.device_id,))
        return found, None if row is None else str(row[0])

    return store.read(run)


def find_sensors(store: Store, ids: list[int]) -> dict[int, SensorEntry]:
    """Sensors by id, with their device."""
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = store.read(
        lambda tx: tx.query(
            "SELECT s.id, d.id, d.uid, s.type FROM sensors s JOIN devices d ON d.id = s.device_id"
            f" WHERE s.id IN ({marks})",
            ids,
        )
    )
    return {int(r[0]): SensorEntry(int(r[0]), int(r[1]), str(r[2]), str(r[3])) for r in rows}

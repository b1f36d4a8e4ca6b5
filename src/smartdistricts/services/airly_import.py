"""The Airly importer: copies Airly installations' readings in, within Airly's call budget.

Airly keeps 24 hours of history and allows few calls (100 a day for new keys; 1000 a day and 50 a
minute for older ones). Each call of ``/v2/measurements/installation`` returns an installation's
``current`` 60-minute mean and its last 24 full hours, so fetching every installation at least
once a day loses nothing; everything else in the budget buys fresher ``current`` values.

A round (:meth:`AirlyImporter.run`):

1. Rolls the call budget (``import_state`` key ``budget``) to the current UTC day and minute. If
   a 429 blocked calls, waits until the limit resets (``Retry-After``, else the exhausted
   counter's reset: next minute or 00:00 UTC).
2. Finds the installations: the configured ids, or those within ``airly_radius_km`` of
   ``airly_point`` (``/v2/installations/nearest``, refreshed daily; non-Airly stations such as
   GIOŚ's are left to their own importer). Replaced installations are followed, installations
   gone (404) are skipped for a week.
3. Spreads the remaining calls evenly until the daily reset: each installation is due every
   ``seconds left today / (calls left / installations)`` (at least :data:`MIN_PERIOD_S`), the
   rule Home Assistant's Airly integration uses. Every answer's ``X-RateLimit-*`` headers
   update the budget; when Airly leaves them out, the importer's own count is used.
4. Fetches each due installation and stores ``current`` and ``history`` together with the
   installation's state in one transaction: interrupted at any point, the next round repeats
   at most one call and stores nothing twice (readings are keyed by sensor, variable and time).

Answers: **301** ``INSTALLATION_REPLACED`` — the successor (body ``details.successorId`` or the
``Location`` header) takes over the site and is fetched at once; **404** — the installation is
marked gone and retried after :data:`GONE_RETRY_S`; **429** — no call until the limit resets;
**401/403** — the round fails (a bad key), so the worker reports it and backs off.

The key is sent in the ``apikey`` header and never logged.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
import numpy as np

from smartdistricts.config import Settings, parse_point
from smartdistricts.ingest.airly import (
    SENSOR_TYPE,
    AirlyClient,
    AirlyResponse,
    Installation,
    RateLimitHeaders,
    device_uid,
    parse_installation,
    parse_installations,
    parse_measurements,
    successor_of,
)
from smartdistricts.ingest.records import IngestError, Readings, split_refused
from smartdistricts.services.airly_budget import DAY_RESET_MARGIN_S, Budget
from smartdistricts.services.bulk import BulkWrite
from smartdistricts.services.import_state import get_state, job_state, set_state
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.jobs import JobResult
from smartdistricts.services.registry import RegistryError, insert_site
from smartdistricts.store.base import Tx

__all__ = ["JOB", "SOURCE", "AirlyImporter", "InstallationState"]

log = logging.getLogger(__name__)

JOB = "airly"
SOURCE = "airly.pl"
#: An installation is fetched at most this often, whatever the budget allows [s].
MIN_PERIOD_S = 600.0
#: The shortest wait between rounds [s].
MIN_GAP_S = 30.0
#: A 404 installation is tried again after this long [s].
GONE_RETRY_S = 7 * 86400.0
#: The list of installations near the point is refreshed this often [s].
NEAREST_REFRESH_S = 86400.0


@dataclass(slots=True)
class InstallationState:
    """What the importer remembers per installation (key ``installation:<id>``, JSON)."""

    fetched_at: float | None = None
    #: Start of the newest history hour stored [Unix s].
    last_hour: int | None = None
    gone_at: float | None = None
    replaced_by: int | None = None
    error: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> InstallationState:
        return cls() if not text else cls(**json.loads(text))


@dataclass(slots=True)
class _Round:
    now: float
    budget: Budget
    states: dict[int, InstallationState]
    stored: int = 0
    skipped: int = 0
    fetched: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: int = 0
    transport_errors: int = 0


class AirlyImporter:
    """The ``airly`` job (see the module docstring); ``run(now)`` does one round."""

    name = JOB

    def __init__(
        self,
        service: IngestService,
        client: AirlyClient,
        *,
        installations: list[int] | None = None,
        point: tuple[float, float] | None = None,
        radius_km: float = 3.0,
    ) -> None:
        if not installations and point is None:
            raise ValueError("give Airly installation ids or a point to search around")
        self.service = service
        self.store = service.store
        self.client = client
        self.installations = list(dict.fromkeys(installations or []))
        self.point = point
        self.radius_km = radius_km

    @classmethod
    def from_settings(
        cls,
        service: IngestService,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> AirlyImporter | None:
        """The importer the settings describe, or None when no API key is set."""
        if not settings.airly_api_key:
            return None
        ids = [int(p) for p in settings.airly_installations.split(",") if p.strip()]
        point = None if ids else parse_point(settings.airly_point or settings.town_point)
        client = AirlyClient(settings.airly_base_url, settings.airly_api_key, transport=transport)
        return cls(
            service, client, installations=ids, point=point, radius_km=settings.airly_radius_km
        )

    def close(self) -> None:
        self.client.close()

    # -- the round -----------------------------------------------------------------------------
    def run(self, now: float) -> JobResult:
        """One scheduled round: fetch the installations that are due within the budget."""
        return self._round(now, force=False)

    def run_once(self, now: float) -> JobResult:
        """Fetch every installation now (``smartdistricts fetch airly``), budget permitting."""
        return self._round(now, force=True)

    def _round(self, now: float, *, force: bool) -> JobResult:
        budget, states = self.store.read(_load)
        budget.roll(now)
        r = _Round(now, budget, states)
        if budget.blocked_until > now:
            return JobResult(budget.blocked_until, message=_blocked(budget))
        targets = self._targets(r)
        period = self._period(r, len(targets))
        queue = sorted(targets, key=lambda i: r.states.get(i, InstallationState()).fetched_at or 0)
        done: set[int] = set()
        while queue:
            ident = queue.pop(0)
            if ident in done:
                continue
            done.add(ident)
            state = r.states.setdefault(ident, InstallationState())
            due = state.fetched_at is None or now - state.fetched_at >= period - MIN_GAP_S
            if not (force or due):
                continue
            if budget.blocked_until > now or not budget.can_call():
                r.notes.append("call budget used up")
                break
            successor = self._fetch(r, ident)
            if successor is not None and successor not in done:
                queue.insert(0, successor)
        targets = _resolve(targets, r.states, now)
        if r.transport_errors and not r.fetched and r.transport_errors == r.failures:
            raise RuntimeError(f"Airly unreachable: {'; '.join(r.notes)}")
        return JobResult(
            self._next_run(r, targets), r.stored, r.skipped, self._message(r, len(targets))
        )

    def _targets(self, r: _Round) -> list[int]:
        """Installation ids to keep current, replacements followed, gone ones left out."""
        ids = self.installations or self._nearest(r)
        return _resolve(ids, r.states, r.now)

    def _nearest(self, r: _Round) -> list[int]:
        """Installations near the point: the stored list, refreshed once a day."""
        assert self.point is not None
        stored = self.store.read(lambda tx: get_state(tx, JOB, "nearest"))
        cached = json.loads(stored) if stored else None
        if cached and r.now - float(cached["at"]) < NEAREST_REFRESH_S:
            return [int(i) for i in cached["ids"]]
        if not r.budget.can_call():
            return [] if cached is None else [int(i) for i in cached["ids"]]
        try:
            response = self.client.fetch_nearest(self.point[0], self.point[1], self.radius_km)
        except httpx.HTTPError as exc:
            r.budget.record(r.now, RateLimitHeaders())
            self._save_budget(r)
            r.failures += 1
            r.transport_errors += 1
            r.notes.append(f"installations/nearest: {type(exc).__name__}")
            return [] if cached is None else [int(i) for i in cached["ids"]]
        r.budget.record(r.now, response.limits)
        if response.status == 429:
            r.budget.block(r.now, response.limits)
        installations: list[Installation] | None = None
        if response.status == 200:
            try:
                installations = [i for i in parse_installations(response.body) if i.airly]
            except IngestError as exc:
                r.failures += 1
                r.notes.append(f"installations/nearest: {exc}")
        else:
            r.failures += 1
            r.notes.append(f"installations/nearest: {response.describe()}")
        if installations is None:
            self._save_budget(r)
            return [] if cached is None else [int(i) for i in cached["ids"]]
        ids = [i.id for i in installations]

        def save(tx: Tx) -> None:
            for inst in installations:
                _upsert_site(tx, inst)
            set_state(tx, JOB, "nearest", json.dumps({"at": r.now, "ids": ids}))
            set_state(tx, JOB, "budget", r.budget.to_json())

        self.store.write(save)
        log.info("Airly: %d installation(s) within %g km", len(ids), self.radius_km)
        return ids

    def _period(self, r: _Round, count: int) -> float:
        """How often each installation can be fetched with the calls left today [s]."""
        if count == 0:
            return math.inf
        calls = r.budget.left_day() - (0 if self.installations else 1)
        seconds = (r.budget.day + 1) * 86400.0 - r.now
        if calls < count:
            return math.inf
        return max(MIN_PERIOD_S, seconds / (calls / count))

    def _next_run(self, r: _Round, targets: list[int]) -> float:
        budget = r.budget
        if budget.blocked_until > r.now:
            return budget.blocked_until
        if not targets:
            return r.now + (NEAREST_REFRESH_S / 24 if self.point else 3600.0)
        if not budget.can_call():
            return budget.reset_after(r.now)
        period = self._period(r, len(targets))
        if math.isinf(period):  # fewer calls left than installations: wait for tomorrow's
            return (budget.day + 1) * 86400.0 + DAY_RESET_MARGIN_S
        fetched = [r.states.get(i, InstallationState()).fetched_at for i in targets]
        due = min(r.now if t is None else t + period for t in fetched)
        return max(due, r.now + MIN_GAP_S)

    @staticmethod
    def _message(r: _Round, count: int) -> str:
        parts = [
            f"{len(r.fetched)} of {count} installation(s) fetched",
            f"{r.stored} reading(s) stored, {r.skipped} already stored",
            f"{r.budget.left_day()} call(s) left today",
        ]
        return "; ".join(parts + r.notes)

    # -- one installation ------------------------------------------------------------------------
    def _fetch(self, r: _Round, ident: int) -> int | None:
        """Fetch and store one installation; returns its successor when it was replaced."""
        state = r.states[ident]
        if self.store.read(lambda tx: _site_id(tx, ident)) is None:
            ok, successor = self._fetch_metadata(r, ident)
            if not ok:
                return successor
        if not r.budget.can_call():
            return None
        try:
            response = self.client.fetch_measurements(ident)
        except httpx.HTTPError as exc:
            r.budget.record(r.now, RateLimitHeaders())
            self._failed(r, ident, f"{type(exc).__name__}: {exc}", transport=True)
            return None
        r.budget.record(r.now, response.limits)
        if response.status == 200:
            self._store(r, ident, response)
            return None
        return self._answer_error(r, ident, state, response)

    def _fetch_metadata(self, r: _Round, ident: int) -> tuple[bool, int | None]:
        """Create the site of an installation met for the first time.

        Returns (done, successor): (False, id) when Airly says it was replaced.
        """
        if not r.budget.can_call():
            return False, None
        try:
            response = self.client.fetch_installation(ident)
        except httpx.HTTPError as exc:
            r.budget.record(r.now, RateLimitHeaders())
            self._failed(r, ident, f"{type(exc).__name__}: {exc}", transport=True)
            return False, None
        r.budget.record(r.now, response.limits)
        if response.status != 200:
            return False, self._answer_error(r, ident, r.states[ident], response)
        try:
            inst = parse_installation(response.body)
        except IngestError as exc:
            self._failed(r, ident, f"installation: {exc}")
            return False, None
        budget_json = r.budget.to_json()

        def save(tx: Tx) -> None:
            _upsert_site(tx, inst, ident)
            set_state(tx, JOB, "budget", budget_json)

        self.store.write(save)
        return True, None

    def _answer_error(
        self, r: _Round, ident: int, state: InstallationState, response: AirlyResponse
    ) -> int | None:
        if response.status == 301:
            successor = successor_of(response.body, response.location)
            if successor is None or successor == ident:
                self._failed(r, ident, f"{response.describe()} without a successor")
                return None
            state.replaced_by, state.error = successor, None
            log.warning("Airly installation %d was replaced by %d", ident, successor)
            r.notes.append(f"installation {ident} replaced by {successor}")
            self._save(r, ident, lambda tx: _hand_over_site(tx, ident, successor))
            return successor
        if response.status == 404:
            state.gone_at, state.error = r.now, response.describe()
            log.warning(
                "Airly installation %d not found (%s); retrying in %d days",
                ident,
                response.describe(),
                GONE_RETRY_S // 86400,
            )
            r.notes.append(f"installation {ident} gone (404)")
            self._save(r, ident)
            return None
        if response.status in (401, 403):  # the key: no installation will do better
            self._save_budget(r)
            raise RuntimeError(
                f"Airly refused the API key ({response.describe()});"
                " check SMARTDISTRICTS_AIRLY_API_KEY"
            )
        if response.status == 429:
            r.budget.block(r.now, response.limits)
            log.warning(
                "Airly rate limit exceeded; no calls until %s", _iso(r.budget.blocked_until)
            )
            r.notes.append("rate limited (429)")
            self._save_budget(r)
            return None
        self._failed(r, ident, response.describe())
        return None

    def _failed(self, r: _Round, ident: int, error: str, *, transport: bool = False) -> None:
        state = r.states[ident]
        state.fetched_at, state.error = r.now, error
        r.failures += 1
        r.transport_errors += transport
        r.notes.append(f"installation {ident}: {error}")
        log.warning("Airly installation %d: %s", ident, error)
        self._save(r, ident)

    def _store(self, r: _Round, ident: int, response: AirlyResponse) -> None:
        state = r.states[ident]
        try:
            history = parse_measurements(response.body, ident, include_current=False)
            current = parse_measurements(response.body, ident, include_history=False)
        except IngestError as exc:
            self._failed(r, ident, str(exc))
            return
        readings, refused = split_refused(Readings.concat([history, current]), SOURCE, now=r.now)
        for rejection in refused:
            log.warning("Airly installation %d: %s", ident, rejection)
        hours = sorted(set(history.time.tolist()))
        if state.last_hour is not None and hours and hours[0] > state.last_hour + 3600:
            lost = (hours[0] - state.last_hour) // 3600 - 1
            r.notes.append(f"installation {ident}: {lost} hour(s) older than Airly's 24 h lost")
            log.warning("Airly installation %d: %d hour(s) could not be backfilled", ident, lost)
        if hours:
            state.last_hour = max(hours[-1], state.last_hour or 0)
        state.fetched_at, state.error, state.gone_at = r.now, None, None
        service = self.service

        def write(tx: Tx) -> int:
            _ensure_device(tx, ident)
            fresh = _unstored(tx, ident, readings)
            return BulkWrite(service, fresh, SOURCE)(tx) if len(fresh) else 0

        stored = self._save(r, ident, write)
        r.fetched.append(ident)
        r.stored += stored
        r.skipped += len(readings) - stored + len(refused)

    def _save(self, r: _Round, ident: int, work: Callable[[Tx], Any] | None = None) -> int:
        """Run ``work`` and save the installation's state and the budget in one transaction."""
        state_json = r.states[ident].to_json()
        budget_json = r.budget.to_json()

        def write(tx: Tx) -> int:
            result = work(tx) if work is not None else 0
            set_state(tx, JOB, f"installation:{ident}", state_json)
            set_state(tx, JOB, "budget", budget_json)
            return int(result or 0)

        return self.store.write(write)

    def _save_budget(self, r: _Round) -> None:
        budget_json = r.budget.to_json()
        self.store.write(lambda tx: set_state(tx, JOB, "budget", budget_json))


# -- storage -----------------------------------------------------------------------------------
def _resolve(ids: list[int], states: dict[int, InstallationState], now: float) -> list[int]:
    """Follow replacements; leave out installations gone (404) less than a week ago."""
    out: list[int] = []
    for ident in ids:
        seen = {ident}
        state = states.get(ident)
        while state is not None and state.replaced_by is not None:
            ident = state.replaced_by
            if ident in seen:
                break
            seen.add(ident)
            state = states.get(ident)
        if state is not None and state.gone_at is not None and now - state.gone_at < GONE_RETRY_S:
            continue
        if ident not in out:
            out.append(ident)
    return out


def _load(tx: Tx) -> tuple[Budget, dict[int, InstallationState]]:
    budget = Budget.from_json(get_state(tx, JOB, "budget"))
    states = {
        int(key.partition(":")[2]): InstallationState.from_json(value)
        for key, value in job_state(tx, JOB, "installation:").items()
    }
    return budget, states


def _site_id(tx: Tx, ident: int) -> int | None:
    row = tx.one("SELECT id FROM sites WHERE source = ? AND external_id = ?", (SOURCE, str(ident)))
    return None if row is None else int(row[0])


def _upsert_site(tx: Tx, inst: Installation, ident: int | None = None) -> int:
    """Create or update the site of an installation (``source`` airly.pl, ``external_id`` its
    id, or ``ident`` when the installation was asked for under another id)."""
    ident = inst.id if ident is None else ident
    found = _site_id(tx, ident)
    values = (
        inst.name,
        inst.latitude,
        inst.longitude,
        inst.elevation,
        inst.street,
        inst.number,
        inst.city,
        inst.sponsor,
    )
    if found is not None:
        tx.execute(
            "UPDATE sites SET name = ?, latitude = ?, longitude = ?, elevation = ?, street = ?,"
            " number = ?, city = ?, sponsor = ? WHERE id = ?",
            (*values, found),
        )
        return found
    fields: dict[str, Any] = {
        "name": inst.name,
        "latitude": inst.latitude,
        "longitude": inst.longitude,
        "elevation": inst.elevation,
        "street": inst.street,
        "number": inst.number,
        "city": inst.city,
        "sponsor": inst.sponsor,
        "source": SOURCE,
        "external_id": str(ident),
        "actor": JOB,
    }
    try:
        return insert_site(tx, slug=f"airly-{ident}", **fields).id
    except RegistryError:  # the slug is taken by a site of another network
        return insert_site(tx, slug=f"airly-pl-{ident}", **fields).id


def _unstored(tx: Tx, ident: int, readings: Readings) -> Readings:
    """The readings not stored yet (each answer repeats 23 of its 24 hours)."""
    if not len(readings):
        return readings
    row = tx.one(
        "SELECT s.id FROM sensors s JOIN devices d ON d.id = s.device_id"
        " WHERE d.uid = ? AND s.type = ?",
        (device_uid(ident), SENSOR_TYPE),
    )
    if row is None:
        return readings
    stored = tx.query(
        "SELECT variable_id, time FROM measurements WHERE sensor_id = ? AND time BETWEEN ? AND ?",
        (int(row[0]), int(readings.time.min()), int(readings.time.max())),
    )
    if not stored:
        return readings
    keys = np.asarray(stored, dtype=np.int64).reshape(-1, 2)
    have = (keys[:, 0] << 40) | keys[:, 1]
    mine = (readings.variable << 40) | readings.time
    return readings.take(~np.isin(mine, have))


def _hand_over_site(tx: Tx, old: int, new: int) -> None:
    """The successor of a replaced installation takes over its site (same place, new id)."""
    if _site_id(tx, new) is None:
        tx.execute(
            "UPDATE sites SET external_id = ? WHERE source = ? AND external_id = ?",
            (str(new), SOURCE, str(old)),
        )


def _ensure_device(tx: Tx, ident: int) -> int:
    """The installation's device, on its site (created active: Airly data is public)."""
    site = _site_id(tx, ident)
    uid = device_uid(ident)
    row = tx.one("SELECT id, site_id FROM devices WHERE uid = ?", (uid,))
    if row is not None:
        if row[1] is None and site is not None:
            tx.execute("UPDATE devices SET site_id = ? WHERE id = ?", (site, row[0]))
        return int(row[0])
    return tx.insert_id(
        "INSERT INTO devices (uid, kind, status, site_id, name)"
        " VALUES (?, 'import', 'active', ?, ?) RETURNING id",
        (uid, site, f"Airly installation {ident}"),
    )


def _iso(t: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _blocked(budget: Budget) -> str:
    return f"rate limited: no Airly calls until {_iso(budget.blocked_until)}"

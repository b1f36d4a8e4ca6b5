"""The air at each site now: the last 60 minutes and the 24 full hours before, cached.

* ``current`` — the mean of each variable over the valid readings (no ``OUT_OF_RANGE``/``STUCK``
  flag) of the site's active devices in the 60 minutes ending now (Airly's ``current``).
* ``history`` — for each of the last 24 full UTC hours, the mean of the site's sensors' hourly
  means (from the ``hourly`` table), oldest first.
* ``latest`` — the time of the site's newest reading, however old (the widget says when data
  stopped), and ``source`` the network the newest readings came from.

Every public read (Airly-compatible API, widget, portal) asks this service, which recomputes a
site at most every ``ttl`` seconds (default 30): the answers are as fresh as a device's send
interval allows and cost two small indexed queries per site per half minute.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from smartdistricts.nomenclature import EXCLUDED_FROM_MEANS, variable
from smartdistricts.services.registry import Site, list_sites
from smartdistricts.store.base import Store, Tx
from smartdistricts.store.sources import source_name

__all__ = ["AirNow", "SiteAir", "Window"]

HOUR = 3600


@dataclass(frozen=True, slots=True)
class Window:
    """Means over [start, end) (Unix seconds) by canonical variable name; empty: no data."""

    start: int
    end: int
    values: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SiteAir:
    site: Site
    current: Window
    history: tuple[Window, ...]
    latest: int | None
    source: str | None
    computed_at: float


def _current(tx: Tx, site_id: int, start: int, end: int) -> dict[str, float]:
    rows = tx.query(
        "SELECT m.variable_id, avg(m.value) FROM measurements m"
        " JOIN sensors s ON s.id = m.sensor_id JOIN devices d ON d.id = s.device_id"
        " WHERE d.site_id = ? AND d.status = 'active' AND m.time > ? AND m.time <= ?"
        f" AND m.flags & {EXCLUDED_FROM_MEANS} = 0 GROUP BY m.variable_id",
        (site_id, start, end),
    )
    return {variable(int(v)).name: float(x) for v, x in rows}


def _history(tx: Tx, site_id: int, first_hour: int, end_hour: int) -> dict[int, dict[str, float]]:
    rows = tx.query(
        "SELECT h.hour, h.variable_id, avg(h.total / h.n) FROM hourly h"
        " JOIN sensors s ON s.id = h.sensor_id JOIN devices d ON d.id = s.device_id"
        " WHERE d.site_id = ? AND d.status = 'active' AND h.hour >= ? AND h.hour < ?"
        " AND h.n > 0 GROUP BY h.hour, h.variable_id",
        (site_id, first_hour, end_hour),
    )
    hours: dict[int, dict[str, float]] = {}
    for hour, var, mean in rows:
        hours.setdefault(int(hour), {})[variable(int(var)).name] = float(mean)
    return hours


def _newest(tx: Tx, site_id: int) -> tuple[int | None, str | None]:
    row = tx.one(
        "SELECT l.time, l.sensor_id, l.variable_id FROM latest l"
        " JOIN sensors s ON s.id = l.sensor_id JOIN devices d ON d.id = s.device_id"
        " WHERE d.site_id = ? AND d.status = 'active' ORDER BY l.time DESC LIMIT 1",
        (site_id,),
    )
    if row is None:
        return None, None
    src = tx.one(
        "SELECT source_id FROM measurements WHERE sensor_id = ? AND variable_id = ? AND time = ?",
        (row[1], row[2], row[0]),
    )
    return int(row[0]), None if src is None else source_name(int(src[0]))


def compute_site(tx: Tx, site: Site, now: float) -> SiteAir:
    """The site's air at ``now`` (no cache)."""
    end = int(now)
    hour_now = end - end % HOUR
    current = Window(end - HOUR, end, _current(tx, site.id, end - HOUR, end))
    hours = _history(tx, site.id, hour_now - 24 * HOUR, hour_now)
    history = tuple(
        Window(h, h + HOUR, hours.get(h, {})) for h in range(hour_now - 24 * HOUR, hour_now, HOUR)
    )
    latest, source = _newest(tx, site.id)
    return SiteAir(site, current, history, latest, source, now)


class AirNow:
    """Per-site current and hourly values with a time-to-live cache (thread-safe)."""

    def __init__(
        self, store: Store, *, ttl: float = 30.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.ttl = ttl
        self.clock = clock
        self._sites: tuple[float, dict[int, Site], tuple[Site, ...]] | None = None
        self._air: dict[int, SiteAir] = {}
        self._lock = threading.Lock()

    def _site_cache(self, now: float) -> tuple[float, dict[int, Site], tuple[Site, ...]]:
        cached = self._sites
        if cached is None or now - cached[0] >= self.ttl:
            table = {s.id: s for s in list_sites(self.store) if s.active}
            self._sites = cached = (now, table, tuple(table.values()))
        return cached

    def _site_table(self, now: float) -> dict[int, Site]:
        return self._site_cache(now)[1]

    def site(self, site_id: int) -> SiteAir | None:
        """The air at an active site, or None when there is no such site."""
        now = self.clock()
        hit = self._air.get(site_id)
        if hit is not None and now - hit.computed_at < self.ttl:
            return hit
        site = self._site_table(now).get(site_id)
        if site is None:
            return None
        air = self.store.read(lambda tx: compute_site(tx, site, now))
        with self._lock:
            self._air[site_id] = air
        return air

    def sites(self) -> list[SiteAir]:
        """Every active site, in id order."""
        now = self.clock()
        return [a for s in sorted(self._site_table(now)) if (a := self.site(s)) is not None]

    def site_list(self) -> tuple[Site, ...]:
        """The active sites in id order (the same tuple until the next refresh)."""
        return self._site_cache(self.clock())[2]

    def invalidate(self) -> None:
        with self._lock:
            self._air.clear()
            self._sites = None

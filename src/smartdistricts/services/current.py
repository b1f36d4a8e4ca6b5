"""Current air per site: the mean of the last 60 minutes of each variable (as Airly's ``current``).

A site's value of a variable is the mean over the valid readings (no ``OUT_OF_RANGE``/``STUCK``
flag) of all its sensors measuring that variable in the window.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from smartdistricts.nomenclature import EXCLUDED_FROM_MEANS, variable
from smartdistricts.services.registry import Site, list_sites
from smartdistricts.store.base import Store, Tx

__all__ = ["SiteNow", "current_values"]


@dataclass(frozen=True, slots=True)
class SiteNow:
    site: Site
    values: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    latest_time: int | None = None


def _site_window(
    tx: Tx, site_id: int, start: int, end: int
) -> tuple[dict[str, float], dict[str, int], int | None]:
    rows = tx.query(
        "SELECT m.variable_id, avg(m.value), count(*), max(m.time) FROM measurements m"
        " JOIN sensors s ON s.id = m.sensor_id JOIN devices d ON d.id = s.device_id"
        f" WHERE d.site_id = ? AND d.status = 'active' AND m.time > ? AND m.time <= ?"
        f" AND m.flags & {EXCLUDED_FROM_MEANS} = 0 GROUP BY m.variable_id",
        (site_id, start, end),
    )
    values = {variable(int(r[0])).name: float(r[1]) for r in rows}
    counts = {variable(int(r[0])).name: int(r[2]) for r in rows}
    latest = max((int(r[3]) for r in rows), default=None)
    return values, counts, latest


def current_values(
    store: Store, *, now: float | None = None, window_s: int = 3600
) -> list[SiteNow]:
    """Every active site with its 60-minute means ending ``now``."""
    end = int(time.time() if now is None else now)
    sites = [s for s in list_sites(store) if s.active]

    def run(tx: Tx) -> list[SiteNow]:
        out = []
        for site in sites:
            values, counts, latest = _site_window(tx, site.id, end - window_s, end)
            out.append(SiteNow(site, values, counts, latest))
        return out

    return store.read(run)

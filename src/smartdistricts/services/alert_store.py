"""Smog-alert data: rules, episodes and the outbox rows, as stored (see m0005_alerts.py).

Evaluation lives in :mod:`smartdistricts.services.alerts`, which re-exports this module's
public names.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from smartdistricts.calc.alerts import DEFAULT_RULES, AlertRule
from smartdistricts.store.base import Store, Tx

__all__ = [
    "RULE_COLUMNS",
    "ActiveAlert",
    "Episode",
    "StoredRule",
    "active_alerts",
    "add_rule",
    "check_scope",
    "enqueue",
    "find_episode",
    "insert_rule",
    "list_episodes",
    "list_rules",
    "seed_default_rules",
    "stored_rule",
]

RULE_COLUMNS = (
    "id, key, scope, variable, averaging, threshold, level, n_hours, margin, clear_hours,"
    " source, enabled"
)


@dataclass(frozen=True, slots=True)
class StoredRule:
    """A rule as stored: its id, scope (``all``, ``district:<id>``, ``site:<id>``) and spec."""

    id: int
    scope: str
    rule: AlertRule
    enabled: bool


@dataclass(frozen=True, slots=True)
class Episode:
    """An alert at a site (``ended_at`` None while active); times are Unix seconds."""

    id: int
    rule_key: str
    variable: str
    averaging: str
    level: str
    threshold: float
    site_id: int
    site_slug: str
    site_name: str
    district_slug: str | None
    district_name: str | None
    started_at: int
    ended_at: int | None
    peak: float
    peak_at: int

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


#: An active episode, as the portal banner shows it.
ActiveAlert = Episode


# -- rules -------------------------------------------------------------------------------------
def stored_rule(row: tuple[Any, ...]) -> StoredRule:
    rule = AlertRule(
        key=row[1],
        variable=row[3],
        averaging=row[4],
        threshold=float(row[5]),
        level=row[6],
        n_hours=int(row[7]),
        margin=float(row[8]),
        clear_hours=int(row[9]),
        source=row[10],
    )
    return StoredRule(int(row[0]), row[2], rule, bool(row[11]))


def check_scope(scope: str) -> str:
    """``all``, ``district:<id>`` or ``site:<id>``; ValueError otherwise."""
    kind, _, ident = scope.partition(":")
    if scope == "all" or (kind in ("district", "site") and ident.isdigit()):
        return scope
    raise ValueError(f"scope must be 'all', 'district:<id>' or 'site:<id>', got {scope!r}")


def insert_rule(tx: Tx, rule: AlertRule, scope: str = "all") -> int:
    """Insert or replace the rule ``(rule.key, scope)``; return its id."""
    check_scope(scope)
    return tx.insert_id(
        "INSERT INTO alert_rules (key, scope, variable, averaging, threshold, level, n_hours,"
        " margin, clear_hours, source, enabled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
        " ON CONFLICT (key, scope) DO UPDATE SET variable = excluded.variable,"
        " averaging = excluded.averaging, threshold = excluded.threshold,"
        " level = excluded.level, n_hours = excluded.n_hours, margin = excluded.margin,"
        " clear_hours = excluded.clear_hours, source = excluded.source, enabled = 1"
        " RETURNING id",
        (
            rule.key,
            scope,
            rule.variable,
            rule.averaging,
            rule.threshold,
            rule.level,
            rule.n_hours,
            rule.margin,
            rule.clear_hours,
            rule.source,
        ),
    )


def add_rule(store: Store, rule: AlertRule, scope: str = "all") -> int:
    return store.write(lambda tx: insert_rule(tx, rule, scope))


def seed_default_rules(store: Store) -> int:
    """Give every site the default rules (scope ``all``) unless already there; returns how
    many were added."""

    def run(tx: Tx) -> int:
        known = {r[0] for r in tx.query("SELECT key FROM alert_rules WHERE scope = 'all'")}
        added = [rule for rule in DEFAULT_RULES if rule.key not in known]
        for rule in added:
            insert_rule(tx, rule)
        return len(added)

    return store.write(run)


def list_rules(store: Store) -> list[StoredRule]:
    rows = store.read(lambda tx: tx.query(f"SELECT {RULE_COLUMNS} FROM alert_rules ORDER BY id"))
    return [stored_rule(row) for row in rows]


def enqueue(tx: Tx, episode_id: int, change: str, site: int, now_s: int) -> int:
    """Queue one notification per matching webhook and confirmed subscription (idempotent)."""
    row = tx.one("SELECT district_id FROM sites WHERE id = ?", (site,))
    district = None if row is None else row[0]
    scopes = ["all", f"site:{site}"] + ([f"district:{district}"] if district is not None else [])
    marks = ", ".join("?" * len(scopes))
    targets = [
        ("webhook", int(r[0]))
        for r in tx.query(
            f"SELECT id FROM alert_webhooks WHERE active = 1 AND scope IN ({marks})", scopes
        )
    ] + [
        ("email", int(r[0]))
        for r in tx.query(
            "SELECT id FROM alert_subscriptions WHERE confirmed_at IS NOT NULL"
            f" AND unsubscribed_at IS NULL AND scope IN ({marks})",
            scopes,
        )
    ]
    added = 0
    for channel, target in targets:
        added += tx.execute(
            "INSERT INTO alert_notifications (dedup_key, episode_id, change, channel, target_id,"
            " next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (dedup_key) DO NOTHING",
            (
                f"{episode_id}:{change}:{channel}:{target}",
                episode_id,
                change,
                channel,
                target,
                now_s,
                now_s,
            ),
        )
    return added


# -- reading -----------------------------------------------------------------------------------
_EPISODE_SQL = """
SELECT e.id, r.key, r.variable, r.averaging, r.level, r.threshold, e.site_id, s.slug, s.name,
       d.slug, d.name, e.started_at, e.ended_at, e.peak, e.peak_at
FROM alert_episodes e
JOIN alert_rules r ON r.id = e.rule_id
JOIN sites s ON s.id = e.site_id
LEFT JOIN districts d ON d.id = s.district_id
"""


def _episode(row: tuple[Any, ...]) -> Episode:
    return Episode(
        int(row[0]),
        row[1],
        row[2],
        row[3],
        row[4],
        float(row[5]),
        int(row[6]),
        row[7],
        row[8],
        row[9],
        row[10],
        int(row[11]),
        None if row[12] is None else int(row[12]),
        float(row[13]),
        int(row[14]),
    )


def list_episodes(
    store: Store, *, limit: int = 50, offset: int = 0, site_id: int | None = None
) -> list[Episode]:
    """Episodes, newest first."""
    where, params = ("WHERE e.site_id = ?", [site_id]) if site_id is not None else ("", [])
    rows = store.read(
        lambda tx: tx.query(
            f"{_EPISODE_SQL} {where} ORDER BY e.started_at DESC, e.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
    )
    return [_episode(row) for row in rows]


def find_episode(tx: Tx, episode_id: int) -> Episode | None:
    row = tx.one(f"{_EPISODE_SQL} WHERE e.id = ?", (episode_id,))
    return None if row is None else _episode(row)


_ACTIVE_TTL_S = 15.0
_active_cache: dict[str, tuple[float, list[Episode]]] = {}


def active_alerts(store: Store, now: float | None = None) -> list[ActiveAlert]:
    """Open episodes, worst level first (cached 15 s per database: the portal banner)."""
    clock = time.monotonic()
    cached = _active_cache.get(store.url)
    if now is None and cached is not None and clock - cached[0] < _ACTIVE_TTL_S:
        return cached[1]
    rows = store.read(
        lambda tx: tx.query(
            f"{_EPISODE_SQL} WHERE e.ended_at IS NULL"
            + ("" if now is None else " AND e.started_at <= ?")
            + " ORDER BY e.started_at DESC",
            () if now is None else (int(now),),
        )
    )
    rank = {"alarm": 0, "alert": 1, "information": 2, "custom": 3}
    alerts = sorted((_episode(r) for r in rows), key=lambda e: (rank.get(e.level, 9), e.site_name))
    if now is None:
        _active_cache[store.url] = (clock, alerts)
    return alerts

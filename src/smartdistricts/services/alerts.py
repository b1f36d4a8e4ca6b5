"""Smog alerts: rules in the store, evaluation as data arrives, episodes and the outbox.

**Where evaluation hooks in.** Readings are stored by the writer (``services/ingest.py`` for
pushes, MQTT and the batch API, in the ingest process when the server runs one;
``services/bulk.py`` for imports), which adds them to the ``hourly`` table in the same
transaction. After that transaction commits, :class:`AlertMonitor` (attached to the
:class:`~smartdistricts.services.ingest.IngestService`) receives the ids of the sensors that got
readings and queues one :class:`AlertEvaluation` job on the same writer for the sites behind
them. Evaluating in a *later* transaction, not the ingest one, keeps the push path as it was: the
devices' answers are sent after the ingest commit, before evaluation; jobs coalesce (one
evaluation pending at a time, covering every site touched meanwhile); and a failing rule can
never roll back readings. Nothing is lost if the process stops between the two transactions:
evaluation is driven by stored state (``alert_states.settled_hour``), so the next evaluation of
the site — or ``smartdistricts alerts evaluate`` — catches up.

**What is evaluated.** Per site and variable, the hourly mean over the site's active devices
(sum of the sensors' sums over the sum of their counts) of every hour in which a sensor covered
at least 75 % of the hour (architecture.md, "Coverage"); the current, incomplete hour counts
provisionally from 25 % coverage — it can start an alert but not end one. Rules then take the
1-h values, the 24-h running mean (≥ 18 valid hours) or the hourly CAQI, and the hysteresis
state machine of :func:`smartdistricts.calc.alerts.alert_states`. Each complete hour is
evaluated once per rule and site.

**Notifications.** Opening or closing an episode queues one outbox row per matching webhook and
confirmed e-mail subscription, keyed ``episode:change:channel:target`` (unique), so a second
evaluation never queues a message twice. Episodes detected late (from an import) are recorded
without notifications. ``services/notify.py`` delivers the outbox.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from smartdistricts.calc.alerts import (
    MIN_HOURS_24H,
    AlertRule,
    alert_states,
    hourly_caqi,
    rule_series,
)
from smartdistricts.nomenclature import VARIABLES
from smartdistricts.services.alert_store import (
    RULE_COLUMNS,
    ActiveAlert,
    Episode,
    StoredRule,
    active_alerts,
    add_rule,
    check_scope,
    enqueue,
    find_episode,
    list_episodes,
    list_rules,
    seed_default_rules,
    stored_rule,
)
from smartdistricts.store.base import Store, Tx

__all__ = [
    "ActiveAlert",
    "Episode",
    "StoredRule",
    "active_alerts",
    "add_rule",
    "check_scope",
    "enqueue",
    "evaluate",
    "evaluate_all",
    "find_episode",
    "list_episodes",
    "list_rules",
    "seed_alerts",
    "seed_default_rules",
]

log = logging.getLogger(__name__)

#: Share of an hour the readings must cover for a complete hour to count (architecture.md).
HOUR_COVERAGE = 0.75
#: Share of an hour the current, incomplete hour needs to count provisionally.
PROVISIONAL_COVERAGE = 0.25
#: Hours a new (rule, site) pair looks back on its first evaluation.
FIRST_LOOKBACK_H = 24
#: At most this many complete hours are caught up in one evaluation (a week).
MAX_CATCH_UP_H = 24 * 7
#: Transitions detected more than this many hours after they happened queue no notifications.
NOTIFY_MAX_AGE_H = 3

_VAR_ID = {v.name: v.id for v in VARIABLES}


# -- evaluation --------------------------------------------------------------------------------
@dataclass(slots=True)
class EvaluationResult:
    sites: int = 0
    opened: int = 0
    closed: int = 0
    notifications: int = 0


Arrays = tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]


@dataclass(slots=True)
class _Pair:
    """What the fast path needs of one (rule, site) within the hour (see :class:`HourlyCache`)."""

    prior_ok: bool
    prior_peak: float
    prior_peak_at: int
    episode_id: int | None
    peak: float = -np.inf


@dataclass
class HourlyCache:
    """The writer's memory between evaluations within one hour (kept by :class:`AlertMonitor`).

    Complete hours do not change (late readings make the monitor forget the cache), so after
    one full evaluation of a site in an hour — which also ends alerts, on final hours only —
    the next ones need only the current hour: per (rule, site) whether the previous
    ``n_hours − 1`` hours were at or above the threshold, the open episode and its peak, and
    per site and series the sum and count of the previous 23 valid hours (24-h means).
    """

    first: int = 0
    current: int = -1
    var_ids: frozenset[int] = frozenset()
    sites: set[int] = field(default_factory=set)
    data: dict[tuple[int, int], Arrays] = field(default_factory=dict)
    rules_sig: tuple[Any, ...] = ()
    rules: dict[int, StoredRule] = field(default_factory=dict)
    ready: set[int] = field(default_factory=set)
    pairs: dict[int, dict[int, _Pair]] = field(default_factory=dict)
    base: dict[tuple[int, str], tuple[float, int]] = field(default_factory=dict)

    def forget(self) -> None:
        self.current = -1
        self.ready.clear()
        self.pairs.clear()
        self.base.clear()


def _applies(scope: str, site_id: int, district_id: int | None) -> bool:
    if scope == "all":
        return True
    kind, _, ident = scope.partition(":")
    return (kind == "site" and int(ident) == site_id) or (
        kind == "district" and district_id is not None and int(ident) == district_id
    )


_HOURLY_SQL = (
    "SELECT d.site_id, h.variable_id, h.hour, sum(h.total), sum(h.n), max(h.n * s.interval_s)"
    " FROM hourly h JOIN sensors s ON s.id = h.sensor_id JOIN devices d ON d.id = s.device_id"
    " WHERE d.site_id IN ({sites}) AND d.status = 'active' AND h.variable_id IN ({vars})"
    " AND h.hour >= ? AND h.hour <= ? GROUP BY d.site_id, h.variable_id, h.hour"
)


def _query_hourly(
    tx: Tx, sites: list[int], var_ids: list[int], first: int, last: int
) -> list[tuple[Any, ...]]:
    sql = _HOURLY_SQL.format(sites=", ".join("?" * len(sites)), vars=", ".join("?" * len(var_ids)))
    return tx.query(sql, (*sites, *var_ids, first * 3600, last * 3600))


def _fill(
    data: dict[tuple[int, int], Arrays], rows: list[tuple[Any, ...]], first: int, size: int
) -> None:
    for site, var, hour, total, n, covered in rows:
        key = (int(site), int(var))
        found = data.get(key)
        if found is None:
            found = data[key] = (np.full(size, np.nan), np.zeros(size))
        if n:
            i = int(hour) // 3600 - first
            found[0][i] = float(total) / float(n)
            found[1][i] = float(covered or 0.0) / 3600.0


def _hourly(
    tx: Tx,
    sites: list[int],
    var_ids: list[int],
    first: int,
    current: int,
    cache: HourlyCache | None,
) -> dict[tuple[int, int], Arrays]:
    """Per (site, variable id): hourly means and coverage of hours ``first..current``, from
    the ``hourly`` rows of the site's active devices (the cache's copy where it has one)."""
    if cache is None:
        cache = HourlyCache()
    if cache.current != current or first < cache.first or not cache.var_ids >= set(var_ids):
        ready = cache.ready if cache.current == current else set()
        cache.first, cache.current, cache.var_ids = first, current, frozenset(var_ids)
        cache.sites, cache.data, cache.ready = set(), {}, ready
    size = current - cache.first + 1
    wanted = sorted(cache.var_ids)
    missing = [s for s in sites if s not in cache.sites]
    missing_set, wanted_sites = set(missing), set(sites)
    if missing:
        for key in [k for k in cache.data if k[0] in missing_set]:
            del cache.data[key]
        _fill(
            cache.data, _query_hourly(tx, missing, wanted, cache.first, current), cache.first, size
        )
        cache.sites.update(missing)
    known = [s for s in sites if s not in missing_set]
    if known:
        for key, (means, coverage) in cache.data.items():
            if key[0] in wanted_sites and key[0] not in missing_set:
                means[-1], coverage[-1] = np.nan, 0.0
        _fill(cache.data, _query_hourly(tx, known, wanted, current, current), cache.first, size)
    skip = first - cache.first
    return {
        key: (means[skip:], coverage[skip:])
        for key, (means, coverage) in cache.data.items()
        if key[0] in wanted_sites
    }


def _matrix(
    data: dict[tuple[int, int], Arrays], sites: list[int], variable: str, size: int
) -> np.ndarray[Any, Any]:
    """Hourly values of one variable (rows: ``sites``), NaN where not covered enough."""
    if variable == "caqi":
        return hourly_caqi(
            _matrix(data, sites, "pm2_5", size), _matrix(data, sites, "pm10", size)
        ).reshape(len(sites), size)
    var = _VAR_ID[variable]
    means = np.full((len(sites), size), np.nan)
    coverage = np.zeros((len(sites), size))
    for row, site in enumerate(sites):
        found = data.get((site, var))
        if found is not None:
            means[row], coverage[row] = found
    needed = np.full(size, HOUR_COVERAGE)
    needed[-1] = PROVISIONAL_COVERAGE
    return np.where(coverage >= needed, means, np.nan)


def evaluate(
    tx: Tx,
    site_ids: Iterable[int],
    now: float | None = None,
    *,
    since: int | None = None,
    cache: HourlyCache | None = None,
) -> EvaluationResult:
    """Evaluate every enabled rule for ``site_ids`` up to ``now`` inside ``tx``.

    A (rule, site) pair evaluated for the first time looks back ``FIRST_LOOKBACK_H`` hours, or
    to ``since`` [Unix s] when given (the history of a demo or an import); later evaluations
    continue after the last complete hour they evaluated (at most ``MAX_CATCH_UP_H`` hours).
    Each rule runs once over all the sites it applies to (2-D arrays: sites × hours).
    """
    result = EvaluationResult()
    sites = sorted({int(s) for s in site_ids})
    if not sites:
        return result
    now_s = int(time.time() if now is None else now)
    current = now_s // 3600
    rule_rows = tx.query(f"SELECT {RULE_COLUMNS} FROM alert_rules WHERE enabled = 1 ORDER BY id")
    if not rule_rows:
        return result
    if cache is not None:
        signature = tuple(rule_rows)
        if cache.rules_sig != signature:
            cache.forget()
            cache.rules_sig = signature
        elif since is None and cache.current == current and cache.ready.issuperset(sites):
            return _fast(tx, sites, now_s, cache)
    rules = [stored_rule(r) for r in rule_rows]
    marks = ", ".join("?" * len(sites))
    districts = {
        int(r[0]): r[1]
        for r in tx.query(f"SELECT id, district_id FROM sites WHERE id IN ({marks})", sites)
    }
    states = {
        (int(r[0]), int(r[1])): (int(r[2]), None if r[3] is None else int(r[3]))
        for r in tx.query(
            "SELECT rule_id, site_id, settled_hour, episode_id FROM alert_states"
            f" WHERE site_id IN ({marks})",
            sites,
        )
    }
    scoped = [
        (stored, [s for s in districts if _applies(stored.scope, s, districts[s])])
        for stored in rules
    ]
    scoped = [(stored, rule_sites) for stored, rule_sites in scoped if rule_sites]
    if not scoped:
        return result
    new_first = current - FIRST_LOOKBACK_H if since is None else since // 3600
    firsts = {
        (stored.id, s): (
            new_first
            if (stored.id, s) not in states
            else max(states[stored.id, s][0] + 1, current - MAX_CATCH_UP_H)
        )
        for stored, rule_sites in scoped
        for s in rule_sites
    }
    first = min(firsts[stored.id, s] - stored.rule.lookback_hours for stored, rs in scoped
                for s in rs)  # fmt: skip
    variables = {stored.rule.variable for stored, _ in scoped}
    if "caqi" in variables:
        variables |= {"pm2_5", "pm10"}
    var_ids = sorted(_VAR_ID[v] for v in variables if v != "caqi")
    data = _hourly(tx, list(districts), var_ids, first, current, cache)
    size = current - first + 1
    final = np.ones(size, dtype=np.bool_)
    final[-1] = False
    result.sites = len(districts)
    matrices: dict[str, np.ndarray[Any, Any]] = {}
    all_sites = list(districts)
    row_of = {s: i for i, s in enumerate(all_sites)}
    updates: list[tuple[int, int | None, int, int]] = []
    inserts: list[tuple[int, int, int, int | None]] = []
    peaks: list[tuple[float, int, int, float]] = []
    for stored, rule_sites in scoped:
        rule = stored.rule
        if rule.variable not in matrices:
            matrices[rule.variable] = _matrix(data, all_sites, rule.variable, size)
        series = rule_series(rule, matrices[rule.variable][[row_of[s] for s in rule_sites]])
        episodes = [states.get((stored.id, s), (None, None))[1] for s in rule_sites]
        active = np.array([e is not None for e in episodes])
        start_at = np.array([firsts[stored.id, s] - first for s in rule_sites])
        state = alert_states(
            series,
            rule.threshold,
            n_hours=rule.n_hours,
            margin=rule.margin,
            clear_hours=rule.clear_hours,
            active=active,
            final=final,
            start_at=start_at,
        )
        before = np.concatenate((active[:, None], state[:, :-1]), axis=1)
        changed = ((state != before) & (np.arange(size) >= start_at[:, None])).any(axis=1)
        for k, s in enumerate(rule_sites):
            episode_id = episodes[k]
            if changed[k] or episode_id is not None:
                episode_id = _apply(tx, stored, s, series[k], state[k], first, int(start_at[k]),
                                    bool(active[k]), episode_id, now_s, result, peaks)  # fmt: skip
            if cache is not None:
                cache.pairs.setdefault(s, {})[stored.id] = _prepare(
                    series[k], rule, current, episode_id
                )
            settled = states.get((stored.id, s), (None, None))[0]
            if settled is None:
                inserts.append((stored.id, s, current - 1, episode_id))
            elif settled != current - 1 or episode_id != episodes[k]:
                updates.append((current - 1, episode_id, stored.id, s))
    if cache is not None:
        for name, matrix in matrices.items():
            previous = matrix[:, -24:-1]
            totals = np.nansum(previous, axis=1).tolist()
            counts = np.sum(~np.isnan(previous), axis=1).tolist()
            for row, site in enumerate(all_sites):
                cache.base[site, name] = (totals[row], counts[row])
        cache.rules = {stored.id: stored for stored in rules}
        cache.ready.update(all_sites)
    if peaks:
        tx.executemany(
            "UPDATE alert_episodes SET peak = ?, peak_at = ? WHERE id = ? AND peak < ?", peaks
        )
    if inserts:
        tx.executemany(
            "INSERT INTO alert_states (rule_id, site_id, settled_hour, episode_id)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (rule_id, site_id) DO UPDATE SET"
            " settled_hour = excluded.settled_hour, episode_id = excluded.episode_id",
            inserts,
        )
    if updates:
        tx.executemany(
            "UPDATE alert_states SET settled_hour = ?, episode_id = ?"
            " WHERE rule_id = ? AND site_id = ?",
            updates,
        )
    return result


def _prepare(
    series: np.ndarray[Any, Any], rule: AlertRule, current: int, episode_id: int | None
) -> _Pair:
    prior = series[len(series) - rule.n_hours : -1] if rule.n_hours > 1 else series[:0]
    with np.errstate(invalid="ignore"):
        ok = len(prior) == rule.n_hours - 1 and bool(np.all(prior >= rule.threshold))
    if ok and len(prior):
        k = int(np.nanargmax(prior))
        return _Pair(True, float(prior[k]), (current - len(prior) + k) * 3600, episode_id)
    return _Pair(ok, -np.inf, 0, episode_id)


def _fast(tx: Tx, sites: list[int], now_s: int, cache: HourlyCache) -> EvaluationResult:
    """Evaluate the current (provisional) hour only: alerts can start, peaks rise."""
    result = EvaluationResult(sites=len(sites))
    current = now_s // 3600
    means: dict[tuple[int, int], float] = {}
    for site, var, _hour, total, n, covered in _query_hourly(
        tx, sites, sorted(cache.var_ids), current, current
    ):
        if n and float(covered or 0.0) >= PROVISIONAL_COVERAGE * 3600:
            means[int(site), int(var)] = float(total) / float(n)
    names = {stored.rule.variable for stored in cache.rules.values()}
    values: dict[tuple[int, str], float] = {}
    for name in names - {"caqi"}:
        var = _VAR_ID[name]
        for site in sites:
            values[site, name] = means.get((site, var), np.nan)
    if "caqi" in names:
        pm25 = [means.get((site, _VAR_ID["pm2_5"]), np.nan) for site in sites]
        pm10 = [means.get((site, _VAR_ID["pm10"]), np.nan) for site in sites]
        for site, index in zip(sites, hourly_caqi(pm25, pm10).tolist(), strict=True):
            values[site, "caqi"] = index
    peaks: list[tuple[float, int, int, float]] = []
    for site in sites:
        for rule_id, pair in cache.pairs.get(site, {}).items():
            rule = cache.rules[rule_id].rule
            x = values.get((site, rule.variable), np.nan)
            if rule.averaging == "24h":
                total, count = cache.base.get((site, rule.variable), (0.0, 0))
                if x == x:
                    total, count = total + x, count + 1
                x = total / count if count >= MIN_HOURS_24H else np.nan
            if x != x:
                continue
            if pair.episode_id is not None:
                if x > pair.peak:
                    peaks.append((x, current * 3600, pair.episode_id, x))
                    pair.peak = x
            elif pair.prior_ok and x >= rule.threshold:
                _open_now(tx, cache.rules[rule_id], site, pair, x, current, now_s, result)
    if peaks:
        tx.executemany(
            "UPDATE alert_episodes SET peak = ?, peak_at = ? WHERE id = ? AND peak < ?", peaks
        )
    return result


def _open_now(
    tx: Tx,
    stored: StoredRule,
    site: int,
    pair: _Pair,
    value: float,
    current: int,
    now_s: int,
    result: EvaluationResult,
) -> None:
    """Open an episode on the provisional hour (the fast path), unless another process did."""
    row = tx.one(
        "SELECT episode_id FROM alert_states WHERE rule_id = ? AND site_id = ?",
        (stored.id, site),
    )
    if row is not None and row[0] is not None:
        pair.episode_id = int(row[0])
        return
    begin = (current - stored.rule.n_hours + 1) * 3600
    peak, peak_at = (
        (value, current * 3600)
        if value >= pair.prior_peak
        else (pair.prior_peak, pair.prior_peak_at)
    )
    episode_id = tx.insert_id(
        "INSERT INTO alert_episodes (rule_id, site_id, started_at, peak, peak_at, detected_at)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (stored.id, site, begin, peak, peak_at, now_s),
    )
    tx.execute(
        "UPDATE alert_states SET episode_id = ? WHERE rule_id = ? AND site_id = ?",
        (episode_id, stored.id, site),
    )
    pair.episode_id, pair.peak = episode_id, peak
    result.opened += 1
    result.notifications += enqueue(tx, episode_id, "start", site, now_s)


def _apply(
    tx: Tx,
    stored: StoredRule,
    site: int,
    series: np.ndarray[Any, Any],
    state: np.ndarray[Any, Any],
    first: int,
    start_at: int,
    active: bool,
    episode_id: int | None,
    now_s: int,
    result: EvaluationResult,
    peaks: list[tuple[float, int, int, float]],
) -> int | None:
    """Turn the state after each evaluated hour into episode rows and outbox entries."""
    rule = stored.rule
    before = np.concatenate(([active], state[start_at:-1]))
    changes = np.flatnonzero(state[start_at:] != before) + start_at
    segment_start = start_at
    fresh = now_s // 3600 - NOTIFY_MAX_AGE_H
    for i in [*changes.tolist(), len(state)]:
        # Hours segment_start..i-1 share one state: track the peak of an open episode.
        if episode_id is not None and i > segment_start:
            _raise_peak(peaks, episode_id, series[segment_start:i], first + segment_start)
        if i == len(state):
            break
        hour = first + i
        if state[i]:
            begin = (hour - rule.n_hours + 1) * 3600
            window = series[i - rule.n_hours + 1 : i + 1]
            k = int(np.nanargmax(window))
            episode_id = tx.insert_id(
                "INSERT INTO alert_episodes (rule_id, site_id, started_at, peak, peak_at,"
                " detected_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (stored.id, site, begin, float(window[k]), begin + k * 3600, now_s),
            )
            result.opened += 1
            if hour >= fresh:
                result.notifications += enqueue(tx, episode_id, "start", site, now_s)
        elif episode_id is not None:
            tx.execute(
                "UPDATE alert_episodes SET ended_at = ?, closed_at = ? WHERE id = ?",
                ((hour - rule.clear_hours + 1) * 3600, now_s, episode_id),
            )
            result.closed += 1
            if hour >= fresh:
                result.notifications += enqueue(tx, episode_id, "end", site, now_s)
            episode_id = None
        segment_start = i
    return episode_id


def _raise_peak(
    peaks: list[tuple[float, int, int, float]],
    episode_id: int,
    values: np.ndarray[Any, Any],
    first_hour: int,
) -> None:
    """Queue raising an open episode's peak to the highest of ``values`` (if higher)."""
    if not np.isfinite(values).any():
        return
    k = int(np.nanargmax(values))
    peaks.append((float(values[k]), (first_hour + k) * 3600, episode_id, float(values[k])))


def evaluate_all(
    store: Store,
    now: float | None = None,
    *,
    since: int | None = None,
    cache: HourlyCache | None = None,
) -> EvaluationResult:
    """Evaluate every rule for every active site (CLI, worker, after a demo or import)."""

    def run(tx: Tx) -> EvaluationResult:
        sites = [int(r[0]) for r in tx.query("SELECT id FROM sites WHERE active = 1")]
        return evaluate(tx, sites, now, since=since, cache=cache)

    return store.write(run)


def seed_alerts(store: Store, *, since: int | None = None) -> EvaluationResult:
    """The default rules for every site, evaluated over the history from ``since`` (the demo:
    past episodes are recorded without notifications)."""
    seed_default_rules(store)
    return evaluate_all(store, since=since)

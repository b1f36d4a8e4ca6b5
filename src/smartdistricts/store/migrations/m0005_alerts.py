"""Smog alerts: rules, per-site states and episodes, the notification outbox, webhooks,
e-mail subscriptions.

* ``alert_rules`` — one rule (see ``calc/alerts.py``) for a scope: ``all`` sites,
  ``district:<id>`` or ``site:<id>``; ``(key, scope)`` is unique.
* ``alert_states`` — per rule and site: the last final hour evaluated (``settled_hour``) and
  the open episode, if any.
* ``alert_episodes`` — an alert at a site: start, end (NULL while active), peak value and time.
* ``alert_notifications`` — the outbox. ``dedup_key`` is unique per (episode, state change,
  channel, target), so evaluating twice never queues a message twice; a row is marked ``sent``
  only after the receiver accepted it.
* ``alert_webhooks`` — receivers of signed POSTs; the signing ``secret`` is stored as given
  (it must be usable to sign) and never shown by pages or the API.
* ``alert_subscriptions`` — e-mail subscribers with double opt-in: only hashes of the confirm
  and unsubscribe tokens are stored.
* ``alert_keys`` — a random key for deriving unsubscribe links and form tokens when the
  operator sets none (``SMARTDISTRICTS_ALERTS_SECRET``).
"""

from __future__ import annotations

NAME = "alert rules, states, notifications and subscriptions"

STATEMENTS: list[str] = [
    """
    CREATE TABLE alert_rules (
        id {pk},
        key TEXT NOT NULL,
        scope TEXT NOT NULL DEFAULT 'all',
        variable TEXT NOT NULL,
        averaging TEXT NOT NULL,
        threshold {real} NOT NULL,
        level TEXT NOT NULL,
        n_hours {smallint} NOT NULL DEFAULT 1,
        margin {real} NOT NULL DEFAULT 0.1,
        clear_hours {smallint} NOT NULL DEFAULT 2,
        source TEXT NOT NULL DEFAULT '',
        enabled {smallint} NOT NULL DEFAULT 1,
        created_at {bigint} NOT NULL DEFAULT ({now}),
        UNIQUE (key, scope),
        CHECK (averaging IN ('1h', '24h'))
    )
    """,
    """
    CREATE TABLE alert_episodes (
        id {pk},
        rule_id {bigint} NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
        site_id {bigint} NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        started_at {bigint} NOT NULL,
        ended_at {bigint},
        peak {real} NOT NULL,
        peak_at {bigint} NOT NULL,
        detected_at {bigint} NOT NULL,
        closed_at {bigint}
    )
    """,
    "CREATE INDEX alert_episodes_started ON alert_episodes(started_at)",
    "CREATE INDEX alert_episodes_site ON alert_episodes(site_id, started_at)",
    """
    CREATE TABLE alert_states (
        rule_id {bigint} NOT NULL REFERENCES alert_rules(id) ON DELETE CASCADE,
        site_id {bigint} NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
        settled_hour {bigint} NOT NULL,
        episode_id {bigint} REFERENCES alert_episodes(id) ON DELETE SET NULL,
        PRIMARY KEY (rule_id, site_id)
    )
    """,
    """
    CREATE TABLE alert_webhooks (
        id {pk},
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        scope TEXT NOT NULL DEFAULT 'all',
        description TEXT NOT NULL DEFAULT '',
        active {smallint} NOT NULL DEFAULT 1,
        created_at {bigint} NOT NULL DEFAULT ({now})
    )
    """,
    """
    CREATE TABLE alert_subscriptions (
        id {pk},
        email TEXT NOT NULL,
        scope TEXT NOT NULL DEFAULT 'all',
        lang TEXT NOT NULL DEFAULT 'pl',
        confirm_token_hash TEXT NOT NULL UNIQUE,
        unsubscribe_token_hash TEXT NOT NULL UNIQUE,
        created_at {bigint} NOT NULL DEFAULT ({now}),
        confirmed_at {bigint},
        unsubscribed_at {bigint},
        UNIQUE (email, scope)
    )
    """,
    """
    CREATE TABLE alert_notifications (
        id {pk},
        dedup_key TEXT NOT NULL UNIQUE,
        episode_id {bigint} REFERENCES alert_episodes(id) ON DELETE CASCADE,
        change TEXT NOT NULL,
        channel TEXT NOT NULL,
        target_id {bigint} NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts {smallint} NOT NULL DEFAULT 0,
        next_attempt_at {bigint} NOT NULL,
        last_error TEXT,
        created_at {bigint} NOT NULL,
        sent_at {bigint},
        CHECK (channel IN ('webhook', 'email')),
        CHECK (status IN ('pending', 'sent', 'failed', 'dropped'))
    )
    """,
    "CREATE INDEX alert_notifications_due ON alert_notifications(status, next_attempt_at)",
    """
    CREATE TABLE alert_keys (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
]

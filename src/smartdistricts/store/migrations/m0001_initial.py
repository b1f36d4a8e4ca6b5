"""Initial schema: places, devices, raw readings, aggregates, keys.

Times are Unix seconds (UTC) in integer columns on both backends: compact (a raw reading takes
about 28 bytes in SQLite) and free of time-zone ambiguity. The ``measurements_readable`` view shows
them as timestamps with names instead of ids for people querying the database by hand.

``measurements`` has no foreign keys on purpose: a foreign-key check per row would halve the bulk
import rate; the application creates sensors before their readings and deletes readings with
their device.
"""

from __future__ import annotations

NAME = "initial schema"

STATEMENTS = [
    """
    CREATE TABLE districts (
        id {pk},
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        geometry TEXT NOT NULL,
        approximate {smallint} NOT NULL DEFAULT 0,
        created_at {bigint} NOT NULL DEFAULT ({now})
    )
    """,
    """
    CREATE TABLE sites (
        id {pk},
        slug TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        latitude {real} NOT NULL,
        longitude {real} NOT NULL,
        elevation {real},
        street TEXT,
        number TEXT,
        city TEXT,
        district_id {bigint} REFERENCES districts(id),
        sponsor TEXT,
        source TEXT NOT NULL DEFAULT 'smartdistricts',
        external_id TEXT,
        approximate {smallint} NOT NULL DEFAULT 0,
        active {smallint} NOT NULL DEFAULT 1,
        created_at {bigint} NOT NULL DEFAULT ({now}),
        UNIQUE (source, external_id)
    )
    """,
    """
    CREATE TABLE devices (
        id {pk},
        uid TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        site_id {bigint} REFERENCES sites(id),
        name TEXT,
        secret_hash TEXT,
        created_at {bigint} NOT NULL DEFAULT ({now}),
        approved_at {bigint},
        last_seen_at {bigint},
        last_address TEXT,
        software_version TEXT,
        last_signal {real},
        send_interval_s {real},
        last_push_hash TEXT,
        last_push_at {bigint},
        CHECK (status IN ('active', 'quarantine', 'disabled'))
    )
    """,
    "CREATE INDEX devices_site ON devices(site_id)",
    """
    CREATE TABLE sensors (
        id {pk},
        device_id {bigint} NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        external_id TEXT UNIQUE,
        interval_s {real} NOT NULL DEFAULT 145,
        created_at {bigint} NOT NULL DEFAULT ({now}),
        UNIQUE (device_id, type)
    )
    """,
    """
    CREATE TABLE variables (
        id {smallint} PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        unit TEXT NOT NULL,
        canonical {smallint} NOT NULL
    )
    """,
    """
    CREATE TABLE sources (
        id {smallint} PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
    )
    """,
    """
    CREATE TABLE measurements (
        sensor_id {bigint} NOT NULL,
        variable_id {smallint} NOT NULL,
        time {bigint} NOT NULL,
        value {real} NOT NULL,
        flags {smallint} NOT NULL DEFAULT 0,
        source_id {smallint} NOT NULL,
        PRIMARY KEY (sensor_id, variable_id, time)
    ) {without_rowid}
    """,
    """
    CREATE TABLE hourly (
        sensor_id {bigint} NOT NULL,
        variable_id {smallint} NOT NULL,
        hour {bigint} NOT NULL,
        n {bigint} NOT NULL,
        n_all {bigint} NOT NULL,
        total {real} NOT NULL,
        minimum {real},
        maximum {real},
        flags {smallint} NOT NULL DEFAULT 0,
        PRIMARY KEY (sensor_id, variable_id, hour)
    ) {without_rowid}
    """,
    """
    CREATE TABLE daily (
        sensor_id {bigint} NOT NULL,
        variable_id {smallint} NOT NULL,
        day {bigint} NOT NULL,
        mean {real},
        minimum {real},
        maximum {real},
        hours {smallint} NOT NULL,
        hours_in_day {smallint} NOT NULL,
        valid {smallint} NOT NULL,
        flags {smallint} NOT NULL DEFAULT 0,
        PRIMARY KEY (sensor_id, variable_id, day)
    ) {without_rowid}
    """,
    """
    CREATE TABLE latest (
        sensor_id {bigint} NOT NULL,
        variable_id {smallint} NOT NULL,
        time {bigint} NOT NULL,
        value {real} NOT NULL,
        flags {smallint} NOT NULL DEFAULT 0,
        run_start {bigint} NOT NULL,
        run_count {bigint} NOT NULL,
        PRIMARY KEY (sensor_id, variable_id)
    ) {without_rowid}
    """,
    """
    CREATE TABLE rollup_pending (
        sensor_id {bigint} NOT NULL,
        variable_id {smallint} NOT NULL,
        day {bigint} NOT NULL,
        PRIMARY KEY (sensor_id, variable_id, day)
    ) {without_rowid}
    """,
    """
    CREATE TABLE api_keys (
        id {pk},
        prefix TEXT NOT NULL UNIQUE,
        secret_hash TEXT NOT NULL,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        device_id {bigint} REFERENCES devices(id) ON DELETE CASCADE,
        daily_limit {bigint},
        minute_limit {bigint},
        created_at {bigint} NOT NULL DEFAULT ({now}),
        last_used_at {bigint},
        revoked_at {bigint}
    )
    """,
    """
    CREATE TABLE audit_log (
        id {pk},
        time {bigint} NOT NULL DEFAULT ({now}),
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT
    )
    """,
]

#: Statements that differ by backend, keyed by dialect name.
DIALECT_STATEMENTS = {
    "sqlite": [
        """
        CREATE VIEW measurements_readable AS
        SELECT st.slug AS site, d.uid AS device, s.type AS sensor_type, m.sensor_id,
               datetime(m.time, 'unixepoch') AS time_utc, v.name AS variable, m.value,
               v.unit, m.flags, src.name AS source
        FROM measurements m
        JOIN sensors s ON s.id = m.sensor_id
        JOIN devices d ON d.id = s.device_id
        LEFT JOIN sites st ON st.id = d.site_id
        JOIN variables v ON v.id = m.variable_id
        JOIN sources src ON src.id = m.source_id
        """,
    ],
    "postgresql": [
        """
        CREATE VIEW measurements_readable AS
        SELECT st.slug AS site, d.uid AS device, s.type AS sensor_type, m.sensor_id,
               to_timestamp(m.time) AS time_utc, v.name AS variable, m.value,
               v.unit, m.flags, src.name AS source
        FROM measurements m
        JOIN sensors s ON s.id = m.sensor_id
        JOIN devices d ON d.id = s.device_id
        LEFT JOIN sites st ON st.id = d.site_id
        JOIN variables v ON v.id = m.variable_id
        JOIN sources src ON src.id = m.source_id
        """,
    ],
}

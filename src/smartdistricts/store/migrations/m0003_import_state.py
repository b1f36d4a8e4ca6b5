"""Importers' cursors, the worker's job status, its run log and heartbeat.

* ``import_state`` — one text value per (job, key): an importer's cursor (the last hour stored
  for a station), an installation's replacement, the Airly call budget. Written in the same
  transaction as the readings it describes, so a restarted importer neither repeats nor skips.
* ``worker_jobs`` — what ``smartdistricts worker status`` prints: each job's last and next run,
  its last error and consecutive failures.
* ``worker_runs`` — a log of rounds (pruned by the worker to the most recent ones).
* ``worker_heartbeat`` — one row per worker process name, refreshed every few seconds by the
  process (also during a round), with the job it is running; a stale ``beat_at`` means the
  worker is down.
"""

from __future__ import annotations

NAME = "importers' cursors and Airly call budget"

STATEMENTS: list[str] = [
    """
    CREATE TABLE import_state (
        job TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at {bigint} NOT NULL DEFAULT ({now}),
        PRIMARY KEY (job, key)
    )
    """,
    """
    CREATE TABLE worker_jobs (
        name TEXT PRIMARY KEY,
        last_run_at {bigint},
        last_ok_at {bigint},
        next_run_at {bigint},
        last_stored {bigint} NOT NULL DEFAULT 0,
        last_skipped {bigint} NOT NULL DEFAULT 0,
        last_message TEXT,
        last_error TEXT,
        last_error_at {bigint},
        failures {bigint} NOT NULL DEFAULT 0
    )
    """,
    """
    CREATE TABLE worker_runs (
        id {pk},
        job TEXT NOT NULL,
        started_at {real} NOT NULL,
        finished_at {real} NOT NULL,
        stored {bigint} NOT NULL DEFAULT 0,
        skipped {bigint} NOT NULL DEFAULT 0,
        error TEXT,
        message TEXT
    )
    """,
    "CREATE INDEX worker_runs_job_time ON worker_runs(job, started_at)",
    """
    CREATE TABLE worker_heartbeat (
        name TEXT PRIMARY KEY,
        pid {bigint} NOT NULL,
        host TEXT NOT NULL,
        started_at {bigint} NOT NULL,
        beat_at {bigint} NOT NULL,
        stopped_at {bigint},
        job TEXT,
        job_started_at {bigint}
    )
    """,
]

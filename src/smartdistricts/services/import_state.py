"""Importers' persistent state: cursors, replacements, call budgets (table ``import_state``).

Values are text; callers encode numbers or JSON themselves. Call these inside the transaction
that stores the data the state describes, so the two commit together: a round interrupted before
the commit leaves both unchanged and is simply repeated.
"""

from __future__ import annotations

import time

from smartdistricts.store.base import Tx

__all__ = ["delete_state", "get_state", "job_state", "set_state"]


def get_state(tx: Tx, job: str, key: str) -> str | None:
    """The value stored for ``(job, key)``, or None."""
    row = tx.one("SELECT value FROM import_state WHERE job = ? AND key = ?", (job, key))
    return None if row is None else str(row[0])


def set_state(tx: Tx, job: str, key: str, value: str) -> None:
    """Store ``value`` for ``(job, key)``, replacing any earlier one."""
    tx.execute(
        "INSERT INTO import_state (job, key, value, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (job, key) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at",
        (job, key, value, int(time.time())),
    )


def delete_state(tx: Tx, job: str, key: str) -> None:
    """Forget ``(job, key)`` (no error when absent)."""
    tx.execute("DELETE FROM import_state WHERE job = ? AND key = ?", (job, key))


def job_state(tx: Tx, job: str, prefix: str = "") -> dict[str, str]:
    """Every key of ``job`` starting with ``prefix`` and its value."""
    rows = tx.query(
        "SELECT key, value FROM import_state WHERE job = ? ORDER BY key",
        (job,),
    )
    return {str(k): str(v) for k, v in rows if str(k).startswith(prefix)}

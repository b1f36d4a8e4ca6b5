"""What ``smartdistricts worker`` schedules: importers, rollups and other periodic work.

A job does one round of work when called and says when it wants to run next. A round must be
safe to interrupt and repeat: it keeps its own cursor in the database, so a restarted worker
neither duplicates nor skips data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Job", "JobResult", "importer_result"]


@dataclass(frozen=True, slots=True)
class JobResult:
    """What one round of a job did.

    ``next_run`` is the Unix time [s] at which the job wants to run again; ``stored`` counts
    readings (or other records) written, ``skipped`` those already stored or refused.
    """

    next_run: float
    stored: int = 0
    skipped: int = 0
    message: str = ""


class Job(Protocol):
    """A unit of periodic work (see the module docstring)."""

    #: Stable name, shown by ``worker status`` and in logs (``airly``, ``gios``, ``rollup``).
    name: str

    def run(self, now: float) -> JobResult:
        """Do one round of work at Unix time ``now`` [s]; raise on failure (the worker logs
        it and retries later with back-off)."""
        ...


def importer_result(
    now: float,
    *,
    stored: int,
    skipped: int,
    failures: list[str],
    lines: list[str],
    retry_after: float | None,
    interval_s: float,
    retry_s: float,
) -> JobResult:
    """An importer round's result: next run after ``interval_s``, sooner (``retry_s``) when a
    request failed, and no sooner than the server's ``Retry-After`` (at least a minute) when it
    asked to wait; the message is the report's first lines and failures."""
    if retry_after is not None:
        next_run = now + max(retry_after, 60.0)
    else:
        next_run = now + (retry_s if failures else interval_s)
    return JobResult(next_run, stored, skipped, "; ".join(lines + failures))

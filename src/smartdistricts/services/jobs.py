"""What ``smartdistricts worker`` schedules: importers, rollups and other periodic work.

A job does one round of work when called and says when it wants to run next. A round must be
safe to interrupt and repeat: it keeps its own cursor in the database, so a restarted worker
neither duplicates nor skips data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["Job", "JobResult"]


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

"""Airly's call budget: calls left today and this minute, and when calls may resume.

Airly counts every request, answered or refused, per UTC day (reset at 00:00 UTC) and per
minute, and tells the limits and what remains in ``X-RateLimit-*`` headers (sometimes without
the remaining counts). :class:`Budget` keeps both its own count and the last headers, trusts the
smaller, and is stored as JSON in ``import_state`` (job ``airly``, key ``budget``) with every
write of the importer, so a restarted importer knows what it has spent.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from smartdistricts.ingest.airly import RateLimitHeaders

__all__ = ["DAY_RESET_MARGIN_S", "DEFAULT_DAILY_LIMIT", "UNKNOWN_RESET_S", "Budget"]

#: Daily calls assumed before Airly's headers have told the real limit (new keys' default).
DEFAULT_DAILY_LIMIT = 100
#: Calls resume this long after 00:00 UTC once the day's budget is used up, in case the clocks
#: differ a little [s].
DAY_RESET_MARGIN_S = 60.0
#: Back-off after a 429 that names no reset time [s].
UNKNOWN_RESET_S = 3600.0


@dataclass(slots=True)
class Budget:
    """Calls left today and this minute (``import_state`` key ``budget``, JSON)."""

    day: int = 0
    limit_day: int = DEFAULT_DAILY_LIMIT
    used_day: int = 0
    remaining_day: int | None = None
    minute: int = 0
    limit_minute: int | None = None
    used_minute: int = 0
    remaining_minute: int | None = None
    blocked_until: float = 0.0

    def roll(self, now: float) -> None:
        """Start a new day's or minute's count when ``now`` is past the reset."""
        day, minute = int(now // 86400), int(now // 60)
        if day != self.day:
            self.day, self.used_day, self.remaining_day = day, 0, None
        if minute != self.minute:
            self.minute, self.used_minute, self.remaining_minute = minute, 0, None

    def left_day(self) -> int:
        own = self.limit_day - self.used_day
        return own if self.remaining_day is None else min(own, self.remaining_day)

    def left_minute(self) -> int | None:
        """Calls left this minute; None when Airly announced no minute limit."""
        if self.limit_minute is None:
            return None
        own = self.limit_minute - self.used_minute
        return own if self.remaining_minute is None else min(own, self.remaining_minute)

    def can_call(self) -> bool:
        minute = self.left_minute()
        return self.left_day() > 0 and (minute is None or minute > 0)

    def record(self, now: float, limits: RateLimitHeaders) -> None:
        """Count one call made at ``now`` and take what its answer's headers say."""
        self.roll(now)
        self.used_day += 1
        self.used_minute += 1
        if limits.limit_day is not None and limits.limit_day > 0:
            self.limit_day = limits.limit_day
        if limits.remaining_day is not None:
            self.remaining_day = limits.remaining_day
        if limits.limit_minute is not None and limits.limit_minute > 0:
            self.limit_minute = limits.limit_minute
        if limits.remaining_minute is not None:
            self.remaining_minute = limits.remaining_minute

    def reset_after(self, now: float) -> float:
        """When calls may be made again after running out (next minute or next UTC day)."""
        if self.left_day() <= 0:
            return (int(now // 86400) + 1) * 86400.0 + DAY_RESET_MARGIN_S
        return (int(now // 60) + 1) * 60.0 + 1

    def block(self, now: float, limits: RateLimitHeaders) -> None:
        """A 429: no calls until the limit resets."""
        if limits.retry_after is not None:
            self.blocked_until = now + max(limits.retry_after, 1.0)
        elif limits.remaining_day == 0:
            self.remaining_day = 0
            self.blocked_until = self.reset_after(now)
        elif limits.remaining_minute == 0:
            self.remaining_minute = 0
            self.blocked_until = self.reset_after(now)
        else:
            self.blocked_until = min(now + UNKNOWN_RESET_S, (int(now // 86400) + 1) * 86400.0)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | None) -> Budget:
        return cls() if not text else cls(**json.loads(text))

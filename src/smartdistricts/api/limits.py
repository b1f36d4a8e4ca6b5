"""In-process rate limiting (token buckets) for the parts of the API the public can reach."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = ["RateLimiter"]


@dataclass
class RateLimiter:
    """At most ``rate`` events per ``per`` seconds for each key, with bursts up to ``rate``.

    Memory is bounded: idle keys are dropped when the table grows past ``max_keys``.
    """

    rate: float
    per: float = 60.0
    max_keys: int = 100_000
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def allow(self, key: str, *, cost: float = 1.0, now: float | None = None) -> bool:
        """Take ``cost`` tokens for ``key``; False (and nothing taken) when not enough are left."""
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        tokens, stamp = self._buckets.get(key, (self.rate, now))
        tokens = min(self.rate, tokens + (now - stamp) * self.rate / self.per)
        if tokens < cost:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - cost, now)
        if len(self._buckets) > self.max_keys:
            self._prune(now)
        return True

    def retry_after(self, key: str, *, now: float | None = None) -> int:
        """Seconds until one token is available for ``key``."""
        now = time.monotonic() if now is None else now
        tokens, stamp = self._buckets.get(key, (self.rate, now))
        tokens = min(self.rate, tokens + (now - stamp) * self.rate / self.per)
        missing = max(0.0, 1.0 - tokens)
        return max(1, int(missing * self.per / self.rate + 0.999))

    def _prune(self, now: float) -> None:
        full_after = self.per  # a bucket idle this long is full again: forget it
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}

"""Settings of a running platform, from the environment with command-line overrides.

Every setting has an environment variable ``SMARTDISTRICTS_<NAME>`` (upper case); the CLI's
options override them. ``docs/operations.md`` lists them all (a test keeps the two in sync).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Settings"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@dataclass(frozen=True, slots=True)
class Settings:
    """Operator-facing settings (see ``docs/operations.md``)."""

    #: Database URL (``sqlite:///…`` or ``postgresql://…``).
    db: str = "sqlite:///var/smartdistricts.db"
    #: The town's time zone: daily values are calendar days here.
    timezone: str = "Europe/Warsaw"
    #: Accept pushes from unknown devices and keep them in quarantine until approved.
    open_registration: bool = False
    #: Relative humidity from which PM readings get the HUMID flag [%].
    humid_threshold: float = 70.0
    #: Relative humidity from which PM readings get the FOG flag [%].
    fog_threshold: float = 95.0
    #: A PM reading is paired with the node's humidity reading at most this far apart [s].
    humidity_pairing_s: int = 300
    #: Readings of an unchanged value before a series counts as stuck.
    stuck_min_count: int = 10
    #: Seconds of an unchanged value before a series counts as stuck.
    stuck_min_duration_s: int = 10800
    #: Hygroscopicity κ of the humidity-corrected PM series [-].
    kappa: float = 0.4
    #: A device re-sending the same body within this window is answered but not stored again [s].
    push_dedup_window_s: int = 300
    #: SQLite ``synchronous`` level of the writer (FULL survives power loss).
    sqlite_synchronous: str = "FULL"
    #: Most pushes a single device may make per minute (the firmware sends one per ~145 s).
    device_pushes_per_minute: int = 30
    #: Failed push authentications allowed per client address per minute.
    auth_failures_per_minute: int = 20
    #: New devices a client address may register per hour under open registration.
    registrations_per_hour: int = 10

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone: unknown time zone {self.timezone!r}") from None
        if not 0 < self.humid_threshold <= self.fog_threshold <= 100:
            raise ValueError("humid_threshold and fog_threshold must satisfy 0 < humid ≤ fog ≤ 100")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``SMARTDISTRICTS_*`` variables, then ``overrides`` (None = unset)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"SMARTDISTRICTS_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f.name, raw, type(getattr(cls(), f.name)))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def _convert(name: str, raw: str, kind: type) -> Any:
    text = raw.strip()
    if kind is bool:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"SMARTDISTRICTS_{name.upper()}: expected true/false, got {raw!r}")
    if kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            raise ValueError(
                f"SMARTDISTRICTS_{name.upper()}: expected a number, got {raw!r}"
            ) from None
    return text

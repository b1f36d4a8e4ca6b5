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
_SYNCHRONOUS = {"OFF", "NORMAL", "FULL", "EXTRA"}
#: Whole-number settings and their smallest allowed value.
_STANDARDS = {"WHO2005", "WHO2021", "EU2008", "EU2030"}
_MINIMUM = {
    "api_daily_limit": 0,
    "api_minute_limit": 0,
    "reads_per_minute": 0,
    "humidity_pairing_s": 0,
    "stuck_min_count": 1,
    "stuck_min_duration_s": 0,
    "push_dedup_window_s": 0,
    "device_pushes_per_minute": 0,
    "auth_failures_per_minute": 0,
    "registrations_per_hour": 0,
}


class _Invalid(ValueError):
    """A setting with a bad value; ``from_env`` names its environment variable."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


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
    #: Store pushes in a separate writer process (recommended: the server keeps answering while
    #: the writer works); false keeps the writer in the server process.
    ingest_process: bool = True
    #: Requests per day an API key may make when its own limit is not set (0: no limit).
    api_daily_limit: int = 100_000
    #: Requests per minute an API key may make when its own limit is not set (0: no limit).
    api_minute_limit: int = 1_000
    #: Requests per minute one client address may make to the native read API (0: no limit;
    #: the server's own loopback address is never limited).
    reads_per_minute: int = 1_200
    #: Standard whose limits the "standards" percentages use: WHO2005, WHO2021, EU2008, EU2030.
    standard: str = "WHO2005"
    #: Radius of the sites interpolated for /v2/measurements/point [km].
    point_radius_km: float = 1.5
    #: Who the data is credited to in the widget ("Dane z …, <attribution>").
    attribution: str = "smartdistricts"
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
            raise _Invalid("timezone", f"unknown time zone {self.timezone!r}") from None
        for name in ("humid_threshold", "fog_threshold"):
            if not 0 < getattr(self, name) <= 100:
                raise _Invalid(name, f"must lie in (0, 100] %, got {getattr(self, name)}")
        if self.humid_threshold > self.fog_threshold:
            raise _Invalid(
                "humid_threshold",
                f"{self.humid_threshold} must not exceed fog_threshold ({self.fog_threshold})",
            )
        if not 0 <= self.kappa < float("inf"):
            raise _Invalid("kappa", f"must be a non-negative number, got {self.kappa}")
        for name, minimum in _MINIMUM.items():
            if getattr(self, name) < minimum:
                raise _Invalid(name, f"must be at least {minimum}, got {getattr(self, name)}")
        if self.standard not in _STANDARDS:
            raise _Invalid(
                "standard", f"use one of {', '.join(sorted(_STANDARDS))}, got {self.standard!r}"
            )
        if not 0 < self.point_radius_km <= 100:
            raise _Invalid(
                "point_radius_km", f"must lie in (0, 100] km, got {self.point_radius_km}"
            )
        if self.sqlite_synchronous.upper() not in _SYNCHRONOUS:
            raise _Invalid(
                "sqlite_synchronous",
                f"use one of {', '.join(sorted(_SYNCHRONOUS))}, got {self.sqlite_synchronous!r}",
            )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``SMARTDISTRICTS_*`` variables, then ``overrides`` (None = unset).

        Errors name the environment variable when the bad value came from one.
        """
        env = os.environ if environ is None else environ
        defaults = cls()
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"SMARTDISTRICTS_{f.name.upper()}")
            if raw is not None:
                values[f.name] = _convert(f.name, raw, type(getattr(defaults, f.name)))
        from_env = set(values)
        given = {k: v for k, v in overrides.items() if v is not None}
        values.update(given)
        try:
            return replace(defaults, **values)
        except _Invalid as exc:
            if exc.name in from_env and exc.name not in given:
                raise ValueError(f"SMARTDISTRICTS_{exc.name.upper()}: {exc.message}") from None
            raise

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

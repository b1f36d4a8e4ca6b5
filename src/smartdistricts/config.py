"""Settings of a running platform, from the environment with command-line overrides.

Every setting has an environment variable ``SMARTDISTRICTS_<NAME>`` (upper case); the CLI's
options override them. ``docs/operations.md`` lists them all (a test keeps the two in sync).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Settings", "parse_point"]

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
    "smtp_port": 1,
    "alerts_max_attempts": 1,
    "alerts_retry_base_s": 1,
    "alerts_subscriptions_per_hour": 0,
    "upload_max_bytes": 1024,
    "session_hours": 1,
    "login_attempts_per_minute": 1,
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

    # --- portal, news and accounts (issue 4) ---
    #: The portal's public address (scheme, host, optional path; no trailing slash): absolute
    #: links in feeds, share links and OpenGraph tags.
    base_url: str = "http://127.0.0.1:8000"
    #: The site whose air box the home page shows (id or slug; empty: the first active site).
    default_site: str = ""
    #: Map tile URL template ({z}/{x}/{y}, optional {s}) of the portal's map; empty: no base
    #: map (districts and sites are drawn on a plain background).
    tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    #: Attribution shown on the map for the tiles (HTML not allowed; plain text).
    tile_attribution: str = "© OpenStreetMap contributors"
    #: Folder where uploaded photos are stored (re-encoded, under random names; served at
    #: /media/).
    media_dir: str = "var/media"
    #: Largest photo upload accepted [bytes].
    upload_max_bytes: int = 8_000_000
    #: How long an editor stays signed in [h].
    session_hours: int = 12
    #: Sign-in attempts allowed per minute per client address and per user name.
    login_attempts_per_minute: int = 5

    # --- data sources, calibration and forecast (issue 5) ---
    #: The town's reference point "latitude,longitude" [°, WGS84] that importers search around
    #: (default: the centroid of the gmina miejska Mińsk Mazowiecki boundary).
    town_point: str = "52.1772,21.5591"
    #: Base URL of the GIOŚ public API (pjp-api v1, REST).
    gios_base_url: str = "https://api.gios.gov.pl/pjp-api/v1/rest"
    #: GIOŚ stations within this distance of ``town_point`` are imported [km].
    gios_radius_km: float = 30.0
    #: How far back the first GIOŚ import fetches archival data [days] (at most 366).
    gios_backfill_days: int = 7
    #: Base URL of the Sensor.Community read API (``/airrohr/v1/filter/…`` is appended).
    sensor_community_base_url: str = "https://data.sensor.community"
    #: Sensor.Community devices within this distance of ``town_point`` are imported [km].
    sensor_community_radius_km: float = 5.0
    #: Airly API key (from the environment only; never logged). Empty: the Airly importer is off.
    airly_api_key: str = ""
    #: Base URL of the Airly API (``/v2/…`` is appended).
    airly_base_url: str = "https://airapi.airly.eu"
    #: Airly installation ids to import, comma-separated; empty: those near ``airly_point``.
    airly_installations: str = ""
    #: Point "latitude,longitude" whose nearby Airly installations are imported when
    #: ``airly_installations`` is empty (empty: ``town_point``).
    airly_point: str = ""
    #: Airly installations within this distance of ``airly_point`` are imported [km].
    airly_radius_km: float = 3.0
    #: How often ``smartdistricts worker`` recomputes the queued daily values [s].
    worker_rollup_s: int = 60
    #: Jobs ``smartdistricts worker`` runs, comma-separated (``airly,gios,rollup``); empty: all
    #: (each importer only when configured: Airly needs ``airly_api_key``).
    worker_jobs: str = ""

    # --- smog alerts (issue 5) ---
    #: Evaluate the smog-alert rules after every stored batch of readings.
    alerts_evaluate: bool = True
    #: Key for the subscription form's tokens and the unsubscribe links (any long random
    #: string); empty: a random key generated once and kept in the database.
    alerts_secret: str = ""
    #: SMTP server for alert e-mails; empty: e-mails are not sent (stay queued).
    smtp_host: str = ""
    #: SMTP port (587 with STARTTLS, 25 without).
    smtp_port: int = 587
    #: SMTP user name; empty: no login.
    smtp_user: str = ""
    #: SMTP password (from the environment; never logged).
    smtp_password: str = ""
    #: Sender address of alert e-mails.
    smtp_from: str = "smog@localhost"
    #: Use STARTTLS after connecting to the SMTP server.
    smtp_starttls: bool = True
    #: Timeout of one webhook request or SMTP session [s].
    alerts_timeout_s: float = 10.0
    #: Delivery attempts of a notification before it is given up.
    alerts_max_attempts: int = 8
    #: First retry delay of a failed notification [s]; doubles per attempt (at most 1 h).
    alerts_retry_base_s: int = 30
    #: Subscriptions (and confirmation e-mails) allowed per hour per e-mail address and per
    #: client address.
    alerts_subscriptions_per_hour: int = 5

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
        _check_public_sources(self)
        _check_airly(self)
        if not self.base_url.startswith(("http://", "https://")) or self.base_url.endswith("/"):
            raise _Invalid(
                "base_url", f"must be an http(s) URL without a final '/', got {self.base_url!r}"
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


def parse_point(text: str) -> tuple[float, float]:
    """``"52.1772,21.5591"`` → (latitude, longitude) [°]; ValueError when malformed."""
    parts = text.split(",")
    if len(parts) != 2:
        raise ValueError(f"expected 'latitude,longitude', got {text!r}")
    lat, lon = (float(p) for p in parts)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"latitude/longitude out of range in {text!r}")
    return lat, lon


def _check_public_sources(s: Settings) -> None:
    """Validate the GIOŚ and Sensor.Community importer settings (issue 5)."""
    try:
        parse_point(s.town_point)
    except ValueError as exc:
        raise _Invalid("town_point", str(exc)) from None
    for name in ("gios_radius_km", "sensor_community_radius_km"):
        if not 0 < getattr(s, name) <= 300:
            raise _Invalid(name, f"must lie in (0, 300] km, got {getattr(s, name)}")
    if not 1 <= s.gios_backfill_days <= 366:
        raise _Invalid("gios_backfill_days", f"must lie in 1–366, got {s.gios_backfill_days}")
    for name in ("gios_base_url", "sensor_community_base_url"):
        if not str(getattr(s, name)).startswith(("http://", "https://")):
            raise _Invalid(name, f"must be an http(s) URL, got {getattr(s, name)!r}")


def _check_airly(s: Settings) -> None:
    """Validate the Airly importer and worker settings (issue 5)."""
    if s.airly_point:
        try:
            parse_point(s.airly_point)
        except ValueError as exc:
            raise _Invalid("airly_point", str(exc)) from None
    for part in s.airly_installations.split(","):
        if part.strip() and not part.strip().isdigit():
            raise _Invalid(
                "airly_installations", f"expected comma-separated ids, got {part.strip()!r}"
            )
    if not 0 < s.airly_radius_km <= 100:
        raise _Invalid("airly_radius_km", f"must lie in (0, 100] km, got {s.airly_radius_km}")
    if not str(s.airly_base_url).startswith(("http://", "https://")):
        raise _Invalid("airly_base_url", f"must be an http(s) URL, got {s.airly_base_url!r}")
    if s.worker_rollup_s < 1:
        raise _Invalid("worker_rollup_s", f"must be at least 1, got {s.worker_rollup_s}")


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

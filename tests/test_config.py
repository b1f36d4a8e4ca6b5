"""Settings from ``SMARTDISTRICTS_*`` environment variables: parsing, overrides, and errors that
name the variable to fix."""

from __future__ import annotations

from dataclasses import fields
from zoneinfo import ZoneInfo

import pytest

from smartdistricts.config import Settings


def test_defaults_without_environment() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert (settings.timezone, settings.humid_threshold, settings.fog_threshold) == (
        "Europe/Warsaw",
        70.0,
        95.0,
    )
    assert settings.tz == ZoneInfo("Europe/Warsaw")


def test_every_setting_has_a_variable() -> None:
    env = {
        "SMARTDISTRICTS_DB": "postgresql://db/air",
        "SMARTDISTRICTS_TIMEZONE": " Europe/London ",
        "SMARTDISTRICTS_OPEN_REGISTRATION": "yes",
        "SMARTDISTRICTS_HUMID_THRESHOLD": "75.5",
        "SMARTDISTRICTS_FOG_THRESHOLD": "97",
        "SMARTDISTRICTS_HUMIDITY_PAIRING_S": "120",
        "SMARTDISTRICTS_STUCK_MIN_COUNT": "12",
        "SMARTDISTRICTS_STUCK_MIN_DURATION_S": "7200",
        "SMARTDISTRICTS_KAPPA": "0.2",
        "SMARTDISTRICTS_PUSH_DEDUP_WINDOW_S": "60",
        "SMARTDISTRICTS_SQLITE_SYNCHRONOUS": "NORMAL",
        "SMARTDISTRICTS_INGEST_PROCESS": "no",
        "SMARTDISTRICTS_API_DAILY_LIMIT": "500",
        "SMARTDISTRICTS_API_MINUTE_LIMIT": "20",
        "SMARTDISTRICTS_READS_PER_MINUTE": "600",
        "SMARTDISTRICTS_STANDARD": "WHO2021",
        "SMARTDISTRICTS_POINT_RADIUS_KM": "2.5",
        "SMARTDISTRICTS_ATTRIBUTION": "minsk-maz.pl",
        "SMARTDISTRICTS_DEVICE_PUSHES_PER_MINUTE": "5",
        "SMARTDISTRICTS_AUTH_FAILURES_PER_MINUTE": "3",
        "SMARTDISTRICTS_REGISTRATIONS_PER_HOUR": "2",
        "SMARTDISTRICTS_TOWN_POINT": "52.2,21.6",
        "SMARTDISTRICTS_GIOS_BASE_URL": "http://127.0.0.1:9/gios",
        "SMARTDISTRICTS_GIOS_RADIUS_KM": "25",
        "SMARTDISTRICTS_GIOS_BACKFILL_DAYS": "30",
        "SMARTDISTRICTS_SENSOR_COMMUNITY_BASE_URL": "http://127.0.0.1:9/sc",
        "SMARTDISTRICTS_SENSOR_COMMUNITY_RADIUS_KM": "3",
        "SMARTDISTRICTS_AIRLY_API_KEY": "secret-key",
        "SMARTDISTRICTS_AIRLY_BASE_URL": "http://127.0.0.1:9/airly",
        "SMARTDISTRICTS_AIRLY_INSTALLATIONS": "8077,10216",
        "SMARTDISTRICTS_AIRLY_POINT": "50.06,19.94",
        "SMARTDISTRICTS_AIRLY_RADIUS_KM": "2.5",
        "SMARTDISTRICTS_WORKER_ROLLUP_S": "30",
        "SMARTDISTRICTS_WORKER_JOBS": "airly,rollup",
        "SMARTDISTRICTS_BASE_URL": "https://powietrze.example.pl",
        "SMARTDISTRICTS_DEFAULT_SITE": "rynek",
        "SMARTDISTRICTS_TILE_URL": "",
        "SMARTDISTRICTS_TILE_ATTRIBUTION": "© Miasto",
        "SMARTDISTRICTS_MEDIA_DIR": "/srv/media",
        "SMARTDISTRICTS_UPLOAD_MAX_BYTES": "4000000",
        "SMARTDISTRICTS_SESSION_HOURS": "8",
        "SMARTDISTRICTS_LOGIN_ATTEMPTS_PER_MINUTE": "3",
        "SMARTDISTRICTS_ALERTS_EVALUATE": "off",
        "SMARTDISTRICTS_ALERTS_SECRET": "a-long-random-key",
        "SMARTDISTRICTS_SMTP_HOST": "smtp.example.pl",
        "SMARTDISTRICTS_SMTP_PORT": "25",
        "SMARTDISTRICTS_SMTP_USER": "alerty",
        "SMARTDISTRICTS_SMTP_PASSWORD": "haslo",
        "SMARTDISTRICTS_SMTP_FROM": "alerty@miasto.example.pl",
        "SMARTDISTRICTS_SMTP_STARTTLS": "no",
        "SMARTDISTRICTS_ALERTS_TIMEOUT_S": "5",
        "SMARTDISTRICTS_ALERTS_MAX_ATTEMPTS": "4",
        "SMARTDISTRICTS_ALERTS_RETRY_BASE_S": "60",
        "SMARTDISTRICTS_ALERTS_SUBSCRIPTIONS_PER_HOUR": "3",
    }
    assert sorted(env) == sorted(f"SMARTDISTRICTS_{n.upper()}" for n in Settings.names())
    settings = Settings.from_env(env)
    assert settings == Settings(
        db="postgresql://db/air",
        timezone="Europe/London",
        open_registration=True,
        humid_threshold=75.5,
        fog_threshold=97.0,
        humidity_pairing_s=120,
        stuck_min_count=12,
        stuck_min_duration_s=7200,
        kappa=0.2,
        push_dedup_window_s=60,
        sqlite_synchronous="NORMAL",
        ingest_process=False,
        api_daily_limit=500,
        api_minute_limit=20,
        reads_per_minute=600,
        standard="WHO2021",
        point_radius_km=2.5,
        attribution="minsk-maz.pl",
        device_pushes_per_minute=5,
        auth_failures_per_minute=3,
        registrations_per_hour=2,
        town_point="52.2,21.6",
        gios_base_url="http://127.0.0.1:9/gios",
        gios_radius_km=25.0,
        gios_backfill_days=30,
        sensor_community_base_url="http://127.0.0.1:9/sc",
        sensor_community_radius_km=3.0,
        airly_api_key="secret-key",
        airly_base_url="http://127.0.0.1:9/airly",
        airly_installations="8077,10216",
        airly_point="50.06,19.94",
        airly_radius_km=2.5,
        worker_rollup_s=30,
        worker_jobs="airly,rollup",
        base_url="https://powietrze.example.pl",
        default_site="rynek",
        tile_url="",
        tile_attribution="© Miasto",
        media_dir="/srv/media",
        upload_max_bytes=4_000_000,
        session_hours=8,
        login_attempts_per_minute=3,
        alerts_evaluate=False,
        alerts_secret="a-long-random-key",
        smtp_host="smtp.example.pl",
        smtp_port=25,
        smtp_user="alerty",
        smtp_password="haslo",
        smtp_from="alerty@miasto.example.pl",
        smtp_starttls=False,
        alerts_timeout_s=5.0,
        alerts_max_attempts=4,
        alerts_retry_base_s=60,
        alerts_subscriptions_per_hour=3,
    )
    for f in fields(Settings):  # the types of the defaults are kept
        assert type(getattr(settings, f.name)) is type(getattr(Settings(), f.name))


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", True), ("TRUE", True), (" on ", True), ("0", False), ("No", False), ("", False)],
)
def test_booleans(raw: str, value: bool) -> None:
    env = {"SMARTDISTRICTS_OPEN_REGISTRATION": raw}
    assert Settings.from_env(env).open_registration is value


def test_overrides_win_and_none_means_unset() -> None:
    env = {"SMARTDISTRICTS_DB": "sqlite:////env.db", "SMARTDISTRICTS_KAPPA": "0.3"}
    settings = Settings.from_env(env, db="sqlite:////cli.db", kappa=None)
    assert (settings.db, settings.kappa) == ("sqlite:////cli.db", 0.3)


def test_the_process_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTDISTRICTS_STUCK_MIN_COUNT", "20")
    assert Settings.from_env().stuck_min_count == 20


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("OPEN_REGISTRATION", "maybe", "expected true/false, got 'maybe'"),
        ("TOWN_POINT", "52.17", "expected 'latitude,longitude'"),
        ("TOWN_POINT", "152.1,21.5", "out of range"),
        ("GIOS_RADIUS_KM", "0", r"must lie in \(0, 300\] km"),
        ("GIOS_BACKFILL_DAYS", "400", "must lie in 1–366"),
        ("SENSOR_COMMUNITY_BASE_URL", "data.sensor.community", "must be an http"),
        ("HUMID_THRESHOLD", "seventy", "expected a number, got 'seventy'"),
        ("STUCK_MIN_COUNT", "10.5", "expected a number"),
        ("TIMEZONE", "Europe/Mińsk", "unknown time zone"),
        ("TIMEZONE", "", "unknown time zone"),
        ("HUMID_THRESHOLD", "0", r"must lie in \(0, 100\]"),
        ("FOG_THRESHOLD", "101", r"must lie in \(0, 100\]"),
        ("HUMID_THRESHOLD", "nan", r"must lie in \(0, 100\]"),
        ("HUMID_THRESHOLD", "96", r"must not exceed fog_threshold \(95.0\)"),
        ("KAPPA", "-0.1", "non-negative"),
        ("KAPPA", "inf", "non-negative"),
        ("HUMIDITY_PAIRING_S", "-1", "at least 0"),
        ("STUCK_MIN_COUNT", "0", "at least 1"),
        ("SQLITE_SYNCHRONOUS", "sometimes", "use one of EXTRA, FULL, NORMAL, OFF"),
        ("AIRLY_POINT", "north", "expected 'latitude,longitude'"),
        ("AIRLY_INSTALLATIONS", "8077,ten", "expected comma-separated ids, got 'ten'"),
        ("AIRLY_RADIUS_KM", "0", r"must lie in \(0, 100\] km"),
        ("AIRLY_BASE_URL", "airapi.airly.eu", "must be an http"),
        ("WORKER_ROLLUP_S", "0", "at least 1"),
    ],
)
def test_errors_name_the_variable(name: str, raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^SMARTDISTRICTS_{name}: .*{message}"):
        Settings.from_env({f"SMARTDISTRICTS_{name}": raw})


def test_a_bad_override_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"^timezone: unknown time zone 'Mars/Olympus'"):
        Settings.from_env({"SMARTDISTRICTS_TIMEZONE": "Europe/Warsaw"}, timezone="Mars/Olympus")
    with pytest.raises(ValueError, match=r"^fog_threshold: must lie in"):
        Settings(fog_threshold=0)

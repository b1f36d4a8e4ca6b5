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

"""The site forecast from stored hourly data, and the Airly-compatible ``forecast`` array."""

from __future__ import annotations

import time

import numpy as np
import pytest
from starlette.testclient import TestClient

from smartdistricts.api.app import create_app
from smartdistricts.config import Settings
from smartdistricts.ingest.records import Readings, SensorRef
from smartdistricts.nomenclature import variable
from smartdistricts.services.airly import iso_ms
from smartdistricts.services.bulk import BulkWrite
from smartdistricts.services.forecast import local_calendar, site_forecast
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import Site, add_api_key, add_device, add_site
from smartdistricts.store.base import Store

HOUR = 3600
DAYS = 21


def pattern(hours: np.ndarray) -> np.ndarray:
    """PM2.5 by local hour: a heating evening peak [µg/m³] (PM10 is 1.5 times it)."""
    return 10 + 25 * np.exp(-0.5 * ((hours - 20) / 2.0) ** 2)


def stored_site(store: Store, settings: Settings, end_hour: int, days: int = DAYS) -> Site:
    """A site whose device measured the pattern once an hour for ``days`` days up to end_hour."""
    site = add_site(
        store, name="ul. Piaskowa 1", slug="piaskowa-1", latitude=52.18, longitude=21.56
    )
    uid = "esp8266-424242"
    add_device(store, uid, site=site.slug)
    times = np.arange(end_hour - days * 86400, end_hour, HOUR) + 1800
    hour, _weekend = local_calendar(times, settings.tz)
    pm25 = pattern(hour)
    n = len(times)
    readings = Readings(
        [SensorRef(device_uid=uid, sensor_type="SDS011")],
        np.zeros(2 * n, dtype=np.int64),
        np.repeat([variable("pm2_5").id, variable("pm10").id], n).astype(np.int64),
        np.concatenate([times, times]).astype(np.int64),
        np.concatenate([pm25, 1.5 * pm25]),
        np.zeros(2 * n, dtype=np.int64),
    )
    store.write(BulkWrite(IngestService(store, settings), readings, "sensor.community-archive"))
    return site


def test_the_forecast_covers_the_24_hours_from_the_current_one(
    store: Store, settings: Settings
) -> None:
    end_hour = 1_764_000_000 - 1_764_000_000 % HOUR
    site = stored_site(store, settings, end_hour)
    now = end_hour + 17 * 60  # 17 minutes into the hour
    hours = site_forecast(store, site.id, now, tz=settings.tz)
    assert [h.from_ts for h in hours] == list(range(end_hour, end_hour + 24 * HOUR, HOUR))
    assert all(h.till_ts == h.from_ts + HOUR for h in hours)
    local, _ = local_calendar([h.from_ts for h in hours], settings.tz)
    # The stored pattern comes back (the model recovers a clean daily cycle).
    assert [h.values["pm2_5"] for h in hours] == pytest.approx(pattern(local), abs=0.02)
    assert [h.values["pm10"] for h in hours] == pytest.approx(1.5 * pattern(local), abs=0.03)
    # Cached: the same list within the hour.
    assert site_forecast(store, site.id, now + 60, tz=settings.tz) is hours


def test_too_little_history_gives_no_forecast(store: Store, settings: Settings) -> None:
    end_hour = 1_764_000_000 - 1_764_000_000 % HOUR
    site = stored_site(store, settings, end_hour, days=3)
    assert site_forecast(store, site.id, end_hour + 60, tz=settings.tz) == []


def test_airly_installation_measurements_carry_a_24_hour_forecast(
    store: Store, settings: Settings
) -> None:
    now = int(time.time())
    site = stored_site(store, settings, now - now % HOUR)
    token = add_api_key(store, "dashboard")[1]
    with TestClient(create_app(settings, store=store)) as client:
        response = client.get(
            f"/v2/measurements/installation?installationId={site.id}", headers={"apikey": token}
        )
    assert response.status_code == 200, response.text
    body = response.json()
    forecast, history = body["forecast"], body["history"]
    assert len(forecast) == 24 and len(history) == 24
    assert history[-1]["tillDateTime"] == forecast[0]["fromDateTime"]
    hours = site_forecast(store, site.id, tz=settings.tz)
    for element, hour in zip(forecast, hours, strict=True):
        assert list(element) == ["fromDateTime", "tillDateTime", "values", "indexes", "standards"]
        assert element["fromDateTime"] == iso_ms(hour.from_ts)
        assert element["tillDateTime"] == iso_ms(hour.till_ts)
        assert element["values"] == [
            {"name": "PM25", "value": round(hour.values["pm2_5"], 2)},
            {"name": "PM10", "value": round(hour.values["pm10"], 2)},
        ]
        [index] = element["indexes"]
        assert index["name"] == "AIRLY_CAQI" and index["value"] > 0 and index["level"] != "UNKNOWN"
        assert [s["pollutant"] for s in element["standards"]] == ["PM25", "PM10"]

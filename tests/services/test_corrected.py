"""The humidity-corrected PM series (κ-Köhler) next to the raw values."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import replace

import numpy as np
import pytest
from tests.conftest import DATA

from smartdistricts.config import Settings
from smartdistricts.services.bulk import import_files
from smartdistricts.services.corrected import humidity_corrected
from smartdistricts.services.export import ExportQuery, export_csv
from smartdistricts.services.ingest import IngestService
from smartdistricts.store.base import Store

SDS = str(DATA / "sensor-community" / "2018-03-07_sds011_sensor_5331.csv")
DHT = str(DATA / "sensor-community" / "2018-03-07_dht22_sensor_5332.csv")


def kohler(pm: float, rh: float, kappa: float) -> float:
    """The bulk κ-Köhler correction written out (Crilley et al. 2018), a_w capped at 0.95."""
    aw = min(rh / 100.0, 0.95)
    return pm / (1 + (kappa / 1.65) / (1 / aw - 1))


def test_corrected_values_pair_each_reading_with_the_nearest_humidity(
    service: IngestService, store: Store, settings: Settings
) -> None:
    import_files(service, [SDS, DHT])
    pm = store.read(
        lambda tx: tx.query(
            "SELECT m.sensor_id, m.variable_id, m.time, m.value FROM measurements m"
            " JOIN sensors s ON s.id = m.sensor_id WHERE s.type = 'SDS011' ORDER BY 1, 2, 3"
        )
    )
    rh = store.read(
        lambda tx: tx.query(
            "SELECT m.time, m.value FROM measurements m JOIN sensors s ON s.id = m.sensor_id"
            " WHERE s.type = 'DHT22' AND m.variable_id = 5 ORDER BY 1"
        )
    )
    arr = np.asarray(pm, dtype=np.float64)
    got = store.read(
        lambda tx: humidity_corrected(
            tx, arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64),
            arr[:, 2].astype(np.int64), arr[:, 3], settings,
        )
    )  # fmt: skip
    for (_sid, _var, t, value), corrected in zip(pm, got, strict=True):
        nearest = min(rh, key=lambda r: abs(r[0] - t))
        assert abs(nearest[0] - t) <= settings.humidity_pairing_s
        assert corrected == pytest.approx(kohler(value, nearest[1], settings.kappa), abs=1e-3)
    # In fog the correction is large; raw values are untouched.
    assert float(np.nanmin(got / arr[:, 3])) < 0.25
    assert store.read(lambda tx: tx.one("SELECT value FROM measurements WHERE value = 167.63"))


def test_without_humidity_there_is_no_corrected_value(
    service: IngestService, store: Store, settings: Settings
) -> None:
    import_files(service, [SDS])
    text = io.StringIO()
    export_csv(store, text, ExportQuery(variables=("pm10",), corrected=settings))
    rows = list(csv.DictReader(io.StringIO(text.getvalue())))
    assert rows and all(r["value_corrected"] == "" for r in rows)


def test_export_column_uses_the_configured_kappa(
    service: IngestService, store: Store, settings: Settings
) -> None:
    import_files(service, [SDS, DHT])
    values = {}
    for kappa in (0.2, 0.6):
        text = io.StringIO()
        export_csv(
            store, text, ExportQuery(variables=("pm2_5",), corrected=replace(settings, kappa=kappa))
        )
        rows = list(csv.DictReader(io.StringIO(text.getvalue())))
        values[kappa] = [float(r["value_corrected"]) for r in rows if r["value_corrected"]]
        assert [r["value"] for r in rows][:3] == ["33.97", "34.23", "33.73"]
    assert len(values[0.2]) == len(values[0.6]) > 500
    # More hygroscopic aerosol → larger correction → smaller dry-equivalent values.
    assert all(a > b for a, b in zip(values[0.2], values[0.6], strict=True))
    assert not any(math.isnan(v) for v in values[0.2])

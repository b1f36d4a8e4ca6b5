"""Calibration of a stored low-cost site against a stored reference site, applied on read."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from smartdistricts.api.app import create_app
from smartdistricts.cli.main import cli
from smartdistricts.config import Settings
from smartdistricts.ingest.records import Readings, SensorRef
from smartdistricts.nomenclature import variable
from smartdistricts.services.bulk import BulkWrite
from smartdistricts.services.calibration import calibrate, stored_calibrations
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.registry import add_device, add_site
from smartdistricts.store.base import Store

HOUR = 3600
START = 1_763_942_400  # 2025-11-24T00:00:00Z
DAYS = 12
A, B, C = 3.0, 0.6, -0.05  # reference = A + B·pm + C·RH (+ noise)


def put(
    store: Store, settings: Settings, uid: str, rows: list[tuple[str, str, int, float]]
) -> None:
    types = sorted({t for t, _v, _t, _x in rows})
    readings = Readings(
        [SensorRef(device_uid=uid, sensor_type=t) for t in types],
        np.array([types.index(t) for t, _v, _t, _x in rows], dtype=np.int64),
        np.array([variable(v).id for _s, v, _t, _x in rows], dtype=np.int64),
        np.array([t for _s, _v, t, _x in rows], dtype=np.int64),
        np.array([x for _s, _v, _t, x in rows], dtype=np.float64),
        np.zeros(len(rows), dtype=np.int64),
    )
    store.write(BulkWrite(IngestService(store, settings), readings, "sensor.community-archive"))


@pytest.fixture
def colocated(store: Store, settings: Settings) -> dict[int, tuple[float, float, float]]:
    """A low-cost site and a reference site, one reading an hour: {hour: (pm, rh, ref)}."""
    add_site(store, name="Kościuszki 5", slug="kosciuszki-5", latitude=52.18, longitude=21.56)
    add_site(store, name="GIOŚ Mińsk", slug="gios-minsk", latitude=52.181, longitude=21.561)
    add_device(store, "esp8266-1001", site="kosciuszki-5")
    add_device(store, "gios-station-1", site="gios-minsk")
    rng = np.random.default_rng(11)
    truth = {}
    low, ref = [], []
    for k in range(DAYS * 24):
        hour = START + k * HOUR
        pm = float(rng.lognormal(np.log(25), 0.5))
        rh = float(rng.uniform(35, 95))
        reference = A + B * pm + C * rh + float(rng.normal(0, 0.3))
        truth[hour] = (pm, rh, reference)
        low += [
            ("SDS011", "pm2_5", hour + 600, pm),
            ("BME280", "relative_humidity", hour + 600, rh),
        ]
        ref.append(("BAM", "pm2_5", hour + 1800, reference))
    put(store, settings, "esp8266-1001", low)
    put(store, settings, "gios-station-1", ref)
    return truth


def test_pair_fit_save_and_read_corrected(
    store: Store, settings: Settings, colocated: dict[int, tuple[float, float, float]]
) -> None:
    raw_before = store.read(lambda tx: tx.query("SELECT * FROM measurements ORDER BY 1, 2, 3"))
    report = calibrate(
        store, site="kosciuszki-5", reference="gios-minsk", since=START,
        until=START + DAYS * 86400, save=True,
    )  # fmt: skip
    assert report.pairs == DAYS * 24 and report.sensor == "esp8266-1001/SDS011"
    cal = report.fit.calibration
    assert (cal.a, cal.b, cal.c) == pytest.approx((A, B, C), rel=0.05, abs=0.2)
    assert report.fit.after.rmse < 0.5 < report.fit.before.rmse
    assert report.saved_id is not None
    [(key, stored)] = store.read(
        lambda tx: list(stored_calibrations(tx, [report.sensor_id]).items())
    )
    assert key == (report.sensor_id, variable("pm2_5").id) and stored == cal

    query = "variable=pm2_5&since=2025-11-24T00:00:00Z&until=2025-11-25T00:00:00Z"
    with TestClient(create_app(settings, store=store)) as client:
        raw = client.get(f"/api/v1/sites/kosciuszki-5/hourly?{query}").json()
        fixed = client.get(f"/api/v1/sites/kosciuszki-5/hourly?{query}&correction=calibrated")
        bad = client.get(f"/api/v1/sites/kosciuszki-5/hourly?{query}&correction=magic")
    assert fixed.status_code == 200, fixed.text
    assert bad.status_code == 422 and "correction" in bad.text
    [raw_series] = raw["series"]
    [fixed_series] = fixed.json()["series"]
    assert fixed_series["sensor"] == raw_series["sensor"] == report.sensor_id
    means = raw_series["data"]["mean"]
    assert len(means) == 24 and fixed_series["data"]["time"] == raw_series["data"]["time"]
    for k, (mean, corrected) in enumerate(zip(means, fixed_series["data"]["mean"], strict=True)):
        rh = colocated[START + k * HOUR][1]
        assert corrected == pytest.approx(cal.a + cal.b * mean + cal.c * rh, abs=1e-3)
        assert abs(corrected - mean) > 0.01
    # Raw readings are untouched.
    assert (
        store.read(lambda tx: tx.query("SELECT * FROM measurements ORDER BY 1, 2, 3")) == raw_before
    )


def test_unknown_reference_and_too_few_pairs_are_reported(
    store: Store, colocated: dict[int, tuple[float, float, float]]
) -> None:
    from smartdistricts.services.registry import RegistryError

    with pytest.raises(RegistryError, match="nowhere"):
        calibrate(store, site="kosciuszki-5", reference="nowhere", since=START, until=START + 86400)
    with pytest.raises(ValueError, match="complete pairs"):
        calibrate(
            store,
            device="esp8266-1001",
            reference="gios-minsk",
            since=START,
            until=START + 5 * HOUR,
        )


def test_cli_prints_the_report_and_saves(
    store: Store, db_url: str, colocated: dict[int, tuple[float, float, float]]
) -> None:
    runner = CliRunner()
    args = ["--db", db_url, "calibrate", "--device", "esp8266-1001", "--reference", "gios-minsk",
            "--from", "2025-11-24T00:00+00:00", "--to", "2025-12-06T00:00+00:00"]  # fmt: skip
    result = runner.invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "calibration of esp8266-1001/SDS011 (pm2_5) against gios-minsk"
    assert lines[1] == "pairs: 288 hourly means (216 fitted, 72 held out)"
    assert lines[2].startswith("fit:   reference = ") and "·RH" in lines[2]
    assert lines[4].lstrip().startswith("before") and lines[5].lstrip().startswith("after")
    assert lines[-1] == "not saved (--save)"
    assert store.read(lambda tx: tx.one("SELECT count(*) FROM calibrations")) == (0,)
    saved = runner.invoke(cli, [*args, "--save"], catch_exceptions=False)
    assert saved.exit_code == 0 and saved.output.splitlines()[-1].startswith("saved as calibration")
    assert store.read(lambda tx: tx.one("SELECT count(*) FROM calibrations")) == (1,)
    wrong = runner.invoke(cli, [*args[:3], "--site", "kosciuszki-5", *args[3:]])
    assert wrong.exit_code != 0 and "exactly one of --device and --site" in wrong.output

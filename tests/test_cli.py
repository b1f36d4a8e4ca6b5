"""The command line: every command runs its library function and reports sensibly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion
from tests.conftest import DATA, LiveServer, require_service

from smartdistricts.cli.main import cli
from smartdistricts.store import open_store

Invoke = Callable[..., str]


@pytest.fixture
def run(sqlite_url: str) -> Invoke:
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> str:
        result = runner.invoke(cli, ["--db", sqlite_url, *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result.output

    return invoke


def test_migrate_is_idempotent(run: Invoke) -> None:
    from smartdistricts.store.migrations import migrations

    assert f"{len(migrations())} migration(s) applied" in run("migrate")
    assert "up to date" in run("migrate")


def test_device_lifecycle(run: Invoke, sqlite_url: str) -> None:
    out = run("devices", "add", "esp8266-1", "--kind", "airrohr", "--name", "roof")
    first = re.search(r"password: (\S+)", out)
    assert first is not None
    run("devices", "disable", "esp8266-1")
    assert "disabled" in run("devices", "list", "--status", "disabled")
    run("devices", "enable", "esp8266-1")
    second = re.search(r"password: (\S+)", run("devices", "secret", "esp8266-1"))
    assert second is not None and second.group(1) != first.group(1)
    listed = json.loads(run("devices", "list", "--json"))
    assert listed[0]["uid"] == "esp8266-1" and "secret_hash" not in listed[0]
    assert "removed with 0 readings" in run("devices", "remove", "esp8266-1", "--yes")
    assert run("devices", "list") == ""
    assert "no device" in run("devices", "disable", "esp8266-1", ok=False)


def test_quarantined_devices_need_approval_not_enable(run: Invoke, sqlite_url: str) -> None:
    with open_store(sqlite_url) as store:
        store.write(
            lambda tx: tx.execute(
                "INSERT INTO devices (uid, kind, status)"
                " VALUES ('esp8266-9', 'airrohr', 'quarantine')"
            )
        )
    assert "devices approve" in run("devices", "enable", "esp8266-9", ok=False)
    run("sites", "add", "Roof", "--lat", "52.18", "--lon", "21.56")
    out = run("devices", "approve", "esp8266-9", "--site", "roof", "--new-credentials")
    assert "is active" in out and "password:" in out


def test_api_keys(run: Invoke) -> None:
    out = run("apikeys", "add", "gateway", "--scope", "write", "--scope", "read")
    prefix = re.search(r"API key (\w{8})", out)
    assert prefix is not None and re.search(r"sdk_\w{8}_\S+", out)
    assert "active" in run("apikeys", "list")
    run("apikeys", "revoke", prefix.group(1))
    assert "revoked" in run("apikeys", "list")
    assert "no active API key" in run("apikeys", "revoke", prefix.group(1), ok=False)


def test_districts_from_geojson(run: Invoke, tmp_path: Path) -> None:
    square = {"type": "Polygon", "coordinates": [[[21.5, 52.1], [21.6, 52.1], [21.6, 52.2],
                                                  [21.5, 52.2], [21.5, 52.1]]]}  # fmt: skip
    path = tmp_path / "d.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": square}]}))  # fmt: skip
    run("sites", "add", "Inside", "--lat", "52.15", "--lon", "21.55")
    run("districts", "add", "--slug", "sq", "--name", "Square", "--geojson", str(path))
    assert "Square" in run("districts", "list")
    assert json.loads(run("sites", "list", "--json"))[0]["district_id"] == 1
    path.write_text(json.dumps({"type": "Point", "coordinates": [21.5, 52.1]}))
    assert "Polygon" in run("districts", "add", "--slug", "p", "--name", "P", "--geojson",
                            str(path), ok=False)  # fmt: skip


def test_import_rollup_and_export(run: Invoke, tmp_path: Path) -> None:
    out = run("import", "sensor-community", str(DATA / "sensor-community"), "--quiet")
    assert re.search(r"imported:\s+4808", out) and re.search(r"rejected:\s+0", out)
    assert "re-flagged" in run("rollup", "--since", "2018-03-06", "--until", "2018-03-09")
    assert "not a date" in run("rollup", "--since", "yesterday", ok=False)
    target = tmp_path / "x.parquet"
    run("export", "--format", "parquet", "--flags", "--humidity-corrected", "-o", str(target),
        "--site", "sc-3121", "--variable", "pm10")  # fmt: skip
    table = pq.read_table(target)
    assert table.column_names == ["site", "sensor", "time", "variable", "value", "flags",
                                  "value_corrected"]  # fmt: skip
    assert table.num_rows == 584 and set(table.column("variable").to_pylist()) == {"pm10"}
    assert "--output is required" in run("export", "--format", "parquet", ok=False)
    assert "unknown variable" in run("export", "--variable", "soot", ok=False)


@pytest.mark.slow
def test_simulate_pushes_through_a_running_server(live_server: LiveServer, run: Invoke) -> None:
    live_server.start()
    out = run("simulate", "--url", live_server.url, "--devices", "5", "--interval", "1",
              "--duration", "3")  # fmt: skip
    stored = re.search(r"(\d+) pushes stored; answers: \{(.*)\}", out)
    assert stored is not None and int(stored.group(1)) >= 5, out
    assert set(re.findall(r"(\d+):", stored.group(2))) == {"201"}
    with open_store(live_server.db) as store:
        devices = store.read(
            lambda tx: tx.query(
                "SELECT count(DISTINCT s.device_id) FROM measurements m"
                " JOIN sensors s ON s.id = m.sensor_id WHERE m.source_id = 1"
            )
        )
    assert devices == [(5,)]  # the 4 demo devices and one extra, all through the push route


@pytest.mark.mqtt
def test_mqtt_command_stores_and_stops_on_sigterm(sqlite_url: str, tmp_path: Path) -> None:
    require_service("Mosquitto", "127.0.0.1", 1883)
    runner = CliRunner()
    runner.invoke(cli, ["--db", sqlite_url, "devices", "add", "esp8266-77"], catch_exceptions=False)
    topic = f"sdcli/{os.getpid()}/{time.time_ns()}"
    env = {**os.environ, "SMARTDISTRICTS_DB": sqlite_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "smartdistricts", "mqtt", "--topic", f"{topic}/#", "--client-id",
         f"cli-{time.time_ns()}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        time.sleep(2.0)  # connected and subscribed
        pub = mqtt.Client(CallbackAPIVersion.VERSION2)
        pub.connect("127.0.0.1", 1883)
        pub.loop_start()
        body = orjson.dumps({"sensordatavalues": [{"value_type": "SDS_P1", "value": "9.50"}]})
        pub.publish(f"{topic}/esp8266-77", body, qos=1).wait_for_publish(5)
        pub.loop_stop()
        pub.disconnect()
        deadline = time.monotonic() + 10
        with open_store(sqlite_url) as store:
            while time.monotonic() < deadline:
                row = store.read(lambda tx: tx.one("SELECT value FROM measurements"))
                if row:
                    break
                time.sleep(0.1)
        assert row == (9.5,)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=15)
    assert proc.returncode == 0
    assert "stored 1" in out.decode()

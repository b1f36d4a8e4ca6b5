"""GIOŚ backfill: a year of hourly history for 50 sites, from recorded-format files, < 60 s.

The data set is synthetic but in the exact pjp-api v1 layout: for 50 stations around the town,
two sensors each (PM10, PM2.5), one ``archivalData/getDataBySensor`` answer per sensor holding
the year 2025 hourly in local Warsaw time, newest first (so both DST changes are in it), with
about 1 % nulls; plus ``station/findAll``, ``station/sensors/{id}``, ``data/getData/{id}`` (the
last 72 hours again) and ``aqindex/getIndex/{id}``. The files are written to disk and served by
the tests' replay server (``tests/ingest/replay_public.py``), which pages them (500 items a
page, the API's maximum) and filters by ``dateFrom``/``dateTo`` like the API. The server runs
in a child process, as a remote API would; the table also gives the importer process's CPU
time, which does not depend on how busy the machine is.

``GiosImporter.fetch`` with ``backfill_days=366`` then reads every page, converts local time to
UTC, stores through the bulk writer (flags, latest values, hourly sums) with the cursors, and
computes the daily values. The baseline inserts the same rows (already resolved) into the same
table of a fresh database with one bare ``executemany`` in one transaction.
"""

from __future__ import annotations

import datetime as _dt
import multiprocessing
import sqlite3
import tempfile
import time
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import orjson
from tests.ingest.replay_public import PagedReplayServer, envelope

from bench.common import Table
from smartdistricts.config import Settings
from smartdistricts.services.gios_import import GiosImporter
from smartdistricts.services.ingest import IngestService
from smartdistricts.store import open_store

API = "/pjp-api/v1/rest"
YEAR_START = 1_735_686_000  # 2025-01-01T00:00 in Warsaw (23:00 UTC the day before)
HOURS = 8760
NOW = YEAR_START + HOURS * 3600 + 1800  # half an hour after the last hour
TOWN = (52.1772, 21.5591)
WARSAW = ZoneInfo("Europe/Warsaw")
ARCHIVE_KEY = "Lista archiwalnych wyników pomiarów"
DATA_KEY = "Lista danych pomiarowych"


def _stamps() -> list[str]:
    """Local stamps of the year's hours (UTC hours turned into Warsaw wall-clock time)."""
    hours = YEAR_START + 3600 * np.arange(1, HOURS + 1)
    return [
        _dt.datetime.fromtimestamp(int(t), WARSAW).strftime("%Y-%m-%d %H:%M:%S")
        for t in hours.tolist()
    ]


def write_dataset(folder: Path, stations: int) -> tuple[int, list[tuple[int, int, int, float]]]:
    """Write the answers; returns (readings with a value, rows for the baseline)."""
    rng = np.random.default_rng(2025)
    stamps = _stamps()
    utc = (YEAR_START + 3600 * np.arange(1, HOURS + 1)).tolist()
    station_items = []
    baseline: list[tuple[int, int, int, float]] = []
    total = 0
    for k in range(stations):
        sid = 1000 + k
        angle = 2 * np.pi * k / stations
        lat = TOWN[0] + 0.15 * np.sin(angle) * (0.3 + 0.7 * k / stations)
        lon = TOWN[1] + 0.25 * np.cos(angle) * (0.3 + 0.7 * k / stations)
        station_items.append(
            {
                "Identyfikator stacji": sid,
                "Kod stacji": f"MzBench{k:02d}",
                "Nazwa stacji": f"Stacja testowa {k}",
                "WGS84 φ N": f"{lat:.6f}",
                "WGS84 λ E": f"{lon:.6f}",
                "Nazwa miasta": "Mińsk Mazowiecki",
                "Ulica": f"ul. Testowa {k}",
                "Województwo": "MAZOWIECKIE",
            }
        )
        sensors = []
        pm10 = np.round(rng.gamma(3.0, 9.0, HOURS), 1)
        for sensor, (code, var, values) in enumerate(
            (("PM10", 3, pm10), ("PM2.5", 2, np.round(pm10 * 0.7, 1)))
        ):
            sensor_id = sid * 10 + sensor
            sensors.append(
                {
                    "Identyfikator stanowiska": sensor_id,
                    "Identyfikator stacji": sid,
                    "Wskaźnik": code,
                    "Wskaźnik - wzór": code,
                    "Wskaźnik - kod": code,
                    "Id wskaźnika": 3 if code == "PM10" else 69,
                }
            )
            nulls = rng.random(HOURS) < 0.01
            items = [
                {
                    "Nazwa stacji": f"Stacja testowa {k}",
                    "Kod stanowiska": f"MzBench{k:02d}-{code}-1g",
                    "Data": stamp,
                    "Wartość": None if null else float(v),
                }
                for stamp, v, null in zip(stamps, values.tolist(), nulls.tolist(), strict=True)
            ][::-1]
            (folder / f"archive_{sensor_id}.json").write_bytes(envelope(ARCHIVE_KEY, items))
            (folder / f"data_{sensor_id}.json").write_bytes(envelope(DATA_KEY, items[:72]))
            keep = ~nulls
            total += int(keep.sum())
            baseline += [
                (sensor_id, var, t, v)
                for t, v, ok in zip(utc, values.tolist(), keep.tolist(), strict=True)
                if ok
            ]
        key = "Lista stanowisk pomiarowych dla podanej stacji"
        (folder / f"sensors_{sid}.json").write_bytes(envelope(key, sensors))
        index = {
            "AqIndex": {
                "Identyfikator stacji pomiarowej": sid,
                "Data wykonania obliczeń indeksu": stamps[-1][:14] + "20:00",
                "Wartość indeksu": 1,
                "Nazwa kategorii indeksu": "Dobry",
                "Data danych źródłowych, z których policzono wartość indeksu dla wskaźnika st": (
                    stamps[-1]
                ),
            }
        }
        (folder / f"index_{sid}.json").write_bytes(orjson.dumps(index))
    (folder / "findAll.json").write_bytes(envelope("Lista stacji pomiarowych", station_items))
    return total, baseline


def _serve(server: PagedReplayServer, folder: Path, stations: int) -> None:
    server.add(f"{API}/station/findAll", file=folder / "findAll.json")
    for k in range(stations):
        sid = 1000 + k
        server.add(f"{API}/station/sensors/{sid}", file=folder / f"sensors_{sid}.json")
        server.add(f"{API}/aqindex/getIndex/{sid}", file=folder / f"index_{sid}.json")
        for sensor_id in (sid * 10, sid * 10 + 1):
            server.add_paged(
                f"{API}/archivalData/getDataBySensor/{sensor_id}",
                ARCHIVE_KEY,
                file=folder / f"archive_{sensor_id}.json",
                dates=True,
            )
            server.add_paged(
                f"{API}/data/getData/{sensor_id}", DATA_KEY, file=folder / f"data_{sensor_id}.json"
            )


def _server_process(folder: Path, stations: int, conn: Connection) -> None:
    with PagedReplayServer() as server:
        _serve(server, folder, stations)
        conn.send(server.url)
        conn.recv()  # until the benchmark is done
        conn.send(len(server.requests))


def _baseline(db: Path, rows: list[tuple[int, int, int, float]]) -> float:
    with open_store(f"sqlite:///{db}"):
        pass  # the same schema, by the same migrations
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO measurements (sensor_id, variable_id, time, value, flags, source_id)"
        " VALUES (?, ?, ?, ?, 0, 8) ON CONFLICT DO NOTHING",
        rows,
    )
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def run(stations: int = 50) -> None:
    with tempfile.TemporaryDirectory(prefix="sd-bench-backfill-") as tmp:
        folder = Path(tmp) / "recorded"
        folder.mkdir()
        started = time.perf_counter()
        expected, rows = write_dataset(folder, stations)
        written = time.perf_counter() - started
        bare = _baseline(Path(tmp) / "baseline.db", rows)
        url = f"sqlite:///{tmp}/backfill.db"
        settings = Settings(
            db=url,
            town_point=f"{TOWN[0]},{TOWN[1]}",
            gios_radius_km=40.0,
            gios_backfill_days=366,
        )
        ours_end, theirs = multiprocessing.get_context("fork").Pipe()
        child = multiprocessing.get_context("fork").Process(
            target=_server_process, args=(folder, stations, theirs), daemon=True
        )
        child.start()
        settings = replace(settings, gios_base_url=ours_end.recv() + API)
        with open_store(url) as store:
            with GiosImporter(IngestService(store, settings), settings=settings) as importer:
                started, cpu = time.perf_counter(), time.process_time()
                report = importer.fetch(NOW, backfill_days=366)
                ours, cpu = time.perf_counter() - started, time.process_time() - cpu
            row = store.read(lambda tx: tx.one("SELECT count(*) FROM measurements"))
            stored = int(row[0]) if row else 0
        ours_end.send("stop")
        requests = ours_end.recv()
        child.join(10)
    assert report.failures == [], report.failures
    assert stored == expected, (stored, expected)
    title = (
        f"GIOŚ backfill into SQLite ({stations} stations × 2 sensors × {HOURS} h,"
        f" {expected:,} readings, {requests:,} requests; files written in {written:.1f} s)"
    )
    table = Table(title, ["run", "seconds", "CPU seconds", "readings/s", "ratio to baseline"])
    table.add(
        "bare sqlite3 executemany of the same rows (baseline)", bare, "—", expected / bare, 1.0
    )
    table.add(
        "GiosImporter.fetch (HTTP paging, parse, UTC, flag, store, aggregate)",
        ours,
        cpu,
        expected / ours,
        bare / ours,
    )
    table.print()
    verdict = "met" if ours < 60 else "NOT met"
    print(f"\ntarget: a year of hourly history for 50 sites in < 60 s → {verdict}")


if __name__ == "__main__":
    run()

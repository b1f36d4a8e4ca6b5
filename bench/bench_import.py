"""Archive import into SQLite: readings/s, against a bare ``executemany`` of the same rows.

The data set is synthetic but in the exact archive.sensor.community layout: for each of
``nodes`` locations and ``days`` days, one SDS011 file (P1, P2) and one BME280 file (pressure in
Pa, temperature, humidity), a reading every ~145 s — like a folder of real daily files. The
baseline inserts the same rows (already resolved to ids, flags and all) into the same table with
one ``executemany`` in one transaction, with the same pragmas; the import reads the files, parses
them, resolves sensors, flags, stores raw readings and latest values and rebuilds the hourly and
daily aggregates.
"""

from __future__ import annotations

import math
import os
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Table
from smartdistricts.config import Settings
from smartdistricts.services.bulk import import_files, iter_files, parse_file
from smartdistricts.services.ingest import IngestService
from smartdistricts.services.rollup import roll_up_pending
from smartdistricts.store import open_store

DAY0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def write_dataset(folder: Path, nodes: int, days: int) -> int:
    """Write the archive files; returns the number of readings they hold."""
    rng = np.random.default_rng(2019)
    total = 0
    for d in range(days):
        day = DAY0 + d * 86400
        stamp = time.strftime("%Y-%m-%d", time.gmtime(day))
        sub = folder / stamp
        sub.mkdir(parents=True, exist_ok=True)
        for n in range(nodes):
            t = day + np.cumsum(rng.integers(143, 148, size=600))
            t = t[t < day + 86400]
            times = [time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(x))) for x in t]
            lat, lon = 52.15 + n * 0.001, 21.50 + n * 0.001
            pm25 = np.round(rng.gamma(4.0, 5.0, len(t)), 2)
            pm10 = np.round(pm25 * 1.4, 2)
            sid = 10_000 + 2 * n
            lines = [
                "sensor_id;sensor_type;location;lat;lon;timestamp;P1;durP1;ratioP1;P2;durP2;ratioP2"
            ]
            lines += [
                f"{sid};SDS011;{n};{lat:.3f};{lon:.3f};{ts};{a:.2f};;;{b:.2f};;"
                for ts, a, b in zip(times, pm10, pm25, strict=True)
            ]
            (sub / f"{stamp}_sds011_sensor_{sid}.csv").write_text("\n".join(lines) + "\n")
            temp = np.round(rng.normal(2.0, 3.0, len(t)), 2)
            rh = np.round(np.clip(rng.normal(75, 12, len(t)), 20, 100), 2)
            pa = np.round(rng.normal(100_500, 300, len(t)), 2)
            lines = [
                "sensor_id;sensor_type;location;lat;lon;timestamp;pressure;altitude;"
                "pressure_sealevel;temperature;humidity"
            ]
            lines += [
                f"{sid + 1};BME280;{n};{lat:.3f};{lon:.3f};{ts};{p:.2f};;;{x:.2f};{h:.2f}"
                for ts, p, x, h in zip(times, pa, temp, rh, strict=True)
            ]
            (sub / f"{stamp}_bme280_sensor_{sid + 1}.csv").write_text("\n".join(lines) + "\n")
            total += 5 * len(t)
    return total


def baseline_rows(files: list[str]) -> list[tuple[int, int, int, float, int, int]]:
    """The same readings as rows of the measurements table (sensor ids numbered per sensor)."""
    rows: list[tuple[int, int, int, float, int, int]] = []
    ids: dict[str, int] = {}
    for path in files:
        parsed, _source = parse_file(path)
        r = parsed.readings
        sensor_ids = np.array(
            [ids.setdefault(ref.external_id or ref.device_uid, len(ids) + 1) for ref in r.sensors],
            dtype=np.int64,
        )
        rows.extend(
            zip(
                sensor_ids[r.sensor].tolist(),
                r.variable.tolist(),
                r.time.tolist(),
                r.value.tolist(),
                [0] * len(r),
                [4] * len(r),
                strict=True,
            )
        )
    return rows


def run(nodes: int = 60, days: int = 10) -> None:
    with tempfile.TemporaryDirectory(prefix="sd-bench-import-") as tmp:
        folder = Path(tmp) / "archive"
        expected = write_dataset(folder, nodes, days)
        files = list(iter_files([str(folder)]))
        size = sum(os.path.getsize(f) for f in files)

        # Baseline: bare executemany of the same rows into the same table, one transaction.
        rows = baseline_rows(files)
        base_db = Path(tmp) / "baseline.db"
        with open_store(f"sqlite:///{base_db}") as store:
            pass  # creates the schema with the same migrations
        conn = sqlite3.connect(base_db, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA cache_size = -65536")
        started = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            "INSERT INTO measurements (sensor_id, variable_id, time, value, flags, source_id)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            rows,
        )
        conn.execute("COMMIT")
        bare = time.perf_counter() - started
        conn.close()

        # The platform's import, end to end, then the daily rollups it queued.
        db = Path(tmp) / "import.db"
        url = f"sqlite:///{db}"
        with open_store(url) as store:
            service = IngestService(store, Settings(db=url))
            started = time.perf_counter()
            summary = import_files(service, files)
            while store.write(lambda tx: roll_up_pending(tx, service.tz, limit=50_000)):
                pass
            ours = time.perf_counter() - started
            row = store.read(lambda tx: tx.one("SELECT count(*) FROM measurements"))
            stored = int(row[0]) if row else 0
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.close()
        nbytes = os.path.getsize(db)

    assert summary.imported == expected == stored, (summary.imported, expected, stored)
    title = (
        f"Archive import into SQLite ({len(files)} files, {size / 1e6:.0f} MB,"
        f" {expected:,} readings)"
    )
    table = Table(title, ["run", "seconds", "readings/s", "ratio to baseline"])
    table.add("bare sqlite3 executemany (baseline)", bare, expected / bare, 1.0)
    table.add(
        "smartdistricts import (parse, flag, store, aggregate)", ours, expected / ours, bare / ours
    )
    table.print()
    per = nbytes / stored
    size_table = Table(
        "SQLite size per stored measurement", ["database", "bytes", "readings", "bytes/reading"]
    )
    size_table.add("after import + VACUUM (with indexes and aggregates)", nbytes, stored, per)
    size_table.print()
    met = expected / ours >= 5e5 and bare / ours >= 0.5 and per <= 40
    print(
        "\ntargets: ≥ 500,000 readings/s, ≥ 50 % of the baseline, ≤ 40 bytes per reading"
        f" → {'met' if met else 'NOT met'}"
    )
    assert math.isfinite(per)


if __name__ == "__main__":
    run()

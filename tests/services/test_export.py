"""CSV and Parquet exports: columns, UTC times, filters, and values that round-trip exactly."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from smartdistricts.nomenclature import Flag, variable
from smartdistricts.services.export import ExportQuery, export_csv, export_parquet
from smartdistricts.services.ingest import IngestService, StreamBatch
from smartdistricts.services.registry import add_device, add_site
from smartdistricts.store.base import Store

T0 = 1_781_042_400  # 2026-06-09T22:00:00Z
VALUES = [0.1, 1 / 3, 1e-300, 123456.789, 2.5e-7, 999.8999999999999, 17.0, 1500.0]
#: (device, sensor type, variable, time offset, value index)
READINGS = [
    (dev, sensor, var, 100 * k + j, k % len(VALUES))
    for j, (dev, sensor, var) in enumerate(
        [
            ("node-a", "SDS011", "pm2_5"),
            ("node-a", "SDS011", "pm10"),
            ("node-a", "BME280", "temp_air"),
            ("node-b", "SDS011", "pm2_5"),
            ("loose", "SDS011", "pm2_5"),
        ]
    )
    for k in range(12)
]
SITES = {"node-a": "rynek", "node-b": "dworzec", "loose": ""}


@pytest.fixture
def data(service: IngestService, store: Store) -> list[tuple[str, str, int, str, float, int]]:
    """Readings stored through ingest; returns the rows an export of everything must give."""
    add_site(store, name="Rynek", latitude=52.18, longitude=21.56)
    add_site(store, name="Dworzec", latitude=52.17, longitude=21.55)
    add_device(store, "node-a", site="rynek")
    add_device(store, "node-b", site="dworzec")
    add_device(store, "loose")
    rows = []
    pushes: dict[str, list[tuple[str, int, int, float]]] = {}
    for dev, sensor, name, offset, k in READINGS:
        t, value = T0 + offset, VALUES[k] if name != "temp_air" else -VALUES[k] / 1e3
        pushes.setdefault(dev, []).append((sensor, variable(name).id, t, value))
        flags = int(Flag.OUT_OF_RANGE) if variable(name).implausible(value) else 0
        rows.append((SITES[dev], f"{dev}/{sensor}", t, name, value, flags))
    for dev, readings in pushes.items():
        assert service.write(StreamBatch(dev, readings, "push", T0 + 1200)).stored == len(readings)
    return rows


def ordered(rows: list[tuple[str, str, int, str, float, int]]) -> list[Any]:
    """Export order: sensor, variable, time (sensors numbered as the devices were added)."""
    devices = ["node-a/SDS011", "node-a/BME280", "node-b/SDS011", "loose/SDS011"]
    return sorted(rows, key=lambda r: (devices.index(r[1]), variable(r[3]).id, r[2]))


def iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_csv(store: Store, query: ExportQuery) -> tuple[int, list[list[str]]]:
    out = io.StringIO()
    n = export_csv(store, out, query)
    return n, list(csv.reader(io.StringIO(out.getvalue())))


def test_csv_has_the_documented_columns_and_exact_values(store: Store, data: list[Any]) -> None:
    n, rows = read_csv(store, ExportQuery(with_flags=True))
    assert rows[0] == ["site", "sensor", "time", "variable", "value", "flags"]
    assert n == len(rows) - 1 == len(data)
    want = [
        [s, sensor, iso(t), name, value, str(f)] for s, sensor, t, name, value, f in ordered(data)
    ]
    got = [[*r[:4], float(r[4]), r[5]] for r in rows[1:]]
    assert got == want  # float(text) == value: exact round trip
    assert all(r[2].endswith("Z") and len(r[2]) == 20 for r in rows[1:])


def test_csv_without_flags(store: Store, data: list[Any]) -> None:
    _, rows = read_csv(store, ExportQuery())
    assert rows[0] == ["site", "sensor", "time", "variable", "value"]
    assert {len(r) for r in rows} == {5}


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        (ExportQuery(site="rynek"), lambda r: r[0] == "rynek"),
        (ExportQuery(variables=("pm10", "temp_air")), lambda r: r[3] in ("pm10", "temp_air")),
        (ExportQuery(since=T0 + 300, until=T0 + 700), lambda r: T0 + 300 <= r[2] < T0 + 700),
        (
            ExportQuery(since=T0 + 1, site="dworzec", variables=("pm2_5",)),
            lambda r: r[0] == "dworzec" and r[2] >= T0 + 1,
        ),
        (ExportQuery(site="nowhere"), lambda r: False),
    ],
)
def test_filters(store: Store, data: list[Any], query: ExportQuery, keep: Any) -> None:
    n, rows = read_csv(store, query)
    want = [(s, sensor, iso(t), name, value) for s, sensor, t, name, value, _ in ordered(data)]
    assert [(*r[:4], float(r[4])) for r in rows[1:]] == [
        w for w, d in zip(want, ordered(data), strict=True) if keep(d)
    ]
    assert n == len(rows) - 1


def test_parquet_round_trips_exactly(store: Store, data: list[Any], tmp_path: Path) -> None:
    path = tmp_path / "export.parquet"
    assert export_parquet(store, str(path), ExportQuery(with_flags=True)) == len(data)
    table = pq.read_table(path)
    assert table.schema.names == ["site", "sensor", "time", "variable", "value", "flags"]
    time_type = table.schema.field("time").type
    assert pa.types.is_timestamp(time_type) and time_type.tz == "UTC"  # Parquet has no [s]: ms
    assert table.schema.field("value").type == pa.float64()
    assert table.schema.field("flags").type == pa.int16()
    got = table.to_pylist()
    want = ordered(data)
    assert [r["value"] for r in got] == [w[4] for w in want]
    assert [r["time"] for r in got] == [datetime.fromtimestamp(w[2], UTC) for w in want]
    assert [(r["site"], r["sensor"], r["variable"], r["flags"]) for r in got] == [
        (w[0] or None, w[1], w[3], w[5]) for w in want
    ]


def test_parquet_filters_and_empty_exports(store: Store, data: list[Any], tmp_path: Path) -> None:
    path = tmp_path / "pm10.parquet"
    assert export_parquet(store, str(path), ExportQuery(variables=("pm10",))) == 12
    table = pq.read_table(path)
    assert table.schema.names == ["site", "sensor", "time", "variable", "value"]
    assert set(table.column("variable").to_pylist()) == {"pm10"}
    empty = tmp_path / "empty.parquet"
    assert export_parquet(store, str(empty), ExportQuery(since=T0 + 10**6)) == 0
    assert pq.read_table(empty).num_rows == 0
    assert pq.read_table(empty).schema.names == table.schema.names


def test_an_empty_database_exports_a_header(store: Store) -> None:
    n, rows = read_csv(store, ExportQuery())
    assert (n, rows) == (0, [["site", "sensor", "time", "variable", "value"]])


def test_unknown_variables_are_refused(store: Store) -> None:
    with pytest.raises(KeyError, match="pm3"):
        read_csv(store, ExportQuery(variables=("pm3",)))

"""Export raw measurements as CSV or Parquet: ``site, sensor, time, variable, value``.

``sensor`` is ``<device uid>/<sensor type>``; ``time`` is UTC (ISO 8601 with ``Z`` in CSV, a
UTC timestamp column in Parquet). Optional columns: ``flags`` (the quality bits) and
``value_corrected`` (the humidity-corrected value of PM readings, see ``services/corrected.py``;
empty elsewhere). Rows are streamed in chunks, so exports larger than memory work.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from smartdistricts.config import Settings
from smartdistricts.nomenclature import variable
from smartdistricts.services.corrected import humidity_corrected
from smartdistricts.store.base import Store, Tx

__all__ = ["ExportQuery", "export_csv", "export_parquet"]

COLUMNS = ["site", "sensor", "time", "variable", "value"]


@dataclass(frozen=True, slots=True)
class ExportQuery:
    since: int | None = None
    until: int | None = None
    site: str | None = None
    variables: tuple[str, ...] = ()
    with_flags: bool = False
    #: Add ``value_corrected`` computed with these settings (humidity pairing, kappa).
    corrected: Settings | None = None

    @property
    def columns(self) -> list[str]:
        return (
            COLUMNS
            + (["flags"] if self.with_flags else [])
            + (["value_corrected"] if self.corrected else [])
        )

    def sql(self) -> tuple[str, list[Any]]:
        where = ["1 = 1"]
        params: list[Any] = []
        if self.since is not None:
            where.append("m.time >= ?")
            params.append(self.since)
        if self.until is not None:
            where.append("m.time < ?")
            params.append(self.until)
        if self.site is not None:
            where.append("st.slug = ?")
            params.append(self.site)
        if self.variables:
            ids = [variable(v).id for v in self.variables]
            where.append(f"m.variable_id IN ({','.join('?' * len(ids))})")
            params.extend(ids)
        sql = (
            "SELECT st.slug, d.uid || '/' || s.type, m.time, m.variable_id, m.value, m.flags,"
            " m.sensor_id"
            " FROM measurements m JOIN sensors s ON s.id = m.sensor_id"
            " JOIN devices d ON d.id = s.device_id LEFT JOIN sites st ON st.id = d.site_id"
            f" WHERE {' AND '.join(where)} ORDER BY m.sensor_id, m.variable_id, m.time"
        )
        return sql, params


def _chunks(tx: Tx, query: ExportQuery) -> Iterator[list[tuple[Any, ...]]]:
    sql, params = query.sql()
    yield from tx.stream(sql, params, 50_000)


def _corrected(tx: Tx, chunk: list[tuple[Any, ...]], settings: Settings) -> list[float]:
    cols = list(zip(*chunk, strict=True))
    fixed: list[float] = humidity_corrected(
        tx,
        np.asarray(cols[6], dtype=np.int64),
        np.asarray(cols[3], dtype=np.int64),
        np.asarray(cols[2], dtype=np.int64),
        np.asarray(cols[4], dtype=np.float64),
        settings,
    ).tolist()
    return fixed


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_csv(store: Store, out: IO[str], query: ExportQuery) -> int:
    """Write CSV to ``out``; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(query.columns)
    names: dict[int, str] = {}
    n = 0
    with store.reader() as tx:
        for chunk in _chunks(tx, query):
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            fixed = _corrected(tx, chunk, query.corrected) if query.corrected else None
            for i, (site, sensor, t, var, value, flags, _sid) in enumerate(chunk):
                name = names.get(var) or names.setdefault(int(var), variable(int(var)).name)
                row: list[object] = [site or "", sensor, _iso(int(t)), name, repr(float(value))]
                if query.with_flags:
                    row.append(int(flags))
                if fixed is not None:
                    row.append("" if math.isnan(fixed[i]) else repr(fixed[i]))
                w.writerow(row)
            out.write(buf.getvalue())
            n += len(chunk)
    return n


def export_parquet(store: Store, path: str, query: ExportQuery) -> int:
    """Write a Parquet file; returns the number of rows."""
    fields = [
        pa.field("site", pa.string()),
        pa.field("sensor", pa.string()),
        pa.field("time", pa.timestamp("s", tz="UTC")),
        pa.field("variable", pa.string()),
        pa.field("value", pa.float64()),
    ]
    if query.with_flags:
        fields.append(pa.field("flags", pa.int16()))
    if query.corrected:
        fields.append(pa.field("value_corrected", pa.float64()))
    schema = pa.schema(fields)
    n = 0
    with store.reader() as tx, pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for chunk in _chunks(tx, query):
            cols = list(zip(*chunk, strict=True))
            arrays = [
                pa.array(cols[0], pa.string()),
                pa.array(cols[1], pa.string()),
                pa.array(cols[2], pa.int64()).cast(pa.timestamp("s", tz="UTC")),
                pa.array([variable(int(v)).name for v in cols[3]], pa.string()),
                pa.array(cols[4], pa.float64()),
            ]
            if query.with_flags:
                arrays.append(pa.array(cols[5], pa.int16()))
            if query.corrected:
                fixed = np.asarray(_corrected(tx, chunk, query.corrected))
                arrays.append(pa.array(fixed, pa.float64(), mask=np.isnan(fixed)))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            n += len(chunk)
        if n == 0:
            writer.write_table(schema.empty_table())
    return n

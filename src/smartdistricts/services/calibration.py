"""Co-location calibration: pair a low-cost sensor with a reference site, fit, store, apply.

* :func:`calibrate` pairs the hourly means of a low-cost PM sensor (chosen by device or site)
  with the hourly means of the same variable at a reference site (e.g. a GIOŚ station) over a
  period, adds the device's own hourly relative humidity, fits ``reference ≈ a + b·pm + c·f``
  (:mod:`smartdistricts.calc.calibration`) and, with ``save``, stores the fit in
  ``calibrations``.
* :func:`calibrated_series` applies the newest stored fit of each series to hourly rows on read
  (the native API's ``correction=calibrated``). Raw readings and stored aggregates are never
  changed; deleting the fit brings back the raw view.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from smartdistricts.calc.calibration import (
    Calibration,
    CalibrationFit,
    apply_calibration,
    fit_calibration,
)
from smartdistricts.nomenclature import variable
from smartdistricts.services.registry import RegistryError, find_site
from smartdistricts.services.series import Series
from smartdistricts.store.base import Row, Store, Tx

__all__ = [
    "CalibrationReport",
    "calibrate",
    "calibrated_series",
    "save_calibration",
    "stored_calibrations",
]

HOUR = 3600
_RH = "relative_humidity"


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """What :func:`calibrate` did: the series paired, the period [Unix s], the fit, the id of
    the stored row (None when not saved)."""

    sensor_id: int
    sensor: str
    variable: str
    reference: str
    reference_site_id: int
    since: int
    until: int
    pairs: int
    fit: CalibrationFit
    saved_id: int | None = None


def _pm_sensor(
    tx: Tx, where: str, key: object, vid: int, since: int, until: int
) -> tuple[int, int, str]:
    """(sensor id, device id, ``uid/type``) of the sensor with the most hours of the variable."""
    row = tx.one(
        "SELECT h.sensor_id, s.device_id, d.uid || '/' || s.type, count(*) FROM hourly h"
        " JOIN sensors s ON s.id = h.sensor_id JOIN devices d ON d.id = s.device_id"
        f" WHERE {where} AND h.variable_id = ? AND h.hour >= ? AND h.hour < ? AND h.n > 0"
        " GROUP BY h.sensor_id, s.device_id, d.uid, s.type ORDER BY 4 DESC, 1 LIMIT 1",
        (key, vid, since, until),
    )
    if row is None:
        raise RegistryError(f"no hourly {variable(vid).name} of {key!r} in the period")
    return int(row[0]), int(row[1]), str(row[2])


def _hours(rows: Sequence[Row]) -> dict[int, float]:
    return {int(h): float(v) for h, v in rows}


def _device_humidity(tx: Tx, device_id: int, since: int, until: int) -> dict[int, float]:
    return _hours(
        tx.query(
            "SELECT h.hour, avg(h.total / h.n) FROM hourly h JOIN sensors s ON s.id = h.sensor_id"
            " WHERE s.device_id = ? AND h.variable_id = ? AND h.hour >= ? AND h.hour < ?"
            " AND h.n > 0 GROUP BY h.hour",
            (device_id, variable(_RH).id, since, until),
        )
    )


def _pairs(
    tx: Tx, *, device: str | None, site: str | None, reference: str, name: str, since: int,
    until: int,
) -> tuple[int, str, int, str, NDArray[np.float64]]:  # fmt: skip
    """(sensor id, sensor label, reference site id, slug, matrix of [hour, pm, rh, ref])."""
    vid = variable(name).id
    if device is not None:
        sensor, device_id, label = _pm_sensor(tx, "d.uid = ?", device, vid, since, until)
    elif site is not None:
        site_id = find_site(tx, site).id
        sensor, device_id, label = _pm_sensor(tx, "d.site_id = ?", site_id, vid, since, until)
    else:
        raise ValueError("give a device or a site")
    ref = find_site(tx, reference)
    pm = _hours(
        tx.query(
            "SELECT hour, total / n FROM hourly WHERE sensor_id = ? AND variable_id = ?"
            " AND hour >= ? AND hour < ? AND n > 0",
            (sensor, vid, since, until),
        )
    )
    truth = _hours(
        tx.query(
            "SELECT h.hour, avg(h.total / h.n) FROM hourly h JOIN sensors s ON s.id = h.sensor_id"
            " JOIN devices d ON d.id = s.device_id WHERE d.site_id = ? AND h.sensor_id <> ?"
            " AND h.variable_id = ? AND h.hour >= ? AND h.hour < ? AND h.n > 0 GROUP BY h.hour",
            (ref.id, sensor, vid, since, until),
        )
    )
    rh = _device_humidity(tx, device_id, since, until)
    hours = sorted(set(pm) & set(truth))
    matrix = np.array(
        [(h, pm[h], rh.get(h, np.nan), truth[h]) for h in hours], dtype=np.float64
    ).reshape(-1, 4)
    return sensor, label, ref.id, ref.slug, matrix


def calibrate(
    store: Store,
    *,
    reference: str,
    since: int,
    until: int,
    device: str | None = None,
    site: str | None = None,
    variable_name: str = "pm2_5",
    term: str = "rh",
    test_fraction: float = 0.25,
    save: bool = False,
) -> CalibrationReport:
    """Pair, fit and (``save``) store a calibration of a device's (or a site's) PM sensor.

    ``device`` is a device uid, ``site`` and ``reference`` a site id or slug; the period is
    ``[since, until)`` [Unix s]. Raises ``RegistryError`` for unknown names and ``ValueError``
    for too few or degenerate pairs.
    """
    sensor, label, ref_id, ref_slug, m = store.read(
        lambda tx: _pairs(
            tx, device=device, site=site, reference=reference, name=variable_name,
            since=since, until=until,
        )
    )  # fmt: skip
    fit = fit_calibration(m[:, 1], m[:, 2], m[:, 3], term=term, test_fraction=test_fraction)
    report = CalibrationReport(
        sensor, label, variable_name, ref_slug, ref_id, since, until, len(m), fit
    )
    if save:
        saved = store.write(lambda tx: save_calibration(tx, report))
        report = dataclasses.replace(report, saved_id=saved)
    return report


def _number(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def save_calibration(tx: Tx, report: CalibrationReport) -> int:
    """Store the report's fit; returns its id."""
    fit, cal = report.fit, report.fit.calibration
    return tx.insert_id(
        "INSERT INTO calibrations (sensor_id, variable_id, reference_site_id, period_from,"
        " period_to, term, a, b, c, n_train, n_test, r2_before, bias_before, rmse_before,"
        " r2_after, bias_after, rmse_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
        " ?, ?, ?) RETURNING id",
        (
            report.sensor_id,
            variable(report.variable).id,
            report.reference_site_id,
            report.since,
            report.until,
            cal.term,
            cal.a,
            cal.b,
            cal.c,
            fit.n_train,
            fit.n_test,
            _number(fit.before.r2),
            fit.before.bias,
            fit.before.rmse,
            _number(fit.after.r2),
            fit.after.bias,
            fit.after.rmse,
        ),
    )


def stored_calibrations(tx: Tx, sensor_ids: Sequence[int]) -> dict[tuple[int, int], Calibration]:
    """The newest stored fit of each (sensor, variable) of ``sensor_ids``."""
    if not sensor_ids:
        return {}
    marks = ",".join("?" * len(sensor_ids))
    rows = tx.query(
        f"SELECT sensor_id, variable_id, a, b, c, term FROM calibrations"
        f" WHERE sensor_id IN ({marks}) ORDER BY id",
        list(sensor_ids),
    )
    return {
        (int(s), int(v)): Calibration(float(a), float(b), float(c), str(t))
        for s, v, a, b, c, t in rows
    }


def calibrated_series(tx: Tx, series: list[Series]) -> list[Series]:
    """Hourly series (rows as from ``services.series.hourly_series``) with each stored fit
    applied to the hour's mean, minimum and maximum, paired with the device's hourly humidity
    (3 decimals); series without a stored fit are left out."""
    fits = stored_calibrations(tx, sorted({s for s, _v, _r in series}))
    out: list[Series] = []
    for sensor, vid, rows in series:
        cal = fits.get((sensor, vid))
        if cal is None or not rows:
            continue
        hours = [int(r[2]) for r in rows]
        rh_map: dict[int, float] = {}
        if cal.term != "none":
            device = tx.one("SELECT device_id FROM sensors WHERE id = ?", (sensor,))
            assert device is not None
            rh_map = _device_humidity(tx, int(device[0]), hours[0], hours[-1] + HOUR)
        rh = np.array([rh_map.get(h, np.nan) for h in hours])
        columns = []
        for j in (3, 4, 5):
            raw = np.array([np.nan if r[j] is None else r[j] for r in rows], dtype=np.float64)
            fixed = np.round(apply_calibration(cal, raw, rh), 3)
            columns.append([None if np.isnan(x) else x for x in fixed.tolist()])
        out.append(
            (
                sensor,
                vid,
                [
                    (r[0], r[1], r[2], mean, low, high, r[6], r[7])
                    for r, mean, low, high in zip(rows, *columns, strict=True)
                ],
            )
        )
    return out

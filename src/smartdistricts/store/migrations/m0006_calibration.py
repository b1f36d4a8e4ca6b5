"""Per-device calibration fits.

``calibrations`` keeps every fit saved by ``smartdistricts calibrate --save``: the low-cost PM
sensor and variable it corrects, the reference site it was paired with, the period of the pairs,
the coefficients of ``corrected = a + b·pm + c·f(pm, RH)`` with the humidity ``term``, the pair
counts and the held-out metrics before and after (``calc/calibration.py``). The newest fit of a
sensor and variable is the one applied; raw readings are never changed.
"""

from __future__ import annotations

NAME = "per-device calibration fits"

STATEMENTS: list[str] = [
    """
    CREATE TABLE calibrations (
        id {pk},
        sensor_id {bigint} NOT NULL REFERENCES sensors(id) ON DELETE CASCADE,
        variable_id {smallint} NOT NULL,
        reference_site_id {bigint} REFERENCES sites(id) ON DELETE SET NULL,
        period_from {bigint} NOT NULL,
        period_to {bigint} NOT NULL,
        term TEXT NOT NULL,
        a {real} NOT NULL,
        b {real} NOT NULL,
        c {real} NOT NULL,
        n_train {bigint} NOT NULL,
        n_test {bigint} NOT NULL,
        r2_before {real},
        bias_before {real},
        rmse_before {real},
        r2_after {real},
        bias_after {real},
        rmse_after {real},
        created_at {bigint} NOT NULL DEFAULT ({now})
    )
    """,
    "CREATE INDEX calibrations_sensor ON calibrations (sensor_id, variable_id, id)",
]

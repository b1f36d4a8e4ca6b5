"""The humidity-corrected PM series: raw readings divided by the κ-Köhler growth factor.

Offered next to the raw values, never instead of them: each PM reading is paired with its node's
relative humidity nearest in time (within ``humidity_pairing_s``, as for the HUMID flag) and
corrected with ``calc.humidity.kohler_correction`` using the configured ``kappa``. A reading
without a humidity partner has no corrected value (NaN).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from smartdistricts.calc.humidity import kohler_correction
from smartdistricts.calc.quality import nearest_within
from smartdistricts.config import Settings
from smartdistricts.services.flagging import PM_IDS, device_humidity
from smartdistricts.store.base import Tx

__all__ = ["humidity_corrected"]


def humidity_corrected(
    tx: Tx,
    sensor: NDArray[np.int64],
    variable: NDArray[np.int64],
    times: NDArray[np.int64],
    values: NDArray[np.float64],
    settings: Settings,
) -> NDArray[np.float64]:
    """Corrected values [µg/m³] for PM readings; NaN for other variables or without humidity.

    The arrays describe stored readings (sensor id, variable id, Unix time, value).
    """
    out = np.full(len(values), np.nan)
    is_pm = np.isin(variable, PM_IDS)
    if not is_pm.any():
        return out
    ids = np.unique(sensor[is_pm]).tolist()
    marks = ",".join("?" * len(ids))
    device_of: dict[int, int] = {
        int(s): int(d)
        for s, d in tx.query(f"SELECT id, device_id FROM sensors WHERE id IN ({marks})", ids)
    }
    window = settings.humidity_pairing_s
    for sid in ids:
        rows = np.flatnonzero(is_pm & (sensor == sid))
        t = times[rows]
        rh_t, rh_v = device_humidity(
            tx, int(device_of[sid]), int(t.min()) - window, int(t.max()) + window
        )
        pick = nearest_within(t, rh_t, window)
        rh = np.where(pick >= 0, rh_v[np.maximum(pick, 0)] if len(rh_v) else np.nan, np.nan)
        out[rows] = kohler_correction(values[rows], rh, kappa=settings.kappa)
    return np.round(out, 3)

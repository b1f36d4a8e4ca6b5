"""Humidity correction for low-cost optical particulate sensors (κ-Köhler, bulk form)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["DEFAULT_KAPPA", "kohler_correction", "kohler_growth"]

#: Default hygroscopicity κ: the middle of the 0.2–0.62 range reported for urban aerosol;
#: site-specific, so configurable.
DEFAULT_KAPPA = 0.4
#: Water activity is capped here: the growth factor tends to infinity as RH → 100 %.
MAX_WATER_ACTIVITY = 0.95


def kohler_growth(
    relative_humidity: ArrayLike,
    *,
    kappa: float = DEFAULT_KAPPA,
    max_water_activity: float = MAX_WATER_ACTIVITY,
) -> NDArray[np.float64]:
    """Mass growth factor C(a_w) of hygroscopic particles.

    Parameters
    ----------
    relative_humidity : array of float
        Relative humidity [%], taken as the water activity a_w = RH/100.
    kappa : float, default 0.4
        Hygroscopicity parameter κ [-].
    max_water_activity : float, default 0.95
        a_w is capped here [-].

    Returns
    -------
    growth : array of float
        C = 1 + (κ / 1.65) / (1/a_w − 1) [-]; NaN where RH is NaN.

    Notes
    -----
    Bulk form of κ-Köhler theory for the mass concentration, with 1.65 the assumed dry
    particle density relative to water; valid for RH below saturation. Not a substitute for a
    co-location calibration.

    References
    ----------
    [CRILLEY2018] Crilley et al., AMT 11, 709 (2018); [DIANTONIO2018] Di Antonio et al.,
    Sensors 18(9):2790, doi:10.3390/s18092790.

    Examples
    --------
    >>> round(float(kohler_growth(50.0, kappa=0.4)), 4)
    1.2424
    """
    if not 0 < max_water_activity < 1:
        raise ValueError("max_water_activity must lie strictly between 0 and 1")
    if kappa < 0:
        raise ValueError("kappa must be non-negative")
    aw = np.clip(np.asarray(relative_humidity, dtype=np.float64) / 100.0, 1e-6, max_water_activity)
    return 1.0 + (kappa / 1.65) / (1.0 / aw - 1.0)


def kohler_correction(
    pm: ArrayLike,
    relative_humidity: ArrayLike,
    *,
    kappa: float = DEFAULT_KAPPA,
    max_water_activity: float = MAX_WATER_ACTIVITY,
) -> NDArray[np.float64]:
    """Dry-equivalent PM from a humid-air reading: ``pm / kohler_growth(rh)``.

    Parameters
    ----------
    pm : array of float
        Measured particulate mass concentration [µg/m³].
    relative_humidity : array of float
        Relative humidity of the same node at the same time [%].
    kappa, max_water_activity : float
        See :func:`kohler_growth`.

    Returns
    -------
    pm_corrected : array of float
        [µg/m³]; NaN where either input is NaN.

    References
    ----------
    [CRILLEY2018]; [SC-HUMIDITY] Sensor.Community wiki "Correction for humidity".

    Examples
    --------
    >>> kohler_correction([20.0, 20.0], [40.0, 90.0]).round(2).tolist()
    [17.22, 6.29]
    """
    return np.asarray(pm, dtype=np.float64) / kohler_growth(
        relative_humidity, kappa=kappa, max_water_activity=max_water_activity
    )

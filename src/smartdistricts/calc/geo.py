"""Small geodesy helpers: great-circle distance and point-in-polygon for GeoJSON geometries."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["EARTH_RADIUS_KM", "haversine_km", "points_in_geometry"]

#: Mean Earth radius [km] (IUGG).
EARTH_RADIUS_KM = 6371.0088


def haversine_km(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance on a spherical Earth.

    Parameters
    ----------
    lat1, lon1, lat2, lon2 : array of float
        Coordinates [degrees, WGS84]; broadcastable.

    Returns
    -------
    distance : array of float
        [km]. The spherical model errs by up to about 0.5 % against the ellipsoid.

    Examples
    --------
    >>> round(float(haversine_km(52.2297, 21.0122, 52.1795, 21.5593)), 1)  # Warsaw → Mińsk Maz.
    37.7
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1))), dtype=np.float64)


def _in_ring(x: NDArray[np.float64], y: NDArray[np.float64], ring: Any) -> NDArray[np.bool_]:
    """Even–odd ray casting of points (x, y) against one ring (closed here if it is not)."""
    pts = np.asarray(ring, dtype=np.float64)
    if len(pts) and not np.array_equal(pts[0], pts[-1]):
        pts = np.vstack([pts, pts[:1]])
    xi, yi = pts[:-1, 0], pts[:-1, 1]
    xj, yj = pts[1:, 0], pts[1:, 1]
    inside = np.zeros(x.shape, dtype=bool)
    for a, b, c, d in zip(xi, yi, xj, yj, strict=True):
        crosses = (b > y) != (d > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = (c - a) * (y - b) / (d - b) + a
        inside ^= crosses & (x < x_at)
    return inside


def points_in_geometry(
    longitude: ArrayLike, latitude: ArrayLike, geometry: dict[str, Any]
) -> NDArray[np.bool_]:
    """Which points lie inside a GeoJSON ``Polygon`` or ``MultiPolygon`` (holes respected).

    Examples
    --------
    >>> square = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}
    >>> points_in_geometry([1, 3], [1, 1], square).tolist()
    [True, False]
    """
    x = np.atleast_1d(np.asarray(longitude, dtype=np.float64))
    y = np.atleast_1d(np.asarray(latitude, dtype=np.float64))
    kind = geometry.get("type")
    if kind == "Polygon":
        polygons = [geometry["coordinates"]]
    elif kind == "MultiPolygon":
        polygons = geometry["coordinates"]
    else:
        raise ValueError(f"geometry: expected Polygon or MultiPolygon, got {kind!r}")
    result = np.zeros(x.shape, dtype=bool)
    for rings in polygons:
        inside = _in_ring(x, y, rings[0])
        for hole in rings[1:]:
            inside &= ~_in_ring(x, y, hole)
        result |= inside
    return result

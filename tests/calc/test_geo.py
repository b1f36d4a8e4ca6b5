"""Great-circle distances and point-in-polygon tests on GeoJSON geometries."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from smartdistricts.calc.geo import EARTH_RADIUS_KM, haversine_km, points_in_geometry


def ring(*points: tuple[float, float]) -> list[list[float]]:
    closed = [*points, points[0]]
    return [[x, y] for x, y in closed]


SQUARE = ring((0, 0), (10, 0), (10, 10), (0, 10))
HOLE = ring((4, 4), (6, 4), (6, 6), (4, 6))
POLYGON_WITH_HOLE = {"type": "Polygon", "coordinates": [SQUARE, HOLE]}
#: A U shape: concave, so a ray from the gap crosses the boundary twice.
U_SHAPE = {
    "type": "Polygon",
    "coordinates": [ring((0, 0), (6, 0), (6, 6), (4, 6), (4, 2), (2, 2), (2, 6), (0, 6))],
}
MULTI = {
    "type": "MultiPolygon",
    "coordinates": [[SQUARE, HOLE], [ring((20, 20), (22, 20), (22, 22), (20, 22))]],
}


# -- haversine ------------------------------------------------------------------------------------
def test_distance_warsaw_to_minsk_mazowiecki() -> None:
    assert float(haversine_km(52.2297, 21.0122, 52.1795, 21.5593)) == pytest.approx(37.7, abs=0.05)


def test_distance_special_cases() -> None:
    assert float(haversine_km(52.0, 21.0, 52.0, 21.0)) == 0.0
    assert float(haversine_km(0, 0, 0, 180)) == pytest.approx(math.pi * EARTH_RADIUS_KM)
    assert float(haversine_km(0, 0, 90, 0)) == pytest.approx(math.pi / 2 * EARTH_RADIUS_KM)
    assert float(haversine_km(0, 0, 0, 1)) == pytest.approx(111.195, abs=1e-3)  # 1° of equator
    assert float(haversine_km(10, 179.5, 10, -179.5)) == pytest.approx(
        float(haversine_km(10, 0, 10, 1))
    )


def test_distance_is_symmetric_and_vectorised() -> None:
    lat, lon = np.array([52.1, 52.2, -33.9]), np.array([21.5, 21.6, 151.2])
    there = haversine_km(52.18, 21.56, lat, lon)
    back = haversine_km(lat, lon, 52.18, 21.56)
    assert there.shape == (3,)
    assert there.tolist() == pytest.approx(back.tolist())
    assert haversine_km(np.array([]), np.array([]), 0.0, 0.0).shape == (0,)
    assert np.isnan(haversine_km(np.nan, 0.0, 0.0, 0.0))


# -- point in polygon -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "y", "inside"),
    [
        (1, 1, True),
        (9.9, 5, True),
        (5, 5, False),  # in the hole
        (3.9, 5, True),  # next to the hole
        (11, 5, False),
        (-1, 5, False),
        (5, -0.1, False),
    ],
)
def test_polygon_with_a_hole(x: float, y: float, inside: bool) -> None:
    assert points_in_geometry([x], [y], POLYGON_WITH_HOLE).tolist() == [inside]


def test_concave_polygon() -> None:
    x = [1, 3, 5, 3, 7]
    y = [4, 4, 4, 1, 4]
    assert points_in_geometry(x, y, U_SHAPE).tolist() == [True, False, True, True, False]


def test_multipolygon_parts_and_holes() -> None:
    x = [1, 5, 21, 15, 21]
    y = [1, 5, 21, 15, 23]
    assert points_in_geometry(x, y, MULTI).tolist() == [True, False, True, False, False]


def test_scalars_empty_input_and_nan() -> None:
    assert points_in_geometry(1.0, 1.0, POLYGON_WITH_HOLE).tolist() == [True]
    assert points_in_geometry([], [], POLYGON_WITH_HOLE).shape == (0,)
    assert points_in_geometry([np.nan, 1.0], [1.0, np.nan], POLYGON_WITH_HOLE).tolist() == [
        False,
        False,
    ]


def test_an_unclosed_ring_is_closed() -> None:
    """RFC 7946 rings repeat their first point; a ring that does not is read as if it did."""
    open_triangle = {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [0, 4]]]}
    closed_triangle = {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [0, 4], [0, 0]]]}
    x, y = [1, -1, 3, 1], [1, 1, 3, 2.5]
    want = [True, False, False, True]
    assert points_in_geometry(x, y, closed_triangle).tolist() == want
    assert points_in_geometry(x, y, open_triangle).tolist() == want


def test_winding_order_does_not_matter() -> None:
    clockwise = {"type": "Polygon", "coordinates": [SQUARE[::-1], HOLE[::-1]]}
    x, y = [1, 5, 11], [1, 5, 5]
    assert points_in_geometry(x, y, clockwise).tolist() == [True, False, False]


@pytest.mark.parametrize(
    "geometry",
    [{"type": "Point", "coordinates": [0, 0]}, {"coordinates": [SQUARE]}, {"type": "polygon"}],
)
def test_other_geometries_are_refused(geometry: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="geometry: expected Polygon or MultiPolygon"):
        points_in_geometry([0], [0], geometry)

"""The packaged demo town: valid, non-overlapping polygons and sites inside their districts."""

from __future__ import annotations

import json
import re
from importlib.resources import files
from itertools import pairwise
from pathlib import Path

import pytest

import smartdistricts.demo
from smartdistricts.demo import PROFILES, DemoTown, load_town

Point = tuple[float, float]
Ring = list[Point]

# Facts from the town's air-quality page (https://www.minsk-maz.pl/991,jakosc-powietrza):
# four sensors bought in 2019 with "MAZOWSZE 2019" money, at these addresses.
CITY_SENSORS = {
    ("Małopolska", "11"),
    ("Sosnkowskiego", "1"),
    ("Wyszyńskiego", "56"),
    ("Przemysłowa", "7"),
}


@pytest.fixture(scope="module")
def town() -> DemoTown:
    return load_town()


def outer_ring(geometry: dict[str, object]) -> Ring:
    assert geometry["type"] == "Polygon"
    rings = geometry["coordinates"]
    assert isinstance(rings, list)
    return [(float(p[0]), float(p[1])) for p in rings[0]]


def signed_area(ring: Ring) -> float:
    """Shoelace area in degrees² (positive = counter-clockwise in lon/lat)."""
    return 0.5 * sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairwise(ring))


def orientation(a: Point, b: Point, c: Point) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def segments_cross(a: Point, b: Point, c: Point, d: Point) -> bool:
    """True when segments ab and cd intersect (touching included)."""
    d1, d2 = orientation(c, d, a), orientation(c, d, b)
    d3, d4 = orientation(a, b, c), orientation(a, b, d)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True

    def on_segment(p: Point, q: Point, r: Point) -> bool:
        return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(
            p[1], q[1]
        )

    return (
        (d1 == 0 and on_segment(c, d, a))
        or (d2 == 0 and on_segment(c, d, b))
        or (d3 == 0 and on_segment(a, b, c))
        or (d4 == 0 and on_segment(a, b, d))
    )


def segments_cross_properly(a: Point, b: Point, c: Point, d: Point) -> bool:
    """True when ab and cd cross at a single interior point of both (no shared vertices)."""
    d1, d2 = orientation(c, d, a), orientation(c, d, b)
    d3, d4 = orientation(a, b, c), orientation(a, b, d)
    return d1 * d2 < 0 and d3 * d4 < 0


def contains(ring: Ring, point: Point) -> bool:
    """Ray casting point-in-polygon (points exactly on an edge may go either way)."""
    x, y = point
    inside = False
    for (x0, y0), (x1, y1) in pairwise(ring):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def on_boundary(ring: Ring, point: Point, tol: float = 1e-9) -> bool:
    return any(
        abs(orientation(a, b, point)) <= tol
        and min(a[0], b[0]) - tol <= point[0] <= max(a[0], b[0]) + tol
        and min(a[1], b[1]) - tol <= point[1] <= max(a[1], b[1]) + tol
        for a, b in pairwise(ring)
    )


def grid(ring: Ring, n: int = 160) -> list[Point]:
    """A regular grid over the ring's bounding box, offset so no point falls on a shared edge."""
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    dx, dy = (max(xs) - min(xs)) / n, (max(ys) - min(ys)) / n
    x0, y0 = min(xs), min(ys)
    return [(x0 + (i + 0.5137) * dx, y0 + (j + 0.4271) * dy) for i in range(n) for j in range(n)]


def check_ring(what: str, ring: Ring) -> None:
    assert len(ring) >= 4, f"{what}: fewer than 4 positions"
    assert ring[0] == ring[-1], f"{what}: ring not closed"
    assert len(set(ring[:-1])) == len(ring) - 1, f"{what}: repeated vertex"
    for lon, lat in ring:  # lon/lat order, and inside the Mińsk Mazowiecki area
        assert 21.45 < lon < 21.65 and 52.12 < lat < 52.23, f"{what}: {lon, lat} off the town"
    assert signed_area(ring) > 0, f"{what}: outer ring must be counter-clockwise (RFC 7946)"
    edges = list(pairwise(ring))
    for i, (a, b) in enumerate(edges):
        for j in range(i + 2, len(edges)):
            if i == 0 and j == len(edges) - 1:
                continue  # the first and last edges share the closing vertex
            c, d = edges[j]
            assert not segments_cross(a, b, c, d), f"{what}: edges {i} and {j} intersect"


def test_geometry_helpers_on_known_shapes() -> None:
    square: Ring = [(0, 0), (1, 0), (1, 1), (0, 1), (0, 0)]
    bowtie: Ring = [(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)]
    assert signed_area(square) == 1.0
    assert signed_area(list(reversed(square))) == -1.0
    assert contains(square, (0.5, 0.5)) and not contains(square, (1.5, 0.5))
    assert segments_cross(*bowtie[0:2], *bowtie[2:4])
    assert not segments_cross(*square[0:2], *square[2:4])
    assert on_boundary(square, (0.5, 0.0)) and not on_boundary(square, (0.5, 0.5))


def test_packaged_file_is_found_through_importlib_resources() -> None:
    assert files("smartdistricts.demo").joinpath("town.json").is_file()


def test_note_marks_the_data_as_approximate_demo_data(town: DemoTown) -> None:
    note = town.note.lower()
    assert "approximate" in note and "not official" in note and "demo" in note
    raw = json.loads(files("smartdistricts.demo").joinpath("town.json").read_text("utf-8"))
    assert raw["approximate"] is True
    assert all(d["approximate"] is True for d in raw["districts"])
    assert all(s["approximate"] is True for s in raw["sites"])


def test_town_identity(town: DemoTown) -> None:
    assert (town.name, town.teryt, town.timezone) == (
        "Mińsk Mazowiecki",
        "1412011",
        "Europe/Warsaw",
    )


def test_town_boundary_is_a_valid_polygon_of_plausible_area(town: DemoTown) -> None:
    ring = outer_ring(town.boundary)
    check_ring("town boundary", ring)
    # Official area ≈ 13.1 km²; 1° lat ≈ 111.2 km, 1° lon ≈ 68.2 km at 52.18° N.
    area_km2 = signed_area(ring) * 111.2 * 68.2
    assert 11.5 < area_km2 < 14.0


def test_four_or_five_districts_with_polish_names(town: DemoTown) -> None:
    assert 4 <= len(town.districts) <= 5
    slugs = [d.slug for d in town.districts]
    assert len(set(slugs)) == len(slugs)
    assert all(re.fullmatch(r"[a-z0-9-]+", s) for s in slugs)
    names = {d.name for d in town.districts}
    assert {"Centrum", "Serbinów"} <= names


@pytest.mark.parametrize("index", range(5))
def test_district_polygon_is_valid(town: DemoTown, index: int) -> None:
    if index >= len(town.districts):
        pytest.skip("fewer districts")
    district = town.districts[index]
    check_ring(district.slug, outer_ring(district.geometry))


def test_districts_lie_inside_the_town(town: DemoTown) -> None:
    boundary = outer_ring(town.boundary)
    for district in town.districts:
        ring = outer_ring(district.geometry)
        for vertex in ring:
            assert contains(boundary, vertex) or on_boundary(boundary, vertex), (
                f"{district.slug}: vertex {vertex} outside the town"
            )
        for a, b in pairwise(ring):
            for c, d in pairwise(boundary):
                assert not segments_cross_properly(a, b, c, d), f"{district.slug} leaves the town"
        inside = [p for p in grid(ring, 60) if contains(ring, p)]
        assert inside, f"{district.slug}: empty"
        assert all(contains(boundary, p) for p in inside), f"{district.slug}: outside the town"


def test_districts_do_not_overlap_and_cover_most_of_the_town(town: DemoTown) -> None:
    boundary = outer_ring(town.boundary)
    rings = {d.slug: outer_ring(d.geometry) for d in town.districts}
    in_town = 0
    covered = 0
    for point in grid(boundary):
        owners = [slug for slug, ring in rings.items() if contains(ring, point)]
        assert len(owners) <= 1, f"{point} lies in {owners}"
        if contains(boundary, point):
            in_town += 1
            covered += bool(owners)
    assert covered / in_town > 0.8


def test_the_four_city_sensor_sites(town: DemoTown) -> None:
    assert {(s.street, s.number) for s in town.sites} == CITY_SENSORS
    slugs = [s.slug for s in town.sites]
    assert len(set(slugs)) == len(slugs)
    uids = [s.device_uid for s in town.sites]
    assert len(set(uids)) == len(uids)
    for site in town.sites:
        assert site.city == "Mińsk Mazowiecki"
        assert site.sponsor == "Urząd Miasta Mińsk Mazowiecki (MAZOWSZE 2019)"
        assert site.name == f"ul. {site.street} {site.number}"
        assert re.fullmatch(r"esp8266-\d{7,8}", site.device_uid)
        assert site.sensor_types == ("PMS7003", "BME280")
        assert site.profile in PROFILES
        assert 160.0 <= site.elevation <= 175.0
        assert site.approximate is True
    assert {s.profile for s in town.sites} >= {"residential", "traffic", "industrial"}


def test_every_site_lies_inside_its_district_and_only_there(town: DemoTown) -> None:
    boundary = outer_ring(town.boundary)
    for site in town.sites:
        point = (site.longitude, site.latitude)
        assert contains(boundary, point), site.slug
        owners = [d.slug for d in town.districts if contains(outer_ring(d.geometry), point)]
        assert owners == [site.district_slug], site.slug


def test_lookup_by_slug(town: DemoTown) -> None:
    assert town.site("wyszynskiego-56").street == "Wyszyńskiego"
    assert town.district("serbinow").name == "Serbinów"
    with pytest.raises(KeyError, match="known: "):
        town.site("nowhere")
    with pytest.raises(KeyError, match="centrum"):
        town.district("nowhere")


def test_each_call_returns_a_fresh_equal_object() -> None:
    first, second = load_town(), load_town()
    assert first == second
    assert first.boundary is not second.boundary


def test_the_package_never_reads_the_shared_reference_folder() -> None:
    package = Path(smartdistricts.demo.__file__).parent
    for source in package.glob("*.py"):
        text = source.read_text("utf-8")
        assert "/shared" not in text and "reference/samples" not in text, source.name

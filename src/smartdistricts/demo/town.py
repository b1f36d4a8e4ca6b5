"""The demo town: boundary, districts and the four city sensor sites of Mińsk Mazowiecki.

The data live in ``town.json`` next to this module and are read with :mod:`importlib.resources`,
so they work from a wheel or a zip as well as from the source tree. Everything in the file is
**approximate demo data drawn by the project**: the boundary is our own simplified drawing, the
districts are invented (not official osiedle boundaries) and the sensor positions are plausible
placements of the street addresses, not geocoded points. The addresses, the sensor count and the
sponsor come from the town's air-quality page (https://www.minsk-maz.pl/991,jakosc-powietrza).

Examples
--------
>>> town = load_town()
>>> town.name, len(town.sites)
('Mińsk Mazowiecki', 4)
>>> [d.slug for d in town.districts]
['centrum', 'serbinow', 'polnoc', 'wschod', 'przemyslowa']
>>> site = town.site("przemyslowa-7")
>>> site.district_slug, site.profile, site.sensor_types
('przemyslowa', 'industrial', ('PMS7003', 'BME280'))
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

__all__ = ["DemoDistrict", "DemoSite", "DemoTown", "load_town"]

_RESOURCE = "town.json"


@dataclass(frozen=True, slots=True)
class DemoDistrict:
    """One demo district.

    ``geometry`` is a GeoJSON Polygon (EPSG:4326, ``[longitude, latitude]`` pairs, closed outer
    ring, counter-clockwise per RFC 7946). The polygon is approximate demo data, not an official
    boundary.
    """

    slug: str
    name: str
    geometry: dict[str, Any]


@dataclass(frozen=True, slots=True)
class DemoSite:
    """One demo sensor site: an airrohr-style device at a street address.

    ``latitude``/``longitude`` [°, WGS 84] are an approximate placement of the address,
    ``elevation`` [m above sea level], ``district_slug`` names the demo district whose polygon
    contains the point, ``device_uid`` is the airrohr identity (``esp8266-<chip id>``, as sent in
    the ``X-Sensor`` header), ``sensor_types`` the fitted sensors, and ``profile`` the site
    character the synthetic generator uses (``residential``, ``traffic`` or ``industrial``).
    """

    slug: str
    name: str
    street: str
    number: str
    city: str
    latitude: float
    longitude: float
    elevation: float
    district_slug: str
    sponsor: str
    device_uid: str
    sensor_types: tuple[str, ...]
    profile: str
    approximate: bool = True


@dataclass(frozen=True, slots=True)
class DemoTown:
    """The whole demo data set: the town boundary, its districts and its sensor sites."""

    name: str
    teryt: str
    timezone: str
    note: str
    boundary: dict[str, Any]
    districts: tuple[DemoDistrict, ...]
    sites: tuple[DemoSite, ...]

    def site(self, slug: str) -> DemoSite:
        """The site called ``slug``; :class:`KeyError` naming the known slugs otherwise."""
        for site in self.sites:
            if site.slug == slug:
                return site
        raise KeyError(
            f"unknown demo site {slug!r}; known: {', '.join(s.slug for s in self.sites)}"
        )

    def district(self, slug: str) -> DemoDistrict:
        """The district called ``slug``; :class:`KeyError` naming the known slugs otherwise."""
        for district in self.districts:
            if district.slug == slug:
                return district
        known = ", ".join(d.slug for d in self.districts)
        raise KeyError(f"unknown demo district {slug!r}; known: {known}")


def load_town() -> DemoTown:
    """Read the packaged demo town (a fresh object on every call).

    Raises :class:`ValueError` naming the entry when the packaged file is inconsistent (a site in
    an unknown district, a geometry that is not a Polygon, a duplicate slug).
    """
    raw = json.loads(
        files(__package__ or "smartdistricts.demo").joinpath(_RESOURCE).read_text("utf-8")
    )
    districts = tuple(_district(d) for d in raw["districts"])
    sites = tuple(_site(s) for s in raw["sites"])
    _check_unique("district", [d.slug for d in districts])
    _check_unique("site", [s.slug for s in sites])
    known = {d.slug for d in districts}
    for site in sites:
        if site.district_slug not in known:
            raise ValueError(f"demo site {site.slug!r}: unknown district {site.district_slug!r}")
    return DemoTown(
        name=str(raw["name"]),
        teryt=str(raw["teryt"]),
        timezone=str(raw["timezone"]),
        note=str(raw["note"]),
        boundary=_polygon("town boundary", raw["boundary"]),
        districts=districts,
        sites=sites,
    )


def _district(raw: dict[str, Any]) -> DemoDistrict:
    slug = str(raw["slug"])
    return DemoDistrict(
        slug=slug, name=str(raw["name"]), geometry=_polygon(f"district {slug!r}", raw["geometry"])
    )


def _site(raw: dict[str, Any]) -> DemoSite:
    return DemoSite(
        slug=str(raw["slug"]),
        name=str(raw["name"]),
        street=str(raw["street"]),
        number=str(raw["number"]),
        city=str(raw["city"]),
        latitude=float(raw["latitude"]),
        longitude=float(raw["longitude"]),
        elevation=float(raw["elevation"]),
        district_slug=str(raw["district"]),
        sponsor=str(raw["sponsor"]),
        device_uid=str(raw["device_uid"]),
        sensor_types=tuple(str(t) for t in raw["sensor_types"]),
        profile=str(raw["profile"]),
        approximate=bool(raw.get("approximate", True)),
    )


def _polygon(what: str, geometry: dict[str, Any]) -> dict[str, Any]:
    if geometry.get("type") != "Polygon":
        raise ValueError(f"{what}: expected a GeoJSON Polygon, got {geometry.get('type')!r}")
    rings = geometry.get("coordinates")
    if not isinstance(rings, list) or not rings or len(rings[0]) < 4 or rings[0][0] != rings[0][-1]:
        raise ValueError(f"{what}: the outer ring must be closed and have at least 4 positions")
    return geometry


def _check_unique(kind: str, slugs: list[str]) -> None:
    duplicates = sorted({s for s in slugs if slugs.count(s) > 1})
    if duplicates:
        raise ValueError(f"duplicate demo {kind} slug(s): {', '.join(duplicates)}")

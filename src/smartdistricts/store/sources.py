"""Where a reading came from: stored as a small id with every measurement."""

from __future__ import annotations

__all__ = ["SOURCES", "source_id", "source_name"]

#: Stable ids; never renumber (they are stored in ``measurements.source_id``).
SOURCES: dict[str, int] = {
    "push": 1,  # airrohr firmware "send to own API"
    "mqtt": 2,
    "batch-api": 3,  # POST /api/v1/measurements
    "sensor.community-archive": 4,  # archive.sensor.community CSV files
    "madavi": 5,  # api-rrd.madavi.de per-node CSV files
    "demo": 6,  # synthetic demo history
    "airly.pl": 7,
    "gios": 8,
    "sensor.community-api": 9,
}

_NAMES = {v: k for k, v in SOURCES.items()}


def source_id(name: str) -> int:
    try:
        return SOURCES[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; known: {', '.join(SOURCES)}") from None


def source_name(sid: int) -> str:
    return _NAMES.get(sid, f"source-{sid}")

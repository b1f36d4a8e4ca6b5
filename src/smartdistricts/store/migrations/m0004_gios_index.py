"""GIOŚ's own index next to ours.

``gios_index`` keeps what ``aqindex/getIndex`` said for a GIOŚ station's site, one row per hour
of source data (UTC): the overall category (0 Bardzo dobry … 5 Bardzo zły; NULL = "Brak
indeksu"), its name, the critical pollutant and each pollutant's category. Our own index for the
same hour is computed from the stored hourly values when compared (``services/gios_import.py``),
so a late reading changes the comparison, never this table.
"""

from __future__ import annotations

NAME = "GIOŚ's own index next to ours"

STATEMENTS: list[str] = [
    """
    CREATE TABLE gios_index (
        site_id {bigint} NOT NULL REFERENCES sites(id),
        time {bigint} NOT NULL,
        calculated_at {bigint},
        value {smallint},
        category TEXT,
        critical TEXT,
        pm10 {smallint},
        pm2_5 {smallint},
        no2 {smallint},
        o3 {smallint},
        so2 {smallint},
        fetched_at {bigint} NOT NULL,
        PRIMARY KEY (site_id, time)
    )
    """,
]

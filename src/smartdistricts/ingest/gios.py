"""GIOŚ public API (pjp-api v1): stations, their sensors, hourly data, archival data and index.

Base ``https://api.gios.gov.pl/pjp-api/v1/rest`` (the unversioned API was withdrawn on
30 June 2025). Every answer is a JSON-LD envelope ``{"@context", "<list key>": [...], "meta",
"links", "totalPages"}`` with Polish keys; lists are paged (``page`` from 0, ``size`` ≤ 500), even
``getData``. Coordinates are strings. Values are µg/m³ for every pollutant, CO included (the
``getData`` description says "w jednostce μg/m3"), or ``null`` while an hour's value has not
arrived: nulls are skipped, never stored as 0.

**Times** are local Europe/Warsaw wall-clock stamps ``YYYY-MM-DD HH:MM:SS`` and are converted to
UTC here (:func:`local_to_utc`), deliberately as follows:

* A stamp in the spring gap (02:00–02:59 on the last Sunday of March) does not exist; it is
  rejected with its position, never shifted onto a neighbouring hour.
* A stamp in the autumn overlap (02:00–02:59 on the last Sunday of October) names two instants.
  When one answer holds it twice, the two occurrences get the two instants in the answer's
  time order (GIOŚ lists newest first: the first occurrence is the later, CET, instant). When it
  holds it once, the earlier (CEST) instant is taken: a one-hour gap rather than a duplicate.
  A third occurrence is rejected.

The stamp is stored as given (converted to UTC); GIOŚ's hourly values are believed to be stamped
at the end of their averaging hour (unverified). Format: the team's formats reference §6.
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import numpy as np
import orjson
from numpy.typing import NDArray

from smartdistricts.ingest.records import IngestError, Readings, Rejection, SensorRef
from smartdistricts.nomenclature import variable

__all__ = [
    "DEFAULT_BASE_URL",
    "VARIABLE_MAP",
    "WARSAW",
    "FetchError",
    "GiosIndex",
    "GiosSensor",
    "Page",
    "RateLimited",
    "Station",
    "fetch_archive",
    "fetch_data",
    "fetch_index",
    "fetch_sensors",
    "fetch_stations",
    "get_json",
    "local_to_utc",
    "parse_index",
    "parse_page",
    "parse_sensors",
    "parse_stations",
    "parse_values",
]

DEFAULT_BASE_URL = "https://api.gios.gov.pl/pjp-api/v1/rest"
WARSAW = ZoneInfo("Europe/Warsaw")
#: Largest page the API serves.
PAGE_SIZE = 500

#: ``Wskaźnik - kod`` → canonical variable (all in µg/m³, as the API delivers them).
VARIABLE_MAP: dict[str, str] = {
    "PM10": "pm10",
    "PM2.5": "pm2_5",
    "NO2": "no2",
    "O3": "o3",
    "SO2": "so2",
    "CO": "co",
    "C6H6": "c6h6",
    "NO": "no",
    "NOx": "nox",
}

STATIONS_KEY = "Lista stacji pomiarowych"
SENSORS_KEY = "Lista stanowisk pomiarowych dla podanej stacji"
DATA_KEY = "Lista danych pomiarowych"
ARCHIVE_KEY = "Lista archiwalnych wyników pomiarów"
INDEX_KEY = "AqIndex"
#: Pollutants of the index, as the ``AqIndex`` keys spell them, and their canonical names.
INDEX_POLLUTANTS = {"SO2": "so2", "NO2": "no2", "PM10": "pm10", "PM2.5": "pm2_5", "O3": "o3"}


# -- errors and HTTP -------------------------------------------------------------------------
class FetchError(RuntimeError):
    """A request that failed (network, 4xx/5xx, unreadable body); ``url`` names it."""

    def __init__(self, url: str, message: str, *, status: int | None = None) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.status = status


class RateLimited(FetchError):
    """429 with a Retry-After longer than the caller wants to wait [s]."""

    def __init__(self, url: str, retry_after: float) -> None:
        super().__init__(url, f"rate limited (429), retry after {retry_after:g} s", status=429)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            when = _dt.datetime.strptime(raw, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=_dt.UTC)
        except ValueError:
            return 60.0
        return max(0.0, when.timestamp() - time.time())


def get_json(
    client: httpx.Client,
    url: str,
    params: Mapping[str, str | int] | None = None,
    *,
    max_wait_s: float = 30.0,
    attempts: int = 3,
) -> Any:
    """GET ``url`` and decode its JSON body.

    A 429 is retried after its ``Retry-After`` when that is at most ``max_wait_s``; otherwise
    (or after ``attempts`` tries) :class:`RateLimited` is raised. Other errors and a body that is
    not JSON raise :class:`FetchError` naming the URL.
    """
    full = str(httpx.URL(url, params=dict(params or {})))
    for attempt in range(attempts):
        try:
            response = client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise FetchError(full, f"{type(exc).__name__}: {exc}") from None
        if response.status_code == 429:
            wait = _retry_after(response)
            if wait > max_wait_s or attempt == attempts - 1:
                raise RateLimited(full, wait)
            time.sleep(wait)
            continue
        if response.status_code >= 400:
            raise FetchError(
                full,
                f"HTTP {response.status_code}: {response.text[:200]}",
                status=response.status_code,
            )
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise FetchError(full, f"malformed JSON ({exc})", status=response.status_code) from None
    raise RateLimited(full, 0.0)  # pragma: no cover - the loop always returns or raises


# -- envelopes -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its items and the number of pages there are."""

    items: list[dict[str, Any]]
    total_pages: int


def parse_page(body: Any, list_key: str) -> Page:
    """The list under ``list_key`` and ``totalPages`` of a decoded envelope."""
    if not isinstance(body, dict):
        raise IngestError("$", "expected a JSON object (the JSON-LD envelope)")
    if "error_code" in body or "error_result" in body:
        raise IngestError("error_result", str(body.get("error_reason") or body.get("error_result")))
    items = body.get(list_key)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise IngestError(list_key, "missing or not a list of objects")
    pages = body.get("totalPages", 1)
    if not isinstance(pages, int) or isinstance(pages, bool) or pages < 0:
        raise IngestError("totalPages", f"expected a whole number, got {pages!r}")
    return Page(items, pages)


def _pages(
    client: httpx.Client, url: str, params: dict[str, str | int], list_key: str
) -> Iterator[tuple[int, Page]]:
    """Every page of a list, requested with the largest page size, in order."""
    page = 0
    while True:
        body = get_json(client, url, {**params, "page": page, "size": PAGE_SIZE})
        try:
            parsed = parse_page(body, list_key)
        except IngestError as exc:
            full = str(httpx.URL(url, params={**params, "page": page, "size": PAGE_SIZE}))
            raise FetchError(full, f"unexpected answer: {exc}") from None
        yield page, parsed
        page += 1
        if page >= parsed.total_pages or not parsed.items:
            return


# -- stations and sensors ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Station:
    id: int
    code: str
    name: str
    latitude: float
    longitude: float
    city: str | None = None
    street: str | None = None
    commune: str | None = None
    voivodeship: str | None = None


@dataclass(frozen=True, slots=True)
class GiosSensor:
    """A measuring position (``stanowisko``) of a station; ``variable`` None when not mapped."""

    id: int
    station_id: int
    code: str
    name: str
    variable: str | None

    @property
    def sensor_type(self) -> str:
        """The stored sensor type: unique per station even when a pollutant has two sensors."""
        return f"{self.code} #{self.id}"


def _text(item: Mapping[str, Any], key: str) -> str | None:
    value = item.get(key)
    return None if value is None else str(value)


def parse_stations(
    items: Sequence[Mapping[str, Any]], *, source: str
) -> tuple[list[Station], list[Rejection]]:
    """Stations of ``station/findAll`` items; a station without a usable id or position is
    rejected with its position in the list."""
    stations, rejections = [], []
    for n, item in enumerate(items, start=1):
        try:
            sid = item["Identyfikator stacji"]
            if not isinstance(sid, int) or isinstance(sid, bool):
                raise ValueError(f"station id {sid!r} is not a whole number")
            lat, lon = float(item["WGS84 φ N"]), float(item["WGS84 λ E"])
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise ValueError(f"position {lat}, {lon} out of range")
        except (KeyError, TypeError, ValueError) as exc:
            rejections.append(
                Rejection(source, n, f"station skipped: {exc}", "Identyfikator stacji")
            )
            continue
        stations.append(
            Station(
                sid,
                str(item.get("Kod stacji") or sid),
                str(item.get("Nazwa stacji") or f"GIOŚ {sid}"),
                lat,
                lon,
                _text(item, "Nazwa miasta"),
                _text(item, "Ulica"),
                _text(item, "Gmina"),
                _text(item, "Województwo"),
            )
        )
    return stations, rejections


def parse_sensors(
    items: Sequence[Mapping[str, Any]], *, source: str
) -> tuple[list[GiosSensor], list[Rejection]]:
    """Sensors of ``station/sensors/{id}`` items, each with its canonical variable (or None)."""
    sensors, rejections = [], []
    for n, item in enumerate(items, start=1):
        sid, station = item.get("Identyfikator stanowiska"), item.get("Identyfikator stacji")
        if not isinstance(sid, int) or not isinstance(station, int):
            rejections.append(
                Rejection(source, n, "sensor without a numeric id", "Identyfikator stanowiska")
            )
            continue
        code = str(item.get("Wskaźnik - kod") or item.get("Wskaźnik - wzór") or "")
        sensors.append(
            GiosSensor(
                sid, station, code, str(item.get("Wskaźnik") or code), VARIABLE_MAP.get(code)
            )
        )
    return sensors, rejections


# -- times -------------------------------------------------------------------------------------
_EPOCH = _dt.datetime(1970, 1, 1)


def _instants(naive_s: int, zone: str) -> tuple[int, int] | None:
    """UTC seconds of a local wall-clock time at fold 0 and fold 1; None when it does not exist."""
    tz = ZoneInfo(zone)
    local = _EPOCH + _dt.timedelta(seconds=naive_s)
    out = []
    for fold in (0, 1):
        utc = int(local.replace(tzinfo=tz, fold=fold).timestamp())
        if _dt.datetime.fromtimestamp(utc, tz).replace(tzinfo=None) == local:
            out.append(utc)
    if not out:
        return None
    return (out[0], out[-1])


#: Per time zone: local wall-clock seconds → :func:`_instants` (a few thousand per year seen).
_ZONE_CACHE: dict[str, dict[int, tuple[int, int] | None]] = {}
_MISSING: Any = object()


def _naive_seconds(stamps: Sequence[object]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Wall-clock seconds since 1970 of ``YYYY-MM-DD HH:MM:SS`` stamps, and which are malformed."""
    n = len(stamps)
    good = np.array([isinstance(s, str) and len(s) == 19 and s[10] == " " for s in stamps], bool)
    seconds = np.zeros(n, dtype=np.int64)
    if good.all() and n:
        try:
            return np.asarray(stamps, dtype="datetime64[s]").astype(np.int64), ~good
        except ValueError:
            pass
    for i in np.flatnonzero(good).tolist():
        try:
            seconds[i] = np.datetime64(str(stamps[i]), "s").astype(np.int64)
        except ValueError:
            good[i] = False
    return seconds, ~good


def local_to_utc(
    stamps: Sequence[object], tz: ZoneInfo = WARSAW
) -> tuple[NDArray[np.int64], list[tuple[int, str]]]:
    """UTC seconds of local stamps (see the module docstring for gaps and overlaps).

    Returns the times (0 where refused) and ``(index, reason)`` of every refused stamp.

    >>> t, bad = local_to_utc(["2025-10-26 03:00:00", "2025-10-26 02:00:00",
    ...                        "2025-10-26 02:00:00", "2025-10-26 01:00:00"])
    >>> [int(x - t[-1]) // 3600 for x in t], bad
    ([3, 2, 1, 0], [])
    >>> local_to_utc(["2025-03-30 02:00:00"])[1]
    [(0, 'local time 2025-03-30 02:00:00 does not exist in Europe/Warsaw (clocks go forward)')]
    """
    naive, malformed = _naive_seconds(stamps)
    out = np.zeros(len(naive), dtype=np.int64)
    bad: list[tuple[int, str]] = [
        (i, f"time {stamps[i]!r} is not 'YYYY-MM-DD HH:MM:SS'")
        for i in np.flatnonzero(malformed).tolist()
    ]
    rows = np.flatnonzero(~malformed)
    if not len(rows):
        return out, bad
    unique, inverse = np.unique(naive[rows], return_inverse=True)
    inverse = inverse.ravel()
    cache = _ZONE_CACHE.setdefault(tz.key, {})
    keys = unique.tolist()
    found = [cache.get(v, _MISSING) for v in keys]
    for u, f in enumerate(found):
        if f is _MISSING:
            found[u] = cache[keys[u]] = _instants(keys[u], tz.key)
    early = np.array([f[0] if f else 0 for f in found], dtype=np.int64)
    late = np.array([f[1] if f else 0 for f in found], dtype=np.int64)
    out[rows] = early[inverse]
    special = [u for u, f in enumerate(found) if f is None or f[0] != f[1]]
    if special:
        newest_first = len(rows) > 1 and naive[rows[0]] > naive[rows[-1]]
        for u in special:
            members = rows[inverse == u].tolist()
            if found[u] is None:
                reason = f"does not exist in {tz.key} (clocks go forward)"
                bad += [(i, f"local time {stamps[i]} {reason}") for i in members]
                continue
            pair = [late[u], early[u]] if newest_first else [early[u], late[u]]
            if len(members) == 1:
                continue  # a single occurrence: the earlier instant (already set)
            for k, i in enumerate(members):
                if k < 2:
                    out[i] = pair[k]
                else:
                    bad.append((i, f"local time {stamps[i]} occurs more than twice"))
    bad.sort()
    return out, bad


def utc_to_local_text(t: float, tz: ZoneInfo = WARSAW) -> str:
    """``YYYY-MM-DD HH:MM`` local wall-clock time of a Unix time, for archive queries."""
    return _dt.datetime.fromtimestamp(t, tz).strftime("%Y-%m-%d %H:%M")


# -- values ------------------------------------------------------------------------------------
@dataclass(slots=True)
class Values:
    """Readings of one sensor's answer, the nulls skipped and the items refused."""

    readings: Readings
    nulls: int = 0
    rejections: list[Rejection] = field(default_factory=list)


def parse_values(
    items: Sequence[Mapping[str, Any]],
    ref: SensorRef,
    variable_name: str,
    *,
    source: str,
    first_line: int = 1,
    tz: ZoneInfo = WARSAW,
) -> Values:
    """Readings of ``getData`` or archival items (``Data``, ``Wartość``) of one sensor.

    ``line`` numbers are item positions (``first_line`` for the first item), as rejections
    report them. Null values are counted and skipped; non-numeric values are refused.
    """
    n = len(items)
    stamps = [item.get("Data") for item in items]
    raw = [item.get("Wartość") for item in items]
    times, bad_times = local_to_utc(stamps, tz)
    keep = np.ones(n, dtype=bool)
    rejections = []
    for i, reason in bad_times:
        keep[i] = False
        rejections.append(Rejection(source, first_line + i, reason, "Data"))
    number = np.array([type(v) is float or type(v) is int for v in raw], dtype=bool)
    null = np.array([v is None for v in raw], dtype=bool)
    values = np.array([v if ok else np.nan for v, ok in zip(raw, number, strict=True)], float)
    nulls = int(np.count_nonzero(null & keep))
    for i in np.flatnonzero(~number & ~null & keep).tolist():
        reason = f"value {raw[i]!r} is not a number"
        rejections.append(Rejection(source, first_line + i, reason, "Wartość"))
    keep &= number
    idx = np.flatnonzero(keep)
    readings = Readings(
        [ref],
        np.zeros(len(idx), dtype=np.int64),
        np.full(len(idx), variable(variable_name).id, dtype=np.int64),
        times[idx],
        values[idx],
        idx.astype(np.int64) + first_line,
    )
    rejections.sort(key=lambda r: r.line or 0)
    return Values(readings, int(nulls), rejections)


# -- the index ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GiosIndex:
    """GIOŚ's own index of a station at one hour (``aqindex/getIndex``); times UTC seconds."""

    station_id: int
    calculated_at: int | None
    source_time: int | None
    value: int | None
    category: str | None
    #: canonical pollutant → (index value, category name, source hour) for measured ones.
    pollutants: dict[str, tuple[int | None, str | None, int | None]]
    critical: str | None


def _local_instant(text: object, tz: ZoneInfo) -> int | None:
    if not isinstance(text, str):
        return None
    times, bad = local_to_utc([text], tz)
    return None if bad else int(times[0])


def _level(value: object, field_name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not -1 <= value <= 5:
        raise IngestError(field_name, f"expected an index 0–5 or null, got {value!r}")
    return value


def parse_index(body: Any, tz: ZoneInfo = WARSAW) -> GiosIndex:
    """The ``AqIndex`` object (note the ``wskażnika`` spelling of the category keys)."""
    if not isinstance(body, dict) or not isinstance(body.get(INDEX_KEY), dict):
        raise IngestError(INDEX_KEY, "missing or not an object")
    ix = body[INDEX_KEY]
    station = ix.get("Identyfikator stacji pomiarowej")
    if not isinstance(station, int):
        raise IngestError("Identyfikator stacji pomiarowej", f"expected a number, got {station!r}")
    pollutants = {}
    for code, name in INDEX_POLLUTANTS.items():
        key = f"Wartość indeksu dla wskaźnika {code}"
        level = _level(ix.get(key), key)
        category = ix.get(f"Nazwa kategorii indeksu dla wskażnika {code}")
        if category is None:  # should GIOŚ ever fix the spelling
            category = ix.get(f"Nazwa kategorii indeksu dla wskaźnika {code}")
        when = _local_instant(
            ix.get(
                f"Data danych źródłowych, z których policzono wartość indeksu dla wskaźnika {code}"
            ),
            tz,
        )
        if level is not None or category is not None:
            pollutants[name] = (level, None if category is None else str(category), when)
    critical = ix.get("Kod zanieczyszczenia krytycznego")
    return GiosIndex(
        station,
        _local_instant(ix.get("Data wykonania obliczeń indeksu"), tz),
        _local_instant(
            ix.get("Data danych źródłowych, z których policzono wartość indeksu dla wskaźnika st"),
            tz,
        ),
        _level(ix.get("Wartość indeksu"), "Wartość indeksu"),
        _text(ix, "Nazwa kategorii indeksu"),
        pollutants,
        None if critical is None else str(critical),
    )


# -- fetching ----------------------------------------------------------------------------------
def fetch_stations(client: httpx.Client, base_url: str) -> Iterator[tuple[int, Page]]:
    """Pages of ``station/findAll``."""
    return _pages(client, f"{base_url}/station/findAll", {}, STATIONS_KEY)


def fetch_sensors(
    client: httpx.Client, base_url: str, station_id: int
) -> Iterator[tuple[int, Page]]:
    """Pages of ``station/sensors/{station_id}``."""
    return _pages(client, f"{base_url}/station/sensors/{station_id}", {}, SENSORS_KEY)


def fetch_data(client: httpx.Client, base_url: str, sensor_id: int) -> Iterator[tuple[int, Page]]:
    """Pages of ``data/getData/{sensor_id}`` (about the last three days, hourly)."""
    return _pages(client, f"{base_url}/data/getData/{sensor_id}", {}, DATA_KEY)


def fetch_archive(
    client: httpx.Client,
    base_url: str,
    sensor_id: int,
    start: float,
    end: float,
    tz: ZoneInfo = WARSAW,
) -> Iterator[tuple[int, Page]]:
    """Pages of ``archivalData/getDataBySensor/{sensor_id}`` between two Unix times (≤ 366 days;
    the query takes local times)."""
    params: dict[str, str | int] = {
        "dateFrom": utc_to_local_text(start, tz),
        "dateTo": utc_to_local_text(end, tz),
    }
    return _pages(
        client, f"{base_url}/archivalData/getDataBySensor/{sensor_id}", params, ARCHIVE_KEY
    )


def fetch_index(client: httpx.Client, base_url: str, station_id: int) -> GiosIndex:
    """GIOŚ's index of a station now."""
    url = f"{base_url}/aqindex/getIndex/{station_id}"
    try:
        return parse_index(get_json(client, url))
    except IngestError as exc:
        raise FetchError(url, f"unexpected answer: {exc}") from None

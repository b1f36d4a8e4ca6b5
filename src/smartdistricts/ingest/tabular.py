"""A fast, forgiving reader for the semicolon-separated files sensor networks publish.

Clean files take the fast path: Arrow's CSV parser with typed columns (C++, no Python per row).
When a value cannot be converted, the file is read again with text columns and checked
value by value (still vectorised), so that every bad line is reported with its line number and
the rest is imported. Lines with the wrong number of fields or bytes that are not UTF-8 are
reported and skipped. Line numbers are physical lines of the file (``\n``-terminated, header = 1).
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from smartdistricts.ingest.records import Readings, Rejection

__all__ = ["ColumnSpec", "Table", "collect", "open_bytes", "read_table", "time_rejections"]

NULLS = ["", "nan", "NaN", "NAN", "null", "NULL", "None", "unavailable", "-"]
_NUMBER = r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$"
_NULL_SET = frozenset(NULLS)
_NULL_ARRAY = pa.array(NULLS, pa.string())


def open_bytes(path: str) -> bytes:
    """A file's bytes, transparently un-gzipped.

    A damaged or truncated gzip file (an interrupted download) raises ``ValueError``.
    """
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (EOFError, OSError, zlib.error) as exc:
            raise ValueError(f"{path}: damaged or truncated gzip file ({exc})") from None
    return data


@dataclass(slots=True)
class Table:
    """Columns of one file; ``line`` gives each row's 1-based line number in the file.

    ``bad_text`` and ``raw_time`` keep the text of unreadable values (by row) for messages.
    """

    numeric: dict[str, NDArray[np.float64]]
    bad_numeric: dict[str, NDArray[np.bool_]]
    bad_text: dict[str, dict[int, str]]
    text: dict[str, pa.Array]
    time: NDArray[np.int64]
    bad_time: NDArray[np.bool_]
    raw_time: dict[int, str]
    line: NDArray[np.int64]
    rows_read: int
    rejections: list[Rejection] = field(default_factory=list)


def _nonblank_lines(data: bytes) -> NDArray[np.int64]:
    """1-based physical line numbers of the non-blank lines of ``data``."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(buf)]))
    lengths = stops - starts
    # A line holding only "\r" is blank too.
    cr_only = (lengths == 1) & (buf[np.minimum(starts, max(len(buf) - 1, 0))] == 13)
    keep = (lengths > 0) & ~cr_only
    return (np.flatnonzero(keep) + 1).astype(np.int64)


_LONE_CR = re.compile(rb"\r(?!\n)")
_SPACE_LINE = re.compile(rb"(?m)^[ \t]+(?=\r?$)")


def _sanitize(data: bytes, source: str) -> tuple[bytes, list[Rejection]]:
    """Make ``data`` safe for Arrow without changing its line numbering.

    Arrow also ends a row at a lone ``\r``, which would shift every later line number, so a lone
    ``\r`` becomes a space (``\r``-only files become ``\n`` files). Lines of spaces become blank.
    Data lines that are not valid UTF-8 are blanked and reported (Arrow would fail the file).
    """
    if b"\r" in data:
        if b"\n" not in data:
            data = data.replace(b"\r", b"\n")
        elif data.count(b"\r") != data.count(b"\r\n"):
            data = _LONE_CR.sub(b" ", data)
    if data[:1] in (b" ", b"\t") or b"\n " in data or b"\n\t" in data:
        data = _SPACE_LINE.sub(b"", data)
    if data.isascii():
        return data, []
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return data, []
    lines = data.split(b"\n")
    rejections = []
    for number, text in enumerate(lines[1:], start=2):
        try:
            text.decode("utf-8")
        except UnicodeDecodeError as exc:
            rejections.append(
                Rejection(source, number, f"not valid UTF-8 (byte {exc.start + 1} of the line)")
            )
            lines[number - 1] = b""
    return b"\n".join(lines), rejections


def read_table(
    data: bytes,
    *,
    source: str,
    numeric: list[str],
    text: list[str],
    time_column: str,
    time_format: str | None = None,
    column_names: list[str] | None = None,
) -> Table:
    """Read ``data`` (``;``-separated, one header line) into typed columns.

    ``column_names`` overrides the header (which is then skipped). Numeric and text columns
    absent from the file are simply missing from the result. ``time_format`` is a strptime
    format; ``None`` means ISO 8601 (with or without fraction and offset; naive means UTC).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    data, undecodable = _sanitize(data, source)
    header_end = data.find(b"\n")
    header = data[: header_end if header_end >= 0 else len(data)].decode("utf-8", "replace")
    names = column_names or [h.strip() for h in header.strip("\r").split(";")]
    if time_column not in names:
        raise ValueError(f"{source}: no {time_column!r} column in the header {header[:200]!r}")
    present_numeric = [c for c in numeric if c in names]
    present_text = [c for c in text if c in names]
    invalid_rows: list[tuple[int, str, int, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        invalid_rows.append((row.number, row.text, row.expected_columns, row.actual_columns))
        return "skip"

    read_options = pacsv.ReadOptions(
        use_threads=False,
        block_size=min(max(len(data) + 1024, 1 << 16), 1 << 24),
        column_names=names,
        skip_rows=1,
        encoding="utf8",
    )
    parse_options = pacsv.ParseOptions(
        delimiter=";", quote_char=False, invalid_row_handler=on_invalid
    )
    include = [time_column, *present_numeric, *present_text]
    fast_types: dict[str, pa.DataType] = {c: pa.float64() for c in present_numeric}
    fast_types.update({c: pa.string() for c in present_text})
    # Times are always read as text: Arrow's own timestamp parsing accepts truncated values
    # ("2018-03-07" as midnight) that must be refused.
    fast_types[time_column] = pa.string()
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=pacsv.ConvertOptions(
                column_types=fast_types,
                null_values=NULLS,
                strings_can_be_null=True,
                include_columns=include,
            ),
        )
        fast = True
    except pa.ArrowInvalid:
        invalid_rows.clear()
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in include},
                null_values=NULLS,
                strings_can_be_null=True,
                include_columns=include,
            ),
        )
        fast = False

    # Map parser row numbers (non-blank rows, header = 1) to physical line numbers.
    nonblank = _nonblank_lines(data)
    skipped = {number for number, *_ in invalid_rows}
    data_rows = np.arange(2, len(nonblank) + 1, dtype=np.int64)
    if skipped:
        data_rows = data_rows[~np.isin(data_rows, np.fromiter(skipped, dtype=np.int64))]
    line = nonblank[data_rows - 1] if len(data_rows) else np.empty(0, dtype=np.int64)
    if len(line) != table.num_rows:  # defensive: never mislabel lines
        line = np.zeros(table.num_rows, dtype=np.int64)
    rejections = undecodable + [
        Rejection(
            source,
            int(nonblank[number - 1]) if 0 < number <= len(nonblank) else None,
            f"expected {expected} fields, found {actual}",
        )
        for number, _text, expected, actual in invalid_rows
    ]

    result = Table(
        numeric={},
        bad_numeric={},
        bad_text={},
        text={c: table.column(c).combine_chunks() for c in present_text},
        time=np.empty(0, dtype=np.int64),
        bad_time=np.empty(0, dtype=np.bool_),
        raw_time={},
        line=line,
        rows_read=table.num_rows + len(invalid_rows) + len(undecodable),
        rejections=rejections,
    )
    raw_times = table.column(time_column)
    result.time, result.bad_time = _parse_times(raw_times, time_format)
    result.raw_time = {i: raw_times[i].as_py() for i in np.flatnonzero(result.bad_time).tolist()}
    if fast:
        for c in present_numeric:
            col = table.column(c)
            result.numeric[c] = np.asarray(
                col.fill_null(np.nan).to_numpy(zero_copy_only=False), dtype=np.float64
            )
            result.bad_numeric[c] = np.zeros(table.num_rows, dtype=bool)
        return result

    for c in present_numeric:
        # Arrow's cast takes neither surrounding spaces nor " nan ": trim, then re-check nulls.
        col = pc.utf8_trim_whitespace(table.column(c))
        col = pc.if_else(pc.is_in(col, value_set=_NULL_ARRAY), pa.scalar(None, pa.string()), col)
        ok = pc.match_substring_regex(col, _NUMBER)
        # Present but not a number → bad; missing (null) → NaN, not an error.
        bad = pc.and_(pc.invert(ok.fill_null(True)), col.is_valid())
        cleaned = pc.if_else(ok.fill_null(False), col, pa.scalar(None, pa.string()))
        result.numeric[c] = np.asarray(
            pc.cast(cleaned, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False),
            dtype=np.float64,
        )
        result.bad_numeric[c] = np.asarray(bad.to_numpy(zero_copy_only=False), dtype=bool)
        result.bad_text[c] = {
            i: str(col[i].as_py()) for i in np.flatnonzero(result.bad_numeric[c]).tolist()
        }
    return result


#: The ISO 8601 forms accepted: full date and time to the second, optional fraction and zone.
_ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d(:?\d\d)?)?")


def _parse_times(
    raw: pa.ChunkedArray, time_format: str | None
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Parse text times to Unix seconds; returns (seconds, bad mask). Naive times are UTC.

    The common 19-character form is parsed vectorised. Longer forms (fraction, offset:
    2015–2016 archive files) and whatever the vectorised parser refused are parsed one by one.
    """
    fmt = time_format or "%Y-%m-%dT%H:%M:%S"
    if fmt in _SEPARATORS:
        return _fixed_width_times(raw, time_format)
    raw = pc.utf8_trim_whitespace(raw)
    head = pc.utf8_slice_codeunits(raw, 0, 19)
    if time_format is None:  # accept "YYYY-MM-DD HH:MM:SS" as ISO 8601 does
        head = pc.replace_substring(head, " ", "T", max_replacements=1)
    parsed = pc.strptime(head, format=fmt, unit="s", error_is_null=True)
    # Copies: Arrow's buffers are read-only and both arrays are patched below.
    seconds = np.array(
        parsed.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    bad = np.array(parsed.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    bad[_rolled_over(parsed, head, fmt)] = True
    lengths = np.asarray(
        pc.utf8_length(raw).fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    # Longer ISO forms (fraction, offset) are rare (2015–2016 archive files): do them one by one.
    for i in np.flatnonzero((lengths > 19) | (bad & (lengths > 0))).tolist():
        when = _parse_one(raw[i].as_py(), time_format)
        if when is None:
            bad[i] = True
        else:
            seconds[i] = int(when.timestamp())
            bad[i] = False
    return seconds, bad


#: Separators allowed at each position of the 19-character time forms we read.
_SEPARATORS: dict[str, dict[int, bytes]] = {
    "%Y-%m-%dT%H:%M:%S": {4: b"-", 7: b"-", 10: b"T ", 13: b":", 16: b":"},
    "%Y/%m/%d %H:%M:%S": {4: b"/", 7: b"/", 10: b" ", 13: b":", 16: b":"},
}
_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _days_from_civil(
    y: NDArray[np.int64], m: NDArray[np.int64], d: NDArray[np.int64]
) -> NDArray[np.int64]:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    result: NDArray[np.int64] = era * 146097 + doe - 719468
    return result


def _fixed_width_times(
    raw: pa.ChunkedArray, time_format: str | None
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Vectorised, strict reading of ``YYYY-MM-DDTHH:MM:SS``-like times straight from Arrow's
    string buffer: every digit, separator and field range is checked (no February 30th, no
    second 60). Other lengths (fractions, offsets, spaces around) go to the exact per-row parser.
    """
    separators = _SEPARATORS[time_format or "%Y-%m-%dT%H:%M:%S"]
    arr = raw.combine_chunks()
    n = len(arr)
    seconds = np.zeros(n, dtype=np.int64)
    bad = np.ones(n, dtype=bool)
    if n == 0:
        return seconds, bad
    present = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4)
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8)
        if buffers[2] is not None
        else np.empty(0, np.uint8)
    )
    lengths = np.diff(offsets)
    rows = np.flatnonzero(present & (lengths == 19))
    if len(rows) == n and n and int(offsets[n] - offsets[0]) == 19 * n:
        # Every value is 19 characters and they lie back to back: view, don't gather.
        chars = data[offsets[0] : offsets[n]].reshape(n, 19)
    elif len(rows):
        chars = data[offsets[rows][:, None] + np.arange(19)]
    if len(rows):
        digits = chars[:, _DIGITS].astype(np.int64) - 48
        ok = np.all((digits >= 0) & (digits <= 9), axis=1)
        for position, allowed in separators.items():
            column = chars[:, position]
            match = column == allowed[0]
            for extra in allowed[1:]:
                match |= column == extra
            ok &= match
        year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
        month = digits[:, 4] * 10 + digits[:, 5]
        day = digits[:, 6] * 10 + digits[:, 7]
        hour = digits[:, 8] * 10 + digits[:, 9]
        minute = digits[:, 10] * 10 + digits[:, 11]
        second = digits[:, 12] * 10 + digits[:, 13]
        leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
        month_days = _MONTH_DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
        ok &= (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
        ok &= (hour < 24) & (minute < 60) & (second < 60)
        seconds[rows] = (
            _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
        )
        bad[rows] = ~ok
    # The rest — other lengths, or 19 characters that did not pass — one by one, exactly.
    for i in np.flatnonzero(present & bad).tolist():
        when = _parse_one(str(arr[i].as_py()).strip(), time_format)
        if when is not None:
            seconds[i] = int(when.timestamp())
            bad[i] = False
    return seconds, bad


#: Fixed positions of month, day, hour, minute and second in the 19-character forms
#: ``YYYY-MM-DDTHH:MM:SS`` and ``YYYY/MM/DD HH:MM:SS``.
_FIELDS = ((5, 7, pc.month), (8, 10, pc.day), (11, 13, pc.hour), (14, 16, pc.minute),
           (17, 19, pc.second))  # fmt: skip
_FIXED_WIDTH = {"%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S"}


def _rolled_over(parsed: pa.ChunkedArray, head: pa.ChunkedArray, fmt: str) -> NDArray[np.int64]:
    """Rows where Arrow's ``strptime`` rolled an impossible time over instead of failing.

    It turns February 30 into March 2 and second 60 into the next minute. For the fixed-width
    formats the digits of each field are compared with the parsed value (vectorised); a rolled
    value or unpadded text (``2018/3/2 0:4:5``) then differs and is read by the exact
    per-row parser.
    """
    valid = pc.is_valid(parsed)
    if fmt in _FIXED_WIDTH:
        differs = np.zeros(len(parsed), dtype=bool)
        for a, b, field in _FIELDS:
            text = pc.utf8_slice_codeunits(head, a, b)
            two_digits = pc.match_substring_regex(text, r"^\d\d$")
            digits = pc.cast(pc.if_else(two_digits, text, pa.scalar("-1")), pa.int64())
            mismatch = pc.not_equal(digits, field(parsed))
            differs |= np.asarray(
                pc.and_kleene(mismatch, valid).fill_null(False).to_numpy(zero_copy_only=False),
                dtype=bool,
            )
        return np.flatnonzero(differs).astype(np.int64)
    suspect = pc.and_kleene(
        pc.or_(pc.less_equal(pc.day(parsed), 3), pc.less_equal(pc.second(parsed), 1)), valid
    )
    mask = np.asarray(suspect.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    rows = np.flatnonzero(mask).astype(np.int64)
    if not len(rows):
        return rows
    taken = pa.array(rows)
    same = pc.equal(pc.strftime(parsed.take(taken), format=fmt), head.take(taken))
    equal: NDArray[np.bool_] = np.asarray(
        same.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool
    )
    return rows[~equal]


def _parse_one(text: str, time_format: str | None) -> datetime | None:
    """One time exactly: ISO 8601 (``time_format`` None) or a strptime format; naive is UTC."""
    if time_format is None:
        return _parse_iso(text)
    try:
        return datetime.strptime(text, time_format).replace(tzinfo=UTC)
    except ValueError:
        return None


def _parse_iso(text: str) -> datetime | None:
    if not _ISO.fullmatch(text):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def is_null_token(text: str | None) -> bool:
    return text is None or text.strip() in _NULL_SET


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """Column ``column`` holds ``variable`` × ``scale`` for sensor ``sensor`` (None: per row)."""

    column: str
    variable: int
    scale: float = 1.0
    sensor: int | None = None


def collect(
    table: Table,
    specs: list[ColumnSpec],
    *,
    row_sensor: NDArray[np.int64] | None,
    row_ok: NDArray[np.bool_],
    source: str,
) -> tuple[list[Readings], list[Rejection]]:
    """Turn mapped columns into readings (one part per column) and report unreadable values.

    ``row_ok`` marks rows whose time and identity are usable; other rows were reported already.
    """
    parts: list[Readings] = []
    rejections: list[Rejection] = []
    for spec in specs:
        values = table.numeric.get(spec.column)
        if values is None:
            continue
        bad = table.bad_numeric[spec.column] & row_ok
        for i in np.flatnonzero(bad).tolist():
            raw = table.bad_text.get(spec.column, {}).get(i, "?")
            rejections.append(
                Rejection(
                    source, int(table.line[i]) or None, f"{raw[:40]!r} is not a number", spec.column
                )
            )
        keep = row_ok & ~np.isnan(values)
        idx = np.flatnonzero(keep)
        if not len(idx):
            continue
        scaled = values[idx] * spec.scale if spec.scale != 1.0 else values[idx]
        if spec.scale != 1.0:
            scaled = np.round(scaled, 6)
        sensors = (
            np.full(len(idx), spec.sensor, dtype=np.int64)
            if spec.sensor is not None
            else (row_sensor[idx] if row_sensor is not None else np.zeros(len(idx), np.int64))
        )
        parts.append(
            Readings(
                [],
                sensors,
                np.full(len(idx), spec.variable, dtype=np.int64),
                table.time[idx],
                scaled,
                table.line[idx],
            )
        )
    return parts, rejections


def time_rejections(table: Table, source: str, column: str) -> list[Rejection]:
    """Rejections for rows whose time could not be read."""
    out = []
    for i in np.flatnonzero(table.bad_time).tolist():
        raw = table.raw_time.get(i)
        shown = f"{raw[:40]!r}" if raw else "missing"
        out.append(
            Rejection(source, int(table.line[i]) or None, f"time {shown} is not readable", column)
        )
    return out

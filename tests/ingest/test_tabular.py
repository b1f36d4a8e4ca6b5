"""The shared CSV reader (``ingest/tabular.py``) and the record helpers (``ingest/records.py``).

Line numbers are physical lines of the file as an editor shows them (``\\n``-terminated, the
header is line 1). Expected times are computed here with ``datetime`` constructors, not with the
parser's own functions.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from smartdistricts.ingest.records import Readings, Rejection, SensorRef, split_refused
from smartdistricts.ingest.tabular import (
    ColumnSpec,
    Table,
    collect,
    open_bytes,
    read_table,
    time_rejections,
)
from smartdistricts.nomenclature import variable

HEADER = "name;time;a;b\n"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp())


def read(content: str | bytes, **kwargs: object) -> Table:
    data = content.encode() if isinstance(content, str) else content
    options: dict[str, object] = {
        "source": "f.csv",
        "numeric": ["a", "b"],
        "text": ["name"],
        "time_column": "time",
    }
    options.update(kwargs)
    return read_table(data, **options)  # type: ignore[arg-type]


def as_rows(table: Table) -> list[tuple[int, int, float, float]]:
    """(line, time, a, b) per row, NaN shown as -1 for easy comparison."""
    a = np.nan_to_num(table.numeric["a"], nan=-1.0)
    b = np.nan_to_num(table.numeric["b"], nan=-1.0)
    return list(zip(table.line.tolist(), table.time.tolist(), a.tolist(), b.tolist(), strict=True))


def reasons(table: Table) -> list[tuple[int | None, str]]:
    return [(r.line, r.reason) for r in table.rejections]


# -- line numbers ----------------------------------------------------------------------------------


def test_first_data_row_is_line_2_and_lines_count_physically() -> None:
    table = read(HEADER + "x;2018-03-07T00:00:26;1;2\nx;2018-03-07T00:02:26;3;4\n")
    assert as_rows(table) == [
        (2, utc(2018, 3, 7, 0, 0, 26), 1.0, 2.0),
        (3, utc(2018, 3, 7, 0, 2, 26), 3.0, 4.0),
    ]
    assert table.rows_read == 2
    assert table.rejections == []
    assert table.text["name"].to_pylist() == ["x", "x"]


def test_blank_lines_in_the_middle_are_skipped_but_counted() -> None:
    text = (
        HEADER
        + "\n"  # 2
        + "x;2018-03-07T00:00:26;1;2\n"  # 3
        + "\n\n"  # 4, 5
        + "short;line\n"  # 6
        + "   \n"  # 7: only spaces counts as blank
        + "x;2018-03-07T00:02:26;3;4\n"  # 8
        + "\n"
    )
    table = read(text)
    assert [row[0] for row in as_rows(table)] == [3, 8]
    assert reasons(table) == [(6, "expected 4 fields, found 2")]
    assert table.rows_read == 3


def test_crlf_line_endings_and_crlf_blank_lines() -> None:
    lf = HEADER + "x;2018-03-07T00:00:26;1;2\n\nbad\nx;2018-03-07T00:02:26;3;4\n"
    table = read(lf.replace("\n", "\r\n"))
    assert as_rows(table) == [
        (2, utc(2018, 3, 7, 0, 0, 26), 1.0, 2.0),
        (5, utc(2018, 3, 7, 0, 2, 26), 3.0, 4.0),
    ]
    assert reasons(table) == [(4, "expected 4 fields, found 1")]
    # The last column must not keep the "\r".
    assert table.numeric["b"].tolist() == [2.0, 4.0]


def test_utf8_bom_is_not_part_of_the_first_column_name() -> None:
    table = read(
        "\ufeff" + HEADER.replace("name;time", "time;name") + "2018-03-07T00:00:26;x;1;2\n"
    )
    assert as_rows(table) == [(2, utc(2018, 3, 7, 0, 0, 26), 1.0, 2.0)]


def test_stray_carriage_return_does_not_shift_later_line_numbers() -> None:
    # Arrow ends a row at a lone "\r"; an editor does not. Line numbers follow the editor.
    text = (
        HEADER
        + "x;2018-03-07T00:00:26;1\r;2\n"
        + "x;2018-03-07T00:02:26;3;4\n"
        + "bad\n"
        + "x;2018-03-07T00:04:26;5;6\n"
    )
    table = read(text)
    assert [row[0] for row in as_rows(table)] == [2, 3, 5]
    assert reasons(table) == [(4, "expected 4 fields, found 1")]
    assert table.numeric["a"].tolist() == [1.0, 3.0, 5.0]


def test_old_mac_line_endings() -> None:
    text = HEADER + "x;2018-03-07T00:00:26;1;2\nbad\nx;2018-03-07T00:02:26;3;4\n"
    table = read(text.replace("\n", "\r"))
    assert [row[0] for row in as_rows(table)] == [2, 4]
    assert reasons(table) == [(3, "expected 4 fields, found 1")]


def test_wrong_field_counts_are_reported_with_both_counts() -> None:
    text = (
        HEADER
        + "x;2018-03-07T00:00:26;1;2;9\n"  # one too many
        + "x;2018-03-07T00:02:26;3;4\n"
        + "x;2018-03-07T00:04:26;5\n"  # one too few
    )
    table = read(text)
    assert [row[0] for row in as_rows(table)] == [3]
    assert reasons(table) == [
        (2, "expected 4 fields, found 5"),
        (4, "expected 4 fields, found 3"),
    ]
    assert table.rows_read == 3


def test_lines_that_are_not_utf8_are_reported_and_the_rest_is_read() -> None:
    data = (
        HEADER.encode()
        + b"x;2018-03-07T00:00:26;1;2\n"
        + b"\xff\xfe;2018-03-07T00:01:26;1;2\n"
        + "ł;2018-03-07T00:02:26;3;4\n".encode()
    )
    table = read(data)
    assert [row[0] for row in as_rows(table)] == [2, 4]
    assert table.text["name"].to_pylist() == ["x", "ł"]
    assert len(table.rejections) == 1
    assert table.rejections[0].line == 3
    assert "UTF-8" in table.rejections[0].reason
    assert table.rows_read == 3


def test_no_trailing_newline_and_header_only() -> None:
    table = read(HEADER + "x;2018-03-07T00:00:26;1;2")
    assert as_rows(table) == [(2, utc(2018, 3, 7, 0, 0, 26), 1.0, 2.0)]
    empty = read(HEADER)
    assert empty.rows_read == 0
    assert len(empty.time) == 0


def test_missing_time_column_is_an_error_naming_the_file() -> None:
    with pytest.raises(ValueError, match=r"f\.csv: no 'time' column"):
        read("name;when;a;b\nx;2018-03-07T00:00:26;1;2\n")


# -- values ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "nan", "NaN", "null", "unavailable", "-", "None"])
def test_null_tokens_are_missing_not_errors(token: str) -> None:
    table = read(HEADER + f"x;2018-03-07T00:00:26;{token};2\n")
    assert np.isnan(table.numeric["a"][0])
    assert table.numeric["b"].tolist() == [2.0]
    assert table.rejections == []
    assert not table.bad_numeric["a"].any()


def test_a_bad_value_spoils_only_its_own_cell() -> None:
    text = (
        HEADER
        + "x;2018-03-07T00:00:26;1;2\n"
        + "x;2018-03-07T00:02:26;abc;4\n"
        + "x;2018-03-07T00:04:26;5;1,5\n"
        + "x;2018-03-07T00:06:26; 7.5 ;-3e1\n"
        + "x;2018-03-07T00:08:26; nan ;.5\n"
    )
    table = read(text)
    assert table.bad_numeric["a"].tolist() == [False, True, False, False, False]
    assert table.bad_numeric["b"].tolist() == [False, False, True, False, False]
    assert as_rows(table) == [
        (2, utc(2018, 3, 7, 0, 0, 26), 1.0, 2.0),
        (3, utc(2018, 3, 7, 0, 2, 26), -1.0, 4.0),
        (4, utc(2018, 3, 7, 0, 4, 26), 5.0, -1.0),
        (5, utc(2018, 3, 7, 0, 6, 26), 7.5, -30.0),
        (6, utc(2018, 3, 7, 0, 8, 26), -1.0, 0.5),
    ]
    assert table.bad_text == {"a": {1: "abc"}, "b": {2: "1,5"}}


def test_clean_and_fallback_paths_give_the_same_values() -> None:
    clean = HEADER + "x;2018-03-07T00:00:26;1.25;2\nx;2018-03-07T00:02:26;;-4\n"
    # The same rows plus one bad value force the slow path.
    dirty = clean + "x;2018-03-07T00:04:26;oops;6\n"
    fast, slow = read(clean), read(dirty)
    assert as_rows(slow)[:2] == as_rows(fast)
    assert slow.text["name"][:2].to_pylist() == fast.text["name"].to_pylist()


# -- times -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-03-07T00:00:26", utc(2018, 3, 7, 0, 0, 26)),
        ("2018-03-07 00:00:26", utc(2018, 3, 7, 0, 0, 26)),
        ("2015-10-01T19:41:50.266431+00:00", utc(2015, 10, 1, 19, 41, 50)),
        ("2015-10-01T19:41:50Z", utc(2015, 10, 1, 19, 41, 50)),
        ("2018-03-07T02:00:26+02:00", utc(2018, 3, 7, 0, 0, 26)),
        ("2018-03-06T22:00:26-02:00", utc(2018, 3, 7, 0, 0, 26)),
        ("2018-03-07T02:00:26+0200", utc(2018, 3, 7, 0, 0, 26)),
        (" 2018-03-07T00:00:26 ", utc(2018, 3, 7, 0, 0, 26)),
    ],
)
def test_iso_time_forms(text: str, expected: int) -> None:
    table = read(HEADER + f"x;{text};1;2\n")
    assert table.time.tolist() == [expected]
    assert not table.bad_time.any()


def test_mixed_time_forms_in_one_file() -> None:
    text = (
        HEADER
        + "x;2018-03-07T00:00:26;1;2\n"
        + "x;2018-03-07T03:00:26+01:00;1;2\n"
        + "x;2018-03-07T04:00:26.999999+00:00;1;2\n"
    )
    assert read(text).time.tolist() == [
        utc(2018, 3, 7, 0, 0, 26),
        utc(2018, 3, 7, 2, 0, 26),
        utc(2018, 3, 7, 4, 0, 26),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "2018-03-07",  # truncated: must not become midnight
        "2018-03-07T00",
        "2018-03-07T00:00",
        "2018-02-30T00:00:26",  # no such day: must not roll over into March
        "2018-03-07T24:00:00",
        "2018-03-07T00:00:60",
        "2018-13-07T00:00:26",
        "2018-03-07X00:00:26",
        "07.03.2018 00:00:26",
        "20180307T000026",
    ],
)
def test_unreadable_times_are_reported_with_their_text(text: str) -> None:
    table = read(HEADER + "x;2018-03-07T00:00:00;1;2\n" + f"x;{text};3;4\n")
    assert table.bad_time.tolist() == [False, True]
    (rejection,) = time_rejections(table, "f.csv", "time")
    assert rejection == Rejection("f.csv", 3, f"time {text!r} is not readable", "time")


def test_missing_time_is_reported_as_missing() -> None:
    table = read(HEADER + "x;;3;4\n")
    assert [str(r) for r in time_rejections(table, "f.csv", "time")] == [
        "f.csv:2 [time]: time missing is not readable"
    ]


def test_explicit_time_format() -> None:
    text = "time;a\n2018/03/07 00:02:05;1\n2018/3/7 0:4:5;2\n2018/02/30 00:00:00;3\n2018-03-07;4\n"
    table = read(text, numeric=["a"], text=[], time_format="%Y/%m/%d %H:%M:%S")
    assert table.time[:2].tolist() == [utc(2018, 3, 7, 0, 2, 5), utc(2018, 3, 7, 0, 4, 5)]
    assert table.bad_time.tolist() == [False, False, True, True]


def test_column_names_override_the_header() -> None:
    text = "t;x\n2018-03-07T00:00:26;1;2\n"
    table = read(text, column_names=["time", "a", "b"], text=[])
    assert as_rows(table) == [(2, utc(2018, 3, 7, 0, 0, 26), 1.0, 2.0)]


# -- collect ---------------------------------------------------------------------------------------


def test_collect_scales_skips_missing_and_reports_bad_values() -> None:
    text = (
        HEADER
        + "x;2018-03-07T00:00:26;100101.00;1\n"
        + "x;2018-03-07T00:02:26;;2\n"
        + "x;2018-03-07T00:04:26;1x;3\n"
        + "x;nonsense;100200;4\n"
    )
    table = read(text)
    pressure, temp = variable("pressure").id, variable("temp_air").id
    specs = [ColumnSpec("a", pressure, 0.01, sensor=0), ColumnSpec("b", temp, sensor=1)]
    parts, rejections = collect(table, specs, row_sensor=None, row_ok=~table.bad_time, source="f")
    got = sorted(
        (int(p.variable[i]), int(p.sensor[i]), int(p.line[i]), float(p.value[i]))
        for p in parts
        for i in range(len(p))
    )
    assert got == sorted(
        [
            (pressure, 0, 2, 1001.01),
            (temp, 1, 2, 1.0),
            (temp, 1, 3, 2.0),
            (temp, 1, 4, 3.0),
        ]
    )
    # Line 5 has an unreadable time: its values are not reported again here.
    assert rejections == [Rejection("f", 4, "'1x' is not a number", "a")]


# -- open_bytes ------------------------------------------------------------------------------------


def test_open_bytes_reads_plain_and_gzipped_files(tmp_path: Path) -> None:
    payload = (HEADER + "x;2018-03-07T00:00:26;1;2\n").encode()
    plain, packed = tmp_path / "a.csv", tmp_path / "a.csv.gz"
    plain.write_bytes(payload)
    packed.write_bytes(gzip.compress(payload))
    assert open_bytes(str(plain)) == payload
    assert open_bytes(str(packed)) == payload


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_open_bytes_refuses_a_damaged_gzip_file(tmp_path: Path, damage: str) -> None:
    packed = gzip.compress((HEADER + "x;2018-03-07T00:00:26;1;2\n" * 500).encode())
    if damage == "truncated":  # an interrupted download
        packed = packed[: len(packed) // 2]
    else:
        packed = packed[:20] + b"x" * 40 + packed[60:]
    path = tmp_path / "a.csv.gz"
    path.write_bytes(packed)
    with pytest.raises(ValueError, match="damaged or truncated gzip"):
        open_bytes(str(path))


# -- records: split_refused and Readings -----------------------------------------------------------

NOW = utc(2024, 6, 1)


def readings(rows: list[tuple[str, int, float, int]]) -> Readings:
    """Readings of one sensor from (variable name, time, value, line)."""
    return Readings(
        [SensorRef("dev", "SDS011")],
        np.zeros(len(rows), dtype=np.int64),
        np.asarray([variable(v).id for v, *_ in rows], dtype=np.int64),
        np.asarray([t for _, t, _, _ in rows], dtype=np.int64),
        np.asarray([x for _, _, x, _ in rows], dtype=np.float64),
        np.asarray([line for *_, line in rows], dtype=np.int64),
    )


def test_split_refused_keeps_possible_values_and_names_each_refusal() -> None:
    t = utc(2024, 5, 31)
    r = readings(
        [
            ("pm10", t, 2000.0, 2),  # at the hard limit: kept (soft limit flags it later)
            ("pm10", t + 1, 2500.0, 3),
            ("pm2_5", t, -0.1, 4),
            ("pressure", t, 10.04, 5),  # hPa sent where Pa was expected, divided again
            ("temp_air", t, float("nan"), 6),
            ("temp_air", NOW + 601, 20.0, 7),
            ("temp_air", NOW + 600, 20.0, 8),
            ("temp_air", utc(1999, 12, 31, 23, 59, 59), 20.0, 9),
            ("relative_humidity", t, 99.9, 0),
        ]
    )
    kept, refused = split_refused(r, "f.csv", now=NOW)
    assert kept.line.tolist() == [2, 8, 0]
    assert [(x.source, x.line, x.field) for x in refused] == [
        ("f.csv", 3, "pm10"),
        ("f.csv", 4, "pm2_5"),
        ("f.csv", 5, "pressure"),
        ("f.csv", 6, "temp_air"),
        ("f.csv", 7, "time"),
        ("f.csv", 9, "time"),
    ]
    assert "2500" in refused[0].reason
    assert "0–2000" in refused[0].reason
    assert refused[4].reason == "time 2024-06-01T00:10:01Z is in the future"
    assert refused[5].reason == "time 1999-12-31T23:59:59Z is before 2000"


def test_split_refused_of_nothing_and_of_clean_readings() -> None:
    kept, refused = split_refused(Readings(), "f")
    assert (len(kept), refused) == (0, [])
    r = readings([("pm10", utc(2024, 1, 1), 12.0, 2)])
    kept, refused = split_refused(r, "f", now=NOW)
    assert refused == []
    assert kept.value.tolist() == [12.0]


def test_rejection_text() -> None:
    assert str(Rejection("a.csv", 12, "bad", "P1")) == "a.csv:12 [P1]: bad"
    assert str(Rejection("a.csv", None, "bad")) == "a.csv: bad"


def test_concat_merges_sensor_lists() -> None:
    a = readings([("pm10", 1, 1.0, 2)])
    b = Readings(
        [SensorRef("dev2", "DHT22"), SensorRef("dev", "SDS011")],
        np.asarray([1, 0]),
        np.asarray([3, 5]),
        np.asarray([2, 3]),
        np.asarray([2.0, 3.0]),
        np.asarray([4, 5]),
    )
    joined = Readings.concat([a, Readings(), b])
    assert joined.sensors == [SensorRef("dev", "SDS011"), SensorRef("dev2", "DHT22")]
    assert [joined.sensors[i].device_uid for i in joined.sensor.tolist()] == ["dev", "dev", "dev2"]
    assert joined.value.tolist() == [1.0, 2.0, 3.0]
    assert len(Readings.concat([])) == 0

"""The batch body of ``POST /api/v1/measurements``: ``[{sensor, time, variable, value}, …]``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from smartdistricts.ingest.batch import MAX_ERRORS, MAX_ITEMS, BatchErrors, BatchItem, parse_batch
from smartdistricts.ingest.records import IngestError
from smartdistricts.nomenclature import variable

NOW = int(datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp())
NOON = "2026-11-27T11:00:00Z"
T_NOON = int(datetime(2026, 11, 27, 11, 0, tzinfo=UTC).timestamp())


def item(**changes: Any) -> dict[str, Any]:
    return {"sensor": 3, "time": NOON, "variable": "pm10", "value": 12.5, **changes}


def parse(items: Any) -> list[BatchItem]:
    return parse_batch(orjson.dumps(items), now=NOW)


def problems(items: Any) -> list[tuple[str, str]]:
    with pytest.raises(BatchErrors) as caught:
        parse(items)
    assert caught.value.status == 422
    return caught.value.problems


def test_valid_items_in_every_accepted_form() -> None:
    got = parse(
        [
            item(),
            item(time="2026-11-27T12:00:00+01:00", variable="pm2_5"),
            item(time="2026-11-27T06:00:00-05:00", variable="pm1"),
            item(time=T_NOON, variable="temp_air", value=-3),
            item(time=T_NOON + 0.75, variable="relative_humidity", value=99.9),
            item(sensor="BAM1020", value=0),
        ]
    )
    v = variable
    assert got == [
        BatchItem(3, T_NOON, v("pm10").id, 12.5),
        BatchItem(3, T_NOON, v("pm2_5").id, 12.5),
        BatchItem(3, T_NOON, v("pm1").id, 12.5),
        BatchItem(3, T_NOON, v("temp_air").id, -3.0),
        BatchItem(3, T_NOON, v("relative_humidity").id, 99.9),
        BatchItem("BAM1020", T_NOON, v("pm10").id, 0.0),
    ]
    assert all(isinstance(x.value, float) for x in got)


def test_sensor_type_names_are_trimmed() -> None:
    assert parse([item(sensor=" BAM1020 ")])[0].sensor == "BAM1020"


def test_time_limits() -> None:
    assert parse([item(time=NOW + 600)])[0].time == NOW + 600
    assert problems([item(time=NOW + 601)]) == [("[0].time", "is in the future")]
    assert problems([item(time="2099-01-01T00:00:00Z")]) == [("[0].time", "is in the future")]
    assert problems([item(time=946_684_799)]) == [("[0].time", "is before 2000")]
    assert parse([item(time=946_684_800)])[0].time == 946_684_800


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"time": "2026-11-27T11:00:00"}, "[0].time", "no time zone"),
        ({"time": "2026-11-27"}, "[0].time", "no time zone"),
        ({"time": "yesterday"}, "[0].time", "not an ISO 8601 time"),
        ({"time": True}, "[0].time", "ISO 8601"),
        ({"time": None}, "[0].time", "ISO 8601"),
        ({"time": [2026]}, "[0].time", "ISO 8601"),
        ({"sensor": 0}, "[0].sensor", "sensor id or a sensor type"),
        ({"sensor": -4}, "[0].sensor", "sensor id or a sensor type"),
        ({"sensor": 3.0}, "[0].sensor", "sensor id or a sensor type"),
        ({"sensor": True}, "[0].sensor", "sensor id or a sensor type"),
        ({"sensor": "  "}, "[0].sensor", "sensor id or a sensor type"),
        ({"sensor": "x" * 65}, "[0].sensor", "sensor id or a sensor type"),
        ({"variable": "PM10"}, "[0].variable", "'PM10' is not a known variable"),
        ({"variable": 3}, "[0].variable", "not a known variable"),
        ({"value": "12.5"}, "[0].value", "must be a number"),
        ({"value": None}, "[0].value", "must be a number"),
        ({"value": False}, "[0].value", "must be a number"),
        ({"value": 2000.5}, "[0].value", "pm10 2000.5 µg/m³ is outside the possible range"),
        ({"value": -0.5}, "[0].value", "outside the possible range 0–2000"),
        ({"variable": "pressure", "value": 100405}, "[0].value", "pressure"),
    ],
)
def test_each_kind_of_item_error(changes: dict[str, Any], field: str, words: str) -> None:
    ((got_field, message),) = problems([item(**changes)])
    assert got_field == field
    assert words in message


@pytest.mark.parametrize("missing", ["sensor", "time", "variable", "value"])
def test_missing_keys(missing: str) -> None:
    raw = item()
    del raw[missing]
    assert problems([raw]) == [(f"[0].{missing}", "is missing")]


def test_items_that_are_not_objects() -> None:
    assert problems([item(), 5, "x"]) == [
        ("[1]", "must be an object"),
        ("[2]", "must be an object"),
    ]


def test_duplicates_are_refused() -> None:
    same_instant = item(time="2026-11-27T12:00:00+01:00")
    assert problems([item(), same_instant]) == [
        ("[1]", "repeats an earlier item (same sensor, time and variable)")
    ]
    # Same time and variable but another sensor, or another variable: not duplicates.
    assert len(parse([item(), item(sensor=4), item(variable="pm2_5")])) == 3


def test_all_problems_are_listed_and_nothing_is_accepted() -> None:
    with pytest.raises(BatchErrors) as caught:
        parse([item(), item(value=-1), item(sensor=0), item(time="soon"), item()])
    error = caught.value
    assert error.problems == [
        ("[1].value", "pm10 -1 µg/m³ is outside the possible range 0–2000 µg/m³"),
        ("[2].sensor", "must be a sensor id or a sensor type name"),
        ("[3].time", "'soon' is not an ISO 8601 time"),
        ("[4]", "repeats an earlier item (same sensor, time and variable)"),
    ]
    assert error.field == "[1].value"
    assert "3 more" in error.message
    assert isinstance(error, IngestError)


def test_problem_list_is_capped() -> None:
    found = problems([item(value=-1)] * (MAX_ERRORS + 20))
    assert len(found) == MAX_ERRORS


@pytest.mark.parametrize(
    ("raw", "field", "status"),
    [
        (b"", "body", 400),
        (b"not json", "body", 400),
        (b'[{"value": NaN}]', "body", 400),
        (b"[\xff]", "body", 400),
        (b'{"sensor": 3}', "body", 422),
        (b"[]", "body", 422),
    ],
)
def test_body_level_errors(raw: bytes, field: str, status: int) -> None:
    with pytest.raises(IngestError) as caught:
        parse_batch(raw, now=NOW)
    assert (caught.value.field, caught.value.status) == (field, status)
    assert not isinstance(caught.value, BatchErrors)


def test_max_items() -> None:
    at_limit = [item(time=T_NOON - i) for i in range(MAX_ITEMS)]
    assert len(parse(at_limit)) == MAX_ITEMS
    with pytest.raises(IngestError) as caught:
        parse([*at_limit, item(time=T_NOON - MAX_ITEMS)])
    assert (caught.value.field, caught.value.status) == ("body", 413)

"""airrohr firmware pushes (formats reference §1): value-type maps, status values, refusals.

The expected mapping below is written out from the formats reference §1.5–§1.6 (firmware
``ext_def.h`` and the value_type table), not copied from the module under test.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartdistricts.ingest.airrohr import (
    COMBINED,
    MAX_BODY,
    MAX_VALUES,
    PER_PIN,
    AirrohrPush,
    parse_push,
)
from smartdistricts.ingest.records import IngestError
from smartdistricts.nomenclature import variable

X = "esp8266-13597771"

#: value_type → (sensor type, canonical variable, factor to the canonical unit).
EXPECTED_COMBINED: dict[str, tuple[str, str, float]] = {
    "SDS_P1": ("SDS011", "pm10", 1),  # P1 = PM10
    "SDS_P2": ("SDS011", "pm2_5", 1),  # P2 = PM2.5
    "PMS_P0": ("PMSx003", "pm1", 1),
    "PMS_P1": ("PMSx003", "pm10", 1),
    "PMS_P2": ("PMSx003", "pm2_5", 1),
    "HPM_P1": ("HPM", "pm10", 1),
    "HPM_P2": ("HPM", "pm2_5", 1),
    "NPM_P0": ("NextPM", "pm1", 1),
    "NPM_P1": ("NextPM", "pm10", 1),
    "NPM_P2": ("NextPM", "pm2_5", 1),
    "NPM_N1": ("NextPM", "nc1", 1),
    "NPM_N10": ("NextPM", "nc10", 1),
    "NPM_N25": ("NextPM", "nc2_5", 1),
    "IPS_P0": ("IPS-7100", "pm1", 1),
    "IPS_P1": ("IPS-7100", "pm10", 1),
    "IPS_P2": ("IPS-7100", "pm2_5", 1),
    "SPS30_P0": ("SPS30", "pm1", 1),
    "SPS30_P2": ("SPS30", "pm2_5", 1),
    "SPS30_P4": ("SPS30", "pm4", 1),
    "SPS30_P1": ("SPS30", "pm10", 1),
    "SPS30_N05": ("SPS30", "nc0_5", 1),
    "SPS30_N1": ("SPS30", "nc1", 1),
    "SPS30_N25": ("SPS30", "nc2_5", 1),
    "SPS30_N4": ("SPS30", "nc4", 1),
    "SPS30_N10": ("SPS30", "nc10", 1),
    "SPS30_TS": ("SPS30", "particle_size", 1),
    "P1": ("PPD42NS", "ppd_p1_count", 1),  # particle counts, not µg/m³
    "P2": ("PPD42NS", "ppd_p2_count", 1),
    "temperature": ("DHT22", "temp_air", 1),
    "humidity": ("DHT22", "relative_humidity", 1),
    "HTU21D_temperature": ("HTU21D", "temp_air", 1),
    "HTU21D_humidity": ("HTU21D", "relative_humidity", 1),
    "BMP_temperature": ("BMP180", "temp_air", 1),
    "BMP_pressure": ("BMP180", "pressure", 0.01),  # Pa → hPa
    "BMP280_temperature": ("BMP280", "temp_air", 1),
    "BMP280_pressure": ("BMP280", "pressure", 0.01),
    "BME280_temperature": ("BME280", "temp_air", 1),
    "BME280_pressure": ("BME280", "pressure", 0.01),
    "BME280_humidity": ("BME280", "relative_humidity", 1),
    "SHT3X_temperature": ("SHT3X", "temp_air", 1),
    "SHT3X_humidity": ("SHT3X", "relative_humidity", 1),
    "SCD30_temperature": ("SCD30", "temp_air", 1),
    "SCD30_humidity": ("SCD30", "relative_humidity", 1),
    "SCD30_co2_ppm": ("SCD30", "co2", 1),
    "DS18B20_temperature": ("DS18B20", "temp_air", 1),
    "DNMS_noise_LAeq": ("DNMS", "noise_laeq", 1),
    "DNMS_noise_LA_min": ("DNMS", "noise_la_min", 1),
    "DNMS_noise_LA_max": ("DNMS", "noise_la_max", 1),
}

_PM_PIN = {
    "P0": "pm1",
    "P1": "pm10",
    "P2": "pm2_5",
    "P4": "pm4",
    "N05": "nc0_5",
    "N1": "nc1",
    "N25": "nc2_5",
    "N4": "nc4",
    "N10": "nc10",
    "TS": "particle_size",
}
#: X-PIN → value_type → (sensor type, variable, factor).
EXPECTED_PER_PIN: dict[str, dict[str, tuple[str, str, float]]] = {
    "1": {k: ("PM", v, 1) for k, v in _PM_PIN.items()},
    "3": {"temperature": ("BMP", "temp_air", 1), "pressure": ("BMP", "pressure", 0.01)},
    "5": {"P1": ("PPD42NS", "ppd_p1_count", 1), "P2": ("PPD42NS", "ppd_p2_count", 1)},
    "7": {
        "temperature": ("THSENSOR", "temp_air", 1),
        "humidity": ("THSENSOR", "relative_humidity", 1),
    },
    "11": {
        "temperature": ("BME280", "temp_air", 1),
        "pressure": ("BME280", "pressure", 0.01),
        "humidity": ("BME280", "relative_humidity", 1),
    },
    "13": {"temperature": ("DS18B20", "temp_air", 1)},
    "15": {
        "noise_LAeq": ("DNMS", "noise_laeq", 1),
        "noise_LA_min": ("DNMS", "noise_la_min", 1),
        "noise_LA_max": ("DNMS", "noise_la_max", 1),
    },
    "17": {
        "temperature": ("SCD30", "temp_air", 1),
        "humidity": ("SCD30", "relative_humidity", 1),
        "co2_ppm": ("SCD30", "co2", 1),
    },
}


def body(*pairs: tuple[str, Any], **top: Any) -> bytes:
    return orjson.dumps(
        {**top, "sensordatavalues": [{"value_type": k, "value": v} for k, v in pairs]}
    )


def sample_value(name: str) -> tuple[str, float]:
    """A value as the firmware would send it, and the number it stands for."""
    if name == "pressure":
        return "100405.00", 100405.0  # Pa
    if name == "co2":
        return "415", 415.0
    return "12.34", 12.34


def test_every_combined_value_type_is_covered_here() -> None:
    assert set(COMBINED) == set(EXPECTED_COMBINED)
    assert set(PER_PIN) == set(EXPECTED_PER_PIN)
    for pin, table in PER_PIN.items():
        assert set(table) == set(EXPECTED_PER_PIN[pin]), pin


@pytest.mark.parametrize("value_type", sorted(EXPECTED_COMBINED))
def test_combined_value_types(value_type: str) -> None:
    sensor_type, name, factor = EXPECTED_COMBINED[value_type]
    sent, number = sample_value(name)
    push = parse_push(body((value_type, sent)), x_sensor=X)
    assert push.values == [(sensor_type, variable(name).id, pytest.approx(number * factor))]
    assert (push.status, push.ignored) == ({}, [])


@pytest.mark.parametrize(
    ("pin", "value_type"),
    sorted((pin, vt) for pin, table in EXPECTED_PER_PIN.items() for vt in table),
)
def test_per_pin_value_types(pin: str, value_type: str) -> None:
    sensor_type, name, factor = EXPECTED_PER_PIN[pin][value_type]
    sent, number = sample_value(name)
    push = parse_push(body((value_type, sent)), x_sensor=X, x_pin=pin)
    assert push.values == [(sensor_type, variable(name).id, pytest.approx(number * factor))]


def test_the_documented_combined_payload() -> None:
    # The illustrative request of formats reference §1.3 (a).
    raw = (
        b'{"esp8266id": "13597771", "software_version": "NRZ-2024-135", "sensordatavalues":['
        b'{"value_type":"SDS_P1","value":"7.06"},{"value_type":"SDS_P2","value":"5.27"},'
        b'{"value_type":"BME280_temperature","value":"14.09"},'
        b'{"value_type":"BME280_pressure","value":"100405.00"},'
        b'{"value_type":"BME280_humidity","value":"71.97"},'
        b'{"value_type":"samples","value":"869211"},{"value_type":"min_micro","value":"28"},'
        b'{"value_type":"max_micro","value":"20083"},{"value_type":"interval","value":"145000"},'
        b'{"value_type":"signal","value":"-67"}]}'
    )
    push = parse_push(raw, x_sensor=X)
    v = variable
    assert push == AirrohrPush(
        device_uid=X,
        software_version="NRZ-2024-135",
        values=[
            ("SDS011", v("pm10").id, 7.06),
            ("SDS011", v("pm2_5").id, 5.27),
            ("BME280", v("temp_air").id, 14.09),
            ("BME280", v("pressure").id, 1004.05),
            ("BME280", v("relative_humidity").id, 71.97),
        ],
        status={
            "samples": 869211.0,
            "min_micro": 28.0,
            "max_micro": 20083.0,
            "interval": 145000.0,
            "signal": -67.0,
        },
    )


def test_per_sensor_push_to_pin_1_means_pm() -> None:
    # The same "P1" is PM10 on pin 1 but a PPD42NS count without a pin (combined payload).
    pinned = parse_push(body(("P1", "7.06"), ("P2", "5.27")), x_sensor=X, x_pin="1")
    combined = parse_push(body(("P1", "7.06"), ("P2", "5.27")), x_sensor=X)
    assert [name for _s, vid, _v in pinned.values for name in [variable(vid).name]] == [
        "pm10",
        "pm2_5",
    ]
    assert [variable(vid).name for _s, vid, _v in combined.values] == [
        "ppd_p1_count",
        "ppd_p2_count",
    ]
    assert parse_push(body(("P1", "7.06")), x_sensor=X, x_pin="0").values == combined.values[:1]


@pytest.mark.parametrize("signal", ["-42 dBm", "-42dBm", " -42 ", "-42"])
def test_signal_old_and_new_forms(signal: str) -> None:
    push = parse_push(body(("SDS_P1", "1"), ("signal", signal)), x_sensor=X)
    assert push.status == {"signal": -42.0}


def test_status_only_push_is_accepted() -> None:
    push = parse_push(body(("interval", "145000")), x_sensor=X)
    assert (push.values, push.status) == ([], {"interval": 145000.0})


def test_unknown_and_ignored_value_types_do_not_fail_the_push() -> None:
    push = parse_push(
        body(
            ("SDS_P1", "7.06"),
            ("durP1", "2831"),
            ("GPS_lat", "-200.000000"),
            ("GPS_timestamp", "1970-01-01T00:00:00.000"),  # not a number: still fine
            ("brightness", "n/a"),
            ("IPS_N01", "12"),
        ),
        x_sensor=X,
    )
    assert push.values == [("SDS011", variable("pm10").id, 7.06)]
    assert push.ignored == ["durP1", "GPS_lat", "GPS_timestamp", "brightness", "IPS_N01"]


def test_numbers_sent_as_json_numbers_are_accepted() -> None:
    push = parse_push(body(("SDS_P1", 7.06), ("SDS_P2", 5), ("signal", -67)), x_sensor=X)
    assert push.values == [("SDS011", 3, 7.06), ("SDS011", 2, 5.0)]
    assert push.status == {"signal": -67.0}


def test_limits_are_inclusive() -> None:
    push = parse_push(body(("SDS_P1", "2000"), ("SDS_P2", "0")), x_sensor=X)
    assert [v for *_, v in push.values] == [2000.0, 0.0]


def test_device_from_the_body_when_x_sensor_is_missing() -> None:
    assert parse_push(body(("SDS_P1", "1"), esp8266id="77"), x_sensor=None).device_uid == (
        "esp8266-77"
    )
    assert parse_push(body(("SDS_P1", "1"), esp32id="a1b2"), x_sensor="").device_uid == (
        "esp32-a1b2"
    )
    assert parse_push(body(("SDS_P1", "1"), esp8266id="13597771"), x_sensor=X).device_uid == X


def test_body_at_the_size_limit_is_accepted() -> None:
    raw = body(("SDS_P1", "1"))
    padded = raw + b" " * (MAX_BODY - len(raw))
    assert len(padded) == MAX_BODY
    assert parse_push(padded, x_sensor=X).values == [("SDS011", 3, 1.0)]


def _many(n: int) -> bytes:
    return body(*[(f"unknown_{i}", "1") for i in range(n)])


# (body, X-Sensor, X-PIN, expected field, expected status)
BAD: list[tuple[str, bytes, str | None, str | None, str, int]] = [
    ("not JSON", b"SDS_P1=7.06", X, None, "body", 400),
    ("empty body", b"", X, None, "body", 400),
    ("only spaces", b"   ", X, None, "body", 400),
    (
        "invalid UTF-8",
        b'{"sensordatavalues": [{"value_type": "SDS_P1", "value": "\xff"}]}',
        X,
        None,
        "body",
        400,
    ),
    (
        "JSON NaN literal",
        b'{"sensordatavalues": [{"value_type": "SDS_P1", "value": NaN}]}',
        X,
        None,
        "body",
        400,
    ),
    (
        "JSON Infinity literal",
        b'{"sensordatavalues": [{"value_type": "SDS_P1", "value": Infinity}]}',
        X,
        None,
        "body",
        400,
    ),
    (
        "number overflowing to infinity",
        b'{"sensordatavalues": [{"value_type": "SDS_P1", "value": 1e999}]}',
        X,
        None,
        "body",
        400,
    ),
    ("over 1 MB", body(("SDS_P1", "1")) + b" " * MAX_BODY, X, None, "body", 413),
    ("top level is a list", b"[]", X, None, "body", 422),
    ("missing X-Sensor", body(("SDS_P1", "1")), None, None, "X-Sensor", 400),
    ("bad X-Sensor", body(("SDS_P1", "1")), "esp8266 1; drop", None, "X-Sensor", 400),
    ("X-Sensor too long", body(("SDS_P1", "1")), "esp8266-" + "1" * 80, None, "X-Sensor", 400),
    (
        "bad esp8266id without X-Sensor",
        body(("SDS_P1", "1"), esp8266id="1 2"),
        None,
        None,
        "esp8266id",
        400,
    ),
    (
        "esp8266id not matching X-Sensor",
        body(("SDS_P1", "1"), esp8266id="42"),
        X,
        None,
        "esp8266id",
        422,
    ),
    ("unknown X-PIN", body(("P1", "1")), X, "99", "X-PIN", 400),
    (
        "software_version not a string",
        body(("SDS_P1", "1"), software_version=5),
        X,
        None,
        "software_version",
        422,
    ),
    ("missing sensordatavalues", b'{"esp8266id": "13597771"}', X, None, "sensordatavalues", 422),
    ("sensordatavalues null", b'{"sensordatavalues": null}', X, None, "sensordatavalues", 422),
    (
        "sensordatavalues not a list",
        b'{"sensordatavalues": {"SDS_P1": "1"}}',
        X,
        None,
        "sensordatavalues",
        422,
    ),
    ("empty list", body(), X, None, "sensordatavalues", 422),
    ("too many values", _many(MAX_VALUES + 1), X, None, "sensordatavalues", 422),
    ("only unknown types", body(("GPS_lat", "52.1")), X, None, "sensordatavalues", 422),
    (
        "item not an object",
        b'{"sensordatavalues": [{"value_type": "SDS_P1", "value": "1"}, 5]}',
        X,
        None,
        "sensordatavalues[1]",
        422,
    ),
    (
        "missing value_type",
        b'{"sensordatavalues": [{"value": "1"}]}',
        X,
        None,
        "sensordatavalues[0].value_type",
        422,
    ),
    (
        "value_type not a string",
        b'{"sensordatavalues": [{"value_type": 1, "value": "1"}]}',
        X,
        None,
        "sensordatavalues[0].value_type",
        422,
    ),
    (
        "missing value",
        b'{"sensordatavalues": [{"value_type": "SDS_P1"}]}',
        X,
        None,
        "sensordatavalues[0].value",
        422,
    ),
    (
        "duplicate value type",
        body(("SDS_P1", "1"), ("SDS_P1", "2")),
        X,
        None,
        "sensordatavalues[1].value_type",
        422,
    ),
    ('"nan"', body(("SDS_P1", "1"), ("SDS_P2", "nan")), X, None, "sensordatavalues[1].value", 422),
    ('"NaN"', body(("SDS_P1", "NaN")), X, None, "sensordatavalues[0].value", 422),
    (
        '"inf"',
        body(("SDS_P1", "1"), ("SDS_P2", "2"), ("BME280_temperature", "inf")),
        X,
        None,
        "sensordatavalues[2].value",
        422,
    ),
    (
        '"-Infinity"',
        body(("BME280_temperature", "-Infinity")),
        X,
        None,
        "sensordatavalues[0].value",
        422,
    ),
    ('"1e999"', body(("SDS_P1", "1e999")), X, None, "sensordatavalues[0].value", 422),
    ("boolean value", body(("SDS_P1", True)), X, None, "sensordatavalues[0].value", 422),
    ("null value", body(("SDS_P1", None)), X, None, "sensordatavalues[0].value", 422),
    ("object value", body(("SDS_P1", {"v": 1})), X, None, "sensordatavalues[0].value", 422),
    ("list value", body(("SDS_P1", [1])), X, None, "sensordatavalues[0].value", 422),
    ("empty string", body(("SDS_P1", "")), X, None, "sensordatavalues[0].value", 422),
    ("words", body(("SDS_P1", "seven")), X, None, "sensordatavalues[0].value", 422),
    ("decimal comma", body(("SDS_P1", "7,06")), X, None, "sensordatavalues[0].value", 422),
    (
        "digit group underscore",
        body(("SDS_P1", "1_000")),
        X,
        None,
        "sensordatavalues[0].value",
        422,
    ),
    ("non-ASCII digits", body(("SDS_P1", "٧")), X, None, "sensordatavalues[0].value", 422),
    ("unit on a PM value", body(("SDS_P1", "7 dBm")), X, None, "sensordatavalues[0].value", 422),
    (
        "bad status value",
        body(("SDS_P1", "1"), ("signal", "strong")),
        X,
        None,
        "sensordatavalues[1].value",
        422,
    ),
    ("PM over 2000", body(("SDS_P1", "2000.01")), X, None, "sensordatavalues[0].value", 422),
    ("negative PM", body(("PMS_P2", "-1")), X, None, "sensordatavalues[0].value", 422),
    ("humidity over 120", body(("humidity", "130")), X, None, "sensordatavalues[0].value", 422),
    (
        "pressure sent in hPa",
        body(("SDS_P1", "1"), ("BME280_pressure", "1004.05")),
        X,
        None,
        "sensordatavalues[1].value",
        422,
    ),
    (
        "pressure in hPa, per pin",
        body(("pressure", "1004.05")),
        X,
        "11",
        "sensordatavalues[0].value",
        422,
    ),
]


@pytest.mark.parametrize(
    ("raw", "x_sensor", "x_pin", "field", "status"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_pushes_are_refused_naming_the_field(
    raw: bytes, x_sensor: str | None, x_pin: str | None, field: str, status: int
) -> None:
    with pytest.raises(IngestError) as caught:
        parse_push(raw, x_sensor=x_sensor, x_pin=x_pin)
    assert (caught.value.field, caught.value.status) == (field, status)
    assert str(caught.value).startswith(f"{field}: ")
    assert caught.value.message


def test_pressure_in_hpa_message_explains_the_unit() -> None:
    with pytest.raises(IngestError) as caught:
        parse_push(body(("BME280_pressure", "1004.05")), x_sensor=X)
    assert "10.0405 hPa" in caught.value.message
    assert "300–1100 hPa" in caught.value.message


# -- fuzzing ---------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["7.06", "100405.00", "-42 dBm", "nan", "inf", "1e400", "2500", "", " 3 "]),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_value_types = st.one_of(
    st.sampled_from(
        sorted(
            {*COMBINED, *(k for t in PER_PIN.values() for k in t)}
            | {"samples", "signal", "interval", "GPS_lat"}
        )
    ),
    st.text(max_size=10),
    _scalars,
)
_numbers = st.one_of(
    st.floats(min_value=-50, max_value=2500).map(lambda x: f"{x:.2f}"),
    st.floats(min_value=-1e6, max_value=1e6).map(lambda x: f"{x:.2f}"),
    st.integers(min_value=-100, max_value=200_000).map(str),
    st.floats(allow_nan=False, allow_infinity=False),
)
_plausible = st.fixed_dictionaries(
    {"value_type": _value_types, "value": st.one_of(_numbers, _json)}
)
_items = st.one_of(
    _plausible,
    _plausible,
    st.fixed_dictionaries({"value_type": _value_types}),
    _json,
)
_known = st.fixed_dictionaries(
    {
        "value_type": st.sampled_from(sorted({*COMBINED, *PER_PIN["1"], "signal", "GPS_lat"})),
        "value": st.one_of(_numbers, st.sampled_from(["7.06", "100405.00", "55.5", "-67"])),
    }
)
_likely = st.fixed_dictionaries(
    {"sensordatavalues": st.lists(_known, min_size=1, max_size=4, unique_by=str)}
)
_documents = st.one_of(
    _json,
    _likely,
    _likely,
    st.fixed_dictionaries({"sensordatavalues": st.lists(_plausible, min_size=1, max_size=4)}),
    st.fixed_dictionaries(
        {"sensordatavalues": st.lists(_items, max_size=6)},
        optional={
            "esp8266id": st.one_of(st.just("13597771"), _scalars),
            "software_version": _scalars,
        },
    ),
)
_texts = _documents.map(lambda doc: json.dumps(doc, ensure_ascii=False))  # big ints too
_bodies = st.one_of(
    _texts.map(str.encode),
    _texts.map(str.encode),
    _texts.map(str.encode),
    st.binary(max_size=200),
    _texts.map(lambda text: text.encode()[:-1]),  # truncated JSON
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=_bodies,
    x_sensor=st.one_of(st.none(), st.sampled_from([X, "esp32-a1", "", "bad id"]), st.text()),
    x_pin=st.one_of(st.none(), st.sampled_from(["0", "1", "5", "7", "11", "99"]), st.text()),
)
def test_fuzzed_pushes_are_valid_or_refused_cleanly(
    raw: bytes, x_sensor: str | None, x_pin: str | None
) -> None:
    try:
        push = parse_push(raw, x_sensor=x_sensor, x_pin=x_pin)
    except IngestError as exc:
        assert exc.status in (400, 413, 422)
        assert exc.field
        return
    assert push.values or push.status
    for sensor_type, variable_id, value in push.values:
        var = variable(variable_id)
        assert sensor_type
        assert math.isfinite(value)
        assert var.hard_min <= value <= var.hard_max
    assert all(math.isfinite(v) for v in push.status.values())


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fuzzed_possible_values_are_accepted_unchanged(data: st.DataObject) -> None:
    value_type = data.draw(st.sampled_from(sorted(EXPECTED_COMBINED)))
    sensor_type, name, factor = EXPECTED_COMBINED[value_type]
    var = variable(name)
    low, high = var.hard_min / factor, min(var.hard_max, 1e9) / factor
    number = data.draw(st.floats(min_value=low, max_value=high))
    text = f"{number:.2f}"
    expected = float(text) * factor
    if not var.hard_min <= expected <= var.hard_max:  # rounding to 2 decimals crossed a limit
        return
    push = parse_push(body((value_type, text)), x_sensor=X)
    assert push.values == [(sensor_type, var.id, pytest.approx(expected, abs=1e-6))]

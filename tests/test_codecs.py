"""Wire codecs of docs/PROTOCOL.md: every reject reason, exact round trips, lenient timestamps."""

from __future__ import annotations

import contextlib
import json
import math
import struct
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mwm_tui.domain.codecs import (
    MAX_PAYLOAD_BYTES,
    Motion,
    Position,
    decode_location,
    decode_motion,
    decode_order,
    decode_will,
    encode_location,
    encode_motion,
    encode_will,
    format_timestamp,
    parse_timestamp,
)
from mwm_tui.domain.errors import DecodeError, RejectReason

BOOK_FIX = b'{"deviceID": "BBB", "lat": 48.8581, "lng": 2.2946, "ts": "2013-09-23T08:43Z"}'
# struct.pack(">ddd", 1.6, -0.1, 0.8), written out so a change of byte order cannot go unseen.
BOOK_MOTION_BYTES = (
    b"\x3f\xf9\x99\x99\x99\x99\x99\x9a"
    b"\xbf\xb9\x99\x99\x99\x99\x99\x9a"
    b"\x3f\xe9\x99\x99\x99\x99\x99\x9a"
)
PLUS_ONE = timezone(timedelta(hours=1))


def location(**fields: object) -> bytes:
    """A location body with the book's values, overridden or removed (value ...) per field."""
    body: dict[str, object] = {"deviceID": "BBB", "lat": 48.8581, "lng": 2.2946}
    for name, value in fields.items():
        if value is ...:
            body.pop(name, None)
        else:
            body[name] = value
    return json.dumps(body).encode()


def reason_of(decode: object, payload: object, *args: object) -> RejectReason:
    with pytest.raises(DecodeError) as caught:
        decode(payload, *args)  # type: ignore[operator]
    return caught.value.reason


# --- location: the book's body and round trips -------------------------------------------


def test_book_location_body_decodes() -> None:
    position = decode_location(BOOK_FIX, "BBB")
    assert position == Position(
        "BBB", 48.8581, 2.2946, datetime(2013, 9, 23, 8, 43, tzinfo=UTC), "2013-09-23T08:43Z"
    )


def test_location_accepts_str_payload_and_integer_coordinates() -> None:
    position = decode_location('{"deviceID": "AAA", "lat": 48, "lng": -2}')
    assert (position.device_id, position.lat, position.lng) == ("AAA", 48.0, -2.0)
    assert isinstance(position.lat, float)


def test_location_without_ts_has_no_time() -> None:
    position = decode_location(location(), "BBB")
    assert position.ts is None and position.raw_ts is None


def test_location_with_null_ts_has_no_time() -> None:
    assert decode_location(location(ts=None)).raw_ts is None


@pytest.mark.parametrize(("lat", "lng"), [(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0)])
def test_location_range_edges_are_accepted(lat: float, lng: float) -> None:
    position = decode_location(location(lat=lat, lng=lng))
    assert (position.lat, position.lng) == (lat, lng)


def test_location_round_trip_keeps_raw_timestamp() -> None:
    original = Position(
        "2262EC25-E9FD-4578-BADE-4E113DE45934",
        -33.8568,
        151.2153,
        datetime(2014, 3, 5, 10, 12, 33, tzinfo=PLUS_ONE),
        "2014-03-5T10:12:33+01:00",
    )
    assert decode_location(encode_location(original), original.device_id) == original


def test_location_round_trip_of_parsed_time_only() -> None:
    moment = datetime(2013, 9, 23, 8, 43, 5, tzinfo=UTC)
    decoded = decode_location(encode_location(Position("AAA", 1.5, 2.5, moment)))
    assert decoded.ts == moment
    assert decoded.raw_ts == "2013-09-23T08:43:05Z"


def test_location_encoding_is_the_book_json_shape() -> None:
    body = json.loads(encode_location(Position("BBB", 48.8581, 2.2946, None, "2013-09-23T08:43Z")))
    assert body == json.loads(BOOK_FIX)


def test_location_round_trip_of_non_ascii_id() -> None:
    original = Position("Łódź-トラック", 51.77, 19.45)
    payload = encode_location(original)
    assert "Łódź-トラック".encode() in payload
    assert decode_location(payload) == original


# --- location: one test per reject reason ---------------------------------------------


def test_oversize_bytes() -> None:
    payload = location() + b" " * (MAX_PAYLOAD_BYTES + 1)
    assert reason_of(decode_location, payload) is RejectReason.OVERSIZE


def test_oversize_str() -> None:
    payload = location().decode() + " " * (MAX_PAYLOAD_BYTES + 1)
    assert reason_of(decode_location, payload) is RejectReason.OVERSIZE


def test_exactly_max_size_is_not_oversize() -> None:
    body = location()
    payload = body + b" " * (MAX_PAYLOAD_BYTES - len(body))
    assert len(payload) == MAX_PAYLOAD_BYTES
    assert decode_location(payload).device_id == "BBB"


@pytest.mark.parametrize(
    "payload",
    [b'{"deviceID": "\xff", "lat": 1, "lng": 2}', b"\xc3\x28", b'{"deviceID": "\xed\xa0\x80"}'],
    ids=["bad-byte", "bad-continuation", "encoded-surrogate"],
)
def test_not_utf8(payload: bytes) -> None:
    assert reason_of(decode_location, payload) is RejectReason.NOT_UTF8


@pytest.mark.parametrize(
    "payload",
    [b"", b"{deviceID: BBB}", b'{"deviceID": "BBB", "lat": 1', b"\xef\xbb\xbf{}", b"{'a': 1}"],
    ids=["empty", "unquoted", "truncated", "bom", "single-quotes"],
)
def test_not_json(payload: bytes) -> None:
    assert reason_of(decode_location, payload) is RejectReason.NOT_JSON


@pytest.mark.parametrize("payload", [b"[]", b"42", b'"BBB"', b"null", b"true", b'[{"a": 1}]'])
def test_not_object(payload: bytes) -> None:
    assert reason_of(decode_location, payload) is RejectReason.NOT_OBJECT


@pytest.mark.parametrize("field", ["deviceID", "lat", "lng"])
def test_missing_field(field: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_location(location(**{field: ...}))
    assert caught.value.reason is RejectReason.MISSING_FIELD
    assert caught.value.detail == field


@pytest.mark.parametrize(
    "fields",
    [
        {"lat": "48.8581"},
        {"lat": True},
        {"lng": False},
        {"lat": None},
        {"lng": [2.29]},
        {"deviceID": 42},
        {"deviceID": None},
        {"deviceID": ["BBB"]},
        {"ts": 1379925780},
        {"ts": {"iso": "2013-09-23T08:43Z"}},
    ],
    ids=repr,
)
def test_mistyped_field(fields: dict[str, object]) -> None:
    assert reason_of(decode_location, location(**fields)) is RejectReason.MISTYPED_FIELD


@pytest.mark.parametrize(
    "fields",
    [{"lat": 90.0001}, {"lat": -91}, {"lng": 180.5}, {"lng": -1000}, {"lat": 1e308}],
    ids=repr,
)
def test_out_of_range(fields: dict[str, object]) -> None:
    assert reason_of(decode_location, location(**fields)) is RejectReason.OUT_OF_RANGE


def test_huge_json_integer_is_out_of_range() -> None:
    # float(10**400) raises OverflowError: it must become a DecodeError.
    payload = b'{"deviceID": "BBB", "lat": 1' + b"0" * 400 + b', "lng": 2}'
    assert reason_of(decode_location, payload) is RejectReason.OUT_OF_RANGE


@pytest.mark.parametrize("literal_value", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999"])
def test_not_finite(literal_value: bytes) -> None:
    payload = b'{"deviceID": "BBB", "lat": ' + literal_value + b', "lng": 2.29}'
    assert reason_of(decode_location, payload) is RejectReason.NOT_FINITE


def test_id_mismatch_between_body_and_destination() -> None:
    with pytest.raises(DecodeError) as caught:
        decode_location(location(deviceID="AAA"), "BBB")
    assert caught.value.reason is RejectReason.ID_MISMATCH
    assert "AAA" in caught.value.detail and "BBB" in caught.value.detail


def test_id_mismatch_is_case_sensitive() -> None:
    assert reason_of(decode_location, location(deviceID="bbb"), "BBB") is RejectReason.ID_MISMATCH


@pytest.mark.parametrize("device_id", ["", "x" * 129], ids=["empty", "129-chars"])
def test_bad_id(device_id: str) -> None:
    assert reason_of(decode_location, location(deviceID=device_id)) is RejectReason.BAD_ID


def test_a_lone_surrogate_spelled_in_json_is_a_bad_id() -> None:
    """``\\ud800`` is valid JSON but no text: it could not be stored or shown."""
    assert reason_of(decode_will, b'{"deviceID": "x\\ud800"}') is RejectReason.BAD_ID
    assert reason_of(decode_location, location(deviceID="\ud800")) is RejectReason.BAD_ID
    assert decode_will('{"deviceID": "truck\U0001f69a"}'.encode()) == "truck\U0001f69a"


def test_id_of_128_chars_is_accepted() -> None:
    assert decode_location(location(deviceID="x" * 128)).device_id == "x" * 128


def test_decode_error_is_a_value_error_with_reason_in_message() -> None:
    with pytest.raises(ValueError, match="missing field: lat"):
        decode_location(location(lat=...))


# --- motion ------------------------------------------------------------------------


def test_motion_encoding_is_big_endian_float64_exactly() -> None:
    assert encode_motion(Motion(1.6, -0.1, 0.8)) == BOOK_MOTION_BYTES


def test_motion_decoding_of_the_literal_bytes() -> None:
    assert decode_motion(BOOK_MOTION_BYTES) == Motion(pitch=1.6, roll=-0.1, yaw=0.8)


def test_motion_fields_are_pitch_roll_yaw_in_that_order() -> None:
    # Guards against the book page's roll/yaw swap.
    motion = decode_motion(struct.pack(">ddd", 1.0, 2.0, 3.0))
    assert (motion.pitch, motion.roll, motion.yaw) == (1.0, 2.0, 3.0)


def test_little_endian_payload_does_not_read_as_the_same_values() -> None:
    decoded = decode_motion(struct.pack("<ddd", 1.6, -0.1, 0.8))
    assert decoded != Motion(1.6, -0.1, 0.8)


@pytest.mark.parametrize("length", [0, 8, 23, 25, 48])
def test_motion_wrong_length(length: int) -> None:
    payload = (BOOK_MOTION_BYTES * 2)[:length]
    with pytest.raises(DecodeError) as caught:
        decode_motion(payload)
    assert caught.value.reason is RejectReason.WRONG_LENGTH
    assert str(length) in caught.value.detail


@pytest.mark.parametrize(
    "values",
    [(math.nan, 0.0, 0.0), (0.0, math.inf, 0.0), (0.0, 0.0, -math.inf)],
    ids=["nan-pitch", "inf-roll", "minus-inf-yaw"],
)
def test_motion_not_finite(values: tuple[float, float, float]) -> None:
    assert reason_of(decode_motion, struct.pack(">ddd", *values)) is RejectReason.NOT_FINITE


def test_motion_accepts_bytearray_and_memoryview() -> None:
    expected = Motion(1.6, -0.1, 0.8)
    assert decode_motion(bytearray(BOOK_MOTION_BYTES)) == expected  # type: ignore[arg-type]
    assert decode_motion(memoryview(BOOK_MOTION_BYTES)) == expected  # type: ignore[arg-type]


# --- last will and orders --------------------------------------------------------------


def test_will_round_trip() -> None:
    payload = encode_will("2262EC25-E9FD-4578-BADE-4E113DE45934")
    assert json.loads(payload) == {"deviceID": "2262EC25-E9FD-4578-BADE-4E113DE45934"}
    assert decode_will(payload) == "2262EC25-E9FD-4578-BADE-4E113DE45934"


def test_will_ignores_extra_fields() -> None:
    assert decode_will(b'{"deviceID": "AAA", "reason": "crash"}') == "AAA"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff", RejectReason.NOT_UTF8),
        (b"AAA", RejectReason.NOT_JSON),
        (b'["AAA"]', RejectReason.NOT_OBJECT),
        (b"{}", RejectReason.MISSING_FIELD),
        (b'{"deviceID": 7}', RejectReason.MISTYPED_FIELD),
        (b'{"deviceID": ""}', RejectReason.BAD_ID),
        (b" " * (MAX_PAYLOAD_BYTES + 1), RejectReason.OVERSIZE),
    ],
    ids=lambda value: value.name if isinstance(value, RejectReason) else None,
)
def test_will_rejects(payload: bytes, reason: RejectReason) -> None:
    assert reason_of(decode_will, payload) is reason


def test_order_is_plain_utf8_text() -> None:
    assert decode_order("Où allez-vous ?".encode()) == "Où allez-vous ?"
    assert reason_of(decode_order, b"\xfe") is RejectReason.NOT_UTF8


# --- timestamps --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2013-09-23T08:43Z", datetime(2013, 9, 23, 8, 43, tzinfo=UTC)),
        ("2014-03-5T10:12:33+01:00", datetime(2014, 3, 5, 10, 12, 33, tzinfo=PLUS_ONE)),
        ("2014-03-05T10:12:33+0100", datetime(2014, 3, 5, 10, 12, 33, tzinfo=PLUS_ONE)),
        ("2014-03-05T10:12:33+01", datetime(2014, 3, 5, 10, 12, 33, tzinfo=PLUS_ONE)),
        (
            "2014-03-05T10:12:33-05:30",
            datetime(2014, 3, 5, 10, 12, 33, tzinfo=timezone(-timedelta(hours=5, minutes=30))),
        ),
        ("2013-09-23T08:43:12.5Z", datetime(2013, 9, 23, 8, 43, 12, 500_000, tzinfo=UTC)),
        ("2013-09-23T08:43:12,25Z", datetime(2013, 9, 23, 8, 43, 12, 250_000, tzinfo=UTC)),
        ("2013-09-23T08:43:12.123456789Z", datetime(2013, 9, 23, 8, 43, 12, 123456, tzinfo=UTC)),
        ("2013-09-23 08:43:12z", datetime(2013, 9, 23, 8, 43, 12, tzinfo=UTC)),
        ("  2013-09-23T08:43Z\n", datetime(2013, 9, 23, 8, 43, tzinfo=UTC)),
        ("2013-09-23T08:43:12", datetime(2013, 9, 23, 8, 43, 12, tzinfo=UTC)),
    ],
)
def test_timestamp_forms(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text",
    [
        "yesterday",
        "",
        "2013-09-23",
        "2013-02-30T10:00Z",
        "2013-13-01T10:00Z",
        "2013-09-23T25:00Z",
        "2013-09-23T08:61Z",
        "2013-09-23T08:43+25:00",
        "2013-09-23T08:43Z trailing",
        "0000-01-01T00:00Z",
        "1379925780",
    ],
)
def test_unreadable_timestamp_is_none(text: str) -> None:
    assert parse_timestamp(text) is None


def test_garbage_ts_is_kept_raw_and_the_fix_still_counts() -> None:
    position = decode_location(location(ts="half past eight"))
    assert position.ts is None
    assert position.raw_ts == "half past eight"
    assert (position.lat, position.lng) == (48.8581, 2.2946)


def test_format_timestamp_uses_z_for_utc_and_offset_otherwise() -> None:
    assert format_timestamp(datetime(2013, 9, 23, 8, 43, tzinfo=UTC)) == "2013-09-23T08:43:00Z"
    moment = datetime(2014, 3, 5, 10, 12, 33, 999_999, tzinfo=PLUS_ONE)
    assert format_timestamp(moment) == "2014-03-05T10:12:33+01:00"
    assert parse_timestamp(format_timestamp(moment)) == moment.replace(microsecond=0)


# --- properties ----------------------------------------------------------------------

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

huge_integers = st.integers(min_value=-(10**500), max_value=10**500)
json_scalars = (
    st.none() | st.booleans() | st.integers() | huge_integers | st.floats() | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=40,
)
# Objects shaped like a location, so decoding gets past "not an object" to the fields.
location_like = st.fixed_dictionaries(
    {},
    optional={
        "deviceID": json_values | st.text(max_size=140),
        "lat": json_values | st.floats(min_value=-200, max_value=200) | huge_integers,
        "lng": json_values | st.floats(min_value=-200, max_value=200) | huge_integers,
        "ts": json_values | st.text(max_size=40),
    },
)


def only_decode_errors(decode: object, payload: object, *args: object) -> None:
    # Anything but DecodeError propagates and fails the test.
    with contextlib.suppress(DecodeError):
        decode(payload, *args)  # type: ignore[operator]


@PROPERTY
@given(st.binary(max_size=300))
def test_any_bytes_only_ever_raise_decode_error(payload: bytes) -> None:
    only_decode_errors(decode_location, payload)
    only_decode_errors(decode_location, payload, "BBB")
    only_decode_errors(decode_motion, payload)
    only_decode_errors(decode_will, payload)


@PROPERTY
@given(json_values)
def test_any_json_value_only_ever_raises_decode_error(value: object) -> None:
    payload = json.dumps(value).encode()
    only_decode_errors(decode_location, payload)
    only_decode_errors(decode_will, payload)
    only_decode_errors(decode_motion, payload)


@PROPERTY
@given(location_like, st.none() | st.text(max_size=10))
def test_location_like_objects_decode_or_raise_decode_error(
    body: dict[str, object], destination_id: str | None
) -> None:
    payload = json.dumps(body)
    try:
        position = decode_location(payload, destination_id)
    except DecodeError:
        return
    # Whatever got through is a usable fix.
    assert isinstance(position.device_id, str) and 0 < len(position.device_id) <= 128
    assert math.isfinite(position.lat) and -90 <= position.lat <= 90
    assert math.isfinite(position.lng) and -180 <= position.lng <= 180
    assert destination_id is None or destination_id == position.device_id


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=MAX_PAYLOAD_BYTES // 2), st.sampled_from("[{"))
def test_deep_nesting_is_a_decode_error(depth: int, opener: str) -> None:
    text = "[" * depth + "]" * depth if opener == "[" else '{"a":' * depth + "1" + "}" * depth
    payload = text.encode()[:MAX_PAYLOAD_BYTES]
    only_decode_errors(decode_location, payload)
    only_decode_errors(decode_will, payload)


@pytest.mark.parametrize("payload", [b"[" * MAX_PAYLOAD_BYTES, b'{"a":' * 13_000])
def test_maximal_nesting_is_not_json(payload: bytes) -> None:
    assert reason_of(decode_location, payload) is RejectReason.NOT_JSON


finite = st.floats(allow_nan=False, allow_infinity=False)


@PROPERTY
@given(finite, finite, finite)
def test_finite_motion_round_trips_exactly(pitch: float, roll: float, yaw: float) -> None:
    payload = encode_motion(Motion(pitch, roll, yaw))
    assert len(payload) == 24
    assert payload == struct.pack(">ddd", pitch, roll, yaw)
    decoded = decode_motion(payload)
    assert decoded == Motion(pitch, roll, yaw)
    # Equal is not enough for -0.0: compare the bits.
    assert encode_motion(decoded) == payload


@PROPERTY
@given(st.binary(min_size=24, max_size=24))
def test_every_24_byte_payload_is_finite_motion_or_not_finite(payload: bytes) -> None:
    values = struct.unpack(">ddd", payload)
    if all(math.isfinite(v) for v in values):
        assert encode_motion(decode_motion(payload)) == payload
    else:
        assert reason_of(decode_motion, payload) is RejectReason.NOT_FINITE


@PROPERTY
@given(st.text(min_size=1, max_size=128))
def test_will_round_trips_any_id(device_id: str) -> None:
    assert decode_will(encode_will(device_id)) == device_id


@PROPERTY
@given(st.text(max_size=60))
def test_parse_timestamp_never_raises(text: str) -> None:
    result = parse_timestamp(text)
    assert result is None or result.tzinfo is not None

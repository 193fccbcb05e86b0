"""The device-id rule and the four destination builders of docs/PROTOCOL.md#device-ids."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mwm_tui.domain.errors import DecodeError, InvalidDeviceIdError, RejectReason
from mwm_tui.domain.ids import (
    LOCATION_SUBSCRIPTION,
    MAX_ID_LENGTH,
    MOTION_SUBSCRIPTION,
    alert_topic,
    checked_id,
    id_from_location_destination,
    id_from_motion_topic,
    id_problem,
    location_destination,
    motion_topic,
    order_destination,
)

UUID_ID = "2262EC25-E9FD-4578-BADE-4E113DE45934"
BUILDERS: list[Callable[[str], str]] = [
    location_destination,
    order_destination,
    motion_topic,
    alert_topic,
]
WILDCARDS = set("*>+#")

# --- id_problem -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "device_id",
    [UUID_ID, "AAA", "BBB", "truck-07", "x" * MAX_ID_LENGTH, "Łódź", "トラック", "a_b-c~d@e:f"],
)
def test_usable_ids(device_id: str) -> None:
    assert id_problem(device_id) is None
    assert checked_id(device_id) is device_id


def test_empty_id_is_refused() -> None:
    assert id_problem("") == "it is empty"


def test_id_longer_than_limit_is_refused() -> None:
    problem = id_problem("x" * (MAX_ID_LENGTH + 1))
    assert problem is not None and str(MAX_ID_LENGTH) in problem


@pytest.mark.parametrize("char", list("/+#*>.,?%"))
def test_separators_and_wildcards_are_refused(char: str) -> None:
    for device_id in (char, f"AAA{char}", f"{char}AAA", f"A{char}A"):
        problem = id_problem(device_id)
        assert problem is not None and repr(char) in problem


@pytest.mark.parametrize(
    "char",
    [" ", "\t", "\n", "\r", "\xa0", "\u2028", "\u3000", "\x0b", "\x0c"],
    ids=["space", "tab", "newline", "cr", "nbsp", "line-sep", "ideographic-space", "vt", "ff"],
)
def test_whitespace_is_refused(char: str) -> None:
    assert id_problem(f"AA{char}A") is not None
    assert id_problem(char) is not None


@pytest.mark.parametrize(
    "char",
    ["\x00", "\x1b", "\x7f", "\x07", "\x85", "\u202e", "\u200b", "\ufeff", "\ue000", "\U000e0001"],
    ids=["nul", "esc", "del", "bel", "nel", "rlo", "zwsp", "bom", "private-use", "tag"],
)
def test_control_and_format_characters_are_refused(char: str) -> None:
    problem = id_problem(f"AAA{char}")
    assert problem is not None


def test_control_character_problem_names_the_code_point() -> None:
    assert id_problem("A\x1bB") == "it contains the control character U+001B"
    assert id_problem("A\u202eB") == "it contains the control character U+202E"


def test_lone_surrogate_is_refused() -> None:
    assert id_problem("A\ud800") is not None


@pytest.mark.parametrize("device_id", ["", "*", "AAA.text", "A B", "A\x00"])
def test_checked_id_raises_with_the_problem(device_id: str) -> None:
    with pytest.raises(InvalidDeviceIdError) as caught:
        checked_id(device_id)
    assert caught.value.device_id == device_id
    assert caught.value.problem == id_problem(device_id)


# --- destination builders -----------------------------------------------------------


def test_builders_produce_protocol_destinations() -> None:
    assert location_destination("BBB") == "/topic/device.BBB.location"
    assert order_destination("BBB") == "/queue/device.BBB.text"
    assert motion_topic("BBB") == "/mwm/BBB/motion"
    assert alert_topic("BBB") == "/mwm/BBB/alert"


def test_builders_with_book_uuid() -> None:
    assert order_destination(UUID_ID) == f"/queue/device.{UUID_ID}.text"
    assert alert_topic(UUID_ID) == f"/mwm/{UUID_ID}/alert"


def test_subscriptions_are_the_protocol_wildcards() -> None:
    assert LOCATION_SUBSCRIPTION == "/topic/device.*.location"
    assert MOTION_SUBSCRIPTION == "/mwm/+/motion"


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda b: b.__name__)
@pytest.mark.parametrize(
    "device_id", ["*", ">", "+", "#", "", "a.b", "a/b", "A B", "A\x00", "A\u202e", "x" * 129]
)
def test_builders_refuse_unusable_ids(builder: Callable[[str], str], device_id: str) -> None:
    with pytest.raises(InvalidDeviceIdError):
        builder(device_id)


def test_an_order_can_never_be_broadcast() -> None:
    # The attack docs/PROTOCOL.md#device-ids names: an id of '*' widening an order to every truck.
    with pytest.raises(InvalidDeviceIdError):
        order_destination("*")
    with pytest.raises(InvalidDeviceIdError):
        alert_topic("+")


usable_ids = st.text(min_size=1, max_size=MAX_ID_LENGTH).filter(lambda s: id_problem(s) is None)


@settings(max_examples=300, deadline=None)
@given(usable_ids)
def test_accepted_id_makes_exact_destinations(device_id: str) -> None:
    stomp = [location_destination(device_id), order_destination(device_id)]
    mqtt = [motion_topic(device_id), alert_topic(device_id)]
    for destination in stomp:
        assert destination.count(".") == 2
        assert destination.count("/") == 2
        assert destination.split(".")[1] == device_id
    for topic in mqtt:
        assert topic.count("/") == 3
        assert "." not in topic
        assert topic.split("/")[2] == device_id
    for destination in stomp + mqtt:
        assert not WILDCARDS & set(destination)
        assert destination.isprintable()
        assert "\x00" not in destination
    assert id_from_location_destination(stomp[0]) == device_id
    assert id_from_motion_topic(mqtt[0]) == device_id


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=MAX_ID_LENGTH + 5))
def test_builders_either_refuse_or_embed_the_id_verbatim(device_id: str) -> None:
    try:
        topic = motion_topic(device_id)
    except InvalidDeviceIdError:
        assert id_problem(device_id) is not None
    else:
        assert id_problem(device_id) is None
        assert topic == f"/mwm/{device_id}/motion"


# --- destination parsing --------------------------------------------------------------


@pytest.mark.parametrize("device_id", ["BBB", UUID_ID, "Łódź"])
def test_parse_builds_back(device_id: str) -> None:
    assert id_from_location_destination(location_destination(device_id)) == device_id
    assert id_from_motion_topic(motion_topic(device_id)) == device_id


@pytest.mark.parametrize(
    "hostile", ["a.b", "*", "a/b", "A B", "A\x1b[31m", "[red]x[/red]", "\u202eevil", "+", "#"]
)
def test_parse_returns_hostile_ids_literally_for_the_id_rule_to_judge(hostile: str) -> None:
    # Parsing only reads; the id rule decides whether the id may be addressed later.
    assert id_from_location_destination(f"/topic/device.{hostile}.location") == hostile
    assert id_from_motion_topic(f"/mwm/{hostile}/motion") == hostile
    assert id_problem(hostile) is not None


@pytest.mark.parametrize(
    "destination",
    [
        "/topic/device.BBB.text",
        "/queue/device.BBB.location",
        "/topic/device.*.locations",
        "topic/device.BBB.location",
        "",
    ],
)
def test_location_parse_refuses_other_destinations(destination: str) -> None:
    with pytest.raises(DecodeError) as caught:
        id_from_location_destination(destination)
    assert caught.value.reason is RejectReason.BAD_DESTINATION


@pytest.mark.parametrize(
    "topic", ["/mwm/BBB/alert", "mwm/BBB/motion", "/mwm/lastWill", "/other/BBB/motion", ""]
)
def test_motion_parse_refuses_other_topics(topic: str) -> None:
    with pytest.raises(DecodeError) as caught:
        id_from_motion_topic(topic)
    assert caught.value.reason is RejectReason.BAD_DESTINATION


@pytest.mark.parametrize(
    ("parse", "destination"),
    [
        (id_from_location_destination, "/topic/device..location"),
        (id_from_location_destination, "/topic/device.location"),
        (id_from_location_destination, f"/topic/device.{'x' * 129}.location"),
        (id_from_motion_topic, "/mwm//motion"),
        (id_from_motion_topic, "/mwm/motion"),
        (id_from_motion_topic, f"/mwm/{'x' * 129}/motion"),
    ],
)
def test_parse_refuses_empty_or_overlong_ids(parse: Callable[[str], str], destination: str) -> None:
    with pytest.raises(DecodeError) as caught:
        parse(destination)
    assert caught.value.reason is RejectReason.BAD_ID

"""The broker links without a broker: frames and messages built by hand, fed to the handlers."""

from __future__ import annotations

import json
import math
import random
import socket
import struct
from functools import partial

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from stomp.utils import Frame

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.adapters.mqtt_client import BufferedClient, default_client_id
from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.adapters.stomp_session import ERROR_TEXT_LIMIT, error_text
from mwm_tui.adapters.supervisor import OutcomeTracker, describe_connect_error
from mwm_tui.domain.errors import InvalidDeviceIdError, RejectReason
from mwm_tui.domain.events import (
    AlertOutcome,
    Delivery,
    Event,
    Failure,
    LinkName,
    LocationReceived,
    MessageRejected,
    MotionReceived,
    OrderOutcome,
    WillReceived,
)
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.targets import Protocol, parse_target

HOSTILE_IDS = ["*", "a.b", "+", "x/y", "#", ">", "", "a b", "nul\x00", "esc\x1b[31m"]


def location_frame(destination: str | None, body: bytes | str) -> Frame:
    headers = {"content-type": "application/json;charset=utf-8", "subscription": "1"}
    if destination is not None:
        headers["destination"] = destination
    return Frame("MESSAGE", headers, body)


def location_body(device_id: str, lat: float = 48.8581, lng: float = 2.2946) -> bytes:
    body = {"deviceID": device_id, "lat": lat, "lng": lng, "ts": "2013-09-23T08:43Z"}
    return json.dumps(body).encode()


def mqtt_message(topic: bytes, payload: bytes, *, retain: bool = False) -> mqtt.MQTTMessage:
    message = mqtt.MQTTMessage(mid=0, topic=topic)
    message.payload = payload
    message.retain = retain
    return message


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def stomp_link(events: list[Event]) -> StompLink:
    target = parse_target("stomp://hq@127.0.0.1:61613", Protocol.STOMP).with_password("s3cret")
    return StompLink(target, events.append)


@pytest.fixture
def mqtt_link(events: list[Event]) -> MqttLink:
    return MqttLink(parse_target("mqtt://127.0.0.1:1883", Protocol.MQTT), events.append)


def only_reject(events: list[Event]) -> MessageRejected:
    assert len(events) == 1, events
    event = events[0]
    assert isinstance(event, MessageRejected), event
    return event


# Backoff


def test_backoff_doubles_to_its_cap_and_resets() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.0)
    delays = [backoff.next_delay() for _ in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff.failures == 9
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_backoff_jitter_only_shortens_and_spreads() -> None:
    backoff = Backoff(initial=1.0, maximum=4.0, jitter=0.25, rng=random.Random(7))
    delays = []
    for _ in range(200):
        backoff.reset()
        delays.append(backoff.next_delay())
    assert all(0.75 <= delay <= 1.0 for delay in delays)
    assert len(set(delays)) > 150
    capped = [backoff.next_delay() for _ in range(50)][-10:]
    assert all(3.0 <= delay <= 4.0 for delay in capped)


def test_backoff_stays_finite_after_very_many_failures() -> None:
    backoff = Backoff(initial=0.5, maximum=30.0, jitter=0.0)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == 30.0


@pytest.mark.parametrize(
    "arguments",
    [
        {"initial": 0.0},
        {"initial": 5.0, "maximum": 1.0},
        {"factor": 0.5},
        {"jitter": 1.0},
        {"jitter": -0.1},
    ],
)
def test_backoff_refuses_nonsense(arguments: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**arguments)  # type: ignore[arg-type]


# Outcome tracking


def test_outcome_is_emitted_exactly_once(events: list[Event]) -> None:
    tracker = OutcomeTracker(events.append)
    tracker.add("o1", partial(OrderOutcome, "o1", "AAA"), deadline=100.0, timeout_detail="late")
    assert tracker.settle("o1", Delivery.CONFIRMED)
    assert not tracker.settle("o1", Delivery.FAILED, "again")
    tracker.fail_all("gone")
    assert tracker.expire(1000.0) is None
    assert events == [OrderOutcome("o1", "AAA", Delivery.CONFIRMED)]


def test_outcomes_expire_at_their_deadline(events: list[Event]) -> None:
    tracker = OutcomeTracker(events.append)
    tracker.add("a", partial(OrderOutcome, "a", "AAA"), deadline=10.0, timeout_detail="no receipt")
    tracker.add("b", partial(OrderOutcome, "b", "BBB"), deadline=20.0, timeout_detail="no receipt")
    assert tracker.expire(5.0) == 10.0
    assert events == []
    assert tracker.expire(10.0) == 20.0
    assert events == [OrderOutcome("a", "AAA", Delivery.FAILED, "no receipt", Failure.UNCONFIRMED)]
    assert not tracker.settle("a", Delivery.CONFIRMED)
    tracker.fail_all("connection lost")
    assert events[-1] == OrderOutcome(
        "b", "BBB", Delivery.FAILED, "connection lost", Failure.UNCONFIRMED
    )
    assert len(tracker) == 0


def test_a_key_cannot_be_pending_twice(events: list[Event]) -> None:
    tracker = OutcomeTracker(events.append)
    tracker.add("a", partial(OrderOutcome, "a", "AAA"), 1.0, "late")
    with pytest.raises(ValueError):
        tracker.add("a", partial(OrderOutcome, "a", "AAA"), 1.0, "late")


def test_connect_errors_read_as_words() -> None:
    where = "127.0.0.1:61613"
    refused = describe_connect_error(ConnectionRefusedError(111, "Connection refused"), where)
    assert refused == "connection refused by 127.0.0.1:61613"
    assert "timed out" in describe_connect_error(TimeoutError(), where)
    assert "reset" in describe_connect_error(ConnectionResetError(104, "reset"), where)


# STOMP: locations in


def test_location_becomes_an_event(stomp_link: StompLink, events: list[Event]) -> None:
    stomp_link.handle_message(location_frame("/topic/device.BBB.location", location_body("BBB")))
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, LocationReceived)
    assert event.position.device_id == "BBB"
    assert (event.position.lat, event.position.lng) == (48.8581, 2.2946)
    assert event.position.raw_ts == "2013-09-23T08:43Z"


def test_location_body_may_arrive_as_text(stomp_link: StompLink, events: list[Event]) -> None:
    body = location_body("BBB").decode()
    stomp_link.handle_message(location_frame("/topic/device.BBB.location", body))
    assert isinstance(events[0], LocationReceived)


@pytest.mark.parametrize(
    ("destination", "body", "reason"),
    [
        ("/topic/device.AAA.location", b"{not json", RejectReason.NOT_JSON),
        ("/topic/device.AAA.location", b"[1, 2]", RejectReason.NOT_OBJECT),
        ("/topic/device.AAA.location", b"\xff\xfe{}", RejectReason.NOT_UTF8),
        ("/topic/device.AAA.location", location_body("BBB"), RejectReason.ID_MISMATCH),
        ("/topic/device.AAA.location", location_body("AAA", lat=91.0), RejectReason.OUT_OF_RANGE),
        (
            "/topic/device.AAA.location",
            b'{"deviceID": "AAA", "lat": 1}',
            RejectReason.MISSING_FIELD,
        ),
        ("/topic/somewhere.else", location_body("AAA"), RejectReason.BAD_DESTINATION),
        ("/topic/device..location", location_body("AAA"), RejectReason.BAD_ID),
        (None, location_body("AAA"), RejectReason.BAD_DESTINATION),
        (
            "/topic/device.[red]x[/red].location",
            location_body("AAA"),
            RejectReason.ID_MISMATCH,
        ),
    ],
)
def test_unusable_location_is_rejected_with_its_reason(
    stomp_link: StompLink,
    events: list[Event],
    destination: str | None,
    body: bytes,
    reason: RejectReason,
) -> None:
    stomp_link.handle_message(location_frame(destination, body))
    reject = only_reject(events)
    assert reject.link is LinkName.STOMP
    assert reject.reason is reason
    assert reject.source == (destination or "")
    assert reject.detail


def test_hostile_id_is_kept_literally_and_never_addressable(
    stomp_link: StompLink, events: list[Event]
) -> None:
    hostile = "[red]x[/red]"
    destination = f"/topic/device.{hostile}.location"
    stomp_link.handle_message(location_frame(destination, location_body(hostile)))
    assert isinstance(events[0], LocationReceived)
    assert events[0].position.device_id == hostile
    fleet = Fleet()
    fleet.apply_all(events)
    assert fleet.devices[hostile].address_problem == "it contains '/'"
    with pytest.raises(InvalidDeviceIdError):
        stomp_link.send_order(hostile, "Where are you heading to?")
    assert len(events) == 1


def test_oversized_location_is_rejected(stomp_link: StompLink, events: list[Event]) -> None:
    stomp_link.handle_message(location_frame("/topic/device.AAA.location", b" " * 70_000))
    assert only_reject(events).reason is RejectReason.OVERSIZE


# STOMP: orders out


@pytest.mark.parametrize("device_id", HOSTILE_IDS)
def test_order_to_unaddressable_id_raises_and_sends_nothing(
    stomp_link: StompLink, events: list[Event], device_id: str
) -> None:
    with pytest.raises(InvalidDeviceIdError):
        stomp_link.send_order(device_id, "Where are you heading to?")
    assert events == []
    assert len(stomp_link.outcomes) == 0


def test_order_while_link_not_started_fails_at_once(
    stomp_link: StompLink, events: list[Event]
) -> None:
    order_id = stomp_link.send_order("AAA", "Where are you heading to?")
    assert events == [
        OrderOutcome(
            order_id, "AAA", Delivery.FAILED, "STOMP link is not started", Failure.NOT_SENT
        )
    ]


def test_receipt_confirms_its_order_once(stomp_link: StompLink, events: list[Event]) -> None:
    stomp_link.outcomes.add("order-1", partial(OrderOutcome, "order-1", "AAA"), 1e12, "late")
    receipt = Frame("RECEIPT", {"receipt-id": "order-1"})
    stomp_link.handle_receipt(receipt)
    stomp_link.handle_receipt(receipt)
    assert events == [OrderOutcome("order-1", "AAA", Delivery.CONFIRMED)]


def test_error_frame_naming_an_order_fails_it(stomp_link: StompLink, events: list[Event]) -> None:
    stomp_link.outcomes.add("order-2", partial(OrderOutcome, "order-2", "AAA"), 1e12, "late")
    error = Frame("ERROR", {"receipt-id": "order-2", "message": "Not authorized to write"})
    assert stomp_link.handle_error(error)
    assert not stomp_link.handle_error(Frame("ERROR", {"receipt-id": "someone-else"}))
    assert events == [
        OrderOutcome(
            "order-2",
            "AAA",
            Delivery.FAILED,
            "broker refused the order: Not authorized to write",
            Failure.REFUSED,
        )
    ]


def test_error_text_adds_the_body_reason_rabbitmq_gives() -> None:
    rabbitmq = Frame(
        "ERROR",
        {"message": "Bad CONNECT", "content-type": "text/plain"},
        b"Virtual host '127.0.0.1' access denied",
    )
    assert error_text(rabbitmq) == "Bad CONNECT: Virtual host '127.0.0.1' access denied"
    # ActiveMQ's body is a stack trace whose first line repeats the header.
    activemq = Frame(
        "ERROR",
        {"message": "User name [x] or password is invalid."},
        b"java.lang.SecurityException: User name [x] or password is invalid.\n\tat org.x\n",
    )
    assert error_text(activemq) == "User name [x] or password is invalid."
    assert error_text(Frame("ERROR", {}, b"\n\n  only a body \n")) == "only a body"
    assert error_text(Frame("ERROR", {}, b"")) == "no reason given"


def test_error_text_is_literal_and_bounded() -> None:
    hostile = Frame("ERROR", {"message": "bad\x1b[2J"}, b"\x07" + b"x" * 5000)
    shown = error_text(hostile)
    assert "\x1b" not in shown and "\x07" not in shown
    assert shown.startswith("bad\\x1b[2J: \\x07xxx")
    assert len(shown) == ERROR_TEXT_LIMIT and shown.endswith("…")


def test_label_names_the_broker_but_never_the_password(stomp_link: StompLink) -> None:
    assert stomp_link.label == "stomp://hq@127.0.0.1:61613"
    assert "s3cret" not in stomp_link.label
    assert "s3cret" not in repr(stomp_link._target)


# MQTT: motion and wills in


def test_motion_becomes_an_event(mqtt_link: MqttLink, events: list[Event]) -> None:
    payload = struct.pack(">ddd", 0.1, -0.2, 3.0)
    mqtt_link.handle_message(mqtt_message(b"/mwm/AAA/motion", payload, retain=True))
    mqtt_link.handle_message(mqtt_message(b"/mwm/AAA/motion", payload))
    assert [type(event) for event in events] == [MotionReceived, MotionReceived]
    first, second = events
    assert isinstance(first, MotionReceived) and isinstance(second, MotionReceived)
    assert first.device_id == "AAA"
    assert (first.motion.pitch, first.motion.roll, first.motion.yaw) == (0.1, -0.2, 3.0)
    assert first.retained and not second.retained


def test_will_becomes_an_event(mqtt_link: MqttLink, events: list[Event]) -> None:
    mqtt_link.handle_message(mqtt_message(b"/mwm/lastWill", b'{"deviceID": "AAA"}'))
    assert events == [WillReceived("AAA")]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (b"/mwm/AAA/motion", b"\x00" * 23, RejectReason.WRONG_LENGTH),
        (b"/mwm/AAA/motion", b"\x00" * 25, RejectReason.WRONG_LENGTH),
        (b"/mwm/AAA/motion", b"", RejectReason.WRONG_LENGTH),
        (b"/mwm/AAA/motion", struct.pack(">ddd", math.nan, 0, 0), RejectReason.NOT_FINITE),
        (b"/mwm/lastWill", b"{bad json", RejectReason.NOT_JSON),
        (b"/mwm/lastWill", b'{"device": "AAA"}', RejectReason.MISSING_FIELD),
        (b"/mwm/lastWill", b'{"deviceID": 7}', RejectReason.MISTYPED_FIELD),
        (b"/mwm/lastWill", b"\xc3\x28", RejectReason.NOT_UTF8),
        (b"/mwm/AAA/elsewhere", struct.pack(">ddd", 0, 0, 0), RejectReason.BAD_DESTINATION),
    ],
)
def test_unusable_mqtt_message_is_rejected_with_its_reason(
    mqtt_link: MqttLink,
    events: list[Event],
    topic: bytes,
    payload: bytes,
    reason: RejectReason,
) -> None:
    mqtt_link.handle_message(mqtt_message(topic, payload))
    reject = only_reject(events)
    assert reject.link is LinkName.MQTT
    assert reject.reason is reason
    assert reject.source == topic.decode()


def test_topic_that_is_not_utf8_is_rejected(mqtt_link: MqttLink, events: list[Event]) -> None:
    mqtt_link.handle_message(mqtt_message(b"/mwm/\xff/motion", b"\x00" * 24))
    assert only_reject(events).reason is RejectReason.NOT_UTF8


# MQTT: alerts out


@pytest.mark.parametrize("device_id", HOSTILE_IDS)
def test_alert_to_unaddressable_id_raises_and_sends_nothing(
    mqtt_link: MqttLink, events: list[Event], device_id: str
) -> None:
    with pytest.raises(InvalidDeviceIdError):
        mqtt_link.send_alert(device_id, "red")
    assert events == []
    assert len(mqtt_link.outcomes) == 0


def test_alert_while_link_not_started_fails_at_once(
    mqtt_link: MqttLink, events: list[Event]
) -> None:
    alert_id = mqtt_link.send_alert("AAA", "red")
    assert events == [
        AlertOutcome(
            alert_id, "AAA", "red", Delivery.FAILED, "MQTT link is not started", Failure.NOT_SENT
        )
    ]


def test_default_client_id_names_host_and_a_random_suffix(mqtt_link: MqttLink) -> None:
    assert mqtt_link.client_id.startswith(f"mwm-tui-{socket.gethostname()}-")
    suffix = mqtt_link.client_id.rsplit("-", 1)[1]
    assert len(suffix) == 12 and int(suffix, 16) >= 0
    others = {default_client_id() for _ in range(50)}
    assert len(others) == 50 and mqtt_link.client_id not in others


def test_stop_before_start_is_harmless(stomp_link: StompLink, mqtt_link: MqttLink) -> None:
    stomp_link.stop()
    stomp_link.stop()
    mqtt_link.stop()


def test_buffered_client_serves_pahos_small_reads_from_one_recv() -> None:
    # paho reads a packet byte by byte through Client._sock_recv; BufferedClient relies on it.
    assert callable(getattr(mqtt.Client, "_sock_recv", None))
    client = BufferedClient(CallbackAPIVersion.VERSION2, client_id="buffer-test")
    ours, theirs = socket.socketpair()
    try:
        client._sock = ours
        theirs.sendall(b"\x30\x03abc\x30\x01z")
        assert client._sock_recv(1) == b"\x30"
        assert client.buffered_bytes == 7
        assert client._sock_recv(1) == b"\x03"
        assert client._sock_recv(3) == b"abc"
        assert client._sock_recv(10) == b"\x30\x01z"  # what is buffered, no second recv
        assert client.buffered_bytes == 0
        theirs.close()
        assert client._sock_recv(1) == b""  # end of stream still reads as paho expects
    finally:
        client._sock = None
        ours.close()

"""What one read brings in reaches the inbox in one hand-over, in the order it came."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from functools import partial

import paho.mqtt.client as mqtt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.adapters.base import batch_sink
from mwm_tui.adapters.mqtt_client import BufferedClient
from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_connection import new_stomp_connection
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.adapters.stomp_session import SessionListener, StompSession
from mwm_tui.adapters.stomp_transport import FramedTransport
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    AlertOutcome,
    Delivery,
    Event,
    LinkName,
    LocationReceived,
    MessageRejected,
    MotionReceived,
    OrderOutcome,
    WillReceived,
)
from mwm_tui.domain.inbox import EventInbox
from mwm_tui.domain.targets import Protocol, parse_target


class CountingInbox(EventInbox):
    """An inbox that counts its hand-overs."""

    def __init__(self, capacity: int = 100_000) -> None:
        super().__init__(capacity)
        self.batches: list[int] = []

    def put_many(self, events: Iterable[Event]) -> None:
        listed = list(events)
        self.batches.append(len(listed))
        super().put_many(listed)


def everything(inbox: EventInbox) -> list[Event]:
    return inbox.drain(1_000_000)


def stomp_message(destination: str, body: bytes) -> bytes:
    head = f"MESSAGE\ndestination:{destination}\nsubscription:s\nmessage-id:m\n"
    return f"{head}content-length:{len(body)}\n\n".encode() + body + b"\x00"


def location_body(device_id: str, lat: float) -> bytes:
    return json.dumps({"deviceID": device_id, "lat": lat, "lng": 2.0}).encode()


# The inbox


event_codes = st.lists(st.tuples(st.sampled_from("lmwr"), st.sampled_from("ABC")), max_size=60)


def make_event(code: str, device_id: str, seq: int) -> Event:
    if code == "l":
        return LocationReceived(Position(device_id, seq / 1000, 0.0))
    if code == "m":
        return MotionReceived(device_id, Motion(float(seq), 0.0, 0.0), False)
    if code == "w":
        return WillReceived(device_id)
    return MessageRejected(LinkName.MQTT, RejectReason.NOT_JSON, f"r{seq}", device_id)


@settings(max_examples=200, deadline=None)
@given(event_codes, st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=9))
def test_put_many_is_put_one_by_one(
    codes: list[tuple[str, str]], capacity: int, split: int
) -> None:
    """Same queue, same coalescing, same folding, whatever the batches were."""
    events = [make_event(code, device, seq) for seq, (code, device) in enumerate(codes)]
    one_by_one, batched = EventInbox(capacity, 3), EventInbox(capacity, 3)
    for event in events:
        one_by_one.put(event)
    for start in range(0, len(events), split):
        batched.put_many(events[start : start + split])
    assert batched.stats() == one_by_one.stats()
    assert everything(batched) == everything(one_by_one)


def test_batch_sink_is_put_many_only_for_an_inbox() -> None:
    inbox = EventInbox()
    assert batch_sink(inbox.put) == inbox.put_many
    seen: list[Event] = []
    sink = batch_sink(seen.append)
    sink([WillReceived("A"), WillReceived("B")])
    assert seen == [WillReceived("A"), WillReceived("B")]


# The MQTT link


def mqtt_message(topic: bytes, payload: bytes) -> mqtt.MQTTMessage:
    message = mqtt.MQTTMessage(mid=0, topic=topic)
    message.payload = payload
    return message


def test_mqtt_burst_is_one_hand_over_with_wills_and_acks_in_order() -> None:
    inbox = CountingInbox()
    link = MqttLink(parse_target("mqtt://127.0.0.1:1883", Protocol.MQTT), inbox.put)
    link.outcomes.add("alert-1", partial(AlertOutcome, "alert-1", "AAA", "red"), 1e12, "late")
    motion = struct.pack(">ddd", 0.1, 0.2, 0.3)
    link._open_burst()
    link.handle_message(mqtt_message(b"/mwm/AAA/motion", motion))
    link.handle_message(mqtt_message(b"/mwm/lastWill", b'{"deviceID": "AAA"}'))
    link.outcomes.settle("alert-1", Delivery.CONFIRMED)
    link.handle_message(mqtt_message(b"/mwm/BBB/motion", b"short"))
    assert inbox.stats().received == 0
    link._close_burst()
    assert inbox.batches == [4]
    kinds = [type(event) for event in everything(inbox)]
    assert kinds == [MotionReceived, WillReceived, AlertOutcome, MessageRejected]
    # Outside a burst each event is handed over at once, as before.
    link.handle_message(mqtt_message(b"/mwm/lastWill", b'{"deviceID": "BBB"}'))
    assert everything(inbox) == [WillReceived("BBB")]


def test_mqtt_tap_sees_each_message_of_a_burst() -> None:
    inbox = EventInbox()
    link = MqttLink(parse_target("mqtt://127.0.0.1:1883", Protocol.MQTT), inbox.put)
    tapped: list[tuple[str, bytes]] = []
    link.tap = lambda source, payload, retained, headers: tapped.append((source, payload))
    link._open_burst()
    link.handle_message(mqtt_message(b"/mwm/lastWill", b'{"deviceID": "AAA"}'))
    link.handle_message(mqtt_message(b"/mwm/lastWill", b'{"deviceID": "BBB"}'))
    link._close_burst()
    assert [payload for _, payload in tapped] == [b'{"deviceID": "AAA"}', b'{"deviceID": "BBB"}']
    assert everything(inbox) == [WillReceived("AAA"), WillReceived("BBB")]


# The STOMP link: bytes of one read through HQ's frame reader


@pytest.fixture
def stomp_read() -> tuple[StompLink, FramedTransport, CountingInbox]:
    inbox = CountingInbox()
    target = parse_target("stomp://127.0.0.1:61613", Protocol.STOMP)
    link = StompLink(target, inbox.put)
    connection = new_stomp_connection(target, (0, 0), 1.0, link.handle_rejected_frame)
    connection.set_listener(
        "mwm-tui", SessionListener(link, StompSession(subscription_receipt="sub"))
    )
    transport: FramedTransport = connection.transport
    link.take_reads(transport)
    transport.running = True
    return link, transport, inbox


def feed(transport: FramedTransport, data: bytes) -> None:
    transport._read_available = lambda: data  # type: ignore[method-assign]
    transport._BaseTransport__read_frames()


def test_stomp_read_is_one_hand_over_with_rejects_and_receipts_in_order(
    stomp_read: tuple[StompLink, FramedTransport, CountingInbox],
) -> None:
    link, transport, inbox = stomp_read
    link.outcomes.add("order-1", partial(OrderOutcome, "order-1", "AAA"), 1e12, "late")
    tapped: list[str] = []
    link.tap = lambda source, payload, retained, headers: tapped.append(source)
    data = (
        stomp_message("/topic/device.AAA.location", location_body("AAA", 1.0))
        + b"\n"
        + b"MESSAGE\ndestination:/topic/device.\x01.location\n\n{}\x00"
        + b"RECEIPT\nreceipt-id:order-1\n\n\x00"
        + stomp_message("/topic/device.BBB.location", location_body("BBB", 2.0))
        + stomp_message("/topic/device.CCC.location", b"{not json")
    )
    feed(transport, data)
    assert inbox.batches == [5]
    received = everything(inbox)
    assert [type(event) for event in received] == [
        LocationReceived,
        MessageRejected,
        OrderOutcome,
        LocationReceived,
        MessageRejected,
    ]
    frame_reject, order, bad_json = received[1], received[2], received[4]
    assert isinstance(frame_reject, MessageRejected)
    assert frame_reject.reason is RejectReason.MALFORMED_FRAME
    assert isinstance(order, OrderOutcome) and order.delivery is Delivery.CONFIRMED
    assert isinstance(bad_json, MessageRejected) and bad_json.reason is RejectReason.NOT_JSON
    assert tapped == [
        "/topic/device.AAA.location",
        "/topic/device.BBB.location",
        "/topic/device.CCC.location",
    ]


def test_stomp_read_tells_the_heartbeat_watchdog(
    stomp_read: tuple[StompLink, FramedTransport, CountingInbox],
) -> None:
    _, transport, _ = stomp_read
    beats: list[str] = []

    class Watch:
        def on_heartbeat(self) -> None:
            beats.append("beat")

    transport.set_listener("watch", Watch())
    feed(transport, stomp_message("/topic/device.AAA.location", location_body("AAA", 1.0)) * 3)
    assert beats == ["beat"]


def test_stomp_frame_cut_across_reads_waits_for_its_end(
    stomp_read: tuple[StompLink, FramedTransport, CountingInbox],
) -> None:
    _, transport, inbox = stomp_read
    whole = stomp_message("/topic/device.AAA.location", location_body("AAA", 1.0))
    feed(transport, whole[:30])
    assert inbox.stats().received == 0
    feed(transport, whole[30:] + whole)
    assert inbox.batches == [2]
    assert [type(event) for event in everything(inbox)] == [LocationReceived, LocationReceived]


# The MQTT link: QoS 0 PUBLISH packets read from the buffer, everything else left to paho


def publish(topic: bytes, payload: bytes, *, first: int = 0x30) -> bytes:
    body = struct.pack(">H", len(topic)) + topic + payload
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([first]) + bytes(encoded) + body


def buffered(data: bytes) -> BufferedClient:
    client = BufferedClient(CallbackAPIVersion.VERSION2, client_id="t")
    client._read_buffer, client._read_offset = data, 0
    return client


def test_take_publishes_reads_up_to_the_first_other_packet() -> None:
    motion = struct.pack(">ddd", 0.1, 0.2, 0.3)
    ping_response = b"\xd0\x00"
    big = b"x" * 300  # a remaining length of two bytes
    data = (
        publish(b"/mwm/A/motion", motion)
        + publish(b"/mwm/B/motion", motion, first=0x31)
        + publish(b"/mwm/C/motion", big)
        + ping_response
        + publish(b"/mwm/D/motion", motion)
    )
    client = buffered(data)
    taken: list[tuple[bytes, bytes, bool]] = []
    before = client._last_bytes_received
    assert client.take_publishes(lambda *packet: taken.append(packet)) == 3
    assert taken == [
        (b"/mwm/A/motion", motion, False),
        (b"/mwm/B/motion", motion, True),
        (b"/mwm/C/motion", big, False),
    ]
    assert client.buffered_bytes == len(ping_response) + len(publish(b"/mwm/D/motion", motion))
    assert client._last_bytes_received > before


@pytest.mark.parametrize(
    "packet",
    [
        publish(b"/mwm/lastWill", b"{}", first=0x32),  # QoS 1: paho sends the PUBACK
        publish(b"/mwm/lastWill", b"{}", first=0x34),  # QoS 2
        publish(b"/mwm/A/motion", b"x", first=0x38),  # DUP on QoS 0: malformed
        publish(b"", b"payload"),  # empty topic: paho refuses it
        b"\x30\x05\x00\x09abc",  # topic longer than the packet
        b"\x30\x80\x80\x80\x80\x01",  # remaining length over 4 bytes
        publish(b"/mwm/A/motion", b"x" * 24)[:-1],  # not all here yet
    ],
)
def test_take_publishes_leaves_other_packets_to_paho(packet: bytes) -> None:
    client = buffered(packet)
    taken: list[tuple[bytes, bytes, bool]] = []
    assert client.take_publishes(lambda *p: taken.append(p)) == 0
    assert taken == [] and client.buffered_bytes == len(packet)


def test_take_publishes_waits_while_paho_is_inside_a_packet() -> None:
    client = buffered(publish(b"/mwm/A/motion", b"x" * 24))
    client._in_packet["command"] = 0x30
    assert client.take_publishes(lambda *p: None) == 0


def test_publish_read_by_the_link_decodes_as_paho_read() -> None:
    inbox = EventInbox()
    link = MqttLink(parse_target("mqtt://127.0.0.1:1883", Protocol.MQTT), inbox.put)
    motion = struct.pack(">ddd", 0.1, 0.2, 0.3)
    for topic, payload in [
        (b"/mwm/AAA/motion", motion),
        (b"/mwm/\xff/motion", motion),
        (b"/mwm/lastWill", b'{"deviceID": "AAA"}'),
        (b"/mwm/AAA/motion", b"short"),
    ]:
        link.handle_publish(topic, payload, False)
        paho = mqtt.MQTTMessage(mid=0, topic=topic)
        paho.payload = payload
        link.handle_message(paho)
    received = everything(inbox)
    assert received[0::2] == received[1::2]
    kinds = [type(event) for event in received[0::2]]
    assert kinds == [MotionReceived, MessageRejected, WillReceived, MessageRejected]

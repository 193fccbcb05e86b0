"""The simulated device's own MQTT 3.1.1 packets and STOMP 1.2 frames, byte by byte."""

from __future__ import annotations

import struct

import pytest

from mwm_tui.sim import mqtt_wire, stomp_wire
from mwm_tui.sim.mqtt_wire import MalformedPacketError, Packet, PacketReader, Will


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16_383, b"\xff\x7f"),
        (16_384, b"\x80\x80\x01"),
        (2_097_151, b"\xff\xff\x7f"),
        (268_435_455, b"\xff\xff\xff\x7f"),
    ],
)
def test_remaining_length_is_encoded_as_the_standard_shows(length: int, encoded: bytes) -> None:
    assert mqtt_wire.remaining_length(length) == encoded


def test_connect_carries_the_will_the_kept_session_and_the_credentials() -> None:
    will = Will("/mwm/lastWill", b'{"deviceID": "T1"}', qos=2)
    packet = mqtt_wire.connect_packet(
        "T1", 30, clean_session=False, will=will, username="u", password="p"
    )
    (parsed,) = PacketReader().feed(packet)
    assert (parsed.kind, parsed.flags) == (mqtt_wire.CONNECT, 0)
    body = parsed.body
    assert body[:7] == b"\x00\x04MQTT\x04"
    # user, password, will QoS 2, will flag; clean session off.
    assert body[7] == 0x80 | 0x40 | 0x10 | 0x04
    assert struct.unpack(">H", body[8:10]) == (30,)
    client_and_will = b"\x00\x02T1" + b"\x00\x0d/mwm/lastWill" + b'\x00\x12{"deviceID": "T1"}'
    assert body[10:] == client_and_will + b"\x00\x01u" + b"\x00\x01p"


def test_subscribe_asks_for_one_topic_at_its_qos() -> None:
    packet = mqtt_wire.subscribe_packet(7, "/mwm/T1/alert", qos=1)
    assert packet == b"\x82\x12\x00\x07\x00\x0d/mwm/T1/alert\x01"


def test_a_motion_publish_is_its_prefix_and_payload() -> None:
    payload = struct.pack(">ddd", 0.1, 0.2, 0.3)
    packet = mqtt_wire.publish_prefix("/mwm/T1/motion", len(payload), retain=True) + payload
    (parsed,) = PacketReader().feed(packet)
    assert (parsed.kind, parsed.flags) == (mqtt_wire.PUBLISH, 0x01)
    message = mqtt_wire.parse_publish(parsed)
    assert (message.topic, message.payload, message.qos, message.packet_id) == (
        "/mwm/T1/motion",
        payload,
        0,
        0,
    )


def test_packets_cut_anywhere_come_out_whole_and_in_order() -> None:
    alert = b"\x32\x14\x00\x0d/mwm/T1/alert\x00\x2ared"
    stream = b"\x20\x02\x00\x00" + b"\x90\x03\x00\x01\x01" + alert + b"\xd0\x00"
    reader = PacketReader()
    packets: list[Packet] = []
    for byte in stream:
        packets += reader.feed(bytes([byte]))
    assert [packet.kind for packet in packets] == [
        mqtt_wire.CONNACK,
        mqtt_wire.SUBACK,
        mqtt_wire.PUBLISH,
        mqtt_wire.PINGRESP,
    ]
    message = mqtt_wire.parse_publish(packets[2])
    assert (message.topic, message.payload, message.qos, message.packet_id) == (
        "/mwm/T1/alert",
        b"red",
        1,
        42,
    )
    assert mqtt_wire.ack_packet(mqtt_wire.PUBACK, message.packet_id) == b"\x40\x02\x00\x2a"


def test_a_length_of_five_bytes_or_an_outsized_packet_is_refused() -> None:
    with pytest.raises(MalformedPacketError):
        PacketReader().feed(b"\x30\xff\xff\xff\xff\x01")
    with pytest.raises(MalformedPacketError):
        PacketReader().feed(b"\x30" + mqtt_wire.remaining_length(mqtt_wire.MAX_PACKET_BYTES + 1))


def test_a_publish_whose_topic_overruns_it_is_refused() -> None:
    with pytest.raises(MalformedPacketError):
        mqtt_wire.parse_publish(Packet(mqtt_wire.PUBLISH, 0x02, b"\x00\x09/mwm"))


def test_stomp_headers_are_escaped_except_on_connect() -> None:
    assert stomp_wire.escape("a:b\\c\nd\re") == "a\\cb\\\\c\\nd\\re"
    frame = stomp_wire.subscribe_frame("/queue/device.a:b.text", "a:b-orders", "r:1")
    assert frame == (
        b"SUBSCRIBE\ndestination:/queue/device.a\\cb.text\nid:a\\cb-orders\nack:auto\n"
        b"receipt:r\\c1\n\n\x00"
    )
    connect = stomp_wire.connect_frame("a:b", "/", (60000, 20000), "hq", "pw")
    assert connect == (
        b"CONNECT\naccept-version:1.2\nhost:/\nheart-beat:60000,20000\nclient-id:a:b\n"
        b"login:hq\npasscode:pw\n\n\x00"
    )


def test_a_send_frame_says_its_length() -> None:
    prefix = stomp_wire.send_prefix("/topic/device.T1.location", "application/json")
    body = '{"deviceID": "T1", "note": "\u00e9\\u0000"}'.encode()
    assert stomp_wire.send_frame(prefix, body) == (
        b"SEND\ndestination:/topic/device.T1.location\ncontent-type:application/json\n"
        b"content-length:" + str(len(body)).encode() + b"\n\n" + body + b"\x00"
    )


@pytest.mark.parametrize(
    ("header", "agreed"),
    [
        ("0,0", (0.0, 0.0)),
        ("20000,60000", (60.0, 20.0)),
        ("5000,90000", (90.0, 20.0)),
        ("30000,0", (0.0, 30.0)),
        ("nonsense", (0.0, 0.0)),
    ],
)
def test_heart_beats_are_agreed_as_stomp_says(header: str, agreed: tuple[float, float]) -> None:
    assert stomp_wire.agreed_heartbeats((60000, 20000), header) == agreed

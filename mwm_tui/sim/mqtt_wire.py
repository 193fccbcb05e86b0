"""MQTT 3.1.1 as a simulated device speaks it: the packets it sends, built from bytes, and the
packets a broker sends it, cut whole from the byte stream (MQTT 3.1.1, sections 2 and 3)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14

PINGREQ_PACKET = b"\xc0\x00"
DISCONNECT_PACKET = b"\xe0\x00"
# Longest packet a device accepts from the broker: an alert is a colour name.
MAX_PACKET_BYTES = 256 * 1024
# CONNACK return codes (3.2.2.3).
REFUSALS = {
    1: "unacceptable protocol version",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class MalformedPacketError(ValueError):
    """The broker sent bytes that are no MQTT packet; the connection cannot go on."""


@dataclass(frozen=True, slots=True)
class Packet:
    """One packet from the broker: its type, the flags of its first byte, and the rest."""

    kind: int
    flags: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: int
    packet_id: int


def remaining_length(length: int) -> bytes:
    """The variable-length encoding of a packet's remaining length (2.2.3)."""
    out = bytearray()
    while True:
        byte, length = length & 0x7F, length >> 7
        out.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(out)


def _string(data: bytes) -> bytes:
    return struct.pack(">H", len(data)) + data


def _packet(first: int, body: bytes) -> bytes:
    return bytes([first]) + remaining_length(len(body)) + body


@dataclass(frozen=True, slots=True)
class Will:
    topic: str
    payload: bytes
    qos: int
    retain: bool = False


def connect_packet(
    client_id: str,
    keepalive: int,
    *,
    clean_session: bool,
    will: Will | None = None,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """CONNECT (3.1) for protocol level 4."""
    flags = 0x02 if clean_session else 0
    payload = _string(client_id.encode())
    if will is not None:
        flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        payload += _string(will.topic.encode()) + _string(will.payload)
    if username is not None:
        flags |= 0x80
        payload += _string(username.encode())
        if password is not None:
            flags |= 0x40
            payload += _string(password.encode())
    header = _string(b"MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive)
    return _packet(CONNECT << 4, header + payload)


def subscribe_packet(packet_id: int, topic: str, qos: int) -> bytes:
    """SUBSCRIBE (3.8) to one topic filter."""
    body = struct.pack(">H", packet_id) + _string(topic.encode()) + bytes([qos])
    return _packet(SUBSCRIBE << 4 | 0x02, body)


def publish_prefix(topic: str, payload_length: int, *, retain: bool) -> bytes:
    """Everything of a QoS 0 PUBLISH (3.3) but its payload of ``payload_length`` bytes."""
    encoded = _string(topic.encode())
    first = PUBLISH << 4 | (0x01 if retain else 0)
    return bytes([first]) + remaining_length(len(encoded) + payload_length) + encoded


def ack_packet(kind: int, packet_id: int) -> bytes:
    """PUBACK, PUBREC or PUBCOMP for ``packet_id``."""
    return bytes([kind << 4, 2]) + struct.pack(">H", packet_id)


def parse_publish(packet: Packet) -> Publish:
    """Topic, payload, QoS and packet id (0 at QoS 0) of a PUBLISH packet."""
    qos = (packet.flags >> 1) & 0x03
    body = packet.body
    if len(body) < 2 or qos == 3:
        raise MalformedPacketError("PUBLISH too short or with QoS 3")
    topic_end = 2 + struct.unpack_from(">H", body)[0]
    packet_id = 0
    payload_start = topic_end
    if qos:
        payload_start += 2
        if len(body) < payload_start:
            raise MalformedPacketError("PUBLISH without its packet id")
        packet_id = struct.unpack_from(">H", body, topic_end)[0]
    if len(body) < topic_end:
        raise MalformedPacketError("PUBLISH topic longer than the packet")
    topic = body[2:topic_end].decode("utf-8", "replace")
    return Publish(topic, body[payload_start:], qos, packet_id)


class PacketReader:
    """Cuts one connection's byte stream into packets; a cut packet waits for the next feed."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Packet]:
        """The packets ``data`` completed, in order; MalformedPacketError on nonsense."""
        buffer = self._buffer
        buffer += data
        packets: list[Packet] = []
        pos, end = 0, len(buffer)
        while pos + 2 <= end:
            length, shift, at, whole = 0, 0, pos + 1, False
            while at < end:
                byte = buffer[at]
                at += 1
                length |= (byte & 0x7F) << shift
                if byte < 0x80:
                    whole = True
                    break
                shift += 7
                if shift > 21:
                    raise MalformedPacketError("remaining length over four bytes")
            if not whole:
                break  # the length itself is not all here
            if length > MAX_PACKET_BYTES:
                raise MalformedPacketError(f"packet of {length:,} bytes")
            if at + length > end:
                break
            first = buffer[pos]
            packets.append(Packet(first >> 4, first & 0x0F, bytes(buffer[at : at + length])))
            pos = at + length
        del buffer[:pos]
        return packets

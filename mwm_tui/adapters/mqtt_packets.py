"""QoS 0 PUBLISH packets read straight from bytes already off the socket (MQTT 3.1.1, 3.3)."""

from __future__ import annotations

from collections.abc import Callable

# Topic, payload and retain flag of one QoS 0 PUBLISH.
PublishHandler = Callable[[bytes, bytes, bool], None]


def take_whole_publishes(buffer: bytes, pos: int, handle: PublishHandler) -> tuple[int, int]:
    """Hand each QoS 0 PUBLISH that lies whole in ``buffer`` from ``pos`` to ``handle``, in
    order, up to the first packet of another kind, cut short or malformed; returns how many,
    and the position after the last one taken."""
    end = len(buffer)
    count = 0
    while pos + 4 <= end:
        first = buffer[pos]
        if first & 0xFE != 0x30:  # not a PUBLISH with QoS 0 and no DUP flag
            break
        # The remaining length: 7 bits a byte, at most 4 bytes (MQTT 3.1.1, 2.2.3).
        length, shift, at = 0, 0, pos + 1
        while at < end and shift <= 21:
            byte = buffer[at]
            length |= (byte & 0x7F) << shift
            at += 1
            if byte < 0x80:
                break
            shift += 7
        else:
            break
        packet_end = at + length
        if packet_end > end or length < 2:
            break
        topic_end = at + 2 + ((buffer[at] << 8) | buffer[at + 1])
        if topic_end > packet_end or topic_end == at + 2:
            break  # an empty or overlong topic: paho refuses the packet
        handle(buffer[at + 2 : topic_end], buffer[topic_end:packet_end], first == 0x31)
        count += 1
        pos = packet_end
    return count, pos

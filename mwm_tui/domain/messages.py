"""From a raw broker message (destination and bytes) to exactly one event: data or a reject.

Every link, real or in-process, goes through these two functions, so they decode alike.
"""

from __future__ import annotations

from .codecs import decode_location, decode_motion, decode_will
from .errors import DecodeError
from .events import (
    Event,
    LinkName,
    LocationReceived,
    MessageRejected,
    MotionReceived,
    WillReceived,
)
from .ids import WILL_TOPIC, id_from_location_destination, id_from_motion_topic


def location_event(destination: str, body: bytes | str) -> Event:
    """A STOMP MESSAGE from ``/topic/device.*.location``."""
    try:
        device_id = id_from_location_destination(destination)
        return LocationReceived(decode_location(body, device_id))
    except DecodeError as error:
        return MessageRejected(LinkName.STOMP, error.reason, error.detail, destination)


def mqtt_event(topic: str, payload: bytes, retained: bool = False) -> Event:
    """An MQTT PUBLISH from ``/mwm/+/motion`` or ``/mwm/lastWill``."""
    try:
        if topic == WILL_TOPIC:
            return WillReceived(decode_will(payload), retained)
        return MotionReceived(id_from_motion_topic(topic), decode_motion(payload), retained)
    except DecodeError as error:
        return MessageRejected(LinkName.MQTT, error.reason, error.detail, topic)

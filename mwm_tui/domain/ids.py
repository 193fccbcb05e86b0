"""Device ids: the one rule for placing an id in a destination, and the four destination builders.

No other module builds a destination from a raw id, so an id such as ``*`` can never widen an
order into a broadcast.
"""

from __future__ import annotations

import unicodedata

from .errors import DecodeError, InvalidDeviceIdError, RejectReason

MAX_ID_LENGTH = 128
# Characters a supported broker gives a meaning to inside a destination: MQTT levels and
# wildcards (/ + #); ActiveMQ separators, wildcards, composites and options (. * > , ?);
# RabbitMQ's AMQP wildcards (* #), its MQTT '.'<->'/' swap and STOMP percent-escapes (%).
_RESERVED = frozenset("/+#*>.,?%")

LOCATION_SUBSCRIPTION = "/topic/device.*.location"
MOTION_SUBSCRIPTION = "/mwm/+/motion"
WILL_TOPIC = "/mwm/lastWill"
HQ_WILL_TOPIC = "/mwm/lastWill/web"

_LOCATION_PREFIX = "/topic/device."
_LOCATION_SUFFIX = ".location"
_MOTION_PREFIX = "/mwm/"
_MOTION_SUFFIX = "/motion"


def is_unicode(text: str) -> bool:
    """False when ``text`` holds a lone surrogate, which no UTF-8 file, database or screen takes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def id_problem(device_id: str) -> str | None:
    """Say why ``device_id`` may not go into a destination, or None when it may."""
    if not device_id:
        return "it is empty"
    if len(device_id) > MAX_ID_LENGTH:
        return f"it is longer than {MAX_ID_LENGTH} characters"
    for char in device_id:
        if char in _RESERVED:
            return f"it contains {char!r}"
        if char.isspace():
            return "it contains whitespace"
        if unicodedata.category(char).startswith("C"):
            return f"it contains the control character U+{ord(char):04X}"
    return None


def checked_id(device_id: str) -> str:
    """Return ``device_id`` unchanged, or raise InvalidDeviceIdError saying why not."""
    problem = id_problem(device_id)
    if problem is not None:
        raise InvalidDeviceIdError(device_id, problem)
    return device_id


def location_destination(device_id: str) -> str:
    """STOMP topic where a device publishes its GPS fixes."""
    return f"{_LOCATION_PREFIX}{checked_id(device_id)}{_LOCATION_SUFFIX}"


def order_destination(device_id: str) -> str:
    """STOMP queue holding a device's text orders."""
    return f"/queue/device.{checked_id(device_id)}.text"


def motion_topic(device_id: str) -> str:
    """MQTT topic where a device publishes pitch, roll and yaw."""
    return f"{_MOTION_PREFIX}{checked_id(device_id)}{_MOTION_SUFFIX}"


def alert_topic(device_id: str) -> str:
    """MQTT topic a device listens on for a screen-flash alert."""
    return f"{_MOTION_PREFIX}{checked_id(device_id)}/alert"


def _between(text: str, prefix: str, suffix: str) -> str:
    if not (text.startswith(prefix) and text.endswith(suffix)):
        raise DecodeError(RejectReason.BAD_DESTINATION, f"{text!r} is not {prefix}<ID>{suffix}")
    device_id = text[len(prefix) : len(text) - len(suffix)]
    if not device_id or len(device_id) > MAX_ID_LENGTH:
        raise DecodeError(RejectReason.BAD_ID, f"id of {len(device_id)} characters")
    if not device_id.isascii() and not is_unicode(device_id):
        raise DecodeError(RejectReason.BAD_ID, "id holds a lone surrogate")
    return device_id


def id_from_location_destination(destination: str) -> str:
    """Device id named by a concrete ``/topic/device.<ID>.location`` destination."""
    return _between(destination, _LOCATION_PREFIX, _LOCATION_SUFFIX)


def id_from_motion_topic(topic: str) -> str:
    """Device id named by a concrete ``/mwm/<ID>/motion`` topic."""
    return _between(topic, _MOTION_PREFIX, _MOTION_SUFFIX)

"""Wire codecs of docs/PROTOCOL.md: location JSON (STOMP), 24-byte motion and last-will JSON (MQTT).

Every decoder returns a value or raises DecodeError with a RejectReason; nothing else escapes.
"""

from __future__ import annotations

import json
import math
import re
import struct
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, NamedTuple

from .errors import DecodeError, RejectReason
from .ids import MAX_ID_LENGTH, is_unicode

MAX_PAYLOAD_BYTES = 64 * 1024
MOTION_PAYLOAD_BYTES = 24
_MOTION = struct.Struct(">ddd")

# ISO 8601 as devices really send it: optional seconds, single-digit day, Z or +hh:mm or +hhmm.
_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})[T ](\d{1,2}):(\d{2})"
    r"(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


class Position:
    """One GPS fix. ``raw_ts`` is the device's text; ``ts`` its reading, None if unreadable.

    The text is read on first use of ``ts``: nothing on the ingest path needs it parsed.
    Treated as immutable once built (it crosses threads).
    """

    __slots__ = ("_ts", "device_id", "lat", "lng", "raw_ts")
    _UNREAD: Final = object()

    def __init__(
        self,
        device_id: str,
        lat: float,
        lng: float,
        ts: datetime | None = None,
        raw_ts: str | None = None,
    ) -> None:
        self.device_id = device_id
        self.lat = lat
        self.lng = lng
        self.raw_ts = raw_ts
        self._ts: object = ts if ts is not None or raw_ts is None else Position._UNREAD

    @property
    def ts(self) -> datetime | None:
        if self._ts is Position._UNREAD:
            assert self.raw_ts is not None
            self._ts = parse_timestamp(self.raw_ts)
        return self._ts  # type: ignore[return-value]

    def _key(self) -> tuple[str, float, float, datetime | None, str | None]:
        return (self.device_id, self.lat, self.lng, self.ts, self.raw_ts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Position) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Position(device_id={self.device_id!r}, lat={self.lat!r}, lng={self.lng!r}, "
            f"ts={self.ts!r}, raw_ts={self.raw_ts!r})"
        )


class Motion(NamedTuple):
    """Device attitude in radians."""

    pitch: float
    roll: float
    yaw: float


def parse_timestamp(text: str) -> datetime | None:
    """Read the ISO 8601 forms devices send; None when the text is not one of them."""
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        tzinfo = _zone(zone)
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")[:6]),
            tzinfo=tzinfo,
        )
    except ValueError:
        return None


def _zone(zone: str | None) -> timezone:
    if zone is None or zone in ("Z", "z"):
        return UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 with seconds and offset, as the device apps send it."""
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(payload: bytes | str) -> str:
    if isinstance(payload, str):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise DecodeError(RejectReason.OVERSIZE, f"{len(payload)} characters")
        return payload
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise DecodeError(RejectReason.OVERSIZE, f"{len(payload)} bytes")
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DecodeError(RejectReason.NOT_UTF8, f"bad byte at offset {error.start}") from None


def _json_object(payload: bytes | str) -> dict[str, Any]:
    text = _text(payload)
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise DecodeError(RejectReason.NOT_JSON, _short(str(error))) from None
    if not isinstance(value, dict):
        raise DecodeError(RejectReason.NOT_OBJECT, f"got {type(value).__name__}")
    return value


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _field(obj: dict[str, Any], name: str) -> Any:
    if name not in obj:
        raise DecodeError(RejectReason.MISSING_FIELD, name)
    return obj[name]


def _device_id(obj: dict[str, Any]) -> str:
    device_id = _field(obj, "deviceID")
    if not isinstance(device_id, str):
        raise DecodeError(RejectReason.MISTYPED_FIELD, "deviceID is not a string")
    if not device_id or len(device_id) > MAX_ID_LENGTH:
        raise DecodeError(RejectReason.BAD_ID, f"deviceID of {len(device_id)} characters")
    if not device_id.isascii() and not is_unicode(device_id):
        # JSON can spell a lone surrogate (\ud800): no text of that kind can be stored or shown.
        raise DecodeError(RejectReason.BAD_ID, "deviceID holds a lone surrogate")
    return device_id


def _coordinate(obj: dict[str, Any], name: str, limit: float) -> float:
    value = _field(obj, name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(RejectReason.MISTYPED_FIELD, f"{name} is not a number")
    try:
        number = float(value)
    except OverflowError:
        # JSON integers are unbounded: float(10**400) raises instead of giving inf.
        raise DecodeError(RejectReason.OUT_OF_RANGE, f"{name} is too large") from None
    if not math.isfinite(number):
        raise DecodeError(RejectReason.NOT_FINITE, f"{name} is {number}")
    if not -limit <= number <= limit:
        raise DecodeError(RejectReason.OUT_OF_RANGE, f"{name} {number} outside ±{limit:g}")
    return number


def decode_location(payload: bytes | str, destination_id: str | None = None) -> Position:
    """Decode a location body; ``destination_id`` is the id the STOMP destination names."""
    obj = _json_object(payload)
    device_id = _device_id(obj)
    if destination_id is not None and device_id != destination_id:
        raise DecodeError(
            RejectReason.ID_MISMATCH, f"body says {device_id!r}, destination {destination_id!r}"
        )
    lat = _coordinate(obj, "lat", 90.0)
    lng = _coordinate(obj, "lng", 180.0)
    raw_ts = obj.get("ts")
    if raw_ts is None:
        return Position(device_id, lat, lng)
    if not isinstance(raw_ts, str):
        raise DecodeError(RejectReason.MISTYPED_FIELD, "ts is not a string")
    return Position(device_id, lat, lng, raw_ts=raw_ts)


def encode_location(position: Position) -> bytes:
    """Location body as the device apps send it."""
    body: dict[str, Any] = {
        "deviceID": position.device_id,
        "lat": position.lat,
        "lng": position.lng,
    }
    if position.raw_ts is not None:
        body["ts"] = position.raw_ts
    elif position.ts is not None:
        body["ts"] = format_timestamp(position.ts)
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def decode_motion(payload: bytes) -> Motion:
    """Decode exactly 24 bytes: pitch, roll, yaw as big-endian float64 radians."""
    if len(payload) != MOTION_PAYLOAD_BYTES:
        raise DecodeError(
            RejectReason.WRONG_LENGTH, f"{len(payload)} bytes, expected {MOTION_PAYLOAD_BYTES}"
        )
    pitch, roll, yaw = _MOTION.unpack(payload)
    if not (math.isfinite(pitch) and math.isfinite(roll) and math.isfinite(yaw)):
        raise DecodeError(RejectReason.NOT_FINITE, f"pitch={pitch} roll={roll} yaw={yaw}")
    return Motion(pitch, roll, yaw)


def encode_motion(motion: Motion) -> bytes:
    """24-byte motion payload."""
    return _MOTION.pack(motion.pitch, motion.roll, motion.yaw)


def decode_will(payload: bytes) -> str:
    """Device id from a last-will payload ``{"deviceID": "<ID>"}``."""
    return _device_id(_json_object(payload))


def encode_will(device_id: str) -> bytes:
    """Last-will payload a device leaves with the MQTT broker."""
    return json.dumps({"deviceID": device_id}, ensure_ascii=False).encode("utf-8")


def decode_order(payload: bytes | str) -> str:
    """Text of an order as a device reads it from its queue."""
    return _text(payload)

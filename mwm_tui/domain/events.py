"""What the broker links hand to the UI: plain, immutable values that cross threads safely."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from .codecs import Motion, Position
from .errors import RejectReason


class LinkName(StrEnum):
    STOMP = "STOMP"
    MQTT = "MQTT"


class LinkState(StrEnum):
    CONNECTING = "connecting"
    UP = "up"
    DOWN = "down"


class Delivery(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


class Failure(StrEnum):
    """Why an order or alert FAILED, which says whether sending it again is safe."""

    NOT_SENT = "not sent"  # it never left HQ: sending it again cannot duplicate it
    UNCONFIRMED = "unconfirmed"  # written, then the link ended before a receipt: may have arrived
    REFUSED = "refused"  # the broker answered no: final


# The two telemetry events are named tuples: built once per message, they must be cheap.
class LocationReceived(NamedTuple):
    position: Position


class MotionReceived(NamedTuple):
    device_id: str
    motion: Motion
    retained: bool = False


@dataclass(frozen=True, slots=True)
class WillReceived:
    """A will on ``/mwm/lastWill``; ``retained`` when the broker kept it from before HQ
    subscribed (so of unknown age)."""

    device_id: str
    retained: bool = False


@dataclass(frozen=True, slots=True)
class MessageRejected:
    """A refused message; ``count`` > 1 when the inbox folded that many alike into this one."""

    link: LinkName
    reason: RejectReason
    detail: str
    source: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class LinkStateChanged:
    """A link went connecting, up or down; ``retry_in`` is set while it waits to reconnect.

    ``broker`` names the broker the link is on or trying (several may be configured).
    """

    link: LinkName
    state: LinkState
    detail: str = ""
    retry_in: float | None = None
    broker: str = ""


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """The broker's receipt for an order (confirmed), or why there is none (failed)."""

    order_id: str
    device_id: str
    delivery: Delivery
    detail: str = ""
    failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """The broker's PUBACK for an alert (confirmed), or why there is none (failed)."""

    alert_id: str
    device_id: str
    colour: str
    delivery: Delivery
    detail: str = ""
    failure: Failure | None = None


@dataclass(frozen=True, slots=True)
class DeviceNotice:
    """Something a device reported about itself, such as reading an order or flashing."""

    device_id: str
    text: str


@dataclass(frozen=True, slots=True)
class QueueConsumers:
    """How many consumers a device's order queue has now, from the broker's advisories."""

    device_id: str
    consumers: int


Telemetry = LocationReceived | MotionReceived
# For isinstance on the hot path: a tuple, not a union built anew at every call.
TELEMETRY_TYPES = (LocationReceived, MotionReceived)
Event = (
    LocationReceived
    | MotionReceived
    | WillReceived
    | MessageRejected
    | LinkStateChanged
    | OrderOutcome
    | AlertOutcome
    | DeviceNotice
    | QueueConsumers
)

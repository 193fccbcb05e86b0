"""One device as HQ knows it, and one change of its status: the fleet's two records."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .codecs import Motion, Position
from .freshness import DeviceStatus
from .ids import id_problem
from .ring import FloatRing


class Device:
    """What HQ knows of one device."""

    __slots__ = (
        "address_problem",
        "device_id",
        "due_at",
        "known_at",
        "last_known",
        "last_location_at",
        "last_motion_at",
        "location_count",
        "motion",
        "motion_count",
        "pitch",
        "position",
        "retained_at",
        "roll",
        "serial",
        "status",
        "status_reason",
        "trail_lat",
        "trail_lng",
        "will_at",
        "yaw",
    )

    def __init__(
        self, device_id: str, history: int, trail: int, known_at: float = 0.0, serial: int = 0
    ) -> None:
        self.device_id = device_id
        # Order of arrival in the fleet: a sweep judges devices in this order.
        self.serial = serial
        # When the status rule is next due to judge it (clock time; inf: only on news).
        self.due_at = math.inf
        # When HQ first heard of it, by any message: a retained-only device's silence starts here.
        self.known_at = known_at
        # Why orders and alerts cannot be addressed to this id, if they cannot.
        self.address_problem = id_problem(device_id)
        self.status = DeviceStatus.ONLINE
        self.status_reason = ""
        self.position: Position | None = None
        self.motion: Motion | None = None
        self.trail_lat = FloatRing(trail)
        self.trail_lng = FloatRing(trail)
        self.pitch = FloatRing(history)
        self.roll = FloatRing(history)
        self.yaw = FloatRing(history)
        self.last_location_at: float | None = None
        self.last_motion_at: float | None = None
        # When HQ last received a retained motion: a value of unknown age.
        self.retained_at: float | None = None
        self.location_count = 0
        self.motion_count = 0
        # True while it shows only what an earlier run knew: it has not spoken live since.
        self.last_known = False
        # Clock time of the will that took it offline, while its own data may still dispute it.
        self.will_at: float | None = None

    @property
    def last_seen(self) -> float | None:
        """Clock time of the newest live message on either protocol."""
        if self.last_location_at is None:
            return self.last_motion_at
        if self.last_motion_at is None:
            return self.last_location_at
        return max(self.last_location_at, self.last_motion_at)

    @property
    def motion_is_retained(self) -> bool:
        """True when the motion shown came retained: last known, age unknown."""
        return self.retained_at is not None and (
            self.last_motion_at is None or self.retained_at > self.last_motion_at
        )

    def trail(self) -> list[tuple[float, float]]:
        """Recent (lat, lng) fixes, oldest first."""
        return list(zip(self.trail_lat.values(), self.trail_lng.values(), strict=True))


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A device appeared (``before`` None) or changed status, with a reason for the log."""

    device_id: str
    before: DeviceStatus | None
    after: DeviceStatus
    reason: str

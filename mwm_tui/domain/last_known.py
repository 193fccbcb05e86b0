"""A device's last known state, as kept between runs: what HQ last heard of it, and when.

Times here are wall-clock seconds (``time.time``): they outlive the process, where the fleet's
own clock is monotonic and means nothing to the next run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .codecs import Motion, Position
from .device import Device
from .freshness import DeviceStatus


@dataclass(frozen=True, slots=True)
class LastKnown:
    """One device as HQ last knew it.

    ``fix_at`` / ``motion_at``: when HQ received the position / live motion (None: never; a
    motion without ``motion_at`` came retained, of unknown age). ``updated_at``: when this state
    was taken, and so how new it is against another dashboard's.
    """

    device_id: str
    status: DeviceStatus
    reason: str
    position: Position | None
    fix_at: float | None
    motion: Motion | None
    motion_at: float | None
    updated_at: float

    @property
    def last_heard(self) -> float | None:
        """Wall time of the newest live message, None when there was none."""
        heard = [at for at in (self.fix_at, self.motion_at) if at is not None]
        return max(heard, default=None)


def last_known_of(device: Device, wall_offset: float, wall_now: float) -> LastKnown:
    """``device`` as it is now; ``wall_offset`` turns the fleet's clock into wall time."""
    fix_at = device.last_location_at
    motion_at = None if device.motion_is_retained else device.last_motion_at
    return LastKnown(
        device_id=device.device_id,
        status=device.status,
        reason=device.status_reason,
        position=device.position,
        fix_at=None if fix_at is None else fix_at + wall_offset,
        motion=device.motion,
        motion_at=None if motion_at is None else motion_at + wall_offset,
        updated_at=wall_now,
    )

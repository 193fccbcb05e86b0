"""The status rule: a device's ages and HQ's own links -> online, stale, offline or unknown.

A device is judged only against links that are up. Silence while HQ cannot hear is HQ's
problem, not the device's, so it never counts against the device. The README's "Status of a
truck" states the same rule in prose.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DeviceStatus(StrEnum):
    ONLINE = "online"
    STALE = "stale"
    OFFLINE = "offline"
    UNKNOWN = "unknown"  # HQ cannot tell: its link is down, or it has only a retained value


# Reasons, as the log and the history show them.
HEARD = "heard from"
AGE_UNKNOWN = "last known, age unknown"
AWAITING = "awaiting data since HQ's link returned"
LAST_KNOWN = "last known"  # what an earlier run heard, nothing since
# A stale or offline status's reason starts so, followed by the seconds of silence.
SILENT_FOR = "silent for "


@dataclass(frozen=True, slots=True)
class LinkView:
    """One of HQ's links as the rule sees it: up or not, and since when (clock time)."""

    up: bool
    since: float


def link_down_reason(links: list[str]) -> str:
    return f"HQ's {' and '.join(links)} link{'s' if len(links) > 1 else ''} down"


@dataclass(frozen=True, slots=True)
class StatusRule:
    """``stale_after`` / ``offline_after``: seconds of counted silence before each status."""

    stale_after: float = 15.0
    offline_after: float = 120.0

    def __post_init__(self) -> None:
        if not 0 < self.stale_after < self.offline_after:
            raise ValueError("need 0 < stale_after < offline_after")

    def judge(
        self,
        current: DeviceStatus,
        now: float,
        *,
        known_at: float,
        fix_at: float | None = None,
        motion_at: float | None = None,
        stomp: LinkView | None = None,
        mqtt: LinkView | None = None,
        restored: bool = False,
    ) -> tuple[DeviceStatus, str]:
        """The status a device should have now, and why.

        ``fix_at`` / ``motion_at``: HQ's receive time of the newest position / live motion.
        ``known_at``: when HQ first heard of the device at all (a retained motion, say).
        ``stomp`` / ``mqtt``: the links the device has been seen on; None where it never was.
        ``current`` matters three ways: OFFLINE ends only by a live message (never here);
        STALE is kept, not made unknown, while a link is down (its silence is frozen, not
        forgotten); and a device in its grace period keeps UNKNOWN rather than claiming online.
        ``restored``: the times are an earlier run's: they prove no life now, and a link's
        return gives no grace (the silence already happened), so only their age decides.
        """
        if current is DeviceStatus.OFFLINE:
            return current, ""
        channels = [
            (name, view, heard)
            for name, view, heard in (("STOMP", stomp, fix_at), ("MQTT", mqtt, motion_at))
            if view is not None
        ]
        # Proof of life on a link that is up, since it came up, and recent: online.
        for _name, view, heard in channels:
            if restored or heard is None or not view.up:
                continue
            if heard >= view.since and now - heard < self.stale_after:
                return DeviceStatus.ONLINE, HEARD
        down = [name for name, view, _heard in channels if not view.up]
        if down:
            if current is DeviceStatus.STALE:
                return current, ""
            return DeviceStatus.UNKNOWN, link_down_reason(down)
        heard_times = [heard for _name, _view, heard in channels if heard is not None]
        last = max(heard_times, default=known_at)
        # Silence counts from the newest message or from the newest return of a link it uses:
        # that return gives one stale interval of grace.
        returns = [] if restored else [view.since for _name, view, _heard in channels]
        counted_from = max([last, *returns])
        silent = now - counted_from
        if silent >= self.offline_after:
            return DeviceStatus.OFFLINE, f"{SILENT_FOR}{silent:.0f} s"
        if silent >= self.stale_after:
            if current is DeviceStatus.STALE:
                return current, ""
            return DeviceStatus.STALE, f"{SILENT_FOR}{silent:.0f} s"
        if current is DeviceStatus.STALE:
            return current, ""
        if not heard_times:
            return DeviceStatus.UNKNOWN, AGE_UNKNOWN
        return DeviceStatus.UNKNOWN, LAST_KNOWN if restored else AWAITING

    def next_change(
        self,
        current: DeviceStatus,
        now: float,
        *,
        known_at: float,
        fix_at: float | None = None,
        motion_at: float | None = None,
        stomp: LinkView | None = None,
        mqtt: LinkView | None = None,
        restored: bool = False,
    ) -> float | None:
        """The earliest time ``judge`` may answer differently if no message or link change comes.

        Same arguments as ``judge``; None when only a message or a link change can change the
        answer. A time at or before ``now`` means: judge again now.
        """
        if current is DeviceStatus.OFFLINE:
            return None
        channels = [
            (view, heard)
            for view, heard in ((stomp, fix_at), (mqtt, motion_at))
            if view is not None
        ]
        online_until = [
            heard + self.stale_after
            for view, heard in channels
            if heard is not None
            and not restored
            and view.up
            and heard >= view.since
            and now - heard < self.stale_after
        ]
        if online_until:
            return max(online_until)
        # Past here ``judge`` never answers online; still claiming it is a change due now.
        if current is DeviceStatus.ONLINE:
            return now
        if any(not view.up for view, _heard in channels):
            return None
        heard_times = [heard for _view, heard in channels if heard is not None]
        last = max(heard_times, default=known_at)
        counted_from = max([last, *([] if restored else [view.since for view, _h in channels])])
        silent = now - counted_from
        if silent >= self.offline_after:
            return now
        if current is DeviceStatus.STALE:
            return counted_from + self.offline_after
        if silent >= self.stale_after:
            return now
        return counted_from + self.stale_after

"""The device list's order: devices sorted by a key and filtered by text, kept up to date per
changed device, so a fleet of thousands costs a few bisections per change, not a sort per tick.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from enum import StrEnum
from typing import TypeAlias

from .fleet import Device, DeviceStatus
from .text import literal

__all__ = ["ListOrder", "SortKey", "order_key"]

_STATUS_RANK = {
    DeviceStatus.OFFLINE: 0,
    DeviceStatus.STALE: 1,
    DeviceStatus.UNKNOWN: 2,
    DeviceStatus.ONLINE: 3,
}
_INF = float("inf")
# Past this share of changed devices one full sort beats one bisection each.
_REBUILD_SHARE = 8

OrderKey: TypeAlias = tuple[float | str, ...]


class SortKey(StrEnum):
    """Every column of the list, in its order on screen; the value is how a notice names it."""

    STATUS = "status"
    ID = "id"
    AGE = "fix age"
    MOTION_AGE = "motion age"
    LAT = "latitude"
    LNG = "longitude"
    PITCH = "pitch"
    ROLL = "roll"
    YAW = "yaw"
    BY = "claimant"
    MOTION = "motion swing"
    DEVICE_TS = "device clock"


def _newest_first(at: float | None) -> float:
    return -at if at is not None else _INF


def order_key(
    key: SortKey, device: Device, claimant: Callable[[str], str | None] = lambda _id: None
) -> OrderKey:
    """Where ``device`` sorts: ties broken by id, devices without the value last.

    Ages sort by the receive time, newest first: the same order as "now - time" ascending,
    without a key that changes every second (so does the device's own clock). A motion's
    swing is how far its recent pitch moved (largest last); ``claimant`` names who claims a
    device, unclaimed ones last.
    """
    device_id = device.device_id
    if key is SortKey.STATUS:
        return (_STATUS_RANK[device.status], device_id)
    if key is SortKey.ID:
        return (device_id,)
    if key is SortKey.AGE:
        return (_newest_first(device.last_location_at), device_id)
    if key is SortKey.MOTION_AGE:
        live = None if device.motion_is_retained else device.last_motion_at
        return (_newest_first(live), device_id)
    if key is SortKey.BY:
        by = claimant(device_id)
        return (0 if by else 1, by or "", device_id)
    if key in _MOTION_PARTS:
        motion = device.motion
        return (getattr(motion, key.value) if motion else _INF, device_id)
    if key is SortKey.MOTION:
        swing = device.pitch.values()
        return (max(swing) - min(swing) if swing else _INF, device_id)
    position = device.position
    if position is None:
        return (_INF, device_id)
    if key is SortKey.DEVICE_TS:
        stamp = position.ts  # a time without a zone is no time on HQ's clock: last
        known = stamp.timestamp() if stamp is not None and stamp.tzinfo is not None else None
        return (_newest_first(known), device_id)
    return (position.lat if key is SortKey.LAT else position.lng, device_id)


_MOTION_PARTS = frozenset((SortKey.PITCH, SortKey.ROLL, SortKey.YAW))


class ListOrder:
    """Ids of the devices shown, in display order (filter, then sort, then maybe reversed)."""

    def __init__(
        self,
        devices: Mapping[str, Device],
        key: SortKey = SortKey.STATUS,
        *,
        reverse: bool = False,
        filter_text: str = "",
        claimant: Callable[[str], str | None] = lambda _id: None,
    ) -> None:
        """``claimant``: who claims a device, for the claimant's column."""
        self._devices = devices
        self._claimant = claimant
        self.key = key
        self.reverse = reverse
        self._wanted = filter_text.strip().casefold()
        self.filter_text = filter_text
        # Every device's key as last placed, and the shown ones' keys sorted (id last in each).
        self._keys: dict[str, OrderKey] = {}
        self._shown: list[OrderKey] = []
        self._shown_ids: set[str] = set()
        # Per id, computed once (ids never change): folded for the filter, width on screen.
        self._folded: dict[str, str] = {}
        self._width: dict[str, int] = {}
        self._widths: Counter[int] = Counter()
        self.rebuild()

    # ---- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._shown)

    def __getitem__(self, index: int) -> str:
        """The id on display row ``index`` (0 is the top)."""
        if not 0 <= index < len(self._shown):
            raise IndexError(index)
        if self.reverse:
            index = len(self._shown) - 1 - index
        return str(self._shown[index][-1])

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._shown_ids

    def ids(self) -> list[str]:
        ordered = [str(key[-1]) for key in self._shown]
        if self.reverse:
            ordered.reverse()
        return ordered

    def index(self, device_id: str | None) -> int:
        """Display row of ``device_id``, or -1 when it is not shown."""
        if device_id is None or device_id not in self._shown_ids:
            return -1
        index = bisect.bisect_left(self._shown, self._keys[device_id])
        return len(self._shown) - 1 - index if self.reverse else index

    @property
    def id_width(self) -> int:
        """Cells the widest shown id takes (at least 2)."""
        return max(self._widths, default=2)

    # ---- changing ---------------------------------------------------------------------------

    def set_key(self, key: SortKey) -> None:
        if key is not self.key:
            self.key = key
            self.rebuild()

    def set_filter(self, text: str) -> None:
        wanted = text.strip().casefold()
        self.filter_text = text
        if wanted != self._wanted:
            self._wanted = wanted
            self._refilter()

    def rebuild(self) -> None:
        """Place every device afresh."""
        key, devices = self.key, self._devices
        claimant = self._claimant
        self._keys = {device_id: order_key(key, d, claimant) for device_id, d in devices.items()}
        self._refilter()

    def update(self, changed: Iterable[str]) -> None:
        """Re-place the devices in ``changed``: new, changed or gone from the fleet."""
        devices, keys, shown_ids = self._devices, self._keys, self._shown_ids
        moves: list[tuple[str, OrderKey | None, OrderKey | None]] = []
        for device_id in changed:
            device = devices.get(device_id)
            old = keys.get(device_id)
            if device is None:
                if old is not None:
                    moves.append((device_id, old, None))
                continue
            new = order_key(self.key, device, self._claimant)
            if new != old or (device_id in shown_ids) != self._matches(device):
                moves.append((device_id, old, new))
        if len(moves) * _REBUILD_SHARE > len(keys) + 64:
            for device_id, _before, after in moves:
                if after is None:
                    del keys[device_id]
                else:
                    keys[device_id] = after
            self._refilter()
            return
        for device_id, before, after in moves:
            if device_id in shown_ids and before is not None:
                self._hide(device_id, before)
            if after is None:
                del keys[device_id]
                continue
            keys[device_id] = after
            if self._matches(devices[device_id]):
                self._show(device_id, after)

    # ---- inside -------------------------------------------------------------------------------

    def _matches(self, device: Device) -> bool:
        wanted = self._wanted
        if not wanted:
            return True
        device_id = device.device_id
        folded = self._folded.get(device_id)
        if folded is None:
            folded = self._folded[device_id] = device_id.casefold()
        return wanted in folded or wanted == device.status.value

    def _refilter(self) -> None:
        devices = self._devices
        shown = [
            key
            for device_id, key in self._keys.items()
            if (device := devices.get(device_id)) is not None and self._matches(device)
        ]
        shown.sort()
        self._shown = shown
        self._shown_ids = {str(key[-1]) for key in shown}
        self._widths = Counter(self._width_of(device_id) for device_id in self._shown_ids)

    def _width_of(self, device_id: str) -> int:
        width = self._width.get(device_id)
        if width is None:
            width = self._width[device_id] = len(literal(device_id))
        return width

    def _show(self, device_id: str, key: OrderKey) -> None:
        bisect.insort(self._shown, key)
        self._shown_ids.add(device_id)
        self._widths[self._width_of(device_id)] += 1

    def _hide(self, device_id: str, key: OrderKey) -> None:
        index = bisect.bisect_left(self._shown, key)
        if index < len(self._shown) and self._shown[index] == key:
            del self._shown[index]
        else:
            self._shown.remove(key)
        self._shown_ids.discard(device_id)
        width = self._width_of(device_id)
        self._widths[width] -= 1
        if not self._widths[width]:
            del self._widths[width]

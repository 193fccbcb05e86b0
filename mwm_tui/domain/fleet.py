"""The fleet model: every device HQ has heard of, joined across STOMP and MQTT by id.

Memory grows with the number of devices, never with the number of messages: histories are
fixed rings and counters are integers. The number of devices is capped (``max_devices``): past
it a new id is refused and counted, unless live data can take the place of the oldest device
known only from retained messages (evicted and counted). Wills are weighed (``wills``). Time
comes from an injected clock.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable

from .codecs import Motion, Position
from .device import Device, StatusChange
from .errors import RejectReason
from .events import (
    Event,
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MessageRejected,
    MotionReceived,
    WillReceived,
)
from .freshness import AGE_UNKNOWN, DeviceStatus, LinkView, StatusRule
from .last_known import LastKnown, last_known_of
from .wills import WillBook, WillVerdict

Clock = Callable[[], float]

__all__ = ["DEFAULT_MAX_DEVICES", "Clock", "Device", "DeviceStatus", "Fleet", "StatusChange"]

DEFAULT_MAX_DEVICES = 10_000


class Fleet:
    """Every device, its status by the rule in ``freshness``, and what HQ's links are doing."""

    def __init__(
        self,
        clock: Clock = time.monotonic,
        stale_after: float = 15.0,
        offline_after: float = 120.0,
        history: int = 50,
        trail: int = 20,
        *,
        max_devices: int = DEFAULT_MAX_DEVICES,
    ) -> None:
        if max_devices < 1:
            raise ValueError("max_devices must be at least 1")
        self.max_devices = max_devices
        # The newest id refused for the device limit, for the log.
        self.last_refused_id: str | None = None
        # Devices known only from retained messages, evicted for live ones, and the newest.
        self.evicted = 0
        self.last_evicted_id: str | None = None
        self.rule = StatusRule(stale_after, offline_after)
        self.clock = clock
        self.stale_after = stale_after
        self.offline_after = offline_after
        self.history = history
        self.trail_length = trail
        self.devices: dict[str, Device] = {}
        self.accepted: Counter[LinkName] = Counter()
        self.rejected: Counter[LinkName] = Counter()
        self.rejects_by_reason: Counter[RejectReason] = Counter()
        # Links count as up until told otherwise, so a fleet fed by hand needs no link events.
        now = clock()
        self.links: dict[LinkName, LinkView] = {name: LinkView(True, now) for name in LinkName}
        # Bumped when a device is added or changes status: a sorted view must re-sort.
        self.version = 0
        # Bumped when a position or a status changes: what a map must redraw for.
        self.map_version = 0
        self._dirty: set[str] = set()
        # Devices changed since the last take_last_known (the database keeps them between runs).
        self._unkept: set[str] = set()
        # Devices with a new position since the last take_moved (the geofence watch takes them).
        self._moved: set[str] = set()
        self._changes: list[StatusChange] = []
        self._status_counts: Counter[DeviceStatus] = Counter()
        # (due time, serial, id): when each device's status may next change by silence alone.
        self._due: list[tuple[float, int, str]] = []
        # Ids of devices never heard live (retained messages only), oldest first: evicted first.
        self._hearsay: dict[str, None] = {}
        self.wills = WillBook(stale_after)

    def apply(self, event: Event) -> None:
        """Apply one fleet event; other kinds of event are not the fleet's and are ignored."""
        if isinstance(event, MotionReceived):
            self.apply_motion(event.device_id, event.motion, retained=event.retained)
        elif isinstance(event, LocationReceived):
            self.apply_location(event.position)
        elif isinstance(event, WillReceived):
            self.apply_will(event.device_id, retained=event.retained)
        elif isinstance(event, MessageRejected):
            self.record_reject(event.link, event.reason, event.count)
        elif isinstance(event, LinkStateChanged):
            self.link_changed(event.link, event.state)

    def apply_all(self, events: Iterable[Event]) -> None:
        for event in events:
            self.apply(event)

    def apply_location(self, position: Position) -> None:
        device = self._device(position.device_id, LinkName.STOMP, live=True)
        if device is None:
            return
        now = self.clock()
        if self._hearsay or self.wills.held:
            self._spoke(position.device_id, now)
        device.last_known = False
        device.position = position
        device.trail_lat.append(position.lat)
        device.trail_lng.append(position.lng)
        device.last_location_at = now
        device.location_count += 1
        self._moved.add(position.device_id)
        self.map_version += 1
        self.accepted[LinkName.STOMP] += 1
        if device.status is not DeviceStatus.ONLINE:
            self._heard(device, now)
        elif device.location_count == 1:
            self._judge_soon(device, now)  # judged on one more link from now on

    def apply_motion(self, device_id: str, motion: Motion, *, retained: bool = False) -> None:
        # A retained value may be old: it shows the motion but proves nothing about liveness.
        if retained:
            device = self._device(device_id, LinkName.MQTT, DeviceStatus.UNKNOWN, AGE_UNKNOWN)
        else:
            device = self._device(device_id, LinkName.MQTT, live=True)
        if device is None:
            return
        if not retained and (self._hearsay or self.wills.held):
            self._spoke(device_id, self.clock())
        device.motion = motion
        device.pitch.append(motion.pitch)
        device.roll.append(motion.roll)
        device.yaw.append(motion.yaw)
        device.motion_count += 1
        self.accepted[LinkName.MQTT] += 1
        now = self.clock()
        if device.motion_count == 1:
            self._judge_soon(device, now)  # judged on one more link from now on
        if retained:
            device.retained_at = now
            return
        device.last_motion_at = now
        device.last_known = False
        if device.status is not DeviceStatus.ONLINE:
            self._heard(device, now)

    def apply_will(self, device_id: str, *, retained: bool = False) -> None:
        """Weigh a will (``wills``): offline now, held, disputed or ignored; never a new device."""
        self.accepted[LinkName.MQTT] += 1
        device = self.devices.get(device_id)
        if device is None:
            self.wills.ignored += 1
            return
        now, links = self.clock(), self.links
        up = {"stomp_up": links[LinkName.STOMP].up, "mqtt_up": links[LinkName.MQTT].up}
        verdict = self.wills.weigh(device, now, retained=retained, **up)
        if verdict is WillVerdict.OFFLINE:
            device.will_at = now
            self._set_status(
                device, DeviceStatus.OFFLINE, "retained will" if retained else "last will"
            )

    def record_reject(self, link: LinkName, reason: RejectReason, count: int = 1) -> None:
        self.rejected[link] += count
        self.rejects_by_reason[reason] += count

    @property
    def full(self) -> bool:
        """True when a new id would be refused for the device limit."""
        return len(self.devices) >= self.max_devices

    def link_changed(self, link: LinkName, state: LinkState) -> None:
        """HQ's link went up or down (connecting counts as down): re-judge every device."""
        up = state is LinkState.UP
        if self.links[link].up is up:
            return
        self.links[link] = LinkView(up, self.clock())
        self.sweep_all()

    def link_is_up(self, link: LinkName) -> bool:
        return self.links[link].up

    def sweep(self) -> None:
        """Judge the devices whose status may have changed by silence: stale, then offline.
        Only those due by ``StatusRule.next_change`` are judged (a quiet sweep costs nothing
        however many devices there are), with the outcome of ``sweep_all``."""
        now = self.clock()
        self._confirm_held_wills(now)
        due = self._due
        taken: list[Device] = []
        # A little early is harmless (the rule decides); late by a rounding error is not.
        while due and due[0][0] <= now + 1e-6:
            at, _serial, device_id = heapq.heappop(due)
            device = self.devices.get(device_id)
            if device is not None and device.due_at == at:
                device.due_at = math.inf
                taken.append(device)
        taken.sort(key=lambda device: device.serial)
        for device in taken:
            if device.status is not DeviceStatus.OFFLINE:
                self._judge(device, now)
        if len(due) > 2 * len(self.devices) + 64:
            devices = self.devices
            self._due = [
                entry
                for entry in due
                if (device := devices.get(entry[2])) is not None and device.due_at == entry[0]
            ]
            heapq.heapify(self._due)

    def sweep_all(self) -> None:
        """Judge every device by the status rule (a link changed: every deadline may move)."""
        now = self.clock()
        self._confirm_held_wills(now)
        for device in self.devices.values():
            if device.status is not DeviceStatus.OFFLINE:
                self._judge(device, now)

    def _confirm_held_wills(self, now: float) -> None:
        """Held wills whose truck stayed silent long enough take it offline now."""
        for device_id, will_at in self.wills.confirmed(now) if self.wills.held else ():
            if (device := self.devices.get(device_id)) is not None:
                device.will_at = will_at
                self._set_status(device, DeviceStatus.OFFLINE, "last will")

    def forget_devices(self) -> None:
        """Forget every device and reject count, as a replay going back in time must."""
        self.devices.clear()
        self._hearsay.clear()
        self.wills.held.clear()
        self.accepted.clear()
        self.rejected.clear()
        self.rejects_by_reason.clear()
        self._dirty.clear()
        self._unkept.clear()
        self._changes.clear()
        self.version += 1
        self.map_version += 1

    def restore(self, states: Iterable[LastKnown], wall_now: float) -> int:
        """Take up devices as an earlier run last knew them; return how many were taken.

        Each shows its last position and motion at their real ages (``wall_now`` is the wall
        clock now). Offline stays offline, for the same reason, until the device speaks; any
        other is judged by the status rule from its stored times alone, so a long silence is
        stale or offline at once. None counts as live: only a live message makes it online.
        Ids already known are skipped; past ``max_devices`` the newest states are kept.
        """
        fresh = {state.device_id: state for state in states if state.device_id not in self.devices}
        room = max(self.max_devices - len(self.devices), 0)
        newest = sorted(fresh.values(), key=lambda state: state.updated_at, reverse=True)[:room]
        now = self.clock()
        for state in sorted(newest, key=lambda state: state.device_id):
            self._restore_one(state, now, wall_now)
        if newest:
            self.version += 1
            self.map_version += 1
        return len(newest)

    def _restore_one(self, state: LastKnown, now: float, wall_now: float) -> None:
        def clock_time(wall: float | None) -> float | None:
            return None if wall is None else now - max(wall_now - wall, 0.0)

        device = Device(state.device_id, self.history, self.trail_length, now, len(self.devices))
        device.last_known = True
        if state.position is not None:
            device.position = state.position
            device.trail_lat.append(state.position.lat)
            device.trail_lng.append(state.position.lng)
            device.last_location_at = clock_time(state.fix_at)
        if state.motion is not None:
            device.motion = state.motion
            device.pitch.append(state.motion.pitch)
            device.roll.append(state.motion.roll)
            device.yaw.append(state.motion.yaw)
            device.last_motion_at = clock_time(state.motion_at)
            if state.motion_at is None:
                device.retained_at = now
        # Silence counts from the newest message; with none, from now, as for a retained value.
        last_seen = device.last_seen
        device.known_at = now if last_seen is None else last_seen
        if state.status is DeviceStatus.OFFLINE:
            status, reason = DeviceStatus.OFFLINE, state.reason
        else:
            # Born in the status its ages give: a restart is no transition to log.
            stomp, mqtt = self._views(device)
            status, reason = self.rule.judge(
                state.status,  # a stale one stays stale while HQ cannot hear
                now,
                known_at=device.known_at,
                fix_at=device.last_location_at,
                motion_at=device.last_motion_at,
                stomp=stomp,
                mqtt=mqtt,
                restored=True,
            )
            reason = reason or state.reason  # kept as it was, so is its reason
            self._judge_soon(device, now)
        device.status, device.status_reason = status, reason
        self.devices[state.device_id] = device
        if last_seen is None:
            self._hearsay[state.device_id] = None
        self._status_counts[status] += 1
        self._dirty.add(state.device_id)

    def take_last_known(self, wall_now: float, limit: int | None = None) -> list[LastKnown]:
        """The last known state of the devices changed since they were last taken, in id order:
        all of them, or ``limit`` at most (``wall_now``: the wall clock now)."""
        if limit is None or limit >= len(self._unkept):
            taken, self._unkept = self._unkept, set()
        else:
            taken = {self._unkept.pop() for _ in range(limit)}
        offset = wall_now - self.clock()
        devices = (self.devices.get(device_id) for device_id in sorted(taken))
        return [last_known_of(device, offset, wall_now) for device in devices if device is not None]

    @property
    def unkept(self) -> int:
        """How many devices changed since their last known state was last taken."""
        return len(self._unkept)

    def take_changes(self) -> list[StatusChange]:
        """Status changes since the last call, oldest first."""
        changes, self._changes = self._changes, []
        return changes

    def take_dirty(self) -> set[str]:
        """Ids of devices whose data changed since the last call (the device list takes them)."""
        dirty, self._dirty = self._dirty, set()
        return dirty

    def take_moved(self) -> set[str]:
        """Ids of devices with a new position since the last call."""
        moved, self._moved = self._moved, set()
        return moved

    @property
    def has_dirty(self) -> bool:
        """True when some device changed since the last ``take_dirty``."""
        return bool(self._dirty)

    def counts(self) -> Counter[DeviceStatus]:
        """How many devices have each status (statuses no device has are left out)."""
        return +self._status_counts

    def _device(
        self,
        device_id: str,
        link: LinkName,
        status: DeviceStatus = DeviceStatus.ONLINE,
        reason: str = "first message",
        *,
        live: bool = False,
    ) -> Device | None:
        """The known device, a new one, or None (counted as a reject) when the fleet is full.

        A ``live`` message finds room in a full fleet by evicting a device never heard live.
        """
        device = self.devices.get(device_id)
        if device is None:
            if len(self.devices) >= self.max_devices and not (live and self._evict_hearsay()):
                self.record_reject(link, RejectReason.DEVICE_LIMIT)
                self.last_refused_id = device_id
                return None
            # Born in its real status: a will or retained value must not log it as online.
            now = self.clock()
            device = Device(device_id, self.history, self.trail_length, now, len(self.devices))
            device.status = status
            device.status_reason = reason
            self.devices[device_id] = device
            if not live:
                self._hearsay[device_id] = None
            self._status_counts[status] += 1
            self.version += 1
            self._changes.append(StatusChange(device_id, None, status, reason))
            self._judge_soon(device, now)
        self._dirty.add(device_id)
        self._unkept.add(device_id)
        return device

    def _heard(self, device: Device, now: float) -> None:
        """A live message from a device that was not online (rare, so off the hot path)."""
        if device.status is DeviceStatus.OFFLINE:
            # Only a live message ends offline, whatever made it offline.
            self._set_status(device, DeviceStatus.ONLINE, self.wills.back_reason(device, now))
        self._judge(device, now)

    def _spoke(self, device_id: str, now: float) -> None:
        """A live message: the device is no hearsay, and a will held for it is disputed."""
        self._hearsay.pop(device_id, None)
        self.wills.spoke(device_id, now)

    def _evict_hearsay(self) -> bool:
        """Drop the oldest device known only from retained messages; False when there is none."""
        if not self._hearsay:
            return False
        victim = next(iter(self._hearsay))
        del self._hearsay[victim]
        device = self.devices.pop(victim)
        self._status_counts[device.status] -= 1
        self.wills.held.pop(victim, None)
        self._dirty.add(victim)  # the list drops it
        self._unkept.discard(victim)
        self._moved.discard(victim)
        self.evicted += 1
        self.last_evicted_id = victim
        self.version += 1
        self.map_version += 1
        return True

    def _views(self, device: Device) -> tuple[LinkView | None, LinkView | None]:
        """HQ's STOMP and MQTT links as judging ``device`` needs them: None where not seen."""
        links = self.links
        if device.last_known:  # seen where an earlier run saw it
            stomp_seen, mqtt_seen = device.position is not None, device.motion is not None
        else:
            stomp_seen, mqtt_seen = device.location_count > 0, device.motion_count > 0
        return (
            links[LinkName.STOMP] if stomp_seen else None,
            links[LinkName.MQTT] if mqtt_seen else None,
        )

    def _judge(self, device: Device, now: float) -> None:
        stomp, mqtt = self._views(device)
        status, reason = self.rule.judge(
            device.status,
            now,
            known_at=device.known_at,
            fix_at=device.last_location_at,
            motion_at=device.last_motion_at,
            stomp=stomp,
            mqtt=mqtt,
            restored=device.last_known,
        )
        if status is not device.status:
            if status is DeviceStatus.ONLINE and device.status is not DeviceStatus.UNKNOWN:
                reason = "heard from again"
                self._judge_soon(device, now)  # the next sweep's reason is the rule's own
            self._set_status(device, status, reason)
        elif reason and reason != device.status_reason:
            device.status_reason = reason  # why it is still unknown, say: no transition
            self._dirty.add(device.device_id)
            self._unkept.add(device.device_id)
        due = self.rule.next_change(
            device.status,
            now,
            known_at=device.known_at,
            fix_at=device.last_location_at,
            motion_at=device.last_motion_at,
            stomp=stomp,
            mqtt=mqtt,
            restored=device.last_known,
        )
        if due is not None:
            self._judge_soon(device, due)

    def _judge_soon(self, device: Device, at: float) -> None:
        """Have a sweep judge ``device`` at ``at`` at the latest (a later deadline stays put)."""
        if at < device.due_at:
            device.due_at = at
            heapq.heappush(self._due, (at, device.serial, device.device_id))

    def _set_status(self, device: Device, status: DeviceStatus, reason: str) -> None:
        if device.status is status:
            return
        before = device.status
        device.status = status
        device.status_reason = reason
        self._status_counts[before] -= 1
        self._status_counts[status] += 1
        self.version += 1
        self.map_version += 1
        self._dirty.add(device.device_id)
        self._unkept.add(device.device_id)
        self._changes.append(StatusChange(device.device_id, before, status, reason))

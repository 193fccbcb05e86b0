"""The simulated fleet: each device behaves like the book's STOMP and MQTT device apps.

One thread times fixes and motion, runs every MQTT client's network loop (one poll over all
sockets) and every reconnect; only stomp.py's receiver and heart-beat threads are extra.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.adapters.supervisor import Waker
from mwm_tui.domain.simulation import SimulatedTruck
from mwm_tui.domain.targets import BrokerTarget
from mwm_tui.domain.text import literal

from .device import SimDevice
from .mqtt_side import MqttSide
from .stomp_side import StompSide

CONNECT_TIMEOUT = 5.0
_MAX_IDLE = 0.5
# Sends due within this of each other leave in one turn of the loop: each turn visits every
# device, so at 1,000 devices turning for each send kept a whole core busy.
_MIN_IDLE = 0.02
_SHUTDOWN_GRACE = 2.0


class LineWriter:
    """Writes whole lines from any thread, flushed at once; a closed pipe is ignored."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            try:
                self._stream.write(line + "\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                pass


@dataclass(frozen=True, slots=True)
class SimSettings:
    stomp: BrokerTarget
    mqtt: BrokerTarget
    location_interval: float = 2.0
    motion_interval: float = 1.0
    reconnect: Backoff = field(default_factory=lambda: Backoff(initial=0.25, maximum=5.0))
    # Device id -> its password: such a device logs in as itself (``--credentials``).
    passwords: Mapping[str, str] = field(default_factory=dict)


class FleetSimulator:
    """Runs on the calling thread until ``stop``; ``kill`` and ``stop`` are thread-safe."""

    def __init__(
        self,
        settings: SimSettings,
        trucks: list[SimulatedTruck],
        say: LineWriter,
        complain: LineWriter | None = None,
    ) -> None:
        self._settings = settings
        self._stomp = StompSide(settings.stomp, self, CONNECT_TIMEOUT, settings.passwords)
        self._mqtt = MqttSide(settings.mqtt, self, CONNECT_TIMEOUT, settings.passwords)
        self._devices = {
            truck.device_id: SimDevice(truck, settings.reconnect.copy(), settings.reconnect.copy())
            for truck in trucks
        }
        self.say = say
        self._complain = complain or LineWriter(sys.stderr)
        self._waker = Waker()
        self._stopping = threading.Event()
        self._kill_requests: deque[str] = deque()
        self._kill_schedule: list[tuple[float, str]] = []
        self._ready_announced = False
        self._last_status: tuple[tuple[int, int], tuple[str | None, ...]] | None = None

    def complain(self, line: str) -> None:
        self._complain(f"mwm-sim: {line}")

    def wake(self) -> None:
        self._waker.wake()

    def stop(self) -> None:
        self._stopping.set()
        self._waker.wake()

    def kill(self, device_id: str) -> bool:
        """Make a device die without DISCONNECT; False for an id the fleet does not have."""
        if device_id not in self._devices:
            return False
        self._kill_requests.append(device_id)
        self._waker.wake()
        return True

    def kill_after(self, device_id: str, seconds: float) -> None:
        """Schedule ``kill`` for ``seconds`` after ``run`` starts; call before ``run``."""
        if device_id not in self._devices:
            raise KeyError(device_id)
        self._kill_schedule.append((seconds, device_id))

    def run(self) -> None:
        start = time.monotonic()
        count = len(self._devices)
        for index, device in enumerate(self._devices.values()):
            # Spread the devices over an interval so fixes do not all leave at once.
            device.next_location_at = start + self._settings.location_interval * index / count
            device.next_motion_at = start + self._settings.motion_interval * index / count
            device.last_advance = start
        self._kill_schedule = sorted((start + after, name) for after, name in self._kill_schedule)
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                self._handle_kills(now)
                for device in self._living():
                    self._stomp.tend(device, now)
                    self._mqtt.tend(device, now)
                self._send_due(now)
                self._report()
                self._mqtt.pump(self._living(), self._waker, self._idle_time(time.monotonic()))
        finally:
            self._shutdown()
            self._waker.close()

    # One turn of the loop

    def _living(self) -> list[SimDevice]:
        return [device for device in self._devices.values() if device.alive]

    def _idle_time(self, now: float) -> float:
        due = [now + _MAX_IDLE]
        for device in self._living():
            due.append(device.next_location_at)
            due.append(device.next_motion_at)
            if device.stomp is None:
                due.append(device.stomp_retry_at)
            if device.mqtt_connecting_since is None and not device.mqtt_connected:
                due.append(device.mqtt_retry_at)
        if self._kill_schedule:
            due.append(self._kill_schedule[0][0])
        return max(min(due) - now, _MIN_IDLE)

    def _handle_kills(self, now: float) -> None:
        while self._kill_schedule and self._kill_schedule[0][0] <= now:
            self._kill_requests.append(self._kill_schedule.pop(0)[1])
        while self._kill_requests:
            device = self._devices[self._kill_requests.popleft()]
            if device.alive:
                self._die(device)

    def _die(self, device: SimDevice) -> None:
        """Vanish like a phone losing power: sockets closed, no DISCONNECT on either protocol."""
        device.alive = False
        self._mqtt.crash(device)
        self._stomp.close(device)
        self.say(f"KILLED {literal(device.device_id)}")

    def _send_due(self, now: float) -> None:
        wall = datetime.now(UTC)
        for device in self._living():
            if now >= device.next_location_at:
                device.next_location_at = _next_tick(
                    device.next_location_at, self._settings.location_interval, now
                )
                self._advance(device, now)
                self._stomp.send_location(device, wall)
            if now >= device.next_motion_at:
                device.next_motion_at = _next_tick(
                    device.next_motion_at, self._settings.motion_interval, now
                )
                self._advance(device, now)
                self._mqtt.publish_motion(device)

    def _advance(self, device: SimDevice, now: float) -> None:
        device.truck.advance(now - device.last_advance)
        device.last_advance = now

    def _report(self) -> None:
        living = self._living()
        status = (
            sum(1 for d in living if d.stomp is not None and d.stomp.subscribed),
            sum(1 for d in living if d.mqtt_subscribed),
        )
        total = len(living)
        # Why a side is short of devices, while it is: its latest failure.
        why = tuple(
            side.failure if count < total else None
            for side, count in ((self._stomp, status[0]), (self._mqtt, status[1]))
        )
        if (status, why) != self._last_status:
            self._last_status = (status, why)
            line = f"STOMP {status[0]}/{total} subscribed, MQTT {status[1]}/{total}"
            named = zip(("STOMP", "MQTT"), why, strict=True)
            reasons = [f"{name}: {reason}" for name, reason in named if reason]
            self.complain(f"{line}; {'; '.join(reasons)}" if reasons else line)
        if not self._ready_announced and living and all(d.ready for d in living):
            self._ready_announced = True
            self.say(f"READY {len(living)} devices")

    # Shutdown

    def _shutdown(self) -> None:
        """Leave cleanly: DISCONNECT on both protocols, so no will is published."""
        living = self._living()
        for device in living:
            self._mqtt.disconnect(device)
            self._stomp.disconnect(device)
        deadline = time.monotonic() + _SHUTDOWN_GRACE
        while time.monotonic() < deadline and any(self._stomp.is_open(d) for d in living):
            self._waker.wait(0.05)
        for device in living:
            self._stomp.close(device)
            self._mqtt.close(device)


def _next_tick(previous: float, interval: float, now: float) -> float:
    """The next due time after ``now`` on the grid ``previous + k * interval``."""
    following = previous + interval
    if following <= now:
        following = now + interval
    return following

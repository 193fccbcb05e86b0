"""Asking the MQTT broker for a truck's retained motion by its exact topic.

RabbitMQ gives retained messages to no wildcard subscription, so a truck known by its fixes
would show no motion until it sends again. A truck still without motion a moment after HQ
first heard of it is asked for once; on brokers that did deliver it, none is still missing.
"""

from __future__ import annotations

from collections import deque

from mwm_tui.adapters.base import AlertLink, MotionAsker
from mwm_tui.domain.fleet import Fleet

# Seconds after first hearing of a truck before asking: a wildcard's retained copy comes first.
ASK_AFTER = 2.0


class MotionAsks:
    """Trucks first heard without motion, each asked about once when its moment comes."""

    def __init__(self, link: AlertLink, fleet: Fleet) -> None:
        self._link = link if isinstance(link, MotionAsker) else None
        self._fleet = fleet
        # The fleet's own clock: monotonic, where the wall clock may step back.
        self._clock = fleet.clock
        # (when, device) in the order heard, hence also in the order due.
        self._due: deque[tuple[float, str]] = deque()

    def first_heard(self, device_id: str) -> None:
        if self._link is not None:
            self._due.append((self._clock() + ASK_AFTER, device_id))

    def tick(self) -> None:
        """Ask about every truck whose moment came and that still has no motion."""
        if self._link is None or not self._due:
            return
        now = self._clock()
        while self._due and self._due[0][0] <= now:
            _, device_id = self._due.popleft()
            device = self._fleet.devices.get(device_id)
            if device is not None and device.motion is None:
                self._link.ask_motion(device_id)

"""The hand-over between broker threads and the UI: a bounded queue that never blocks a producer.

Under overload, telemetry is coalesced to the latest value per device and kind (and counted);
wills, outcomes, rejects and link events are always kept, in order.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from itertools import islice

from .events import TELEMETRY_TYPES, Event, LocationReceived, MotionReceived, WillReceived

_TelemetryKey = tuple[type, str]


@dataclass(frozen=True, slots=True)
class InboxStats:
    received: int
    coalesced: int
    pending: int


class EventInbox:
    """Thread-safe multi-producer, single-consumer event queue."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._queue: deque[Event] = deque()
        self._overflow: dict[_TelemetryKey, Event] = {}
        self._received = 0
        self._coalesced = 0

    def put(self, event: Event) -> None:
        """Called from any thread; O(1) and never waits on the consumer."""
        with self._lock:
            self._received += 1
            if isinstance(event, TELEMETRY_TYPES):
                if len(self._queue) >= self._capacity or self._overflow:
                    key = (type(event), _telemetry_id(event))
                    if self._overflow.pop(key, None) is not None:
                        self._coalesced += 1
                    self._overflow[key] = event
                    return
            elif isinstance(event, WillReceived) and self._overflow:
                # Older telemetry of this device must be applied before its will.
                for kind in (LocationReceived, MotionReceived):
                    held = self._overflow.pop((kind, event.device_id), None)
                    if held is not None:
                        self._queue.append(held)
            self._queue.append(event)

    def drain(self, limit: int) -> list[Event]:
        """Take up to ``limit`` events, oldest first."""
        with self._lock:
            count = min(limit, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            if not self._queue and self._overflow and count < limit:
                # Only up to the limit: the consumer sizes its batches to a frame budget.
                for key in list(islice(self._overflow, limit - count)):
                    batch.append(self._overflow.pop(key))
            return batch

    def stats(self) -> InboxStats:
        with self._lock:
            return InboxStats(
                self._received, self._coalesced, len(self._queue) + len(self._overflow)
            )


def _telemetry_id(event: LocationReceived | MotionReceived) -> str:
    if isinstance(event, LocationReceived):
        return event.position.device_id
    return event.device_id

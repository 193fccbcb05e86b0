"""The hand-over between broker threads and the UI: a bounded queue that never blocks a producer.

Under overload, telemetry is coalesced to the latest value per device and kind (and counted),
and rejects are folded into one counted reject per link and reason; wills, outcomes and link
events are always kept, in order. So memory stays bounded whatever a hostile publisher sends.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from itertools import islice

from .errors import RejectReason
from .events import (
    TELEMETRY_TYPES,
    Event,
    LinkName,
    LocationReceived,
    MessageRejected,
    MotionReceived,
    WillReceived,
)

_TelemetryKey = tuple[type, str]
_RejectKey = tuple[LinkName, RejectReason]
# Rejects queued one by one at most; past this they are only counted (the log shows a few a second).
REJECT_CAPACITY = 1_000
# Events queued before telemetry is coalesced: a second of 10,000 trucks on both links. A UI
# that falls behind so shows each truck's latest fix and motion, not a backlog of older ones.
CAPACITY = 20_000


@dataclass(frozen=True, slots=True)
class InboxStats:
    received: int
    coalesced: int
    pending: int


class EventInbox:
    """Thread-safe multi-producer, single-consumer event queue."""

    def __init__(self, capacity: int = CAPACITY, reject_capacity: int = REJECT_CAPACITY) -> None:
        self._capacity = capacity
        self._reject_capacity = reject_capacity
        self._lock = threading.Lock()
        self._queue: deque[Event] = deque()
        self._overflow: dict[_TelemetryKey, Event] = {}
        # Per link and reason: the newest reject past the capacity, and how many it stands for.
        self._folded: dict[_RejectKey, tuple[MessageRejected, int]] = {}
        self._queued_rejects = 0
        self._received = 0
        self._coalesced = 0

    def put(self, event: Event) -> None:
        """Called from any thread; O(1) and never waits on the consumer."""
        with self._lock:
            self._add(event)

    def put_many(self, events: Iterable[Event]) -> None:
        """``put`` for each event in order, under one lock (a link's read burst)."""
        with self._lock:
            add = self._add
            for event in events:
                add(event)

    def _add(self, event: Event) -> None:
        """Queue, coalesce or fold one event; the caller holds the lock."""
        self._received += 1
        if isinstance(event, TELEMETRY_TYPES):
            if len(self._queue) >= self._capacity or self._overflow:
                key = (type(event), _telemetry_id(event))
                if self._overflow.pop(key, None) is not None:
                    self._coalesced += 1
                self._overflow[key] = event
                return
        elif isinstance(event, MessageRejected):
            if self._queued_rejects >= self._reject_capacity or self._folded:
                kind = (event.link, event.reason)
                held = self._folded.get(kind)
                self._folded[kind] = (event, event.count + (held[1] if held else 0))
                return
            self._queued_rejects += 1
        elif isinstance(event, WillReceived) and self._overflow:
            # Older telemetry of this device must be applied before its will.
            for telemetry in (LocationReceived, MotionReceived):
                held_telemetry = self._overflow.pop((telemetry, event.device_id), None)
                if held_telemetry is not None:
                    self._queue.append(held_telemetry)
        self._queue.append(event)

    def drain(self, limit: int) -> list[Event]:
        """Take up to ``limit`` events, oldest first."""
        with self._lock:
            count = min(limit, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            if self._queued_rejects:
                self._queued_rejects -= sum(1 for e in batch if type(e) is MessageRejected)
            if not self._queue and count < limit:
                if self._folded:
                    batch.extend(_folded(self._folded.values()))
                    self._folded.clear()
                if self._overflow:
                    # Only up to the limit: the consumer sizes its batches to a frame budget.
                    for key in list(islice(self._overflow, max(limit - len(batch), 0))):
                        batch.append(self._overflow.pop(key))
            return batch

    def stats(self) -> InboxStats:
        with self._lock:
            return InboxStats(
                self._received,
                self._coalesced,
                len(self._queue) + len(self._overflow) + len(self._folded),
            )


def _folded(held: Iterable[tuple[MessageRejected, int]]) -> list[Event]:
    """Each link and reason's newest reject, carrying the count of all it stands for."""
    return [event if count == event.count else replace(event, count=count) for event, count in held]


def _telemetry_id(event: LocationReceived | MotionReceived) -> str:
    if isinstance(event, LocationReceived):
        return event.position.device_id
    return event.device_id

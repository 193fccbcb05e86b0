"""When the fleet's loop has work: sends and retries in time order, and new connections let
through at a bounded rate so a broker is never stormed by thousands of devices at once."""

from __future__ import annotations

import heapq
from collections import deque
from enum import IntEnum


class Due(IntEnum):
    """What falls due for a device at a time."""

    LOCATION = 0
    MOTION = 1
    STOMP_RETRY = 2
    MQTT_RETRY = 3
    KILL = 4


class Schedule:
    """Entries ``(time, what, device index)`` taken in time order; O(log n) each."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, Due, int]] = []

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, at: float, what: Due, index: int) -> None:
        heapq.heappush(self._heap, (at, what, index))

    def next_at(self) -> float | None:
        """When the earliest entry falls due; None when there is none."""
        return self._heap[0][0] if self._heap else None

    def take_due(self, now: float) -> list[tuple[float, Due, int]]:
        """Every entry due at ``now`` or before, earliest first, removed."""
        heap, taken = self._heap, []
        while heap and heap[0][0] <= now:
            taken.append(heapq.heappop(heap))
        return taken


class ConnectGate:
    """A token bucket over connection attempts: ``rate`` a second, in bursts of ``burst`` at
    most; attempts wait in arrival order for their turn."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("the connect rate must be positive")
        self.rate = rate
        self.burst = max(1.0, rate / 20 if burst is None else burst)
        self._tokens = self.burst
        self._filled_at: float | None = None
        self._waiting: deque[tuple[int, str]] = deque()

    def __len__(self) -> int:
        return len(self._waiting)

    def ask(self, index: int, side: str) -> None:
        """Device ``index`` wants to open its ``side`` connection."""
        self._waiting.append((index, side))

    def let_through(self, now: float) -> list[tuple[int, str]]:
        """The attempts whose turn has come by ``now``, in the order they asked."""
        if self._filled_at is not None:
            earned = (now - self._filled_at) * self.rate
            # A slow turn of the loop loses nothing; an idle spell saves up only one burst.
            self._tokens = min(self._tokens + earned, max(self.burst, earned))
        self._filled_at = now
        out = []
        while self._waiting and self._tokens >= 1:
            out.append(self._waiting.popleft())
            self._tokens -= 1
        return out

    def next_at(self, now: float) -> float | None:
        """When the next waiting attempt may go; None when nothing waits."""
        if not self._waiting:
            return None
        return now + max(0.0, 1 - self._tokens) / self.rate

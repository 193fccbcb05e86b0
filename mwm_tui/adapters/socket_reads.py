"""Socket reads into a buffer each link keeps (a read allocates only the bytes that came), and
the pacing of those reads."""

from __future__ import annotations

import time
from collections.abc import Callable

# Bytes asked of the socket per read: a read that fills it leaves more waiting.
READ_BYTES = 65536


class LandingBuffer:
    """One link's read buffer, reused for every read.

    ``recv(65536)`` allocates 64 KiB and shrinks it to what came, at each read; under a
    trickle those blocks leave holes in the C heap that RSS never gives back.
    """

    def __init__(self, size: int = READ_BYTES) -> None:
        self.size = size
        self._view = memoryview(bytearray(size))

    def read(self, recv_into: Callable[[memoryview], int]) -> bytes:
        """One ``recv_into`` of at most ``size`` bytes; b"" at the end of the stream."""
        count = recv_into(self._view)
        return self._view[:count].tobytes()


# Bytes a second above which a link reads without pauses: pausing 0.1 s, it would let the kernel's
# receive window fill (64 KiB or more before it grows) and hold the broker back. A STOMP trickle
# of 1,000 trucks is 280-450 kB/s, second by second.
FLOOD_RATE = 600_000
# The span over which that rate is taken.
RATE_WINDOW = 1.0


class ReadPacer:
    """Says whether a link pauses before its next read: after a read that emptied the socket
    during a trickle, yes; while bytes arrive at ``flood_rate`` or more, no.

    While a link pauses, the receive window fills and the broker stops sending. Pausing after
    every read that emptied the socket held a flood that began with a small window to one window
    per pause (about 1 MB/s here); from its second second on, such a flood is read unpaused.
    """

    def __init__(
        self, flood_rate: float = FLOOD_RATE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.flood_rate = flood_rate
        self._clock = clock
        self._window_began: float | None = None
        self._window_bytes = 0
        self._flooding = False

    def should_pause(self, got: int, emptied: bool) -> bool:
        """After reading ``got`` bytes; ``emptied``: the last read did not fill its buffer."""
        now = self._clock()
        if self._window_began is None:
            self._window_began = now
        self._window_bytes += got
        elapsed = now - self._window_began
        if elapsed >= RATE_WINDOW:
            self._flooding = self._window_bytes >= self.flood_rate * elapsed
            self._window_began, self._window_bytes = now, 0
        return emptied and not self._flooding

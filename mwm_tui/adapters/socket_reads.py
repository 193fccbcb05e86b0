"""Socket reads into a buffer each link keeps (a read allocates only the bytes that came), and
the pacing of those reads."""

from __future__ import annotations

import math
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


# How long a link reads without pausing once a pause let a flood's worth pile up.
FLOOD_HOLD = 1.0
# Bytes waiting after a pause that mean the pause held the sender back: a receive window that
# has not grown yet is 64 KiB (Linux 6.1) or more; a trickle of 1,000 trucks piles up ~30 KB.
FLOOD_BURST = READ_BYTES * 3 // 4


class ReadPacer:
    """Says whether a link pauses before its next read: after a read that emptied the socket
    during a trickle, yes; while data arrives faster than a pause can hold, no.

    While a link pauses, the kernel's receive window fills and the broker stops sending; pausing
    after every read that emptied the socket would cap a flood at one window per pause (about
    1 MB/s here). So once a pause ends with ``flood_burst`` bytes or more waiting, reads go on
    unpaused for ``hold`` seconds, which also lets the kernel grow the window.
    """

    def __init__(
        self,
        flood_burst: int = FLOOD_BURST,
        hold: float = FLOOD_HOLD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.flood_burst = flood_burst
        self.hold = hold
        self._clock = clock
        self._burst = 0
        self._unpaused_until = -math.inf

    def should_pause(self, got: int, emptied: bool) -> bool:
        """After reading ``got`` bytes; ``emptied``: the last read did not fill its buffer."""
        self._burst += got
        if not emptied:
            return False
        burst, self._burst = self._burst, 0
        now = self._clock()
        if burst >= self.flood_burst:
            self._unpaused_until = now + self.hold
        return now >= self._unpaused_until

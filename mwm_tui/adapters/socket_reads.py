"""Socket reads into a buffer each link keeps: a read allocates only the bytes that came."""

from __future__ import annotations

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

"""A fixed-capacity ring of floats: ~8 bytes a value where a deque of floats costs ~32."""

from __future__ import annotations

from array import array


class FloatRing:
    __slots__ = ("_capacity", "_count", "_next", "_values")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._values = array("d", bytes(8 * capacity))
        self._next = 0
        self._count = 0

    def append(self, value: float) -> None:
        self._values[self._next] = value
        self._next = (self._next + 1) % self._capacity
        if self._count < self._capacity:
            self._count += 1

    def __len__(self) -> int:
        return self._count

    @property
    def capacity(self) -> int:
        return self._capacity

    def values(self) -> list[float]:
        """Oldest first."""
        if self._count < self._capacity:
            return self._values[: self._count].tolist()
        return (self._values[self._next :] + self._values[: self._next]).tolist()

    def last(self) -> float | None:
        if not self._count:
            return None
        return self._values[self._next - 1]

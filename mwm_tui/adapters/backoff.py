"""Capped exponential backoff with jitter, for reconnecting to a broker that went away."""

from __future__ import annotations

import random


class Backoff:
    """Delays of ``initial`` doubling up to ``maximum``, each shortened by up to ``jitter``.

    Jitter only ever shortens a delay, so the cap holds; clients dropped by one broker
    restart then spread their reconnects instead of arriving together.
    """

    def __init__(
        self,
        initial: float = 0.5,
        maximum: float = 30.0,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < initial <= maximum:
            raise ValueError("need 0 < initial <= maximum")
        if factor < 1:
            raise ValueError("factor must be at least 1")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rng = rng if rng is not None else random.Random()
        self._failures = 0

    @property
    def failures(self) -> int:
        """Failed attempts since the last reset."""
        return self._failures

    def next_delay(self) -> float:
        """Seconds to wait before the next attempt; each call counts one more failure."""
        base = self.initial * self.factor ** min(self._failures, 64)
        self._failures += 1
        capped = min(base, self.maximum)
        return capped * (1.0 - self.jitter * self._rng.random())

    def reset(self) -> None:
        """Forget past failures after a successful connection."""
        self._failures = 0

    def copy(self) -> Backoff:
        """A fresh backoff with the same settings and no failures (its own random stream)."""
        return Backoff(self.initial, self.maximum, self.factor, self.jitter)


# A broker that is away costs one refused TCP connect per attempt: retry often, so a link
# carries data again within about 3 s of its broker's return, however long it was away.
RECONNECT_INITIAL = 0.5
RECONNECT_MAXIMUM = 2.5
# A broker that answers "no" (credentials, a refused CONNECT) is asked again only gently.
REFUSED_INITIAL = 20.0
REFUSED_MAXIMUM = 60.0


def reconnect_backoff() -> Backoff:
    """Delays after a lost connection or an unreachable broker."""
    return Backoff(initial=RECONNECT_INITIAL, maximum=RECONNECT_MAXIMUM)


def refused_backoff() -> Backoff:
    """Delays after the broker refused the connection: 20 s growing to 60 s."""
    return Backoff(initial=REFUSED_INITIAL, maximum=REFUSED_MAXIMUM, jitter=0.1)

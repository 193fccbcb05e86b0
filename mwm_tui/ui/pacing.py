"""How often a pane fed by the fleet is brought up to date: news at once, values at a pace."""

from __future__ import annotations


class RefreshPacer:
    """Says when to refresh: at once when the fleet's ``version`` moved (a device appeared or
    changed status), otherwise at most once every ``every`` seconds (values, ticking ages)."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._version: int | None = None
        self._at: float | None = None

    def due(self, version: int, now: float) -> bool:
        """True when a refresh is due now; the caller then refreshes, and the pace restarts."""
        if version != self._version or self._at is None or now - self._at >= self.every:
            self._version, self._at = version, now
            return True
        return False

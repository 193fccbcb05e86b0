"""The fleet's last known state kept between runs, so that no dashboard starts blind.

Saving costs one transaction every few seconds whatever the message rate: only the devices
changed since the last save are written, all at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mwm_tui.adapters.fleet_state import load_fleet_state, prune_fleet_state, save_fleet_state
from mwm_tui.adapters.store import Store, StoreError
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.last_known import LastKnown

# Seconds between saves: what a killed dashboard may lose of the fleet's state.
SAVE_EVERY = 5.0


class FleetMemory:
    """Restores the fleet from ``store`` at start, then saves what changed, throttled.

    Database errors never raise: ``take_problems()`` hands them over for the log, and states
    that could not be saved are tried again with the next save.
    """

    def __init__(
        self,
        store: Store,
        fleet: Fleet,
        *,
        wall_clock: Callable[[], float],
        keep_days: float,
        every: float = SAVE_EVERY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._fleet = fleet
        self._wall_clock = wall_clock
        self._keep_days = keep_days
        self._every = every
        self._clock = clock
        self._saved_at = clock()
        self._unsaved: dict[str, LastKnown] = {}
        self._problems: list[str] = []
        self.saves = 0

    def restore(self) -> int:
        """Forget devices unheard of for ``keep_days``, take up the rest; return how many."""
        room = self._fleet.max_devices - len(self._fleet.devices)
        if room <= 0:
            return 0
        wall_now = self._wall_clock()
        try:
            prune_fleet_state(self._store, wall_now, self._keep_days)
            states = load_fleet_state(self._store, room)
        except StoreError as error:
            self._problems.append(str(error))
            return 0
        return self._fleet.restore(states, wall_now)

    def tick(self) -> None:
        """Save if the last save is ``every`` seconds old."""
        if self._clock() - self._saved_at >= self._every:
            self.save()

    def save(self) -> None:
        """Write every device changed since the last save, in one transaction."""
        self._saved_at = self._clock()
        for state in self._fleet.take_last_known(self._wall_clock()):
            self._unsaved[state.device_id] = state
        if not self._unsaved:
            return
        try:
            save_fleet_state(self._store, list(self._unsaved.values()))
        except StoreError as error:
            self._problems.append(str(error))
            return
        self._unsaved.clear()
        self.saves += 1

    def take_problems(self) -> list[str]:
        problems, self._problems = self._problems, []
        return problems

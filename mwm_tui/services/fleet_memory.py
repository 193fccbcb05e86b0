"""The fleet's last known state kept between runs, so that no dashboard starts blind.

Saving costs one transaction every few seconds whatever the message rate: only the devices
changed since the last save are written, all at once, on the writer's own thread. Taking their
states from the fleet is spread over the drain ticks, ``SLICE`` devices a tick, so that neither
part holds up a key press at ten thousand trucks.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mwm_tui.adapters.fleet_state import FleetStateWriter, load_fleet_state, prune_fleet_state
from mwm_tui.adapters.store import Store, StoreError
from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.last_known import LastKnown

# Seconds between saves: what a killed dashboard may lose of the fleet's state.
SAVE_EVERY = 5.0
# Devices whose state one tick takes for a save (about 6 ms of the UI thread on this machine).
SLICE = 1_000


class FleetMemory:
    """Restores the fleet from ``store`` at start, then saves what changed, throttled.

    Database errors never raise: ``take_problems()`` hands them over for the log, and states
    that could not be saved are tried again with the next save. ``saves``: how many saves were
    handed to the writer; ``close()`` saves the rest and waits for the writer.
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
        slice_size: int = SLICE,
    ) -> None:
        self._store = store
        self._fleet = fleet
        self._wall_clock = wall_clock
        self._keep_days = keep_days
        self._every = every
        self._clock = clock
        self._saved_at = clock()
        self._slice = slice_size
        self._writer = FleetStateWriter(store)
        self._round: list[LastKnown] = []
        self._round_left = 0
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
        """Every ``every`` seconds, start a save of the devices changed until then; take a slice
        of their states on each tick and hand the lot to the writer once all are taken."""
        if not self._round_left:
            if self._clock() - self._saved_at < self._every:
                return
            self._saved_at = self._clock()
            self._round_left = self._fleet.unkept
        if self._round_left:
            taken = self._fleet.take_last_known(
                self._wall_clock(), min(self._slice, self._round_left)
            )
            self._round.extend(taken)
            self._round_left = self._round_left - len(taken) if taken else 0
        if not self._round_left:
            self._hand_over()

    def save(self) -> None:
        """Hand every device changed since the last save to the writer now."""
        self._saved_at = self._clock()
        self._round.extend(self._fleet.take_last_known(self._wall_clock()))
        self._round_left = 0
        self._hand_over()

    def close(self) -> None:
        """Save, and wait until the writer has written it (or failed to)."""
        self.save()
        self._writer.close()

    def _hand_over(self) -> None:
        if self._round:
            self._writer.submit(self._round)
            self._round = []
            self.saves += 1

    def take_problems(self) -> list[str]:
        problems, self._problems = self._problems, []
        return problems + self._writer.take_problems()

"""The team's board: who claims which truck, the notes left on trucks, who is on a truck in need.

Claims live in the shared store, so every dashboard of a team sees the same board; each line
it writes is a history line with its dispatcher, which the other dashboards read as news. The
dispatcher calls ``refresh`` when news of a claim arrives, so a claim shows everywhere within
a drain tick or two.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from mwm_tui.adapters.store import HistoryEntry, Store, StoreError
from mwm_tui.domain import claims as rules
from mwm_tui.domain.claims import Claim, TeamKind
from mwm_tui.domain.fleet import DeviceStatus


class RefusedError(Exception):
    """What was asked cannot be done; the message says why, for the dispatcher."""


@contextlib.contextmanager
def _refusing() -> Iterator[None]:
    """A database error, as the reason the board could not do what was asked."""
    try:
        yield
    except StoreError as error:
        raise RefusedError(str(error)) from None


class TeamBoard:
    """Claims, notes and acknowledgements by ``by``; ``version`` counts changes of the claims.

    Each method that writes returns the line for the log, or raises ``RefusedError``: why not, or
    why the database could not keep it.
    """

    def __init__(self, store: Store, *, by: str, wall_clock: Callable[[], float]) -> None:
        self._store = store
        self.by = by
        self._clock = wall_clock
        self._claims: dict[str, Claim] = {}
        self.version = 0

    def refresh(self) -> None:
        """Read the team's claims again (another dashboard changed one)."""
        claims = self._store.claims()
        if claims != self._claims:
            self._claims = claims
            self.version += 1

    def whose(self, device_id: str) -> str | None:
        return rules.whose(self._claims, device_id)

    def claim_of(self, device_id: str) -> Claim | None:
        return self._claims.get(device_id)

    def send_question(self, device_id: str) -> str | None:
        """What to ask before sending to ``device_id`` from here, or None."""
        return rules.send_question(self._claims, device_id, self.by)

    def toggle_claim(self, device_id: str) -> str:
        """Claim ``device_id``, or release it when it is ours; the line says what happened.

        Claims as the store has them, so two dashboards pressing at once never both win.
        """
        with _refusing():
            self.refresh()
            before = self.whose(device_id)
            after = rules.claim_after(self._claims, device_id, self.by)
            line = rules.claim_line(device_id, self.by, before, after)
            entry = HistoryEntry(self._clock(), TeamKind.CLAIM.value, line, device_id, by=self.by)
            now_by = self._store.claim(device_id, before, after, entry)
            self.refresh()
        if now_by != after:
            raise RefusedError(
                f"{device_id} changed hands meanwhile: it is {now_by or 'nobody'}'s now"
            )
        return line

    def add_note(self, device_id: str, typed: str) -> str | None:
        """Leave a note on ``device_id``; None when there is nothing to note."""
        text = rules.note_text(typed)
        if not text:
            return None
        line = rules.note_line(device_id, self.by, text)
        with _refusing():
            self._store.save(history=[self._entry(TeamKind.NOTE, line, device_id)])
        return line

    def acknowledge(self, device_id: str, status: DeviceStatus | None) -> str:
        """Say that ``by`` is on ``device_id``; RefusedError when it needs nobody."""
        problem = rules.ack_problem(device_id, status)
        if problem is not None or status is None:
            raise RefusedError(problem or device_id)
        line = rules.ack_line(device_id, self.by, status)
        with _refusing():
            self._store.save(history=[self._entry(TeamKind.ACK, line, device_id)])
        return line

    def _entry(self, kind: TeamKind, line: str, device_id: str) -> HistoryEntry:
        return HistoryEntry(self._clock(), kind.value, line, device_id, by=self.by)

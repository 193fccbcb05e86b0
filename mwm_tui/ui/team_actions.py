"""What the team's keys do: claim or release a truck, leave a note, acknowledge, ask first.

The board (``services/team_board.py``) decides and keeps; this asks for what it needs (a note's
text, "send anyway?"), logs what was done and says what could not be.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import App

from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.text import literal
from mwm_tui.services.team_board import RefusedError, TeamBoard
from mwm_tui.ui.screens.team import NotePrompt, SendAnyway
from mwm_tui.ui.widgets.event_log import EventLog

_TEAM_STYLE = "magenta"


class TeamActions:
    """The team's keys on behalf of ``app``, for the main screen and the detail screen."""

    def __init__(
        self,
        app: App[None],
        board: TeamBoard,
        fleet: Fleet,
        event_log: EventLog,
        prompt_timing: Callable[[], tuple[Callable[[], float], float]],
    ) -> None:
        """``prompt_timing``: the clock and the delay the prompts arm by, as the app has them."""
        self._app = app
        self.board = board
        self._fleet = fleet
        self._log = event_log
        self._prompt_timing = prompt_timing

    def claim(self, device_id: str) -> None:
        """Claim ``device_id``, or release it when it is this dispatcher's."""
        self._do(device_id, lambda: self.board.toggle_claim(device_id))

    def note(self, device_id: str) -> None:
        """Ask for a note on ``device_id`` and leave it."""

        def typed(text: str | None) -> None:
            if text is not None:
                self._do(device_id, lambda: self.board.add_note(device_id, text))

        self._app.push_screen(NotePrompt(literal(device_id, 48)), typed)

    def acknowledge(self, device_id: str) -> None:
        """Say this dispatcher is on ``device_id``, gone stale or offline."""
        device = self._fleet.devices.get(device_id)
        status = device.status if device is not None else None
        self._do(device_id, lambda: self.board.acknowledge(device_id, status))

    def ask_first(self, device_id: str, then: Callable[[], object]) -> None:
        """Run ``then``, after asking once when another dispatcher claims ``device_id``."""
        question = self.board.send_question(device_id)
        if question is None:
            then()
            return

        def answered(anyway: bool | None) -> None:
            if anyway:
                then()

        clock, delay = self._prompt_timing()
        self._app.push_screen(SendAnyway(literal(device_id, 48), question, clock, delay), answered)

    def _do(self, device_id: str, write: Callable[[], str | None]) -> None:
        try:
            line = write()
        except RefusedError as error:
            self._app.notify(str(error), severity="warning", markup=False)
            return
        if line is not None:
            self._log.add(line, _TEAM_STYLE, devices=[device_id])
            self._app.notify(line, markup=False)

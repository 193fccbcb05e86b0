"""One truck in full: both ages and its own clock, who claims it and the team's notes, status
history, orders and alerts, trail."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.freshness import SILENT_FOR
from mwm_tui.domain.text import literal
from mwm_tui.services.device_records import DeviceRecord
from mwm_tui.services.dispatcher import Dispatcher
from mwm_tui.ui.format import STATUS_GLYPH, STATUS_STYLE
from mwm_tui.ui.screens.help import HelpScreen
from mwm_tui.ui.screens.once import OnceModal
from mwm_tui.ui.widgets.composer import dispatch_line
from mwm_tui.ui.widgets.key_footer import KeyFooter


class TruckKeys(Protocol):
    """What the team's keys do to a truck (``ui/team_actions.py``)."""

    def claim(self, device_id: str) -> None: ...
    def note(self, device_id: str) -> None: ...
    def acknowledge(self, device_id: str) -> None: ...


HISTORY_ROWS = 15
DISPATCH_ROWS = 15
TRAIL_ROWS = 10


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _live_reason(reason: str, heard_at: float, now: float) -> str:
    """The status's reason, its silence counted to ``now`` rather than to the status change."""
    if reason.startswith(SILENT_FOR):
        return f"{SILENT_FOR}{max(now - heard_at, 0.0):.0f} s"
    return reason


def _clock(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


class DeviceDetail(OnceModal[None]):
    """Opened with Enter on a device-list row; Esc closes it."""

    BINDINGS = [
        Binding("escape", "close_details", "Close"),
        Binding("question_mark", "show_help", "Help", key_display="?"),
        Binding("c", "claim_truck", "Claim"),
        Binding("n", "note_truck", "Note"),
        Binding("A", "acknowledge_truck", "On it"),
    ]

    def __init__(
        self,
        fleet: Fleet,
        dispatcher: Dispatcher,
        device_id: str,
        team: TruckKeys | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``team``: what the claim, note and acknowledge keys do (None: they do nothing)."""
        super().__init__()
        self._team = team
        self._fleet = fleet
        self._dispatcher = dispatcher
        self.device_id = device_id
        self._wall_clock = wall_clock
        self.body = Static(id="detail-body")

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="detail"):
            yield self.body
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#detail").border_title = Text(f"truck {literal(self.device_id, 48)}")
        self.refresh_details()
        self.set_interval(1.0, self.refresh_details)

    def refresh_details(self) -> None:
        self.body.update(Group(*self.sections()))

    def sections(self) -> list[Text | Table]:
        device = self._fleet.devices.get(self.device_id)
        if device is None:
            return [Text("HQ no longer knows this device.", style="dim")]
        now, wall = self._fleet.clock(), self._wall_clock()
        status = Text(f"{STATUS_GLYPH[device.status]} {device.status}", STATUS_STYLE[device.status])
        if reason := _live_reason(device.status_reason, device.last_seen or device.known_at, now):
            status.append(f"  ({reason})", style="dim")
        ages = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        ages.add_column(style="bold")
        ages.add_column()
        fix_age = None if device.last_location_at is None else now - device.last_location_at
        ages.add_row("position fix", f"received {_age(fix_age)} (HQ clock)")
        position = device.position
        if position is None:
            ages.add_row("device ts", "no position yet")
        elif position.raw_ts is None:
            ages.add_row("device ts", "none in the newest fix")
        elif position.ts is None:
            ages.add_row("device ts", f"unreadable: {literal(position.raw_ts, 40)}")
        else:
            stamp = position.ts.timestamp()
            ages.add_row("device ts", f"{_clock(stamp)} ({_age(wall - stamp)}, device clock)")
        motion_age = None if device.last_motion_at is None else now - device.last_motion_at
        motion = _age(motion_age)
        if motion_age is None and device.motion is not None:
            motion = "last known value (retained), age unknown"
        ages.add_row("motion", motion)
        if device.last_known:  # not heard since this dashboard started
            seen = device.last_seen
            when = "age unknown" if seen is None else f"heard {_clock(wall - (now - seen))}"
            ages.add_row("as of", f"last known from before this start, {when}")
        record = self._dispatcher.device_record(
            self.device_id, transitions=HISTORY_ROWS, dispatches=DISPATCH_ROWS
        )
        return [
            status,
            ages,
            Text("\nteam", style="bold underline"),
            *self._team_lines(record),
            Text("\nstatus history", style="bold underline"),
            *self._status_history(record),
            Text("\norders and alerts", style="bold underline"),
            *self._dispatches(record),
            Text("\nrecent trail (oldest first)", style="bold underline"),
            self._trail(device.trail()),
        ]

    @staticmethod
    def _team_lines(record: DeviceRecord) -> list[Text]:
        claim = record.claim
        if claim is None:
            lines = [Text("claimed by nobody (c claims it)", style="dim")]
        else:
            lines = [Text(f"claimed by {literal(claim.by, 24)} since {_clock(claim.at)}", "bold")]
        if record.team_problem is not None:
            return [*lines, Text(record.team_problem, style="red")]
        lines.extend(
            Text(f"{_clock(e.at)}  {e.kind:<5}  {literal(e.text, 300)}") for e in record.team
        )
        if not record.team:
            lines.append(Text("no notes (n leaves one)", style="dim"))
        return lines

    @staticmethod
    def _status_history(record: DeviceRecord) -> list[Text]:
        if record.transitions_problem is not None:
            return [Text(record.transitions_problem, style="red")]
        if not record.transitions:
            return [Text("no transitions recorded", style="dim")]
        return [Text(f"{_clock(e.at)}  {literal(e.text, 100)}") for e in record.transitions]

    @staticmethod
    def _dispatches(record: DeviceRecord) -> list[Text]:
        if record.dispatches_problem is not None:
            return [Text(record.dispatches_problem, style="red")]
        if not record.dispatches:
            return [Text("none sent from this HQ", style="dim")]
        lines = []
        for dispatch in record.dispatches:
            line = Text(f"{_clock(dispatch.created_at)}  ")
            line.append_text(dispatch_line(dispatch, whole=True))
            lines.append(line)
        return lines

    @staticmethod
    def _trail(points: list[tuple[float, float]]) -> Table | Text:
        if not points:
            return Text("no positions yet", style="dim")
        table = Table(box=None, padding=(0, 2, 0, 0))
        table.add_column("lat", justify="right")
        table.add_column("lng", justify="right")
        for lat, lng in points[-TRAIL_ROWS:]:
            table.add_row(f"{lat:.5f}", f"{lng:.5f}")
        return table

    def action_close_details(self) -> None:
        self.dismiss(None)

    def action_claim_truck(self) -> None:
        if self._team is not None:
            self._team.claim(self.device_id)
            self.refresh_details()

    def action_note_truck(self) -> None:
        if self._team is not None:
            self._team.note(self.device_id)

    def action_acknowledge_truck(self) -> None:
        if self._team is not None:
            self._team.acknowledge(self.device_id)
            self.refresh_details()

    def action_show_help(self) -> None:
        self.app.push_screen(HelpScreen())

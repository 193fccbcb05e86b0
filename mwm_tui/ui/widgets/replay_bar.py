"""One line during ``mwm-tui replay``: that it is a replay, the replay clock, speed and state."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from mwm_tui.adapters.replay import ReplayPlayer
from mwm_tui.domain.text import literal

REFRESH_INTERVAL = 0.25


def replay_stamp(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


class ReplayBar(Static):
    DEFAULT_CSS = """
    ReplayBar {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    """

    def __init__(self, player: ReplayPlayer) -> None:
        super().__init__(id="replay-bar")
        self.player = player

    def on_mount(self) -> None:
        self.set_interval(REFRESH_INTERVAL, self.show)
        self.show()

    def line(self) -> Text:
        player = self.player
        clock = player.clock
        text = Text(" REPLAY ", style="bold black on magenta")
        text.append(f" {replay_stamp(clock())}", style="bold")
        text.append(f"  x{clock.speed}", style="bold cyan")
        if player.at_end:
            text.append("  END of record", style="bold yellow")
        elif clock.paused:
            text.append("  PAUSED", style="bold yellow")
        else:
            text.append("  playing", style="green")
        text.append(f"  {player.index:,}/{len(player.records):,} records", style="dim")
        text.append(f"  {literal(player.label, 40)}", style="dim")
        if player.skipped:
            text.append(f"  {player.skipped:,} unusable", style="yellow")
        text.append("  orders and alerts are not sent", style="dim")
        return text

    def show(self) -> None:
        self.update(self.line())

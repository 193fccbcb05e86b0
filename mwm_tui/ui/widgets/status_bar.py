"""One line: both links' health, message rates, device counts, and DEMO when it is the demo."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widget import Widget

from mwm_tui.domain.events import LinkName, LinkState, LinkStateChanged
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.domain.text import literal
from mwm_tui.ui.format import STATUS_GLYPH, STATUS_STYLE

_STATE_LOOK = {
    LinkState.UP: ("▲ up", "bold green"),
    LinkState.CONNECTING: ("◌ connecting", "yellow"),
    LinkState.DOWN: ("▼ down", "bold red"),
}


class StatusBar(Widget):
    def __init__(self, *, demo: bool, id: str | None = None) -> None:
        super().__init__(id=id)
        self.demo = demo
        self.links: dict[LinkName, LinkStateChanged] = {
            name: LinkStateChanged(name, LinkState.CONNECTING) for name in LinkName
        }
        self.rates: dict[LinkName, float] = dict.fromkeys(LinkName, 0.0)
        self.counts: dict[DeviceStatus, int] = dict.fromkeys(DeviceStatus, 0)
        self.coalesced = 0
        # When each link's retry falls due (monotonic), so the countdown keeps ticking.
        self.retry_at: dict[LinkName, float] = {}

    def link_changed(self, event: LinkStateChanged) -> None:
        self.links[event.link] = event
        if event.retry_in is None:
            self.retry_at.pop(event.link, None)
        else:
            self.retry_at[event.link] = time.monotonic() + event.retry_in
        self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.demo:
            text.append(" DEMO ", style="bold black on yellow")
            text.append(" ")
        for name in LinkName:
            state = self.links[name]
            label, style = _STATE_LOOK[state.state]
            text.append(f"{name} ", style="bold")
            text.append(label, style=style)
            if state.state is LinkState.UP:
                text.append(f" {self.rates[name]:.0f}/s")
            elif state.state is LinkState.DOWN:
                if name in self.retry_at:
                    remaining = max(self.retry_at[name] - time.monotonic(), 0.0)
                    text.append(f", retry in {remaining:.0f} s")
                if state.detail:
                    text.append(f" ({literal(state.detail, 40)})", style="dim")
            text.append(" │ ", style="dim")
        for status in DeviceStatus:
            text.append(
                f"{STATUS_GLYPH[status]} {self.counts[status]} {status.value}",
                style=STATUS_STYLE[status],
            )
            text.append("  ")
        if self.coalesced:
            text.append(f"│  coalesced {self.coalesced}", style="yellow")
        return text

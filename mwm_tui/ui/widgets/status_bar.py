"""One line: both links' health, message rates, device counts, and DEMO when it is the demo.

When a link is lost the bar says since when and what that means for the data shown; when the
line is too narrow, link details go first so that the fleet counts stay visible.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from rich.text import Text
from textual.widget import Widget

from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import LinkName, LinkState, LinkStateChanged
from mwm_tui.domain.fleet import DeviceStatus, Fleet
from mwm_tui.domain.text import literal
from mwm_tui.ui.format import ALARM_STYLE, STATUS_GLYPH, STATUS_STYLE

_STATE_LOOK = {
    LinkState.UP: ("▲ up", "bold green"),
    LinkState.CONNECTING: ("◌ connecting", "yellow"),
    LinkState.DOWN: ("▼ down", ALARM_STYLE),
}
# What a lost link freezes on screen.
_AS_OF = {LinkName.STOMP: "positions", LinkName.MQTT: "motion"}
# Rates average over this many seconds: a whole number of sending periods (2 s in the demo,
# 1 to 3 s for phones), so a fleet whose fixes come in bursts still reads a steady rate.
RATE_WINDOW = 6.0
# From most to least said about a lost link; the last says only each link's arrow.
_DETAIL_LEVELS = 5


def _host_port(broker: str) -> str:
    """``stomp+ssl://hq@host:61612`` -> ``host:61612``: the part that tells brokers apart."""
    return broker.partition("://")[2].rpartition("@")[2] or broker


class StatusBar(Widget):
    def __init__(
        self,
        *,
        demo: bool,
        wall_clock: Callable[[], float] = time.time,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.demo = demo
        self._wall_clock = wall_clock
        self.links: dict[LinkName, LinkStateChanged] = {
            name: LinkStateChanged(name, LinkState.CONNECTING) for name in LinkName
        }
        self.rates: dict[LinkName, float] = dict.fromkeys(LinkName, 0.0)
        self.counts: dict[DeviceStatus, int] = dict.fromkeys(DeviceStatus, 0)
        self.coalesced = 0
        # New ids refused for the device limit, and the limit.
        self.refused_ids = 0
        self.max_devices = 0
        # Orders and alerts HQ still holds (queued or awaiting the broker's confirmation).
        self.outbox = 0
        # Why the outbox's database cannot be written, or None.
        self.store_problem: str | None = None
        # Whose dashboard sends the team's outbox when it is not this one's ("d1's"), or None.
        self.following: str | None = None
        # When each link's retry falls due (monotonic), so the countdown keeps ticking.
        self.retry_at: dict[LinkName, float] = {}
        # When each link was lost (wall clock) and how many attempts failed since; while lost.
        self.lost_at: dict[LinkName, float] = {}
        self.attempts: dict[LinkName, int] = {}
        # The broker each link was last on or trying, kept while it is down.
        self.brokers: dict[LinkName, str] = {}
        # (clock, accepted and rejected per link) at each tick, over the last RATE_WINDOW seconds.
        self._samples: deque[tuple[float, dict[LinkName, int]]] = deque()
        # What the bar last showed: a tick that changes nothing writes nothing to the terminal.
        self._shown: tuple[object, ...] = ()

    def tick(
        self, fleet: Fleet, coalesced: int, outbox: int = 0, store_problem: str | None = None
    ) -> None:
        """Once a second: rates, device counts, coalesced events, the outbox and its database."""
        now = fleet.clock()
        totals = {name: fleet.accepted[name] + fleet.rejected[name] for name in LinkName}
        self._samples.append((now, totals))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW:
            self._samples.popleft()
        since, before = self._samples[0]
        if now > since:
            for name in LinkName:
                self.rates[name] = (totals[name] - before[name]) / (now - since)
        counts = fleet.counts()
        self.counts = {status: counts.get(status, 0) for status in DeviceStatus}
        self.coalesced = coalesced
        self.refused_ids = fleet.rejects_by_reason[RejectReason.DEVICE_LIMIT]
        self.max_devices = fleet.max_devices
        self.outbox = outbox
        self.store_problem = store_problem
        self._refresh_if_changed()

    def link_changed(self, event: LinkStateChanged) -> None:
        before = self.links[event.link].state
        self.links[event.link] = event
        if event.broker:
            self.brokers[event.link] = event.broker
        if event.retry_in is None:
            self.retry_at.pop(event.link, None)
        else:
            self.retry_at[event.link] = time.monotonic() + event.retry_in
        if event.state is LinkState.UP:
            self.lost_at.pop(event.link, None)
            self.attempts.pop(event.link, None)
        elif before is LinkState.UP:
            self.lost_at[event.link] = self._wall_clock()
        if event.state is LinkState.DOWN:
            self.attempts[event.link] = self.attempts.get(event.link, 0) + 1
        self._refresh_if_changed()

    def _refresh_if_changed(self) -> None:
        text = self.render()
        shown = (text.plain, *text.spans)
        if shown != self._shown:
            self._shown = shown
            self.refresh()

    def render(self) -> Text:
        """Links, then the fleet: link detail goes first, then the links' words, never counts."""
        width = self.size.width
        fleet = self._fleet_part()
        for level in range(_DETAIL_LEVELS):
            links = self._links_part(level)
            if width <= 0 or links.cell_len + fleet.cell_len <= width:
                return links + fleet
        room = width - fleet.cell_len
        if room <= 3:
            fleet.truncate(width, overflow="ellipsis")
            return fleet
        links.truncate(room - 3, overflow="ellipsis")
        links.append(" │ ", style="dim")
        return links + fleet

    def _links_part(self, level: int) -> Text:
        """DEMO and both links; ``level`` 0 says everything, each higher level a little less."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.demo:
            text.append(" DEMO ", style="bold black on yellow")
            text.append(" ")
        if level == 2 and len(self.lost_at) == len(LinkName):
            self._both_lost(text)
            text.append(" │ ", style="dim")
        else:
            for name in LinkName:
                self._link(text, name, level)
                text.append(" │ ", style="dim")
        return text

    def _fleet_part(self) -> Text:
        """Device counts by status (unknown only when some are), then outbox and limits."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.store_problem is not None:
            # First: orders are refused until the database takes writes again.
            text.append("✕ outbox cannot write: orders refused", style=ALARM_STYLE)
            text.append("  │  ")
        shown = [s for s in DeviceStatus if s is not DeviceStatus.UNKNOWN or self.counts[s]]
        for index, status in enumerate(shown):
            if index:
                text.append("  ")
            count = self.counts[status]
            # A zero offline count is no news: plain, not the alarm block.
            quiet = status is DeviceStatus.OFFLINE and count == 0
            text.append(
                f"{STATUS_GLYPH[status]} {count} {status.value}",
                style="" if quiet else STATUS_STYLE[status],
            )
        if self.outbox:
            text.append(f"  │  ⧗ {self.outbox} in outbox", style="bold yellow")
        if self.following:
            text.append(f"  │  ⇄ {literal(self.following, 24)} dashboard sends", style="cyan")
        if self.refused_ids:
            text.append(
                f"  │  full at {self.max_devices:,}: {self.refused_ids:,} new ids refused",
                style="bold yellow",
            )
        if self.coalesced:
            text.append(f"  │  coalesced {self.coalesced}", style="yellow")
        return text

    def _both_lost(self, text: Text) -> None:
        """``HQ lost STOMP and MQTT 12:03:41, positions and motion as of then``, in one."""
        stamps = {
            name: time.strftime("%H:%M:%S", time.localtime(self.lost_at[name])) for name in LinkName
        }
        if len(set(stamps.values())) == 1:
            when = f"{' and '.join(LinkName)} {stamps[LinkName.STOMP]}"
        else:
            when = ", ".join(f"{name} {stamp}" for name, stamp in stamps.items())
        text.append(f"▼ HQ lost {when}", style=ALARM_STYLE)
        text.append(f", {' and '.join(_AS_OF.values())} as of then")

    def _link(self, text: Text, name: LinkName, level: int) -> None:
        state = self.links[name]
        text.append(f"{name} ", style="bold")
        lost = self.lost_at.get(name)
        if level >= _DETAIL_LEVELS - 1:  # the narrowest: the state's arrow alone
            arrow, style = _STATE_LOOK[state.state]
            text.append(arrow[0], style=ALARM_STYLE if lost is not None else style)
            return
        # Which broker of the configured list the link is on, trying, or lost (kept while down).
        broker = state.broker or self.brokers.get(name, "")
        # A down link names its broker, unless the reason shown at the end names it already.
        address = _host_port(broker)
        named = level == 0 and ":" in address and address in state.detail
        at_broker = bool(broker) and state.state is LinkState.DOWN and level <= 1 and not named
        if lost is not None:
            stamp = time.strftime("%H:%M:%S", time.localtime(lost))
            text.append(f"▼ lost {stamp}", style=ALARM_STYLE)
            if at_broker:
                text.append(f" at {literal(address, 40)}", style="dim")
            if level <= 2:
                text.append(f", {_AS_OF[name]} as of then")
        else:
            label, style = _STATE_LOOK[state.state]
            text.append(label, style=style)
            if state.state is LinkState.UP:
                text.append(f" {self.rates[name]:.0f}/s")
            elif at_broker:
                text.append(f" at {literal(address, 40)}", style="dim")
        if broker and (
            (state.state is LinkState.UP and level == 0)
            or (state.state is LinkState.CONNECTING and level <= 1)
        ):
            where = "on" if state.state is LinkState.UP else "trying"
            text.append(f" {where} {literal(address, 40)}", style="dim")
        if state.state is LinkState.UP:
            return
        if level <= 1:
            if state.state is LinkState.CONNECTING and lost is not None:
                text.append(", reconnecting")
            elif name in self.retry_at:
                remaining = max(self.retry_at[name] - time.monotonic(), 0.0)
                text.append(f", retry in {remaining:.0f} s")
            attempts = self.attempts.get(name, 0)
            if attempts > 1:
                text.append(f", {attempts} tries")
        if level == 0 and state.detail and state.state is LinkState.DOWN:
            text.append(f" ({literal(state.detail, 40)})", style="dim")

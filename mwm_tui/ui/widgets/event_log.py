"""The event log and the running summary of rejected messages.

The log must read during an incident: many status changes in one drain are one line, a link's
retries are not logged one by one (the status bar counts them), and the log can be filtered to
one truck.
"""

from __future__ import annotations

import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.strip import Strip
from textual.widgets import RichLog

from mwm_tui.compat import textual as textual_parts
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import LinkName, LinkState, LinkStateChanged
from mwm_tui.domain.fleet import DeviceStatus, Fleet, StatusChange
from mwm_tui.domain.text import literal
from mwm_tui.domain.wills import WillNote, WillVerdict
from mwm_tui.ui.format import STATUS_GLYPH, STATUS_STYLE

MAX_ENTRIES = 2000
# Lines wrapped before the next frame on a resize or filter (more than any screen shows);
# older ones follow WRAP_CHUNK at a time, WRAP_PAUSE seconds apart.
WRAP_AT_ONCE = 80
WRAP_CHUNK = 25
WRAP_PAUSE = 0.02
NEW_DEVICE_LOG_LIMIT = 10
# More changes to one status than this in one drain make one line naming the first few.
SINGLE_LINES_UP_TO = 3
IDS_NAMED = 3
_WENT = {
    DeviceStatus.ONLINE: "are online again",
    DeviceStatus.STALE: "went stale",
    DeviceStatus.OFFLINE: "went offline",
    DeviceStatus.UNKNOWN: "are unknown",
}


@dataclass(frozen=True, slots=True)
class LogLine:
    """One entry: the text shown, and the devices it is about (what a truck filter matches)."""

    text: Text | str
    style: str = ""
    devices: frozenset[str] = field(default_factory=frozenset)


def _named(device_ids: list[str]) -> str:
    shown = ", ".join(literal(device_id, 40) for device_id in device_ids[:IDS_NAMED])
    more = len(device_ids) - IDS_NAMED
    return f"{shown} and {more} more" if more > 0 else shown


def status_lines(changes: Iterable[StatusChange]) -> list[LogLine]:
    """The log's account of one drain's status changes: a line each, or one per status.

    Leaving unknown for online is not logged: it is HQ learning again, not news about a truck.
    """
    new: list[str] = []
    by_status: dict[DeviceStatus, list[StatusChange]] = {}
    for change in changes:
        if change.before is None:
            new.append(change.device_id)
        elif not (change.before is DeviceStatus.UNKNOWN and change.after is DeviceStatus.ONLINE):
            by_status.setdefault(change.after, []).append(change)
    lines = [
        LogLine(f"new device {literal(device_id, 40)}", "dim", frozenset((device_id,)))
        for device_id in new[:NEW_DEVICE_LOG_LIMIT]
    ]
    if len(new) > NEW_DEVICE_LOG_LIMIT:
        rest = new[NEW_DEVICE_LOG_LIMIT:]
        lines.append(LogLine(f"… and {len(rest)} more new devices", "dim", frozenset(rest)))
    for status, group in by_status.items():
        if len(group) <= SINGLE_LINES_UP_TO:
            lines.extend(_one_change(change) for change in group)
        else:
            lines.append(_many_changes(status, group))
    return lines


def will_lines(notes: Iterable[WillNote]) -> list[LogLine]:
    """Wills HQ did not believe (yet): a line each, the first few of one drain, then a count.

    A believed will needs no line of its own: the truck's status change says "(last will)".
    """
    doubted = [note for note in notes if note.verdict is not WillVerdict.OFFLINE]
    lines = [
        LogLine(
            f"? {literal(note.device_id, 40)}: {note.text}", "yellow", frozenset((note.device_id,))
        )
        for note in doubted[:SINGLE_LINES_UP_TO]
    ]
    rest = [note.device_id for note in doubted[SINGLE_LINES_UP_TO:]]
    if rest:
        lines.append(LogLine(f"? … and {len(rest)} more disputed wills", "yellow", frozenset(rest)))
    return lines


def _one_change(change: StatusChange) -> LogLine:
    line = Text()
    line.append(STATUS_GLYPH[change.after], style=STATUS_STYLE[change.after])
    line.append(f" {literal(change.device_id, 40)} is ")
    line.append(str(change.after), style=STATUS_STYLE[change.after])
    if change.reason:
        bold = change.after is DeviceStatus.OFFLINE
        line.append(f" ({change.reason})", style="bold" if bold else "dim")
    return LogLine(line, devices=frozenset((change.device_id,)))


def _many_changes(status: DeviceStatus, group: list[StatusChange]) -> LogLine:
    ids = [change.device_id for change in group]
    reasons = Counter(change.reason for change in group)
    line = Text()
    line.append(STATUS_GLYPH[status], style=STATUS_STYLE[status])
    line.append(f" {len(group)} trucks {_WENT[status]}", style="bold")
    reason, count = reasons.most_common(1)[0]
    if reason and count == len(group):
        line.append(f" ({reason})", style="dim")
    line.append(f": {_named(ids)}")
    return LogLine(line, devices=frozenset(ids))


@dataclass
class _Outage:
    lost_at: float  # wall clock
    attempts: int = 0


class LinkJournal:
    """Turns a link's state changes into log lines: its first loss and its return, no retries."""

    def __init__(self) -> None:
        self.outages: dict[LinkName, _Outage] = {}
        self._was_up: set[LinkName] = set()

    def line(self, event: LinkStateChanged, wall_now: float) -> LogLine | None:
        name = event.link
        outage = self.outages.get(name)
        detail = f": {literal(event.detail, 100)}" if event.detail else ""
        if event.state is LinkState.UP:
            self._was_up.add(name)
            if outage is None:
                return LogLine(f"▲ {name} link up{detail}", "green")
            del self.outages[name]
            down_for = max(wall_now - outage.lost_at, 0.0)
            tries = f", {outage.attempts} retries" if outage.attempts else ""
            return LogLine(f"▲ {name} link up again after {down_for:.0f} s{tries}{detail}", "green")
        if outage is not None:
            if event.state is LinkState.DOWN:
                outage.attempts += 1
            return None
        if event.state is LinkState.CONNECTING and name not in self._was_up:
            return None  # the first connection: on_mount says where it connects to
        self.outages[name] = _Outage(wall_now)
        text = f"▼ {name} link down{detail}"
        if event.retry_in is not None:
            text += f"; retrying in {event.retry_in:.0f} s (retries on the status bar)"
        return LogLine(text, "red")


def _mentions(device_id: str) -> re.Pattern[str]:
    """A shown id as a whole word, for lines that carry no device set."""
    shown = re.escape(literal(device_id, 40))
    return re.compile(rf"(?<![\w.-]){shown}(?![\w.-])")


class EventLog(RichLog):
    """Bounded; every line is a Text, so nothing from the network is markup."""

    def __init__(self, wall_clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(
            id=id, max_lines=MAX_ENTRIES, min_width=20, wrap=True, markup=False, highlight=False
        )
        self._wall_clock = wall_clock
        # The entries as plain text, unwrapped, for whoever reads the log rather than looks at it.
        self.entries: deque[str] = deque(maxlen=MAX_ENTRIES)
        self._lines: deque[tuple[Text, frozenset[str]]] = deque(maxlen=MAX_ENTRIES)
        self.links = LinkJournal()
        self.device_filter: str | None = None
        self._mention: re.Pattern[str] | None = None
        self._limit_refusals_logged = 0
        self._evictions_logged = 0
        self._wrapped_at = 0  # the width the shown lines were wrapped to
        self._generation = 0  # a new rewrap or filter makes older pending wraps stale
        self.rejects = RejectSummary()

    def add(self, message: str | Text, style: str = "", *, devices: Iterable[str] = ()) -> None:
        stamp = time.strftime("%H:%M:%S ", time.localtime(self._wall_clock()))
        line = Text(stamp, style="dim")
        line.append(message if isinstance(message, Text) else Text(message, style=style))
        about = frozenset(devices)
        self.entries.append(line.plain)
        self._lines.append((line, about))
        if self._shows(line, about):
            self.write(line)

    def add_line(self, line: LogLine) -> None:
        self.add(line.text, line.style, devices=line.devices)

    def log_changes(self, changes: Iterable[StatusChange]) -> None:
        for line in status_lines(changes):
            self.add_line(line)

    def log_wills(self, notes: Iterable[WillNote]) -> None:
        for line in will_lines(notes):
            self.add_line(line)

    def link_changed(self, event: LinkStateChanged) -> None:
        line = self.links.line(event, self._wall_clock())
        if line is not None:
            self.add_line(line)

    def device_limit(self, fleet: Fleet) -> None:
        """A line when new ids were refused for the device limit since the last call, and one
        when trucks known only from retained messages were evicted for live ones."""
        if fleet.evicted != self._evictions_logged:
            newest = literal(fleet.last_evicted_id or "", 40)
            self.add(
                f"device limit {fleet.max_devices:,} reached: "
                f"{fleet.evicted - self._evictions_logged:,} ids known only from retained "
                f"messages evicted for trucks sending live data (newest {newest}), "
                f"{fleet.evicted:,} in all",
                "bold yellow",
            )
            self._evictions_logged = fleet.evicted
        refused = fleet.rejects_by_reason[RejectReason.DEVICE_LIMIT]
        if refused == self._limit_refusals_logged:
            return
        newest = literal(fleet.last_refused_id or "", 40)
        self.add(
            f"device limit {fleet.max_devices:,} reached: "
            f"{refused - self._limit_refusals_logged:,} new ids refused (newest {newest}), "
            f"{refused:,} in all; known trucks are kept",
            "bold yellow",
        )
        self._limit_refusals_logged = refused

    def on_resize(self, event: events.Resize) -> None:
        """Wrap the lines again to the new width (RichLog wraps each line once, when written)."""
        width = event.size.width
        if self._wrapped_at and width and width != self._wrapped_at:
            self.call_after_refresh(self._show_lines)
        self._wrapped_at = width or self._wrapped_at

    def _show_lines(self) -> None:
        """Write the shown lines again: the newest at once, older ones a few at a time.

        Wrapping costs about a millisecond a line; 2,000 at once would freeze the screen.
        """
        self._generation += 1
        self.clear()
        shown = [line for line, about in self._lines if self._shows(line, about)]
        if not textual_parts.size_known(self):
            self._write_all(shown)  # RichLog holds them until it knows its width
            return
        for line in shown[-WRAP_AT_ONCE:]:
            self.write(line)
        older = shown[:-WRAP_AT_ONCE]
        if older:
            self.set_timer(WRAP_PAUSE, partial(self._prepend, older, self._generation))

    def _write_all(self, shown: list[Text]) -> None:
        """Every line through RichLog's public ``write``: right however RichLog keeps them."""
        for line in shown:
            self.write(line)

    def _prepend(self, older: list[Text], generation: int) -> None:
        """Wrap the newest few of ``older`` and put them above what is shown, keeping the view."""
        if generation != self._generation:
            return  # wrapped again, or filtered, since
        chunk = older[-WRAP_CHUNK:]
        del older[-WRAP_CHUNK:]
        console = self.app.console
        options = console.options.update_width(
            max(self.scrollable_content_region.width, self.min_width)
        )
        strips = [
            strip
            for line in chunk
            for strip in Strip.from_lines(list(Segment.split_lines(console.render(line, options))))
        ]
        at_end = self.is_vertical_scroll_end
        if not textual_parts.prepend_strips(self, strips):
            # RichLog's fields are not as expected: the public way, every line at once.
            self._generation += 1
            self.clear()
            self._write_all([line for line, about in self._lines if self._shows(line, about)])
            return
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.scroll_to(y=self.scroll_y + len(strips), animate=False, immediate=True)
        self.refresh()
        if older and len(self.lines) < MAX_ENTRIES:
            self.set_timer(WRAP_PAUSE, partial(self._prepend, older, generation))

    def show_rejects(self, counts: Counter[RejectReason]) -> None:
        """The running count of rejected messages, in the pane's title, when there are any."""
        if self.rejects.update_counts(counts):
            title = Text("events")
            if self.rejects.counts:
                title.append(" - " if getattr(self.app, "ascii_only", False) else " · ")
                title.append_text(self.rejects.render())
            self.border_title = title

    def filter_to(self, device_id: str | None) -> None:
        """Show only the lines about ``device_id`` (None: every line)."""
        self.device_filter = device_id
        self._mention = _mentions(device_id) if device_id is not None else None
        self._show_lines()
        # A Text, not a str: a str here is parsed as markup, and the id comes from the network.
        self.border_subtitle = (
            Text(f"only {literal(device_id, 40)} · Esc: all") if device_id else ""
        )

    def _shows(self, line: Text, about: frozenset[str]) -> bool:
        wanted = self.device_filter
        if wanted is None:
            return True
        if about:
            return wanted in about
        return self._mention is not None and self._mention.search(line.plain) is not None


class RejectSummary:
    """``rejected: not JSON 3 · wrong payload length 1``, for the events pane's title."""

    def __init__(self) -> None:
        self.counts: Counter[RejectReason] = Counter()

    def update_counts(self, counts: Counter[RejectReason]) -> bool:
        """Take the new counts; True when they changed."""
        if counts == self.counts:
            return False
        self.counts = Counter(counts)
        return True

    def render(self) -> Text:
        text = Text("rejected: ", no_wrap=True, overflow="ellipsis")
        text.append(" · ".join(f"{reason} {n}" for reason, n in self.counts.most_common()))
        return text

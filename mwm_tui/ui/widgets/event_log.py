"""The event log and the running summary of rejected messages."""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable

from rich.text import Text
from textual.widget import Widget
from textual.widgets import RichLog

from mwm_tui.domain.errors import RejectReason


class EventLog(RichLog):
    """Append-only, bounded; every line is a Text, so nothing from the network is markup."""

    def __init__(self, wall_clock: Callable[[], float], *, id: str | None = None) -> None:
        super().__init__(
            id=id, max_lines=2000, min_width=20, wrap=True, markup=False, highlight=False
        )
        self._wall_clock = wall_clock
        # The entries as plain text, unwrapped, for whoever reads the log rather than looks at it.
        self.entries: deque[str] = deque(maxlen=2000)

    def add(self, message: str | Text, style: str = "") -> None:
        stamp = time.strftime("%H:%M:%S ", time.localtime(self._wall_clock()))
        line = Text(stamp, style="dim")
        line.append(message if isinstance(message, Text) else Text(message, style=style))
        self.entries.append(line.plain)
        self.write(line)


class RejectSummary(Widget):
    """``rejected: not JSON 3 · wrong payload length 1`` — or nothing at all when none."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.counts: Counter[RejectReason] = Counter()

    def update_counts(self, counts: Counter[RejectReason]) -> None:
        if counts != self.counts:
            self.counts = Counter(counts)
            self.display = bool(self.counts)
            self.refresh()

    def render(self) -> Text:
        text = Text("rejected: ", style="bold yellow", no_wrap=True, overflow="ellipsis")
        text.append(" · ".join(f"{reason} {n}" for reason, n in self.counts.most_common()))
        return text

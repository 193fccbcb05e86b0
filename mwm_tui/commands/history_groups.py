"""A start's first sightings as one history line: ``first heard: 200 trucks (...)``.

Each start of a dashboard hears every truck anew, and each first sighting is followed by its
first change (``unknown -> online``): two lines a truck. They are folded here, for reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mwm_tui.adapters.history_rows import HistoryEntry

FIRST_HEARD = "first heard: "
# How far apart the sightings of one start may be, and a truck's first change after its own.
SIGHTING_WINDOW = 60.0
_SHOWN_IDS = 3


@dataclass
class Sightings:
    """Lines of one start that say the same of several trucks (``what``: "first heard: unknown"
    or "unknown -> online"), in the order they were written."""

    what: str
    entries: list[HistoryEntry] = field(default_factory=list)
    devices: set[str | None] = field(default_factory=set)

    @property
    def at(self) -> float:
        return self.entries[0].at

    def summary(self) -> str:
        """``first heard: 200 trucks unknown (truck-01, truck-02, truck-03, ... truck-200)``."""
        ids = [entry.device_id or "-" for entry in self.entries]
        shown = ", ".join(ids[:_SHOWN_IDS])
        if len(ids) > _SHOWN_IDS + 1:
            shown += f", ... {ids[-1]}"
        elif len(ids) == _SHOWN_IDS + 1:
            shown += f", {ids[-1]}"
        if self.what.startswith(FIRST_HEARD):
            status = self.what.removeprefix(FIRST_HEARD)
            return f"{FIRST_HEARD}{len(ids)} trucks {status} ({shown})"
        return f"{self.what}: {len(ids)} trucks ({shown})"


Line = HistoryEntry | Sightings


def _without_reason(text: str) -> str:
    return text.split(" (", 1)[0]


def fold_sightings(entries: list[HistoryEntry], window: float = SIGHTING_WINDOW) -> list[Line]:
    """``entries`` with each start's first sightings, and each truck's first change after one,
    gathered into a line per status reached; a lone sighting stays the line it was."""
    lines: list[Line] = []
    open_groups: dict[str, Sightings] = {}
    sighted: dict[str, float] = {}  # truck -> when first heard, until its next change
    for entry in entries:
        device = entry.device_id
        what: str | None = None
        if entry.kind == "status" and device is not None:
            if entry.text.startswith(FIRST_HEARD):
                what = _without_reason(entry.text)
                sighted[device] = entry.at
            elif device in sighted and entry.at - sighted.pop(device) <= window:
                what = _without_reason(entry.text)
        if what is None:
            lines.append(entry)
            continue
        group = open_groups.get(what)
        if group is None or entry.at - group.at > window or device in group.devices:
            group = open_groups[what] = Sightings(what)
            lines.append(group)
        group.entries.append(entry)
        group.devices.add(device)
    return [
        line.entries[0] if isinstance(line, Sightings) and len(line.entries) == 1 else line
        for line in lines
    ]

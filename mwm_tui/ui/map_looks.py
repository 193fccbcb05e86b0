"""How the map draws each thing: glyphs in Unicode and ASCII, colours, and names shortened."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Final

import plotext
from rich.cells import cell_len
from rich.color import Color
from rich.style import Style

from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.ui.format import STATUS_GLYPH


@dataclass(frozen=True, slots=True)
class Look:
    """How one thing is drawn: its glyph in Unicode and in ASCII, colour and style."""

    glyph: str
    ascii_glyph: str
    colour: int
    style: str | None = None
    background: int | None = None

    def symbol(self, ascii_only: bool) -> str:
        return self.ascii_glyph if ascii_only else self.glyph

    def pixel(self) -> Any:
        return plotext.pixel(foreground=self.colour, background=self.background, style=self.style)

    def rich_style(self) -> Style:
        return Style(
            color=Color.from_ansi(self.colour),
            bgcolor=None if self.background is None else Color.from_ansi(self.background),
            bold=bool(self.style and "bold" in self.style),
        )


# 256-colour palette indices: fixed greys for the background, bright ANSI colours for markers.
COAST_COLOUR: Final = 241
BORDER_COLOUR: Final = 238
TICK_COLOUR: Final = 244
PLACE_COLOUR: Final = 250
LABEL_COLOUR: Final = 15
LEGEND_TEXT_COLOUR: Final = 250
SELECTED: Final = Look("◉", "@", 14, "bold")
TRAIL: Final = Look("braille", "*", 14)
PLACE_DOT: Final = Look("·", "+", 246)
COAST_ASCII: Final = "."
BORDER_ASCII: Final = ":"
# The operator's overlay: zones, geofences (brighter), routes and depots.
ZONE_COLOUR: Final = 136
GEOFENCE_COLOUR: Final = 214
ROUTE_COLOUR: Final = 75
ZONE_ASCII: Final = "="
ROUTE_ASCII: Final = "~"
DEPOT: Final = Look("⌂", "H", 255, "bold")
DEPOT_NAME_COLOUR: Final = 223
# Each status has its own shape as well as its own colour, so colour is never the only cue.
# Offline is a bold glyph on a block of its own: white on red in colour; without colour
# (Textual turns colours to greys) black on white, the brightest block on the dark map.
STATUS_LOOK: Final[dict[str, Look]] = {
    "online": Look(STATUS_GLYPH[DeviceStatus.ONLINE], "o", 10),
    "stale": Look(STATUS_GLYPH[DeviceStatus.STALE], "s", 11, "bold"),
    "offline": Look(STATUS_GLYPH[DeviceStatus.OFFLINE], "X", 15, "bold", background=9),
    "unknown": Look(STATUS_GLYPH[DeviceStatus.UNKNOWN], "?", 13, "bold"),
}
NO_COLOUR_LOOK: Final[dict[str, Look]] = {
    **STATUS_LOOK,
    "offline": Look(STATUS_GLYPH[DeviceStatus.OFFLINE], "X", 0, "bold", background=15),
}
UNKNOWN_LOOK: Final = STATUS_LOOK["unknown"]
CLUSTER: Final = Look("", "", 10, "bold")


def shorten(label: str, cells: int, ascii_only: bool = False) -> str:
    """The label cut to at most ``cells`` cells, an ellipsis marking the cut."""
    if cells < 2:
        return ""
    out = ""
    for char in label:
        if cell_len(out + char) > cells - 1:
            break
        out += char
    return out + ("~" if ascii_only else "…")


def ascii_name(name: str) -> str:
    """The name without accents, other letters as '?': "Creteil" for "Créteil"."""
    bare = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return bare if bare.strip() else "?"

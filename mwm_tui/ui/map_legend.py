"""The map's first line: what each mark means, and a scale bar in km."""

from __future__ import annotations

from typing import Final

from rich.color import Color
from rich.style import Style
from rich.text import Text

from mwm_tui.domain.geo import Viewport, scale_bar
from mwm_tui.ui.map_looks import LEGEND_TEXT_COLOUR, SELECTED, Look

# Legend entries: what each mark is, in full and in short.
_LEGEND: Final = (
    ("online", "online", "on"),
    ("stale", "stale", "stale"),
    ("offline", "offline", "OFF"),
    ("unknown", "unknown (HQ outage)", "unk"),
    ("selected", "selected", "sel"),
)


def legend_line(
    width: int,
    indent: int,
    canvas_width: int,
    view: Viewport,
    ascii_only: bool,
    *,
    looks: dict[str, Look],
) -> Text:
    """The marker legend, and a scale bar in km at the right end when there is room.

    Over the canvas where it fits, else from the left edge (over the latitude labels): a
    narrow map keeps its legend and gives up the scale bar first."""
    text_style = Style(color=Color.from_ansi(LEGEND_TEXT_COLOUR))
    longest_bar = min(20, max(canvas_width // 4, 1))
    line = Text()
    # Wordings from the longest to none: full words, short words, short words packed tight.
    gaps = {1: (" ", "  "), 2: (" ", " "), 3: ("", " ")}
    wordings = ((1, True), (2, True), (3, True), (2, False), (3, False))
    tries = [(words, bar, indent) for words, bar in wordings]
    tries += [(words, bar, 0) for words, bar in wordings if indent and not bar]
    for words, with_bar, start in [*tries, (0, True, indent)]:
        line = Text(" " * start, no_wrap=True, overflow="crop", end="")
        for key, *names in _LEGEND if words else ():
            look = SELECTED if key == "selected" else looks[key]
            before, after = gaps[words]
            line.append(look.symbol(ascii_only), look.rich_style())
            line.append(f"{before}{names[min(words, 2) - 1]}{after}", text_style)
        line.rstrip()
        # Two cells apart from the legend, and room for " 5,000 km" after the bar.
        room = width - line.cell_len - 2
        bar = _scale_text(view, canvas_width, min(longest_bar, room - 9), ascii_only)
        if with_bar and bar.plain and bar.cell_len <= room:
            line.append(" " * (room + 2 - bar.cell_len))
            line.append_text(bar)
            break
        if not with_bar and room >= -2:
            break
    line.truncate(width, overflow="crop", pad=True)
    return line


def _scale_text(view: Viewport, canvas_width: int, most_cells: int, ascii_only: bool) -> Text:
    """``├────┤ 5 km``: a bar as long on the map as the distance it names."""
    found = scale_bar(view, canvas_width, most_cells)
    if found is None or found[1] < 3:  # shorter than three cells, a bar says nothing
        return Text()
    km, cells = found
    distance = f"{km * 1000:.0f} m" if km < 1 else f"{km:,.0f} km"
    ends, middle = ("|", "-") if ascii_only else ("├┤", "─")
    body = middle * max(cells - 2, 0)
    bar = f"{ends[0]}{body}{ends[-1]}"
    return Text(f"{bar} {distance}", style=Style(color=Color.from_ansi(LEGEND_TEXT_COLOUR)))

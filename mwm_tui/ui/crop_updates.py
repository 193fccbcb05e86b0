"""Partial screen updates written from their first changed cell, not from the pane's left edge.

Textual 8 writes each dirty span of a line from the left edge of the pane's piece of that line
("chop") to the span's end: ``ChopsUpdate.render_segments`` crops on the right only. An age that
ticks in the middle of a device-list row so resends the row's border, status and id each time.
``install()`` crops each chop on the left to the first span that touches it as well, before
Textual renders it; what the terminal ends up showing is the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.cells import get_character_cell_size
from textual.strip import Strip

from mwm_tui.compat import textual as textual_parts

_Chops = Sequence[Mapping[int, Strip | None]]
_Span = tuple[int, int, int]


def crop_start(strip: Strip, cut: int) -> int:
    """The cell at or left of ``cut`` where ``strip`` may be cut without breaking a character.

    Never inside a wide character, and never between a character and its combining marks.
    """
    position = 0
    base = 0  # where the last character that takes cells starts
    for text, _style, control in strip:
        if control or not text:
            continue
        if text.isascii():
            if position + len(text) > cut:
                return cut
            base, position = position + len(text) - 1, position + len(text)
            continue
        for char in text:
            width = get_character_cell_size(char)
            if width == 0:
                if position == cut:
                    return base
                continue
            if position >= cut:
                return cut
            if position + width > cut:
                return position
            base, position = position, position + width
    return cut


def left_cropped(
    chops: _Chops, spans: Sequence[_Span], chop_ends: Sequence[Sequence[int]]
) -> list[Mapping[int, Strip | None]]:
    """``chops`` with each chop that the first span touching it starts inside of cut there."""
    spans_by_line: dict[int, list[_Span]] = {}
    for span in spans:
        spans_by_line.setdefault(span[0], []).append(span)
    cropped = list(chops)
    for y, line_spans in spans_by_line.items():
        line: dict[int, Strip | None] = {}
        for end, (x, strip) in zip(chop_ends[y], chops[y].items(), strict=False):
            starts = [x1 for _, x1, x2 in line_spans if x1 < end and x2 > x]
            if strip is not None and starts and x < min(starts):
                start = x + crop_start(strip, min(starts) - x)
                if start > x:
                    line[start] = strip.crop(start - x, end - x)
                    continue
            line[x] = strip
        cropped[y] = line
    return cropped


def install() -> bool:
    """Make Textual's partial updates start at their first changed cell; False if it cannot."""
    return textual_parts.transform_chops(left_cropped)

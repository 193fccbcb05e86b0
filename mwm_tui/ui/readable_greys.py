"""NO_COLOR's greys, every one readable: text at least 4.5:1 against its background (WCAG).

Textual's own filter maps each colour to a grey of the same luminance, so dark ink on a dark
panel (a chart's label, a dimmed hint) ends up grey on grey. This filter does the same, then
moves any ink too close to its paper away from it, lighter on a dark background and darker on
a light one. Dim text is blended halfway to its background first, as a terminal shows it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Final

from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style
from textual.color import Color
from textual.filter import LineFilter, Monochrome

__all__ = ["MIN_CONTRAST", "ReadableGreys", "readable_filters"]

MIN_CONTRAST: Final = 4.5
# Aimed higher than the minimum: a 256-colour terminal rounds each grey to its palette.
_AIM: Final = 5.2


def _luminance(level: int) -> float:
    """WCAG relative luminance of the grey ``level`` (0-255)."""
    channel = level / 255
    return channel / 12.92 if channel <= 0.04045 else float(((channel + 0.055) / 1.055) ** 2.4)


def _level(luminance: float) -> float:
    """The grey level (0-255, not rounded) of a relative luminance."""
    luminance = min(max(luminance, 0.0), 1.0)
    if luminance <= 0.0031308:
        return luminance * 12.92 * 255
    return (1.055 * float(luminance ** (1 / 2.4)) - 0.055) * 255


def _grey(color: RichColor | None, *, foreground: bool, unset: int) -> int:
    """The grey level of ``color`` (``unset`` when it has none)."""
    if color is None:
        return unset
    return Color.from_rich_color(color, foreground=foreground, ansi=False).monochrome.r


def _readable(ink: int, paper: int) -> int:
    """``ink``, or the nearest grey standing at least ``_AIM``:1 from ``paper``."""
    lit, back = _luminance(ink), _luminance(paper)
    if (max(lit, back) + 0.05) / (min(lit, back) + 0.05) >= _AIM:
        return ink
    lighter = _AIM * (back + 0.05) - 0.05
    darker = (back + 0.05) / _AIM - 0.05
    if (lit >= back or darker < 0) and lighter <= 1:
        return min(math.ceil(_level(lighter)), 255)
    if darker >= 0:
        return max(math.floor(_level(darker)), 0)
    return 255 if back < 0.18 else 0


@lru_cache(4096)
def _readable_style(style: Style, background: Color) -> Style:
    reverse = bool(style.reverse)
    ink_colour, paper_colour = style.color, style.bgcolor
    if reverse:
        ink_colour, paper_colour = paper_colour, ink_colour
    paper = _grey(paper_colour, foreground=False, unset=background.monochrome.r)
    ink = _grey(ink_colour, foreground=True, unset=0 if paper > 127 else 255)
    if style.dim:
        ink = round((ink + paper) / 2)
    ink = _readable(ink, paper)
    ink_rich = RichColor.from_rgb(ink, ink, ink)
    paper_rich = RichColor.from_rgb(paper, paper, paper)
    if reverse:
        ink_rich, paper_rich = paper_rich, ink_rich
    return style + Style(color=ink_rich, bgcolor=paper_rich, dim=False)


class ReadableGreys(LineFilter):
    """Greys only, each text at least ``MIN_CONTRAST``:1 against its background."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        readable = _readable_style
        return [
            Segment(text, readable(style, background) if style else style, None)
            for text, style, _ in segments
        ]


def readable_filters(filters: list[LineFilter]) -> list[LineFilter]:
    """``filters`` with Textual's greys (NO_COLOR) replaced by readable ones."""
    return [_READABLE if isinstance(f, Monochrome) else f for f in filters]


_READABLE: Final = ReadableGreys()

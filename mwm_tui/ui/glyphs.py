"""ASCII-only drawing: one table from the panes' symbols to ASCII, applied to every drawn line.

Each symbol becomes as many ASCII characters as the cells it takes (one, but for a wide icon),
so a line keeps its width and its layout.
States stay distinct: online ``*``, stale ``~``, offline ``X``, unknown ``?``, selected ``@``.
"""

from __future__ import annotations

import unicodedata

from rich.cells import cell_len
from rich.segment import Segment
from textual.color import Color
from textual.filter import LineFilter

SYMBOLS = {
    # Device states, the selected marker, link states.
    "●": "*",
    "◐": "~",
    "✕": "X",
    "◉": "@",
    "▲": "^",
    "▼": "v",
    "◌": ".",
    # Outcomes of orders and alerts (domain.dispatch.describe): on its way, accepted, waiting.
    "⧗": ">",
    "✔": "+",
    "◔": "o",
    # Text marks.
    "·": "-",
    "•": "*",
    "—": "-",
    "\u2013": "-",  # en dash
    "…": ".",
    "°": "d",
    "±": "+",
    "\u00d7": "x",  # multiplication sign
    "\u2018": "'",  # single quotation marks
    "\u2019": "'",
    "“": '"',
    "”": '"',
    "■": "#",
    "▪": "#",
    "→": ">",
    "←": "<",
    "⇄": "=",
    "↑": "^",
    "↓": "v",
    "▶": ">",
    "◀": "<",
    "✓": "+",
    "✗": "X",
    "✖": "X",
    "○": "o",
    # Sparklines, scrollbar ends and block borders (tall, thick, outer, wide, hkey, vkey).
    "▁": "_",
    "▂": "_",
    "▃": ".",
    "▄": "-",
    "▅": "-",
    "▆": "=",
    "▇": "#",
    "█": "#",
    "▔": "-",
    "▀": "-",
    "▉": "#",
    "▊": "|",
    "▋": "|",
    "▌": "|",
    "▍": "|",
    "▎": "|",
    "▏": "|",
    "▐": "|",
    "▕": "|",
    "░": ".",
    "▒": ":",
    "▓": "#",
    # The command palette's search icon takes two cells.
    "\U0001f50e": "> ",
}


# Keys the footer shows as symbols, spelled out (a key name may take more than one cell).
KEY_NAMES = {"⏎": "enter", "↑": "up", "↓": "down", "←": "left", "→": "right", "⌫": "bksp"}


def ascii_key(display: str) -> str:
    """A key as the footer shows it, in ASCII: ``⏎`` becomes ``enter``."""
    for symbol, name in KEY_NAMES.items():
        display = display.replace(symbol, name)
    return to_ascii(display)


def _box_drawing(char: str) -> str:
    """Lines of box drawing as ``-`` and ``|``, corners and junctions as ``+``."""
    name = unicodedata.name(char, "")
    if "DIAGONAL" in name:
        if "UPPER RIGHT TO LOWER LEFT" in name:
            return "/"
        return "\\" if "UPPER LEFT TO LOWER RIGHT" in name else "X"
    across = "HORIZONTAL" in name or "LEFT" in name or "RIGHT" in name
    along = "VERTICAL" in name or "UP" in name or "DOWN" in name
    if across and not along:
        return "-"
    if along and not across:
        return "|"
    return "+"


def _braille(char: str) -> str:
    """A braille cell by where its dots are: top ``'``, bottom ``.``, both ``:``, none blank."""
    dots = ord(char) - 0x2800
    top = dots & 0b00011011  # dots 1, 2, 4, 5
    bottom = dots & 0b11100100  # dots 3, 6, 7, 8
    return (" ", "'", ".", ":")[(top != 0) + 2 * (bottom != 0)]


def _fallback(char: str) -> str:
    """Any other character: its unaccented letter, or ``?`` for each cell it takes."""
    width = cell_len(char)
    if width == 0:
        return ""
    plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
    if len(plain) == width:
        return plain
    return "?" * width


class _AsciiTable(dict[int, str]):
    """``str.translate`` table, filled on first sight of each character."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if code < 0x80:
            replacement = char
        elif char in SYMBOLS:
            replacement = SYMBOLS[char]
        elif 0x2500 <= code <= 0x257F:
            replacement = _box_drawing(char)
        elif 0x2800 <= code <= 0x28FF:
            replacement = _braille(char)
        else:
            replacement = _fallback(char)
        self[code] = replacement
        return replacement


_TABLE = _AsciiTable()


def to_ascii(text: str) -> str:
    """``text`` in ASCII, each character replaced by as many as the cells it took."""
    return text if text.isascii() else text.translate(_TABLE)


class AsciiFilter(LineFilter):
    """Every line a widget draws (borders, titles, scrollbars, footer) passes through here."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        if all(segment.text.isascii() for segment in segments):
            return segments
        return [
            segment if text.isascii() else Segment(text.translate(_TABLE), style, control)
            for segment in segments
            for text, style, control in (segment,)
        ]

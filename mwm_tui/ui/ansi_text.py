"""plotext's ANSI output as rich Text: colour codes read many times faster than rich reads them."""

from __future__ import annotations

import re
from typing import Final

from rich.ansi import AnsiDecoder
from rich.cells import cell_len, get_character_cell_size
from rich.style import Style
from rich.text import Span, Text

_SGR: Final = re.compile(r"\x1b\[([0-9;]*)m")
_SGR_RESET: Final = "\x1b[0m"
# Zero width joiner and variation selector 16: rich measures a string with them by graphemes.
_JOINERS: Final = frozenset("\u200d\ufe0f")
_SGR_LEAD: Final = re.compile(r"(?:\x1b\[[0-9;]*m)*")
_SGR_CACHE_SIZE: Final = 256
_sgr_styles: dict[tuple[str, ...], Style | None] = {}
_sgr_lead_styles: dict[str, Style | None] = {}
_UNDECODED: Final = Style()


def to_text(ansi: str, width: int, height: int, *, head: Text | None = None) -> Text:
    """Parse plotext's ANSI output; plain text in it, labels included, is never markup.

    ``head``, one line, goes above the picture, as if joined to it with a newline.
    """
    text = from_sgr(ansi.rstrip("\n"), head)
    plain = text.plain.split("\n")[0 if head is None else 1 :]
    if len(plain) == height and all_cell_lengths(plain, width):
        return text
    # plotext and rich may disagree on the width of a rare character: rich is what draws.
    picture = text if head is None else from_sgr(ansi.rstrip("\n"))
    fixed = list(picture.split("\n", allow_blank=True)[:height])
    fixed += [Text() for _ in range(height - len(fixed))]
    for line in fixed:
        line.truncate(width, overflow="crop", pad=True)
    joined = Text("\n", no_wrap=True, overflow="crop", end="").join(fixed)
    return joined if head is None else _joined(head, joined)


def _joined(head: Text, picture: Text) -> Text:
    return Text("\n", no_wrap=True, overflow="crop", end="").join([head, picture])


def all_cell_lengths(lines: list[str], width: int) -> bool:
    """Whether every line is ``width`` cells long; one cell a character where each is one."""
    characters = set().union(*lines)
    if not characters & _JOINERS and all(get_character_cell_size(c) == 1 for c in characters):
        return all(len(line) == width for line in lines)
    return all(cell_len(line) == width for line in lines)


def from_sgr(ansi: str, head: Text | None = None) -> Text:
    """Text.from_ansi, many times faster for plotext's output: colour codes and nothing else.

    plotext resets before each colour change, so few distinct code runs occur: rich decodes
    each once. Anything but colour codes falls back to Text.from_ansi. A ``head`` goes first,
    a newline after it, as Text.join would put them (without making every span again).
    """
    chunks: list[str] = []
    spans: list[Span] = []
    if head is not None:
        chunks += [head.plain, "\n"]
        if head.style:
            spans.append(Span(0, len(head), head.style))
        spans += head.spans
    position = start = sum(map(len, chunks))
    lead, styles = _SGR_LEAD.match, _sgr_lead_styles
    # Split at plotext's resets: most pieces are then a run of codes and the text they colour.
    for piece in ansi.split(_SGR_RESET):
        codes, part = "", piece
        style = None
        if piece.startswith("\x1b["):
            found = lead(piece)
            end = found.end() if found else 0
            codes, part = piece[:end], piece[end:]
            style = styles.get(codes, _UNDECODED)
            if style is _UNDECODED:
                style = _lead_style(codes)
        if "\x1b" in part:
            active = _codes_in_effect(codes)
            position = _sgr_runs(part, active, position, chunks, spans)
        elif part:
            chunks.append(part)
            after = position + len(part)
            if style is not None:
                spans.append(Span(position, after, style))
            position = after
    plain = "".join(chunks)
    if "\x1b" in plain[start:]:
        picture = Text.from_ansi(ansi, no_wrap=True, overflow="crop", end="")
        return picture if head is None else _joined(head, picture)
    return Text(plain, no_wrap=True, overflow="crop", end="", spans=spans)


def _sgr_runs(
    ansi: str, active: tuple[str, ...], position: int, chunks: list[str], spans: list[Span]
) -> int:
    """from_sgr for a piece with codes inside its text; returns the position after it."""
    parts = _SGR.split(ansi)
    for index, part in enumerate(parts):
        if index % 2:
            active = () if part in ("", "0") else (*active, part)
        elif part:
            style = _sgr_style(active) if active else None
            if style is not None:
                spans.append(Span(position, position + len(part), style))
            chunks.append(part)
            position += len(part)
    return position


def _lead_style(codes: str) -> Style | None:
    """The style of text after a run of codes that follows a reset (or starts the output)."""
    active = _codes_in_effect(codes)
    style = _sgr_style(active) if active else None
    if len(_sgr_lead_styles) >= _SGR_CACHE_SIZE:
        _sgr_lead_styles.clear()
    _sgr_lead_styles[codes] = style
    return style


def _codes_in_effect(codes: str) -> tuple[str, ...]:
    """The codes a run of SGR codes leaves in effect, from none: those after its last reset."""
    active: tuple[str, ...] = ()
    for code in _SGR.findall(codes):
        active = () if code in ("", "0") else (*active, code)
    return active


def _sgr_style(codes: tuple[str, ...]) -> Style | None:
    style = _sgr_styles.get(codes)
    if style is None and codes not in _sgr_styles:
        sample = "".join(f"\x1b[{code}m" for code in codes) + "x"
        decoded = AnsiDecoder().decode_line(sample)
        style = Style.combine(span.style for span in decoded.spans if isinstance(span.style, Style))
        style = style or None
        if len(_sgr_styles) >= _SGR_CACHE_SIZE:
            _sgr_styles.clear()
        _sgr_styles[codes] = style
    return style

"""Repaint only what changed: the cell runs where a new picture differs from the one shown."""

from __future__ import annotations

from itertools import zip_longest

from rich.cells import cell_len, get_character_cell_size
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from mwm_tui.compat import textual as textual_parts

# Changed cells closer than this are repainted as one run: a cursor move costs more than a cell.
_RUN_GAP = 4

_Cell = tuple[str, Style | None]


def _cells(strip: Strip) -> list[_Cell]:
    """One (text, style) per cell; a wide character's second cell has empty text."""
    cells: list[_Cell] = []
    for text, style, _ in strip:
        if cell_len(text) == len(text):
            cells.extend((char, style) for char in text)
            continue
        for char in text:
            width = get_character_cell_size(char)
            if width == 0 and cells:
                cells[-1] = (cells[-1][0] + char, style)
            elif width:
                cells.append((char, style))
                cells.extend(("", style) for _ in range(width - 1))
    return cells


def changed_runs(old: Strip, new: Strip, gap: int = _RUN_GAP) -> list[tuple[int, int]]:
    """Cell runs ``(start, end)`` where ``new`` differs from ``old``; close runs merge."""
    if old == new:
        return []
    before, after = _cells(old), _cells(new)
    length = max(len(before), len(after))
    blank: _Cell = (" ", None)
    runs: list[tuple[int, int]] = []
    for x in range(length):
        was = before[x] if x < len(before) else blank
        now = after[x] if x < len(after) else blank
        if was == now:
            continue
        if runs and x - runs[-1][1] < gap:
            runs[-1] = (runs[-1][0], x + 1)
        else:
            runs.append((x, x + 1))
    return [_whole_characters(run, before, after) for run in runs]


def _whole_characters(run: tuple[int, int], *rows: list[_Cell]) -> tuple[int, int]:
    """Widen a run so that it never cuts a wide character in either row."""
    start, end = run
    while start > 0 and any(start < len(row) and row[start][0] == "" for row in rows):
        start -= 1
    while any(end < len(row) and row[end][0] == "" for row in rows):
        end += 1
    return start, end


def changed_region(old: Strip, new: Strip, y: int) -> Region | None:
    """The one region of line ``y`` that covers every changed cell, or None when none changed.

    Textual writes a partial update from the pane's left edge to the end of each span, once per
    span: one span a line costs least.
    """
    runs = changed_runs(old, new)
    if not runs:
        return None
    return Region(runs[0][0], y, runs[-1][1] - runs[0][0], 1)


def forget_dirty_regions(widget: Widget) -> None:
    """After a paint by a widget whose ``render_line`` does not call Textual's own.

    Textual empties a widget's dirty regions only in that ``render_line``: kept, every distinct
    partial refresh would stay for the app's lifetime.
    """
    textual_parts.forget_dirty_regions(widget)


class ShownPicture:
    """The lines a ``render()`` widget shows, so that a new picture refreshes only changed cells.

    Textual then paints only those regions; the rest of the widget stays as the terminal has it.
    """

    def __init__(self) -> None:
        self._lines: list[Strip] = []
        self._size: Size | None = None

    def forget(self) -> None:
        """The next picture is shown whole (another subject, not a new state of the same)."""
        self._size = None

    def lines_for(self, widget: Widget) -> list[Strip] | None:
        """The lines shown, when they were made at the widget's present size; else None."""
        return self._lines if self._size is not None and widget.content_size == self._size else None

    def record(self, widget: Widget, picture: Text) -> None:
        """The widget is about to show ``picture`` whole."""
        self._size = widget.content_size
        self._lines = _picture_lines(widget, picture)

    def repaint(self, widget: Widget, picture: Text) -> None:
        """Show ``picture`` by refreshing the cells where it differs from what is shown."""
        if widget.content_size != self._size:
            self.record(widget, picture)
            widget.refresh()
            return
        before, self._lines = self._lines, _picture_lines(widget, picture)
        empty = Strip([])
        regions = [
            region
            for y, (old, new) in enumerate(zip_longest(before, self._lines, fillvalue=empty))
            if (region := changed_region(old, new, y)) is not None
        ]
        if regions:
            widget.refresh(*regions)


class PictureWidget(Widget):
    """A pane that shows one picture through ``ShownPicture``: Textual is handed the lines made
    for the repaint rather than rendering the picture again. Its lines carry no text-selection
    offsets: charts and maps are not text to copy."""

    ALLOW_SELECT = False

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown = ShownPicture()
        # The widget's style during one render_lines pass, looked up once, not once per line.
        self._pass_style: Style | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        self._pass_style = self.visual_style.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._pass_style = None
            forget_dirty_regions(self)

    def render_line(self, y: int) -> Strip:
        lines = self._shown.lines_for(self)
        if lines is None:
            return super().render_line(y)
        style = self._pass_style or self.visual_style.rich_style
        line = lines[y] if y < len(lines) else Strip([])
        return line.adjust_cell_length(self.size.width, style).apply_style(style)


def _picture_lines(widget: Widget, picture: Text) -> list[Strip]:
    width, height = widget.content_size
    console = widget.app.console
    options = console.options.update(width=max(width, 1), no_wrap=True, overflow="crop")
    return [Strip(line) for line in console.render_lines(picture, options, pad=False)[:height]]

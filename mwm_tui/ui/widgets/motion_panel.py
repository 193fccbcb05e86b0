"""Pitch, roll and yaw of the selected device as line charts on a fixed -π..π range."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import groupby

from rich.text import Text

from mwm_tui.domain.fleet import Fleet
from mwm_tui.domain.text import literal
from mwm_tui.ui.widgets.repaint import PictureWidget

# Field order of the wire (docs/PROTOCOL.md#motion: pitch, roll, yaw), each with its colour.
SERIES = (("pitch", "red"), ("roll", "green"), ("yaw", "blue"))
LABEL_WIDTH = 6
VALUE_WIDTH = 9
ZERO_STYLE = "dim"
ZERO_ASCII = "."

# Braille dot bits by (row, column) inside a cell of 4 rows and 2 columns.
_BRAILLE_BIT = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))
# ASCII cells are one column of three rows: top, middle, bottom (bits 1, 2, 4).
_ASCII_MARK = (" ", "'", "-", "|", "_", ":", "|", "|")


def _dot_row(value: float, dot_rows: int, low: float, high: float) -> int:
    """The dot row of ``value``, 0 at the top (``high``); values outside the range clip."""
    share = (high - min(max(value, low), high)) / (high - low)
    return round(share * (dot_rows - 1))


def line_chart(
    values: Sequence[float],
    *,
    capacity: int,
    cells: int,
    rows: int,
    ascii_only: bool = False,
    style: str = "",
    low: float = -math.pi,
    high: float = math.pi,
) -> list[Text]:
    """``rows`` lines of ``cells`` characters: the values joined by a line, newest at the right.

    ``capacity`` samples span the whole width, so a short history starts part-way across.
    The zero line is drawn dim where no value passes.
    Braille cells hold 2x4 dots; in ASCII a cell is one sample and three heights (' - _).
    """
    if cells < 1 or rows < 1:
        return [Text() for _ in range(max(rows, 0))]
    across, down = (1, 3) if ascii_only else (2, 4)
    dot_columns, dot_rows = cells * across, rows * down
    data = [0] * (rows * cells)
    # For each dot row: where its cells start in ``data``, and its bit by dot column.
    row_start = [(y // down) * cells for y in range(dot_rows)]
    row_bits = [(1 << y % down,) if ascii_only else _BRAILLE_BIT[y % down] for y in range(dot_rows)]

    tail = values[-capacity:]
    first_slot = capacity - len(tail)
    span = max(capacity - 1, 1)
    x_scale = (dot_columns - 1) / span
    y_scale = (dot_rows - 1) / (high - low)
    x0 = y0 = -1
    for index, value in enumerate(tail):
        if math.isnan(value):
            continue  # no dot, and the line joins the values either side
        x = round((first_slot + index) * x_scale)
        y = round((high - (low if value < low else high if value > high else value)) * y_scale)
        if x0 < 0:
            x0, y0 = x, y
        # The dots from the previous value to this one, rounded half up along the longer axis.
        steps = max(x - x0, abs(y - y0), 1)
        for step in range(steps + 1):
            dot_x = x0 + (2 * (x - x0) * step + steps) // (2 * steps)
            dot_y = y0 + (2 * (y - y0) * step + steps) // (2 * steps)
            data[row_start[dot_y] + dot_x // across] |= row_bits[dot_y][dot_x % across]
        x0, y0 = x, y

    zero_row, zero_sub = divmod(_dot_row(0.0, dot_rows, low, high), down)
    # Dotted, so that it never reads as a value: one dot a cell, or ``.`` in ASCII.
    zero_mark = ZERO_ASCII if ascii_only else chr(0x2800 + _BRAILLE_BIT[zero_sub][0])
    lines = []
    for row in range(rows):
        line = Text(no_wrap=True, overflow="crop")
        blank, blank_style = (zero_mark, ZERO_STYLE) if row == zero_row else (" ", "")
        # One span per run of drawn or blank cells: a repaint costs by spans, not by cells.
        for drawn, run in groupby(data[row * cells : (row + 1) * cells], key=bool):
            if drawn:
                chars = (_ASCII_MARK[bits] if ascii_only else chr(0x2800 + bits) for bits in run)
                line.append("".join(chars), style)
            else:
                line.append(blank * len(list(run)), blank_style)
        lines.append(line)
    return lines


class MotionPanel(PictureWidget):
    """Redrawn only when the selected device's motion changed (the app says when)."""

    def __init__(self, fleet: Fleet, *, ascii_only: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self._fleet = fleet
        self._ascii_only = ascii_only
        self.device_id: str | None = None
        self.renders = 0
        self._picture: Text | None = None

    def show(self, device_id: str | None) -> None:
        self.device_id = device_id
        self.border_subtitle = ""
        # A Text, not a str: a str title is parsed as markup, and the id comes from the network.
        self.border_title = Text(f"motion · {literal(device_id, 40)}") if device_id else "motion"
        self._picture = None
        self._shown.forget()
        self.refresh()

    def repaint(self) -> None:
        """Draw the device's motion again; only the cells that changed are repainted."""
        self._picture = self.picture()
        self._shown.repaint(self, self._picture)

    def on_resize(self) -> None:
        self._picture = None

    def render(self) -> Text:
        if self._picture is None:
            self._picture = self.picture()
            self._shown.record(self, self._picture)
        return self._picture

    def picture(self) -> Text:
        """The charts of the shown device, drawn now."""
        self.renders += 1
        device = self._fleet.devices.get(self.device_id) if self.device_id else None
        if device is None:
            return Text("Select a device to see its motion.", style="dim")
        if device.motion is None:
            return Text("No motion from this device yet (MQTT).", style="dim")
        # Setting a border subtitle repaints the whole pane, even to the same value.
        subtitle = "last known, age unknown" if device.motion_is_retained else ""
        if self.border_subtitle != subtitle:
            self.border_subtitle = subtitle
        width, height = self.content_size
        rows = max(height // len(SERIES), 1)
        cells = max(width - LABEL_WIDTH - VALUE_WIDTH, 1)
        text = Text(no_wrap=True, overflow="crop")
        for index, (name, colour) in enumerate(SERIES):
            ring = getattr(device, name)
            chart = line_chart(
                ring.values(),
                capacity=ring.capacity,
                cells=cells,
                rows=rows,
                ascii_only=self._ascii_only,
                style=colour,
            )
            for row, line in enumerate(chart):
                if index or row:
                    text.append("\n")
                if row == 0:
                    text.append(f"{name:<{LABEL_WIDTH}}", style=f"bold {colour}")
                    text.append_text(line)
                    degrees = math.degrees(getattr(device.motion, name))
                    text.append(f" {degrees:+7.1f}°")
                else:
                    text.append(" " * LABEL_WIDTH)
                    text.append_text(line)
        return text

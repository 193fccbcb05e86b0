"""Small text helpers shared by the panes: ages, degrees, sparklines, status glyphs."""

from __future__ import annotations

import math
from collections.abc import Sequence

from mwm_tui.domain.fleet import DeviceStatus

SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
STATUS_GLYPH = {
    DeviceStatus.ONLINE: "●",
    DeviceStatus.STALE: "◐",
    DeviceStatus.OFFLINE: "✕",
    DeviceStatus.UNKNOWN: "?",
}
# Offline is a bold red-on-white block, the loudest thing on a dark screen. NO_COLOR makes
# Textual map colours to greys by brightness: red ink alone would turn dim, a white block stays.
ALARM_STYLE = "bold #c00000 on #ffffff"
STATUS_STYLE = {
    DeviceStatus.ONLINE: "green",
    DeviceStatus.STALE: "yellow",
    DeviceStatus.OFFLINE: ALARM_STYLE,
    DeviceStatus.UNKNOWN: "bold magenta",
}


def age(seconds: float | None) -> str:
    """Compact age such as ``4s``, ``12m``, ``3h``, ``2d``; ``—`` when never seen live."""
    if seconds is None:
        return "—"
    # Whole seconds, as minutes and hours are: a truck reporting each second stays at 0s.
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m"
    if seconds < 86400:
        return f"{seconds // 3600:.0f}h"
    return f"{seconds // 86400:.0f}d"


def age_since(now: float, then: float | None) -> str:
    """``age`` of a clock time; ``—`` when there is none."""
    return age(None if then is None else now - then)


def degrees(radians: float | None) -> str:
    return "—" if radians is None else f"{math.degrees(radians):+.0f}°"


def sparkline(
    values: Sequence[float], width: int, low: float = -math.pi, high: float = math.pi
) -> str:
    """The last ``width`` values as block characters on a fixed range (values outside clip)."""
    if width <= 0:
        return ""
    tail = values[-width:]
    top = len(SPARK_BLOCKS) - 1
    span = high - low
    chars = []
    for value in tail:
        level = round((min(max(value, low), high) - low) / span * top)
        chars.append(SPARK_BLOCKS[level])
    return "".join(chars).rjust(width)

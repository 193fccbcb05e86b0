"""Partial screen updates render only the panes they touch, not every pane beside them.

For a partial update Textual 8 renders each widget whose container overlaps the box around all
dirty regions: an age ticking in the device list renders the status bar, the footer and every
pane of both columns again. ``install()`` leaves out of each partial update the widgets whose
visible part touches none of its dirty regions; they would add no cell to it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TypeVar

from textual.geometry import Region

from mwm_tui.compat import textual as textual_parts

Key = TypeVar("Key")


def touching(
    widgets: Mapping[Key, tuple[Region, Region]], dirty: Collection[Region]
) -> dict[Key, tuple[Region, Region]]:
    """The (region, clip) entries whose visible part overlaps one of the ``dirty`` regions."""
    kept = {}
    for widget, (region, clip) in widgets.items():
        visible = region.intersection(clip)
        for changed in dirty:
            if visible.overlaps(changed):
                kept[widget] = (region, clip)
                break
    return kept


def install() -> bool:
    """Make Textual's partial updates render only the widgets they touch; False if it cannot."""
    return textual_parts.cull_partial_updates(touching)

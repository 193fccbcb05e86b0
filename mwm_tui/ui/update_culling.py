"""Partial screen updates render only the panes they touch, not every pane beside them.

For a partial update Textual 8 renders each widget whose container overlaps the box around all
dirty regions: an age ticking in the device list renders the status bar, the footer and every
pane of both columns again. ``install()`` leaves out of each partial update the widgets whose
visible part touches none of its dirty regions; they would add no cell to it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region

Key = TypeVar("Key")
_PartialUpdate = Callable[[Compositor], ChopsUpdate | None]


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


def _has_expected_parts() -> bool:
    probe: Any = Compositor()
    return (
        isinstance(getattr(probe, "_dirty_regions", None), set)
        and hasattr(probe, "_visible_widgets")
        and isinstance(getattr(Compositor, "visible_widgets", None), property)
    )


def install() -> bool:
    """Make Textual's partial updates render only the widgets they touch; False if it cannot."""
    update: _PartialUpdate = Compositor.render_partial_update
    if getattr(update, "_culls", False):
        return True
    if not _has_expected_parts():
        return False

    def culled_update(self: Any) -> ChopsUpdate | None:
        if not self._dirty_regions:
            return update(self)
        cached = self._visible_widgets  # None until a render needs it: left as it was
        self.cuts  # noqa: B018 (made and kept now from every widget, not only the kept ones)
        kept = self._visible_widgets = touching(self.visible_widgets, self._dirty_regions)
        try:
            return update(self)
        finally:
            if self._visible_widgets is kept:  # unless something reset the map meanwhile
                self._visible_widgets = cached

    culled_update._culls = True  # type: ignore[attr-defined]
    culled_update.__wrapped__ = update  # type: ignore[attr-defined]
    Compositor.render_partial_update = culled_update  # type: ignore[method-assign]
    return True

"""Textual's private parts: the compositor's partial updates, a widget's dirty regions and
RichLog's line store.

Textual has no public hook for what a partial screen update renders and sends, nor for putting
lines above those a RichLog shows. These functions reach into ``textual._compositor`` and
RichLog's fields as Textual 8.2 has them; each checks its parts first and, when they are gone
or changed, leaves Textual as it is (the public behaviour) and says so.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import RichLog

Chops = Sequence[Mapping[int, Strip | None]]
Span = tuple[int, int, int]
ChopsTransform = Callable[[Chops, Sequence[Span], Sequence[Sequence[int]]], list[Any]]
# The (region, clip) of each visible widget, and the dirty regions: the entries to render.
WidgetCull = Callable[
    [Mapping[Any, tuple[Region, Region]], Collection[Region]], dict[Any, tuple[Region, Region]]
]

COMPOSITOR_MODULE = "textual._compositor"
# ChopsUpdate's arguments as Textual 8.2 names them; any other shape is left alone.
CHOPS_UPDATE_PARAMETERS = ["self", "chops", "spans", "chop_ends"]


def _compositor_part(name: str) -> Any:
    """``textual._compositor.<name>``, or None when the module or the name is gone."""
    try:
        module = importlib.import_module(COMPOSITOR_MODULE)
    except ImportError:
        return None
    return getattr(module, name, None)


def chops_update_problem() -> str | None:
    """None when ChopsUpdate takes (chops, spans, chop_ends); else what is wrong, by name."""
    chops_update = _compositor_part("ChopsUpdate")
    where = f"{COMPOSITOR_MODULE}.ChopsUpdate.__init__"
    if chops_update is None:
        return f"{where} is gone"
    parameters = list(inspect.signature(chops_update.__init__).parameters)
    if parameters != CHOPS_UPDATE_PARAMETERS:
        return f"{where} takes {parameters}, not {CHOPS_UPDATE_PARAMETERS}"
    return None


def transform_chops(transform: ChopsTransform) -> bool:
    """Pass the chops of every partial update through ``transform`` before Textual renders
    them; once only. False (and Textual left as it is) when ChopsUpdate is not as expected."""
    if chops_update_problem() is not None:
        return False
    chops_update = _compositor_part("ChopsUpdate")
    init = chops_update.__init__
    if getattr(init, "_crops_left", False):
        return True

    def transformed_init(
        self: Any, chops: Chops, spans: list[Span], chop_ends: list[list[int]]
    ) -> None:
        init(self, transform(chops, spans, chop_ends), spans, chop_ends)

    transformed_init._crops_left = True  # type: ignore[attr-defined]
    chops_update.__init__ = transformed_init
    return True


def partial_update_problem() -> str | None:
    """None when the Compositor has the parts ``cull_partial_updates`` uses; else which not."""
    compositor = _compositor_part("Compositor")
    where = f"{COMPOSITOR_MODULE}.Compositor"
    if compositor is None:
        return f"{where} is gone"
    if not callable(getattr(compositor, "render_partial_update", None)):
        return f"{where}.render_partial_update is gone"
    for name in ("visible_widgets", "cuts"):
        if not isinstance(getattr(compositor, name, None), property):
            return f"{where}.{name} is no longer a property"
    probe = compositor()
    if not isinstance(getattr(probe, "_dirty_regions", None), set):
        return f"{where}._dirty_regions is gone or no longer a set"
    if not hasattr(probe, "_visible_widgets"):
        return f"{where}._visible_widgets is gone"
    return None


def cull_partial_updates(keep: WidgetCull) -> bool:
    """Render in each partial update only the widgets ``keep`` picks from the visible ones
    and the dirty regions; once only. False (Textual left as it is) when the Compositor is not
    as expected."""
    if partial_update_problem() is not None:
        return False
    compositor = _compositor_part("Compositor")
    update: Callable[[Any], Any] = compositor.render_partial_update
    if getattr(update, "_culls", False):
        return True

    def culled_update(self: Any) -> Any:
        if not self._dirty_regions:
            return update(self)
        cached = self._visible_widgets  # None until a render needs it: left as it was
        self.cuts  # noqa: B018 (made and kept now from every widget, not only the kept ones)
        kept = self._visible_widgets = keep(self.visible_widgets, self._dirty_regions)
        try:
            return update(self)
        finally:
            if self._visible_widgets is kept:  # unless something reset the map meanwhile
                self._visible_widgets = cached

    culled_update._culls = True  # type: ignore[attr-defined]
    culled_update.__wrapped__ = update  # type: ignore[attr-defined]
    compositor.render_partial_update = culled_update
    return True


def rich_log_problem(log: RichLog) -> str | None:
    """None when ``log`` has the fields ``prepend_strips`` and ``size_known`` read; else which."""
    where = "textual.widgets.RichLog"
    if not isinstance(getattr(log, "_size_known", None), bool):
        return f"{where}._size_known is gone or no longer a bool"
    if not callable(getattr(getattr(log, "_line_cache", None), "clear", None)):
        return f"{where}._line_cache is gone or can no longer be cleared"
    if not isinstance(getattr(log, "_widest_line_width", None), int):
        return f"{where}._widest_line_width is gone or no longer an int"
    if not isinstance(getattr(log, "lines", None), list):
        return f"{where}.lines is gone or no longer a list"
    return None


def size_known(log: RichLog) -> bool:
    """Whether ``log`` knows its width (it holds written lines until then).

    False when that cannot be read: writing every line then is the public, always right path.
    """
    return rich_log_problem(log) is None and bool(log._size_known)


def prepend_strips(log: RichLog, strips: Sequence[Strip]) -> bool:
    """Put rendered lines above those ``log`` shows, keeping its sizes right; False (nothing
    done) when its fields are not as expected."""
    if rich_log_problem(log) is not None:
        return False
    log.lines[0:0] = strips
    log._line_cache.clear()
    widest = max((strip.cell_length for strip in strips), default=0)
    log._widest_line_width = max(log._widest_line_width, widest)
    log.virtual_size = Size(log._widest_line_width, len(log.lines))
    return True


def dirty_regions_problem(widget: Widget) -> str | None:
    """None when ``widget`` keeps its dirty regions in a set ``forget_dirty_regions`` empties."""
    if not isinstance(getattr(widget, "_dirty_regions", None), set):
        return "textual.widget.Widget._dirty_regions is gone or no longer a set"
    return None


def forget_dirty_regions(widget: Widget) -> None:
    """Empty the regions Textual keeps to repaint; nothing when it no longer keeps them so."""
    if dirty_regions_problem(widget) is None:
        widget._dirty_regions.clear()

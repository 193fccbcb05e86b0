"""The position map: plotext draws in a worker thread when dirty, on the app's map timer for
new fixes, sizes and selection, at once for the dispatcher's zoom, pan, fit, follow and filter."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Collection, Iterable

from rich.text import Text

from mwm_tui.domain.fleet import Device, Fleet
from mwm_tui.domain.geo import Viewport
from mwm_tui.domain.overlay import GeofenceWatch, Overlay
from mwm_tui.domain.text import literal
from mwm_tui.ui.map_render import Marker, render_map
from mwm_tui.ui.widgets.repaint import PictureWidget

_ZOOM_STEP = 1.5
_PAN_STEP = 0.2
_PAN = {
    "left": (-_PAN_STEP, 0.0),
    "right": (_PAN_STEP, 0.0),
    "up": (0.0, _PAN_STEP),
    "down": (0.0, -_PAN_STEP),
}


class PositionMap(PictureWidget, can_focus=True):
    def __init__(self, fleet: Fleet, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._fleet = fleet
        self.view: Viewport | None = None
        self.auto_fit = True
        self.follow = False
        self.selected: str | None = None
        self.dirty = True
        # A change the dispatcher made waits for no timer: drawn once the current draw is done.
        self._prompt = False
        self._drawing = threading.Lock()
        self._picture = Text("waiting for the first position…", style="dim")
        self.redraws = 0
        self.drawn_view: Viewport | None = None
        self._overlay: Overlay | None = None
        self._geofences: GeofenceWatch | None = None
        # Which devices to show: None for all; the app points it at the list's filter.
        self.shown_ids: Callable[[], Collection[str] | None] = lambda: None
        self._shown_last: frozenset[str] | None = None
        # Each device's label as drawn, made once per id (ids never change); drawing thread's.
        self._labels: dict[str, str] = {}
        # Counts the dispatcher's moves of the map: a view drawn before one is not kept.
        self._view_changes = 0

    @property
    def overlay(self) -> Overlay | None:
        """The operator's depots, zones and routes; its geofenced zones are watched."""
        return self._overlay

    @overlay.setter
    def overlay(self, overlay: Overlay | None) -> None:
        self._overlay = overlay
        watch = GeofenceWatch(overlay.zones) if overlay is not None else None
        self._geofences = watch if watch is not None and watch.zones else None
        self.dirty = True

    def geofence_lines(self, device_ids: Iterable[str]) -> list[tuple[str, str]]:
        """(device id, event line) for each of these trucks that entered or left a geofence."""
        if self._geofences is None:
            return []
        devices = self._fleet.devices
        fixes = [
            (device_id, device.position.lng, device.position.lat)
            for device_id in device_ids
            if (device := devices.get(device_id)) is not None and device.position is not None
        ]
        return [
            (
                crossing.device_id,
                f"{literal(crossing.device_id, 40)} "
                f"{'entered' if crossing.entered else 'left'} {literal(crossing.zone, 60)}",
            )
            for crossing in self._geofences.update_all(fixes)
        ]

    def on_mount(self) -> None:
        if getattr(self.app, "ascii_only", False):
            self._picture = Text("waiting for the first position...", style="dim")

    def on_resize(self) -> None:
        self.dirty = True

    def select(self, device_id: str | None) -> None:
        # Not at once: a key held down in the list would start a draw at every row.
        self.selected = device_id
        self.dirty = True

    def redraw_soon(self) -> None:
        """Draw as soon as the current draw is done: for what the dispatcher changed."""
        self.dirty = True
        self._prompt = True
        if self.is_mounted:
            self.call_later(self.redraw_if_dirty)

    def fit(self) -> None:
        """Fit the shown devices now, so a zoom right after it zooms the fitted view."""
        self._view_changes += 1
        self.auto_fit = True
        self.follow = False
        self.view = self._fitted_view()
        self.redraw_soon()

    def zoom(self, factor: float) -> None:
        self._view_changes += 1
        self.view = self._current_view().zoomed(factor)
        self.auto_fit = False
        self.redraw_soon()

    def toggle_follow(self) -> bool:
        self._view_changes += 1
        self.follow = not self.follow
        self.redraw_soon()
        return self.follow

    def pan(self, direction: str) -> None:
        if self.view is not None:
            self._view_changes += 1
            self.auto_fit = False
            self.follow = False
            self.view = self.view.panned(*_PAN[direction])
            self.redraw_soon()

    def _shown_devices(self) -> list[Device]:
        shown = self.shown_ids()
        devices = self._fleet.devices
        if shown is None:
            return list(devices.values())
        return [devices[i] for i in shown if i in devices]

    def _fitted_view(self, devices: list[Device] | None = None) -> Viewport:
        """The view that fits ``devices`` (the shown ones by default); the current one when
        none has a position (a filter that matches nothing leaves the map where it was)."""
        points = [
            (device.position.lng, device.position.lat)
            for device in (self._shown_devices() if devices is None else devices)
            if device.position is not None
        ]
        if not points and self.view is not None:
            return self.view
        return Viewport.fit(points)

    def _current_view(self, devices: list[Device] | None = None) -> Viewport:
        """The view to draw now: the dispatcher's, refitted while auto-fit is on, centred on
        the selected truck while following it. Reads the fleet, so also from the drawing
        thread, on the list of ``devices`` taken for it."""
        view = self.view
        if view is None:
            view = self._fitted_view(devices)
        elif self.auto_fit:
            view = view.refit(self._fitted_view(devices))
        device = self._fleet.devices.get(self.selected) if self.selected is not None else None
        if self.follow and device is not None and device.position is not None:
            view = view.centred_on(device.position.lng, device.position.lat)
        return view

    def redraw_if_dirty(self) -> None:
        """Called by the app's map timer and after the dispatcher's own changes. Here, on the
        UI thread, only the list of shown devices is taken; the view, the markers and the
        drawing are worked out on a thread of their own, at ten thousand trucks some 100 ms."""
        width, height = self.size.width, self.size.height
        shown = self.shown_ids()
        shown_now = None if shown is None else frozenset(shown)
        if shown_now != self._shown_last:
            self._shown_last = shown_now
            self.dirty = True
        if not self.dirty or width < 4 or height < 2 or not self._drawing.acquire(blocking=False):
            return
        self.dirty = self._prompt = False
        devices = self._shown_devices()
        selected = self.selected
        device = self._fleet.devices.get(selected) if selected is not None else None
        trail: list[tuple[float, float]] = []
        if device is not None and (shown is None or selected in shown):
            trail = [(lng, lat) for lat, lng in device.trail()]
        ascii_only = bool(getattr(self.app, "ascii_only", False))
        no_color = bool(self.app.no_color)
        changes = self._view_changes
        self.run_worker(
            lambda: self._draw(
                width,
                height,
                devices,
                changes,
                trail=trail,
                ascii_only=ascii_only,
                no_color=no_color,
            ),
            thread=True,
            group="map-draw",
        )

    def _markers(self, devices: list[Device], view: Viewport) -> list[Marker]:
        west, east, south, north = view.lon_min, view.lon_max, view.lat_min, view.lat_max
        selected, labels = self.selected, self._labels
        markers = []
        for device in devices:
            position = device.position
            if position is None:
                continue
            lon, lat = position.lng, position.lat
            if not (west <= lon <= east and south <= lat <= north):
                continue
            device_id = device.device_id
            label = labels.get(device_id)
            if label is None:
                label = labels[device_id] = literal(device_id, 24)
            markers.append(Marker(label, lon, lat, device.status.value, device_id == selected))
        return markers

    def _draw(
        self,
        width: int,
        height: int,
        devices: list[Device],
        changes: int,
        *,
        trail: list[tuple[float, float]],
        ascii_only: bool,
        no_color: bool,
    ) -> None:
        """On the drawing thread: the view, the markers in it, and the picture."""
        try:
            view = self._current_view(devices)
            picture = render_map(
                width,
                height,
                view,
                self._markers(devices, view),
                trail=trail,
                ascii_only=ascii_only,
                no_color=no_color,
                overlay=self.overlay,
            )
        finally:
            self._drawing.release()
        with contextlib.suppress(RuntimeError):  # the app quit while this frame was drawn
            self.app.call_from_thread(self._show, picture, view, changes)

    def _show(self, picture: Text, view: Viewport, changes: int) -> None:
        if changes == self._view_changes:  # else the dispatcher moved the map meanwhile
            self.view = view
        self._picture = picture
        self.drawn_view = view
        self.redraws += 1
        self._shown.repaint(self, picture)
        if self._prompt:
            self.redraw_if_dirty()

    def render(self) -> Text:
        return self._picture

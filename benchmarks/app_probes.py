"""The dashboard measured: the real app, headless, on real links.

``python -m benchmarks.app_probes KIND PARAMS_JSON``; started by ``run.py``.
"""

from __future__ import annotations

import asyncio
import gc
import math
import resource
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.segment import Segment
from textual import events
from textual._compositor import ChopsUpdate, CompositorUpdate, LayoutUpdate
from textual.geometry import Region
from textual.screen import Screen

from benchmarks.proc import IDLE_END, Params, cpu_seconds, main_of, report, window
from benchmarks.traffic import device_ids
from mwm_tui.adapters.heap import tune_malloc
from mwm_tui.adapters.supervisor import SupervisedLink
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain import codecs
from mwm_tui.domain.events import Event, LinkName, LinkState, LocationReceived, MotionReceived
from mwm_tui.domain.inbox import EventInbox
from mwm_tui.ui.app import MwmApp

SCREEN_SIZE = (120, 40)
# When this process had its imports done: start-up cost before create_app.
LOADED_AT = time.monotonic()


class GcPauses:
    """A ``gc.callbacks`` hook: the generation and the pause of each collection."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, int, float]] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            pause = time.perf_counter() - self._began
            self.pauses.append((time.monotonic(), info["generation"], pause))

    def summary(self, since: float, until: float) -> dict[str, Any]:
        window_ = [(gen, pause) for at, gen, pause in self.pauses if since <= at <= until]
        pauses = [pause for _, pause in window_]
        by_gen = [[pause for gen, pause in window_ if gen == g] for g in range(3)]
        return {
            "collections": len(window_),
            "gen2": len(by_gen[2]),
            "max_ms": max(pauses, default=0.0) * 1000,
            "total_ms": sum(pauses) * 1000,
            "over_10ms": sum(1 for pause in pauses if pause > 0.010),
            "count_by_gen": [len(p) for p in by_gen],
            "max_ms_by_gen": [max(p, default=0.0) * 1000 for p in by_gen],
        }


class Frames:
    """Wraps ``MwmApp._display``: every frame is also encoded to terminal bytes, and timed.

    Headless Textual composes each frame but skips the encoding a terminal driver does on the
    UI thread; doing it here keeps that cost in every measurement of the app.
    """

    def __init__(self, app: MwmApp) -> None:
        self.count = 0
        self.first_at: float | None = None
        self.watch: Callable[[CompositorUpdate, float], None] | None = None
        display = app._display

        def encoded_display(screen: Screen[Any], renderable: RenderableType | None) -> None:
            display(screen, renderable)
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
                now = time.monotonic()
                self.count += 1
                if self.first_at is None:
                    self.first_at = now
                if self.watch is not None:
                    self.watch(renderable, now)

        app._display = encoded_display  # type: ignore[method-assign]


def new_app(params: Params, *, tune_gc: bool = True) -> tuple[MwmApp, Frames]:
    settings = Settings(stomp=params["stomp_url"], mqtt=params["mqtt_url"])
    app = create_app(settings, tune_gc=tune_gc)
    return app, Frames(app)


async def links_up(app: MwmApp, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    links = (app.stomp_link, app.mqtt_link)
    while not all(isinstance(ln, SupervisedLink) and ln.state is LinkState.UP for ln in links):
        if time.monotonic() > deadline:
            raise RuntimeError("the app's links did not come up")
        await asyncio.sleep(0.02)


class DrainProbe:
    """Wraps the app's drain timer: after each tick, counts the telemetry handled so far.

    Handled = applied to the Fleet (``Fleet.accepted``) + coalesced away by the inbox.
    """

    def __init__(self, app: MwmApp, link: LinkName, target: int) -> None:
        self._app = app
        self._link = link
        self._target = target
        self._base = 0
        self.armed = False
        self.handled = 0
        self.progress_at = 0.0
        self.done_at: float | None = None
        self.cpu_at_done = 0.0
        self.max_pending = 0
        drain = app._drain

        def probed_drain() -> None:
            drain()
            self._after_drain()

        app._drain = probed_drain  # type: ignore[method-assign]

    def _raw(self) -> int:
        return self._app.fleet.accepted[self._link] + self._app.inbox.stats().coalesced

    def arm(self) -> None:
        self._base = self._raw()
        self.progress_at = time.monotonic()
        self.armed = True

    def _after_drain(self) -> None:
        if not self.armed or self.done_at is not None:
            return
        self.max_pending = max(self.max_pending, self._app.inbox.stats().pending)
        handled = self._raw() - self._base
        now = time.monotonic()
        if handled != self.handled:
            self.handled, self.progress_at = handled, now
        if handled >= self._target:
            self.done_at, self.cpu_at_done = now, cpu_seconds()


class FirstArrival(threading.Thread):
    """Polls the inbox every 0.5 ms until its first new event, then ends."""

    def __init__(self, inbox: EventInbox) -> None:
        super().__init__(daemon=True)
        self._inbox = inbox
        self._base = inbox.stats().received
        self._cancelled = threading.Event()
        self.at: float | None = None
        self.cpu = 0.0

    def run(self) -> None:
        while not self._cancelled.is_set():
            if self._inbox.stats().received > self._base:
                self.at, self.cpu = time.monotonic(), cpu_seconds()
                return
            time.sleep(0.0005)

    def cancel(self) -> None:
        self._cancelled.set()


async def pipeline(params: Params) -> None:
    """How fast a flood gets through links, inbox and drain timer into the Fleet."""
    target = int(params["messages"])
    link = LinkName.MQTT if params["protocol"] == "mqtt" else LinkName.STOMP
    app, frames = new_app(params, tune_gc=bool(params["tune_gc"]))
    probe = DrainProbe(app, link, target)
    pauses = GcPauses()
    async with app.run_test(size=SCREEN_SIZE):
        await links_up(app)
        gc.callbacks.append(pauses)
        probe.arm()
        first = FirstArrival(app.inbox)
        first.start()
        frames0 = frames.count
        report("READY")
        while probe.done_at is None:
            await asyncio.sleep(0.05)
            quiet = time.monotonic() - probe.progress_at
            if quiet > (IDLE_END if first.at is not None else 120):
                probe.cpu_at_done = cpu_seconds()
                break
        first.cancel()
        gc.callbacks.remove(pauses)
        began = first.at or 0.0
        ended = probe.done_at or probe.progress_at
        result: dict[str, Any] = window(probe.handled, began, ended, probe.cpu_at_done - first.cpu)
        result.update(
            coalesced=app.inbox.stats().coalesced,
            max_pending=probe.max_pending,
            devices=len(app.fleet.devices),
            frames=frames.count - frames0,
            gc=pauses.summary(began, ended),
        )
        report("RESULT", result)


def _cursor_text(segment: Segment, device_id: str) -> bool:
    style = segment.style
    if style is None or not style.reverse:
        return False
    # The id is one word of the segment (a row may be drawn as one segment or several).
    words = (word.rstrip("…") for word in segment.text.split())
    return any(len(word) >= 8 and device_id.startswith(word) for word in words)


def shows_cursor_on(update: CompositorUpdate, region: Region, device_id: str) -> bool:
    """Does this frame paint, on the lines of ``region``, ``device_id`` in the cursor style?"""

    def lines() -> Iterator[Any]:
        if isinstance(update, ChopsUpdate):
            for y in range(region.y, min(region.bottom, len(update.chops))):
                yield [strip for strip in update.chops[y].values() if strip is not None]
        elif isinstance(update, LayoutUpdate):
            top = update.region.y
            for y in range(max(region.y, top), min(region.bottom, top + len(update.strips))):
                yield update.strips[y - top]

    return any(
        _cursor_text(segment, device_id)
        for strips in lines()
        for strip in strips
        for segment in strip
    )


@dataclass
class _Press:
    before: str | None
    posted_at: float
    shown: threading.Event = field(default_factory=threading.Event)
    acted_at: float | None = None
    shown_at: float | None = None


class Typist(threading.Thread):
    """Presses ``j`` on a schedule from its own thread, as a terminal driver's input thread does.

    One press at a time: the next waits until the last is visible (or 2 s have passed).
    """

    def __init__(self, app: MwmApp, presses: int, spacing: float) -> None:
        super().__init__(daemon=True)
        self._app = app
        self._presses = presses
        self._spacing = spacing
        self.current: _Press | None = None
        self.done: list[_Press] = []
        self.missed = 0

    def run(self) -> None:
        began = time.monotonic()
        for index in range(self._presses):
            time.sleep(max(began + index * self._spacing - time.monotonic(), 0.0))
            press = _Press(self._app.device_list.selected, time.monotonic())
            self.current = press
            self._app.post_message(events.Key("j", "j"))
            if press.shown.wait(2.0):
                self.done.append(press)
            else:
                self.missed += 1
            self.current = None

    def acted(self) -> None:
        """Called on the UI thread when the list's cursor moves."""
        if self.current is not None and self.current.acted_at is None:
            self.current.acted_at = time.monotonic()

    def frame(self, update: CompositorUpdate, now: float) -> None:
        """Called on the UI thread with each frame."""
        press = self.current
        if press is None or press.shown.is_set():
            return
        device_list = self._app.device_list
        selected = device_list.selected
        if selected is None or selected == press.before:
            return
        if shows_cursor_on(update, device_list.content_region, selected):
            press.shown_at = now
            press.shown.set()


async def latency(params: Params) -> None:
    """Press ``j`` while a paced flood comes in; time each press until a frame shows it."""
    app, frames = new_app(params)
    pauses = GcPauses()
    typist = Typist(app, int(params["presses"]), float(params["spacing"]))
    async with app.run_test(size=SCREEN_SIZE):
        await links_up(app)
        cursor_down = app.device_list.action_cursor_down

        def timed_cursor_down() -> None:
            typist.acted()
            cursor_down()

        app.device_list.action_cursor_down = timed_cursor_down  # type: ignore[method-assign]
        report("READY")
        deadline = time.monotonic() + 60
        while len(app.fleet.devices) < int(params["devices"]):
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(app.fleet.devices)} devices after 60 s")
            await asyncio.sleep(0.05)
        await asyncio.sleep(float(params["settle"]))
        if app.focused is not app.device_list:
            raise RuntimeError(f"focus is on {app.focused!r}, not on the device list")
        frames.watch = typist.frame
        frames0 = frames.count
        gc.callbacks.append(pauses)
        fleet, inbox = app.fleet, app.inbox
        handled0 = sum(fleet.accepted.values()) + inbox.stats().coalesced
        coalesced0 = inbox.stats().coalesced
        began = time.monotonic()
        typist.start()
        while typist.is_alive():
            await asyncio.sleep(0.05)
        ended = time.monotonic()
        gc.callbacks.remove(pauses)
        handled = sum(fleet.accepted.values()) + inbox.stats().coalesced - handled0
        shown = [p for p in typist.done if p.shown_at is not None and p.acted_at is not None]
        report(
            "RESULT",
            {
                "delays_ms": [((p.shown_at or 0) - p.posted_at) * 1000 for p in shown],
                "queued_ms": [((p.acted_at or 0) - p.posted_at) * 1000 for p in shown],
                "missed": typist.missed,
                "frames_per_s": (frames.count - frames0) / (ended - began),
                "ingest_rate": handled / (ended - began),
                "coalesced": inbox.stats().coalesced - coalesced0,
                "devices": len(fleet.devices),
                "gc": pauses.summary(began, ended),
            },
        )


async def first_paint(params: Params) -> None:
    """Create the app (links to idle brokers) and wait for its first frame."""
    created = time.monotonic()
    app, frames = new_app(params)
    async with app.run_test(size=SCREEN_SIZE):
        deadline = time.monotonic() + 30
        while app.first_paint_at is None or frames.first_at is None:
            if time.monotonic() > deadline:
                raise RuntimeError("no first paint within 30 s")
            await asyncio.sleep(0.002)
        report(
            "RESULT",
            {
                "first_frame": frames.first_at - created,
                "first_paint_at": app.first_paint_at - created,
                "startup": LOADED_AT - float(params["launched_at"]),
                "from_launch": frames.first_at - float(params["launched_at"]),
            },
        )


def _vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fleet_events(count: int, history: int) -> Iterator[Event]:
    """Per device: one location with a parsed ``ts``, then ``history`` motion samples."""
    for n, device in enumerate(device_ids(count, seed=7)):
        ts = f"2014-03-5T10:12:{n % 60:02d}+01:00"
        # Each event holds its own copy of the id, as decoded messages do.
        position = codecs.Position(
            "".join(device), 48.8 + n * 1e-5, 2.29 + n * 1e-5, codecs.parse_timestamp(ts), ts
        )
        yield LocationReceived(position)
        for k in range(history):
            motion = codecs.Motion(math.sin(k), math.cos(k), k / history)
            yield MotionReceived("".join(device), motion)


async def fleet_rss(params: Params) -> None:
    """Fill the Fleet through the inbox and drain, redraw every pane, report peak RSS."""
    history = 50
    app, frames = new_app(params)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await links_up(app)
        before_mb = _vm_rss_mb()
        began = time.monotonic()
        for n, event in enumerate(fleet_events(int(params["devices"]), history), 1):
            app.inbox.put(event)
            if n % 20_000 == 0:
                while app.inbox.stats().pending > 2_000:
                    await asyncio.sleep(0.01)
        while app.inbox.stats().pending:
            await asyncio.sleep(0.01)
        fed = time.monotonic() - began
        redraws = app.position_map.redraws
        app.device_list.sync(force=True)
        app.position_map.dirty = True
        deadline = time.monotonic() + 60
        while app.position_map.redraws == redraws and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        frames0 = frames.count
        await pilot.press("j", "j", "j", "G", "g")
        await pilot.pause(0.5)
        report(
            "RESULT",
            {
                "devices": len(app.fleet.devices),
                "full_history": all(len(d.pitch) == history for d in app.fleet.devices.values()),
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_mb": _vm_rss_mb(),
                "rss_before_feed_mb": before_mb,
                "feed_s": fed,
                "frames": frames.count - frames0,
            },
        )


KINDS = {
    "pipeline": pipeline,
    "latency": latency,
    "first-paint": first_paint,
    "rss": fleet_rss,
}

if __name__ == "__main__":
    tune_malloc()  # as mwm-tui does before its links start
    main_of(KINDS)

"""What one repaint of the motion panel costs, on the real app at 120x40 (headless).

``python -m benchmarks.motion`` feeds the selected device one motion sample at a time, as the
MQTT link does, and times the panel drawing itself into screen lines after each: its charts,
its border, and in ASCII mode the app's ASCII filter; and the charts alone (``render``).
CPU time of the UI thread (``thread_time``) is the measure that other load does not inflate;
wall-clock times are given beside it.
Prints one JSON line per mode.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import time

from textual.geometry import Region

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import LocationReceived, MotionReceived
from tests.support.links import recording_links

SCREEN_SIZE = (120, 40)
UPDATES = 2_000
DEVICE = "truck-01"


def sample(step: int) -> Motion:
    return Motion(0.3 * math.sin(step / 7), 0.4 * math.cos(step / 5), math.sin(step / 20) * 3)


async def measure(ascii_only: bool) -> dict[str, object]:
    app = create_app(Settings(ascii=ascii_only), links=recording_links, tune_gc=False)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        app.inbox.put(LocationReceived(Position(DEVICE, 48.85, 2.35)))
        for step in range(50):
            app.inbox.put(MotionReceived(DEVICE, sample(step)))
        while app.motion_panel.device_id != DEVICE:
            await pilot.pause(0.05)
        panel = app.motion_panel
        fleet = app.fleet
        times = []
        cpu = []
        renders_before = panel.renders
        for step in range(50, 50 + UPDATES):
            fleet.apply(MotionReceived(DEVICE, sample(step)))
            began, began_cpu = time.perf_counter(), time.thread_time()
            panel.repaint()
            width, height = panel.outer_size
            lines = panel.render_lines(Region(0, 0, width, height))
            times.append(time.perf_counter() - began)
            cpu.append(time.thread_time() - began_cpu)
        assert panel.renders - renders_before == UPDATES, "a repaint was skipped"
        assert len(lines) == height
        # The panel's own part: its three charts as text, before Textual lays them out.
        charts = []
        for _ in range(UPDATES // 4):
            began_cpu = time.thread_time()
            panel.picture()
            charts.append(time.thread_time() - began_cpu)
        app.exit()
    times.sort()
    return {
        "mode": "ascii" if ascii_only else "braille",
        "panel": f"{width}x{height}",
        "updates": UPDATES,
        "cpu_median_ms": round(statistics.median(cpu) * 1000, 3),
        "median_ms": round(statistics.median(times) * 1000, 3),
        "p99_ms": round(times[int(len(times) * 0.99)] * 1000, 3),
        "max_ms": round(times[-1] * 1000, 3),
        "charts_cpu_median_ms": round(statistics.median(charts) * 1000, 3),
    }


def main() -> None:
    for ascii_only in (False, True):
        print(json.dumps(asyncio.run(measure(ascii_only))), flush=True)


if __name__ == "__main__":
    main()

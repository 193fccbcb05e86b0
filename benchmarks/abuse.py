"""Limits under abuse, measured on the real app (headless) fed as a flooding link feeds it.

``python -m benchmarks.abuse`` runs each probe in a fresh process and prints one JSON line each:

- ``ids``: 50,000 distinct valid ids at the default device limit: RSS, time to take them in,
  the first key's latency after, and CPU while idle after (from 20 s after the flood, once
  its trucks have gone stale). A key's latency is measured as in
  ``app_probes``: ``j`` posted from a thread of its own, until the first frame that paints the
  newly selected row in the cursor style; ``key_until_idle_ms`` is the older, coarser measure
  (Pilot's press, then until the app has been idle for 20 ms), kept for comparison.
- ``rejects``: 1,000,000 rejected messages: RSS before, at the peak and after; once with the
  inbox as it is and once with rejects never folded (every one queued, as before the limit).

A producer thread decodes each message with ``mqtt_event`` (what the MQTT link runs per message)
and puts the event in the app's inbox without waiting, as a link's thread does.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from benchmarks.app_probes import Frames, Typist
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.inbox import EventInbox
from mwm_tui.domain.messages import mqtt_event
from mwm_tui.ui.app import MwmApp
from tests.support.links import recording_links

SCREEN_SIZE = (120, 40)
MOTION = struct.pack(">ddd", 0.1, 0.2, 0.3)
# Seconds after the flood when CPU while idle is measured (for 5 s).
IDLE_FROM = 20.0


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def new_app(data_dir: str) -> MwmApp:
    return create_app(Settings(data_dir=data_dir), links=recording_links)


def flood_ids(app: MwmApp, count: int) -> threading.Thread:
    def run() -> None:
        for n in range(count):
            app.inbox.put(mqtt_event(f"/mwm/flood-{n:06d}/motion", MOTION))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def flood_rejects(app: MwmApp, count: int, peak: list[float]) -> threading.Thread:
    def run() -> None:
        for n in range(count):
            # A distinct topic each, as a hostile publisher would send: 23 bytes, refused.
            app.inbox.put(mqtt_event(f"/mwm/bad-{n:07d}/motion", MOTION[:23]))
            if n % 50_000 == 0:
                peak[0] = max(peak[0], rss_mb())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def settle(app: MwmApp, thread: threading.Thread) -> None:
    while thread.is_alive() or app.inbox.stats().pending:
        await asyncio.sleep(0.02)


async def shown_ms(app: MwmApp, frames: Frames, presses: int, spacing: float) -> list[float]:
    """Press ``j`` ``presses`` times from a thread: milliseconds from each post to its frame."""
    typist = Typist(app, presses, spacing)
    frames.watch = typist.frame
    typist.start()
    while typist.is_alive():
        await asyncio.sleep(0.01)
    frames.watch = None
    if typist.missed:
        raise RuntimeError(f"{typist.missed} presses never showed")
    return [((p.shown_at or 0.0) - p.posted_at) * 1000 for p in typist.done]


async def key_ms(app: MwmApp, pilot: Pilot[None]) -> float:
    """Press ``j``: milliseconds until the list's selection moved and a refresh ran."""
    selected = app.device_list.selected
    pressed = time.monotonic()
    await pilot.press("j")
    while app.device_list.selected == selected and time.monotonic() - pressed < 60:
        await asyncio.sleep(0.001)
    await pilot.pause()
    return (time.monotonic() - pressed) * 1000


async def ids_probe(data_dir: str) -> dict[str, Any]:
    app = new_app(data_dir)
    frames = Frames(app)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.pause(1.0)
        before = rss_mb()
        began = time.monotonic()
        await settle(app, flood_ids(app, 50_000))
        flood_ended = time.monotonic()
        taken_in = flood_ended - began
        first_key_ms = (await shown_ms(app, frames, 1, 0.0))[0]
        await pilot.pause(1.0)
        later_key_ms = (await shown_ms(app, frames, 1, 0.0))[0]
        await pilot.pause(1.0)
        until_idle_ms = await key_ms(app, pilot)
        await pilot.pause(1.0)
        presses = sorted(await shown_ms(app, frames, 40, 0.1))
        # Idle: past the flood's trucks going stale together (15 s), before offline (120 s).
        await asyncio.sleep(max(flood_ended + IDLE_FROM - time.monotonic(), 2.0))
        idle_began, cpu0 = time.monotonic(), cpu_s()
        await asyncio.sleep(5.0)
        idle_cpu = (cpu_s() - cpu0) / (time.monotonic() - idle_began)
        gc.collect()
        result = {
            "probe": "ids",
            "devices": len(app.fleet.devices),
            "refused": sum(app.fleet.rejected.values()),
            "rss_before_mb": before,
            "rss_after_mb": rss_mb(),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "taken_in_s": taken_in,
            "first_key_ms": first_key_ms,
            "key_ms_a_second_later": later_key_ms,
            "key_until_idle_ms": until_idle_ms,
            "keys_p50_ms": presses[len(presses) // 2],
            "keys_max_ms": presses[-1],
            "idle_cpu_cores": idle_cpu,
        }
        app.exit()
    return result


async def rejects_probe(data_dir: str, *, fold: bool) -> dict[str, Any]:
    app = new_app(data_dir)
    if not fold:
        app.inbox = EventInbox(reject_capacity=10**9)
    async with app.run_test(size=SCREEN_SIZE) as pilot:
        await pilot.pause(2.0)
        gc.collect()
        before = rss_mb()
        peak = [before]
        began = time.monotonic()
        await settle(app, flood_rejects(app, 1_000_000, peak))
        taken_in = time.monotonic() - began
        await pilot.pause(2.0)
        gc.collect()
        result = {
            "probe": "rejects" if fold else "rejects-unfolded",
            "counted": sum(app.fleet.rejected.values()),
            "rss_before_mb": before,
            "rss_peak_mb": max(peak[0], rss_mb()),
            "rss_after_mb": rss_mb(),
            "taken_in_s": taken_in,
        }
        app.exit()
    return result


def probe(kind: str) -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        if kind == "ids":
            result = asyncio.run(ids_probe(data_dir))
        else:
            result = asyncio.run(rejects_probe(data_dir, fold=kind == "rejects"))
    print(json.dumps(result))


def main() -> int:
    for kind in ("ids", "rejects", "rejects-unfolded"):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.abuse", kind],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        lines = done.stdout.strip().splitlines()
        print(
            lines[-1] if done.returncode == 0 and lines else f"{kind} failed: {done.stderr[-2000:]}"
        )
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        probe(sys.argv[1])
        sys.exit(0)
    sys.exit(main())

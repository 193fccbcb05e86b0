"""The map's redraw cost at 1,000 trucks, against the renderer of an earlier commit in one run.

``python -m benchmarks.map_redraw [--baseline COMMIT] [--reps N]`` loads ``map_render.py`` as it
was at COMMIT (default: 69481fd, before the map drew its context) next to today's, and times
``render_map`` of both, alternating, in this one process, on the same trucks:

- ``steady``: the same view, every truck moved a little each frame (the map timer's case:
  fixes arrive, the view stays): the base layer comes from the cache.
- ``new view``: a view not drawn before each frame (zoom or pan): nothing cached.

Today's renderer also draws place names, borders, legend, scale bar, clusters and a 20-fix
trail of the selected truck; the baseline draws coast and markers only. Prints one JSON line
per case, and a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mwm_tui.domain.geo import WORLD, Viewport
from mwm_tui.ui import map_render
from mwm_tui.ui.map_render import Marker

ROOT = Path(__file__).resolve().parents[1]
TRUCKS = 1_000
STATUSES = ("online",) * 17 + ("stale", "offline", "unknown")
SIZES = ((78, 22), (200, 60))
PARIS = Viewport.around(2.35, 48.86, 0.5, 0.3)
EUROPE = Viewport.around(10.0, 50.0, 40.0, 25.0)

Render = Callable[..., Any]


def baseline_module(commit: str) -> types.ModuleType:
    """``mwm_tui.ui.map_render`` as it was at ``commit``, loaded under a name of its own."""
    source = subprocess.run(
        ["git", "show", f"{commit}:mwm_tui/ui/map_render.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("baseline_map_render")
    module.__file__ = f"<{commit}:mwm_tui/ui/map_render.py>"
    sys.modules[module.__name__] = module  # dataclasses look their module up by name
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


# The last commit whose map drew coast and markers only, before places, borders and legend.
BASELINE_COMMIT = "69481fd"


def fleet(view: Viewport, rng: random.Random) -> list[tuple[str, float, float, str]]:
    lon, lat = view.centre
    return [
        (
            f"truck-{n:04d}",
            min(max(rng.gauss(lon, view.lon_span / 6), view.lon_min), view.lon_max),
            min(max(rng.gauss(lat, view.lat_span / 6), view.lat_min), view.lat_max),
            rng.choice(STATUSES),
        )
        for n in range(TRUCKS)
    ]


def markers_of(marker_type: Any, trucks: Sequence[tuple[str, float, float, str]]) -> list[Any]:
    return [
        marker_type(device_id, lon, lat, status, n == 0)
        for n, (device_id, lon, lat, status) in enumerate(trucks)
    ]


def moved(
    trucks: Sequence[tuple[str, float, float, str]], view: Viewport, rng: random.Random
) -> list[tuple[str, float, float, str]]:
    step_lon, step_lat = view.lon_span / 500, view.lat_span / 500
    return [
        (
            device_id,
            min(max(lon + rng.uniform(-step_lon, step_lon), view.lon_min), view.lon_max),
            min(max(lat + rng.uniform(-step_lat, step_lat), view.lat_min), view.lat_max),
            status,
        )
        for device_id, lon, lat, status in trucks
    ]


def time_case(
    baseline: types.ModuleType, view: Viewport, size: tuple[int, int], reps: int, *, steady: bool
) -> dict[str, Any]:
    rng = random.Random(7)
    trucks = fleet(view, rng)
    trail = [(lon, lat) for _, lon, lat, _ in trucks[:1]] * 2
    trail = [
        (trail[0][0] - i * view.lon_span / 200, trail[0][1] - i * view.lat_span / 300)
        for i in range(20)
    ][::-1]
    renders: dict[str, tuple[Render, Any, dict[str, Any]]] = {
        "baseline": (baseline.render_map, baseline.Marker, {}),
        "today": (map_render.render_map, Marker, {"trail": trail}),
    }
    timings: dict[str, list[float]] = {name: [] for name in renders}
    for render, marker_type, extra in renders.values():
        render(*size, view, markers_of(marker_type, trucks), **extra)  # warm: data loaded
    for rep in range(reps):
        trucks = moved(trucks, view, rng)
        frame_view = view if steady else view.panned(0.001 * (rep + 1), 0.0)
        order = list(renders.items())
        if rep % 2:
            order.reverse()
        for name, (render, marker_type, extra) in order:
            markers = markers_of(marker_type, trucks)
            began = time.perf_counter()
            render(*size, frame_view, markers, **extra)
            timings[name].append(time.perf_counter() - began)
    medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
    return {
        "view": "paris" if view is PARIS else "europe" if view is EUROPE else "world",
        "size": f"{size[0]}x{size[1]}",
        "case": "steady" if steady else "new view",
        "reps": reps,
        "baseline_ms": round(medians["baseline"], 2),
        "today_ms": round(medians["today"], 2),
        "ratio": round(medians["today"] / medians["baseline"], 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--baseline", help="commit of the renderer to compare with")
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args(argv)
    commit = args.baseline or BASELINE_COMMIT
    baseline = baseline_module(commit)
    rows = []
    for view in (PARIS, EUROPE, WORLD):
        for size in SIZES:
            for steady in (True, False):
                row = time_case(baseline, view, size, args.reps, steady=steady)
                print(json.dumps(row), flush=True)
                rows.append(row)
    print(f"\nbaseline: {commit}\n")
    print("| view | size | case | baseline ms | today ms | today / baseline |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['view']} | {row['size']} | {row['case']} | {row['baseline_ms']} | "
            f"{row['today_ms']} | {row['ratio']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

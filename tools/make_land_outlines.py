"""Convert world-atlas ``land-110m.json`` (TopoJSON) into mwm_tui's bundled land outlines.

Usage:
    python tools/make_land_outlines.py PATH/TO/package/land-110m.json [-o OUTPUT] [--decimals 2]

If a ``package.json`` sits next to the input, its version is recorded in the output's
``source`` field. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "mwm_tui" / "data" / "land_110m.json"

Position = tuple[float, float]


def decode_arcs(topology: dict[str, Any]) -> list[list[Position]]:
    """Absolute (lon, lat) positions of every arc, undoing quantization and delta encoding."""
    transform = topology.get("transform")
    arcs: list[list[Position]] = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        sx, sy = transform["scale"]
        tx, ty = transform["translate"]
        x = y = 0
        points: list[Position] = []
        for p in arc:
            x += p[0]
            y += p[1]
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_positions(
    arc_indices: Sequence[int], arcs: Sequence[Sequence[Position]]
) -> list[Position]:
    """Stitch one ring from arc indices; index ~i means arc i reversed."""
    ring: list[Position] = []
    for index in arc_indices:
        arc = list(arcs[~index])[::-1] if index < 0 else list(arcs[index])
        # Consecutive arcs share their joining point; keep it once.
        ring.extend(arc[1:] if ring else arc)
    return ring


def geometry_rings(
    geometry: dict[str, Any], arcs: Sequence[Sequence[Position]]
) -> list[list[Position]]:
    """All rings (outer and holes) of a Polygon, MultiPolygon or GeometryCollection."""
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        return [r for g in geometry["geometries"] for r in geometry_rings(g, arcs)]
    if kind == "Polygon":
        return [ring_positions(r, arcs) for r in geometry["arcs"]]
    if kind == "MultiPolygon":
        return [ring_positions(r, arcs) for poly in geometry["arcs"] for r in poly]
    return []


def _wrap_step(step: float) -> float:
    """The same longitude step taken the short way round, in -180..180."""
    return (step + 180.0) % 360.0 - 180.0


def unwrap(ring: Sequence[Position]) -> list[Position]:
    """Make longitudes continuous: a step of more than 180 degrees goes the short way round."""
    out: list[Position] = []
    for lon, lat in ring:
        out.append((out[-1][0] + _wrap_step(lon - out[-1][0]) if out else lon, lat))
    return out


def clip_band(polygon: Sequence[Position], lo: float, hi: float) -> list[Position]:
    """Sutherland-Hodgman clip of an open polygon to lo <= lon <= hi."""
    result = list(polygon)
    for edge, sign in ((lo, 1.0), (hi, -1.0)):
        source, result = result, []
        for i, cur in enumerate(source):
            prev = source[i - 1]
            cur_in = (cur[0] - edge) * sign >= 0
            prev_in = (prev[0] - edge) * sign >= 0
            if cur_in != prev_in:
                result.append(_at_lon(prev, cur, edge))
            if cur_in:
                result.append(cur)
    return result


def _at_lon(a: Position, b: Position, lon: float) -> Position:
    t = (lon - a[0]) / (b[0] - a[0])
    return (lon, a[1] + t * (b[1] - a[1]))


def _area(polygon: Sequence[Position]) -> float:
    pairs = zip(polygon, [*polygon[1:], polygon[0]], strict=True)
    return abs(sum(a[0] * b[1] - b[0] * a[1] for a, b in pairs)) / 2.0


def planar_rings(ring: Sequence[Position]) -> list[list[Position]]:
    """Cut a spherical ring at the antimeridian into planar rings within lon -180..180.

    world-atlas rings are spherical: a segment from 179 to -179 is 2 degrees long and
    Antarctica is a ring around the pole; drawn flat those become lines across the map.
    """
    if len(ring) < 2:
        return []
    points = unwrap(ring[:-1] if ring[0] == ring[-1] else ring)
    first_lon, first_lat = points[0]
    back_to_first = points[-1][0] + _wrap_step(first_lon - points[-1][0])
    if abs(back_to_first - first_lon) > 180.0:
        # The ring goes once round the globe, so it encloses a pole: close it over that pole.
        pole = -90.0 if sum(lat for _, lat in points) < 0 else 90.0
        points += [(back_to_first, first_lat), (back_to_first, pole), (first_lon, pole)]
    lons = [lon for lon, _ in points]
    out: list[list[Position]] = []
    shift_lo = int((min(lons) + 180.0) // 360.0)
    shift_hi = int((max(lons) + 180.0) // 360.0)
    for k in range(shift_lo, shift_hi + 1):
        offset = 360.0 * k
        piece = clip_band(points, -180.0 + offset, 180.0 + offset)
        if len(piece) >= 3 and _area(piece) > 1e-9:
            out.append([(lon - offset, lat) for lon, lat in piece])
    return out


def round_ring(ring: Sequence[Position], decimals: int) -> list[Position] | None:
    """Round, drop repeated points, keep the ring closed; None if it collapses."""
    out: list[Position] = []
    for lon, lat in ring:
        # Adding 0.0 turns -0.0 into 0.0.
        point = (round(lon, decimals) + 0.0, round(lat, decimals) + 0.0)
        if not out or out[-1] != point:
            out.append(point)
    if out and out[0] != out[-1]:
        out.append(out[0])
    if len(out) < 4:  # fewer than three distinct corners
        return None
    return out


def format_number(value: float) -> str:
    """Shortest JSON text for a rounded coordinate (``12`` rather than ``12.0``)."""
    return str(int(value)) if value.is_integer() else repr(value)


def render(rings: Sequence[Sequence[Position]], source: str) -> str:
    """The output document: one line per ring, so diffs stay readable."""
    lines = [
        "{",
        f'"source":{json.dumps(source)},',
        '"license":"public domain",',
        '"rings":[',
    ]
    body = [
        "[" + ",".join(f"{format_number(lon)},{format_number(lat)}" for lon, lat in ring) + "]"
        for ring in rings
    ]
    lines.append(",\n".join(body))
    lines.append("]}")
    return "\n".join(lines) + "\n"


def package_version(input_path: Path) -> str | None:
    manifest = input_path.parent / "package.json"
    if not manifest.is_file():
        return None
    version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    return str(version) if version else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("input", type=Path, help="world-atlas land-110m.json")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--decimals", type=int, default=2)
    parser.add_argument("--object", default="land", help="TopoJSON object to convert")
    args = parser.parse_args(argv)

    topology = json.loads(args.input.read_text(encoding="utf-8"))
    if topology.get("type") != "Topology":
        parser.error(f"{args.input} is not a TopoJSON Topology")
    arcs = decode_arcs(topology)
    raw = geometry_rings(topology["objects"][args.object], arcs)
    planar = [piece for ring in raw for piece in planar_rings(ring)]
    rings = [r for r in (round_ring(ring, args.decimals) for ring in planar) if r is not None]

    version = package_version(args.input)
    package = f"world-atlas@{version}" if version else "world-atlas"
    source = f"Natural Earth 1:110m land, via {package} {args.input.name}"
    text = render(rings, source)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    points = sum(len(r) for r in rings)
    print(
        f"{args.output}: {len(rings)} rings, {points} points, {len(text.encode())} bytes "
        f"(from {len(raw)} source rings)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Convert world-atlas ``countries-110m.json`` (TopoJSON) into mwm_tui's bundled land borders.

Usage:
    python tools/make_borders.py PATH/TO/package/countries-110m.json [-o OUTPUT] [--decimals 2]

A land border is an arc that two different countries share (coasts belong to one country
only); each is written as an open line of lon/lat pairs. Standard library only; the
TopoJSON decoding is the one in ``make_land_outlines.py`` beside this file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from make_land_outlines import decode_arcs, format_number, package_version, unwrap

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "mwm_tui" / "data" / "borders_110m.json"

Position = tuple[float, float]


def _arc_indices(nested: Any) -> Iterator[int]:
    if isinstance(nested, int):
        yield nested
    else:
        for item in nested:
            yield from _arc_indices(item)


def shared_arcs(countries: dict[str, Any]) -> list[int]:
    """Indices of the arcs used by two or more different countries, in index order."""
    users: dict[int, set[int]] = {}
    for number, geometry in enumerate(countries["geometries"]):
        for index in _arc_indices(geometry.get("arcs", [])):
            users.setdefault(index if index >= 0 else ~index, set()).add(number)
    return sorted(index for index, who in users.items() if len(who) > 1)


def rounded_line(line: Sequence[Position], decimals: int) -> list[Position] | None:
    out: list[Position] = []
    for lon, lat in unwrap(line):
        point = (round(lon, decimals) + 0.0, round(lat, decimals) + 0.0)
        if not out or out[-1] != point:
            out.append(point)
    return out if len(out) >= 2 else None


def render(lines: Sequence[Sequence[Position]], source: str) -> str:
    head = ["{", f'"source":{json.dumps(source)},', '"license":"public domain",', '"lines":[']
    body = [
        "[" + ",".join(f"{format_number(lon)},{format_number(lat)}" for lon, lat in line) + "]"
        for line in lines
    ]
    return "\n".join([*head, ",\n".join(body), "]}"]) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("input", type=Path, help="world-atlas countries-110m.json")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--decimals", type=int, default=2)
    args = parser.parse_args(argv)

    topology = json.loads(args.input.read_text(encoding="utf-8"))
    if topology.get("type") != "Topology":
        parser.error(f"{args.input} is not a TopoJSON Topology")
    arcs = decode_arcs(topology)
    shared = shared_arcs(topology["objects"]["countries"])
    lines = [
        line for line in (rounded_line(arcs[i], args.decimals) for i in shared) if line is not None
    ]
    # A border never crosses the antimeridian in Natural Earth; one that did would be dropped.
    lines = [line for line in lines if all(-180.0 <= lon <= 180.0 for lon, _ in line)]
    version = package_version(args.input)
    package = f"world-atlas@{version}" if version else "world-atlas"
    text = render(lines, f"Natural Earth 1:110m admin 0 countries, via {package} {args.input.name}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    points = sum(len(line) for line in lines)
    print(f"{args.output}: {len(lines)} lines, {points} points, {len(text.encode())} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

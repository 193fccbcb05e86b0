"""The bundled Natural Earth outlines: land rings and country borders, loaded once."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from .viewport import Ring


def _load_outlines(file_name: str, key: str) -> tuple[Ring, ...]:
    """The flat ``[lon1, lat1, lon2, lat2, ...]`` lists under ``key`` in a bundled data file."""
    resource = resources.files("mwm_tui") / "data" / file_name
    document = json.loads(resource.read_text(encoding="utf-8"))
    outlines: list[Ring] = []
    for flat in document[key]:
        if len(flat) % 2:
            raise ValueError(f"{file_name}: an outline has an odd number of coordinates")
        values = [float(v) for v in flat]
        outlines.append(tuple(zip(values[0::2], values[1::2], strict=True)))
    return tuple(outlines)


@cache
def load_land_rings() -> tuple[Ring, ...]:
    """Natural Earth 1:110m land outlines as closed rings of (lon, lat), loaded once."""
    return _load_outlines("land_110m.json", "rings")


@cache
def load_border_lines() -> tuple[Ring, ...]:
    """Natural Earth 1:110m land borders between countries as open lines of (lon, lat)."""
    return _load_outlines("borders_110m.json", "lines")

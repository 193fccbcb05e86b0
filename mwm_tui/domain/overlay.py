"""The operator's own map: depots (points), zones (polygons) and routes (lines) from GeoJSON.

A zone whose properties say ``"geofence": true`` is watched: a truck entering or leaving it
is an event. Pure: the caller reads the file and hands its text here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from mwm_tui.domain.bounded_json import JsonError, loads_bounded
from mwm_tui.domain.geo import Point

__all__ = [
    "Depot",
    "GeofenceCrossing",
    "GeofenceWatch",
    "Overlay",
    "OverlayError",
    "Route",
    "Zone",
    "parse_overlay",
]

# Points (positions) all overlay files may hold together: each costs map drawing and geofence
# checks at every fix. ``--overlay-max-points`` sets it.
DEFAULT_MAX_POINTS = 100_000
# A GeoJSON document's text, and its nesting (a MultiPolygon in a collection is 7 deep).
MAX_CHARS = 64 * 1024 * 1024
MAX_DEPTH = 32


class OverlayError(ValueError):
    """A GeoJSON file that cannot be drawn, with one line naming the file and the fault."""


@dataclass(frozen=True, slots=True)
class Depot:
    name: str
    lon: float
    lat: float


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    points: tuple[Point, ...]


@dataclass(frozen=True, slots=True)
class Zone:
    """A polygon: its outer ring first, then its holes, each closed."""

    name: str
    rings: tuple[tuple[Point, ...], ...]
    geofence: bool = False

    def contains(self, lon: float, lat: float) -> bool:
        """Inside the outer ring and outside every hole (even-odd rule)."""
        inside = False
        for ring in self.rings:
            if _in_ring(ring, lon, lat):
                inside = not inside
        return inside


@dataclass(frozen=True, slots=True, eq=False)
class Overlay:
    """Everything from the operator's files; compared by identity, as the map caches by it."""

    source: str
    depots: tuple[Depot, ...] = ()
    routes: tuple[Route, ...] = ()
    zones: tuple[Zone, ...] = ()

    def point_count(self) -> int:
        """Positions in all: what ``--overlay-max-points`` counts."""
        lines = sum(len(route.points) for route in self.routes)
        return (
            len(self.depots) + lines + sum(len(ring) for zone in self.zones for ring in zone.rings)
        )

    def merged(self, other: Overlay) -> Overlay:
        return Overlay(
            f"{self.source}, {other.source}" if self.source else other.source,
            self.depots + other.depots,
            self.routes + other.routes,
            self.zones + other.zones,
        )


def _in_ring(ring: Sequence[Point], lon: float, lat: float) -> bool:
    inside = False
    for (x0, y0), (x1, y1) in zip(ring, [*ring[1:], ring[0]], strict=True):
        if (y0 > lat) != (y1 > lat) and lon < x0 + (lat - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


class _Budget:
    """Points left to take; past them, one OverlayError naming the feature that went over."""

    def __init__(self, points: int, already: int) -> None:
        self.limit, self.left = points, points - already

    def take(self, count: int, at: str) -> None:
        self.left -= count
        if self.left < 0:
            raise OverlayError(
                f"{at}: over {self.limit:,} points in all (--overlay-max-points; "
                "a simpler outline, or a higher limit)"
            )


def parse_overlay(
    text: str, source: str, *, max_points: int = DEFAULT_MAX_POINTS, already: int = 0
) -> Overlay:
    """Depots, routes and zones from a GeoJSON document, with ``already`` positions from other
    files at most ``max_points`` in all; OverlayError names the file, the place and the fault."""
    try:
        document = loads_bounded(text, max_chars=MAX_CHARS, max_depth=MAX_DEPTH)
    except JsonError as error:
        raise OverlayError(f"{source}: {error}") from None
    budget = _Budget(max_points, already)
    depots: list[Depot] = []
    routes: list[Route] = []
    zones: list[Zone] = []
    for where, geometry, properties in _features(document, source):
        name = _name(properties)
        geofence = properties.get("geofence") is True
        for kind, coordinates in _simple_geometries(geometry, f"{source}: {where}"):
            at = f"{source}: {where}"
            if kind == "Point":
                budget.take(1, at)
                lon, lat = _position(coordinates, at)
                depots.append(Depot(name, lon, lat))
            elif kind == "LineString":
                routes.append(Route(name, _line(coordinates, at, least=2, budget=budget)))
            else:
                if not isinstance(coordinates, list) or not coordinates:
                    raise OverlayError(f"{at}: a Polygon needs at least one ring")
                rings = tuple(_ring(ring, at, budget) for ring in coordinates)
                zones.append(Zone(name, rings, geofence))
    return Overlay(source, tuple(depots), tuple(routes), tuple(zones))


def _features(document: Any, source: str) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    if not isinstance(document, dict):
        raise OverlayError(f"{source}: not a GeoJSON object (it is a {type(document).__name__})")
    kind = document.get("type")
    if kind == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise OverlayError(f"{source}: a FeatureCollection needs a list of features")
        for number, feature in enumerate(features, 1):
            yield from _feature(feature, f"feature {number}", source)
    elif kind == "Feature":
        yield from _feature(document, "feature 1", source)
    else:
        yield "geometry", document, {}


def _feature(feature: Any, where: str, source: str) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise OverlayError(f"{source}: {where}: not a Feature")
    properties = feature.get("properties") or {}
    if not isinstance(properties, dict):
        raise OverlayError(f"{source}: {where}: properties must be an object")
    geometry = feature.get("geometry")
    if geometry is not None:  # a Feature without geometry is allowed and draws nothing
        yield where, geometry, properties


def _simple_geometries(geometry: Any, at: str) -> Iterator[tuple[str, Any]]:
    """(Point | LineString | Polygon, coordinates) pairs; Multi* and collections unpacked."""
    if not isinstance(geometry, dict):
        raise OverlayError(f"{at}: geometry must be an object")
    kind = geometry.get("type")
    if kind == "GeometryCollection":
        members = geometry.get("geometries")
        if not isinstance(members, list):
            raise OverlayError(f"{at}: a GeometryCollection needs a list of geometries")
        for member in members:
            yield from _simple_geometries(member, at)
        return
    if kind not in _KINDS:
        raise OverlayError(f"{at}: unknown geometry type {kind!r}")
    coordinates = geometry.get("coordinates")
    if kind.startswith("Multi"):
        if not isinstance(coordinates, list):
            raise OverlayError(f"{at}: {kind} coordinates must be a list")
        for part in coordinates:
            yield kind[5:], part
    else:
        yield kind, coordinates


_KINDS = frozenset(
    {"Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"}
)


def _position(value: Any, at: str) -> Point:
    if (
        not isinstance(value, list)
        or len(value) < 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value[:2])
    ):
        raise OverlayError(f"{at}: a position must be [longitude, latitude], got {value!r:.60}")
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise OverlayError(f"{at}: position {value!r:.60} is not finite")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise OverlayError(
            f"{at}: position [{lon}, {lat}] is off the globe "
            "(GeoJSON is [longitude, latitude]: are they swapped?)"
        )
    return lon, lat


def _line(value: Any, at: str, *, least: int, budget: _Budget) -> tuple[Point, ...]:
    if not isinstance(value, list) or len(value) < least:
        raise OverlayError(f"{at}: a line needs at least {least} positions")
    budget.take(len(value), at)
    return tuple(_position(item, at) for item in value)


def _ring(value: Any, at: str, budget: _Budget) -> tuple[Point, ...]:
    ring = _line(value, at, least=4, budget=budget)
    if ring[0] != ring[-1]:
        raise OverlayError(f"{at}: a polygon ring must end where it starts")
    return ring


def _name(properties: dict[str, Any]) -> str:
    name = properties.get("name", properties.get("title", ""))
    return " ".join(str(name).split()) if name is not None else ""


@dataclass(frozen=True, slots=True)
class GeofenceCrossing:
    device_id: str
    zone: str
    entered: bool


@dataclass
class GeofenceWatch:
    """Which geofenced zones each truck is in; a fix that changes that is a crossing.

    A truck's first fix sets where it is and is no crossing: HQ did not see it arrive.
    """

    zones: Sequence[Zone]
    _inside: dict[str, frozenset[int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.zones = [zone for zone in self.zones if zone.geofence]

    def update(self, device_id: str, lon: float, lat: float) -> list[GeofenceCrossing]:
        now = frozenset(i for i, zone in enumerate(self.zones) if zone.contains(lon, lat))
        before = self._inside.get(device_id)
        self._inside[device_id] = now
        if before is None or before == now:
            return []
        return [GeofenceCrossing(device_id, self._label(i), i in now) for i in sorted(before ^ now)]

    def update_all(self, fixes: Iterable[tuple[str, float, float]]) -> list[GeofenceCrossing]:
        return [crossing for fix in fixes for crossing in self.update(*fix)]

    def _label(self, index: int) -> str:
        return self.zones[index].name or f"zone {index + 1}"

"""The visible lon/lat window: its bounds, zoom, pan and fit, within the whole world.

Coordinates are plain (lon, lat) degrees in an unprojected (equirectangular) plane;
the antimeridian is a hard edge, so a view never wraps from 180 to -180.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

Point = tuple[float, float]
Ring = tuple[Point, ...]

LON_MIN: Final = -180.0
LON_MAX: Final = 180.0
LAT_MIN: Final = -90.0
LAT_MAX: Final = 90.0
WORLD_LON_SPAN: Final = LON_MAX - LON_MIN
WORLD_LAT_SPAN: Final = LAT_MAX - LAT_MIN
MIN_SPAN: Final = 0.001
"""Smallest width or height (degrees) a view can be zoomed to: about 100 m."""
REFIT_SHARE: Final = 0.75
"""An auto-fitted view is kept while a fresh fit fills at least this share of each span."""


def clamp(value: float, low: float, high: float) -> float:
    """``value`` limited to low..high."""
    return low if value < low else high if value > high else value


def _require_finite(**values: float) -> None:
    for name, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"{name} must be finite, got {value!r}")


@dataclass(frozen=True)
class Viewport:
    """The lon/lat rectangle shown on the map; borders are inclusive."""

    lon_min: float
    lon_max: float
    lat_min: float
    lat_max: float

    def __post_init__(self) -> None:
        _require_finite(
            lon_min=self.lon_min, lon_max=self.lon_max, lat_min=self.lat_min, lat_max=self.lat_max
        )
        if not (self.lon_min < self.lon_max and self.lat_min < self.lat_max):
            raise ValueError(f"empty viewport: {self}")

    @property
    def lon_span(self) -> float:
        return self.lon_max - self.lon_min

    @property
    def lat_span(self) -> float:
        return self.lat_max - self.lat_min

    @property
    def centre(self) -> Point:
        return ((self.lon_min + self.lon_max) / 2.0, (self.lat_min + self.lat_max) / 2.0)

    def contains(self, lon: float, lat: float) -> bool:
        """Whether (lon, lat) is inside or on the border; NaN never is."""
        return self.lon_min <= lon <= self.lon_max and self.lat_min <= lat <= self.lat_max

    @classmethod
    def around(cls, lon: float, lat: float, lon_span: float, lat_span: float) -> Viewport:
        """A view of the given size centred as close to (lon, lat) as the world allows.

        Spans are limited to MIN_SPAN..whole world; the view is shifted, not shrunk,
        to keep it inside lon -180..180 and lat -90..90.
        """
        _require_finite(lon=lon, lat=lat, lon_span=lon_span, lat_span=lat_span)
        lon_span = clamp(lon_span, MIN_SPAN, WORLD_LON_SPAN)
        lat_span = clamp(lat_span, MIN_SPAN, WORLD_LAT_SPAN)
        lon_min = clamp(lon - lon_span / 2.0, LON_MIN, LON_MAX - lon_span)
        lat_min = clamp(lat - lat_span / 2.0, LAT_MIN, LAT_MAX - lat_span)
        return cls(
            lon_min, min(lon_min + lon_span, LON_MAX), lat_min, min(lat_min + lat_span, LAT_MAX)
        )

    def zoomed(self, factor: float) -> Viewport:
        """Zoom about the centre: factor > 1 zooms in, < 1 zooms out.

        Zooming in keeps the aspect ratio and stops at MIN_SPAN on the narrower side;
        zooming out stops at the whole world on each axis separately.
        """
        _require_finite(factor=factor)
        if factor <= 0:
            raise ValueError(f"zoom factor must be positive, got {factor!r}")
        if factor > 1.0:
            narrower = min(self.lon_span, self.lat_span)
            if narrower <= MIN_SPAN * (1.0 + 1e-9):
                # Already fully zoomed in; recomputing would only add rounding drift.
                return self if narrower >= MIN_SPAN * (1.0 - 1e-9) else self.zoomed(1.0)
            factor = min(factor, narrower / MIN_SPAN)
        lon, lat = self.centre
        return Viewport.around(lon, lat, self.lon_span / factor, self.lat_span / factor)

    def panned(self, dx_fraction: float, dy_fraction: float) -> Viewport:
        """Move by fractions of the span (positive: east, north), stopping at the world's edge."""
        _require_finite(dx_fraction=dx_fraction, dy_fraction=dy_fraction)
        lon, lat = self.centre
        return Viewport.around(
            lon + dx_fraction * self.lon_span,
            lat + dy_fraction * self.lat_span,
            self.lon_span,
            self.lat_span,
        )

    def centred_on(self, lon: float, lat: float) -> Viewport:
        """Same size, centred on (lon, lat) or as near as the world's edge allows."""
        return Viewport.around(lon, lat, self.lon_span, self.lat_span)

    def refit(self, fitted: Viewport, least_share: float = REFIT_SHARE) -> Viewport:
        """This view while it holds ``fitted`` and ``fitted`` fills ``least_share`` of each
        span; otherwise ``fitted``. An auto-fit kept this way stands still while trucks move."""
        holds = (
            self.lon_min <= fitted.lon_min
            and fitted.lon_max <= self.lon_max
            and self.lat_min <= fitted.lat_min
            and fitted.lat_max <= self.lat_max
        )
        filled = (
            fitted.lon_span >= least_share * self.lon_span
            and fitted.lat_span >= least_share * self.lat_span
        )
        return self if holds and filled else fitted

    @classmethod
    def fit(
        cls,
        points: Iterable[Point],
        margin_fraction: float = 0.1,
        min_span: float = 0.01,
    ) -> Viewport:
        """The smallest view showing every point, plus a margin on each side.

        margin_fraction is of the points' extent, per side; each span is at least min_span
        (so one point gives a min_span square around it). Non-finite points are skipped,
        points beyond the world count as on its edge, and with no usable points the result
        is WORLD. A fleet straddling the antimeridian gets the whole width: the map does
        not wrap.
        """
        _require_finite(margin_fraction=margin_fraction, min_span=min_span)
        if margin_fraction < 0:
            raise ValueError(f"margin_fraction must not be negative, got {margin_fraction!r}")
        if min_span <= 0:
            raise ValueError(f"min_span must be positive, got {min_span!r}")
        lons, lats = _finite_columns(points)
        if not lons:
            return WORLD
        lon_lo, lon_hi, lat_lo, lat_hi = min(lons), max(lons), min(lats), max(lats)
        lon_lo, lon_hi = clamp(lon_lo, LON_MIN, LON_MAX), clamp(lon_hi, LON_MIN, LON_MAX)
        lat_lo, lat_hi = clamp(lat_lo, LAT_MIN, LAT_MAX), clamp(lat_hi, LAT_MIN, LAT_MAX)
        lon_span = max((lon_hi - lon_lo) * (1.0 + 2.0 * margin_fraction), min_span)
        lat_span = max((lat_hi - lat_lo) * (1.0 + 2.0 * margin_fraction), min_span)
        view = cls.around((lon_lo + lon_hi) / 2.0, (lat_lo + lat_hi) / 2.0, lon_span, lat_span)
        # Rounding in the centre/span arithmetic must not cut off an extreme point.
        return cls(
            min(view.lon_min, lon_lo),
            max(view.lon_max, lon_hi),
            min(view.lat_min, lat_lo),
            max(view.lat_max, lat_hi),
        )


WORLD: Final = Viewport(LON_MIN, LON_MAX, LAT_MIN, LAT_MAX)


def _finite_columns(points: Iterable[Point]) -> tuple[list[float], list[float]]:
    """Longitudes and latitudes of the points whose both coordinates are finite."""
    pairs = list(points)
    lons = [lon for lon, _ in pairs]
    lats = [lat for _, lat in pairs]
    # A finite sum means no inf or NaN among the terms (one overflow sends it the slow way).
    if math.isfinite(sum(lons) + sum(lats)):
        return lons, lats
    kept = [(lon, lat) for lon, lat in pairs if math.isfinite(lon) and math.isfinite(lat)]
    return [lon for lon, _ in kept], [lat for _, lat in kept]

"""Map geometry: the visible lon/lat window, bundled outlines and places, clipping, and the
view's grid of cells, as one import.

Coordinates are plain (lon, lat) degrees in an unprojected (equirectangular) plane;
the antimeridian is a hard edge, so a view never wraps from 180 to -180.
"""

from .cells import EARTH_KM_PER_DEGREE, cell_of, cells_of, scale_bar
from .clipping import clip_lines, clip_rings, visible_points
from .clustering import Cluster, cluster_points
from .labels import PlacedLabel, pick_places
from .outlines import load_border_lines, load_land_rings
from .places import Place, PlaceIndex, load_places, place_index, rank_places
from .viewport import (
    LAT_MAX,
    LAT_MIN,
    LON_MAX,
    LON_MIN,
    MIN_SPAN,
    REFIT_SHARE,
    WORLD,
    WORLD_LAT_SPAN,
    WORLD_LON_SPAN,
    Point,
    Ring,
    Viewport,
)

__all__ = [
    "EARTH_KM_PER_DEGREE",
    "LAT_MAX",
    "LAT_MIN",
    "LON_MAX",
    "LON_MIN",
    "MIN_SPAN",
    "REFIT_SHARE",
    "WORLD",
    "WORLD_LAT_SPAN",
    "WORLD_LON_SPAN",
    "Cluster",
    "Place",
    "PlaceIndex",
    "PlacedLabel",
    "Point",
    "Ring",
    "Viewport",
    "cell_of",
    "cells_of",
    "clip_lines",
    "clip_rings",
    "cluster_points",
    "load_border_lines",
    "load_land_rings",
    "load_places",
    "pick_places",
    "place_index",
    "rank_places",
    "scale_bar",
    "visible_points",
]

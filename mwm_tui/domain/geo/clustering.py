"""Dense groups of points drawn as one count: buckets of cells with enough points in them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .cells import cells_of
from .viewport import Point, Viewport


@dataclass(frozen=True, slots=True)
class Cluster:
    """Several points drawn as one count: where it sits and which points it stands for."""

    lon: float
    lat: float
    members: tuple[int, ...]


def cluster_points(
    points: Sequence[Point],
    view: Viewport,
    columns: int,
    rows: int,
    *,
    bucket: tuple[int, int] = (6, 3),
    least: int = 4,
) -> tuple[list[Cluster], list[int]]:
    """Group points by buckets of cells: buckets of ``least`` or more become a cluster.

    Returns the clusters (at their members' mean position) and the indices of the points
    left on their own, in their original order.
    """
    bucket_cols, bucket_rows = bucket
    groups: dict[tuple[int, int], list[int]] = {}
    for index, (col, row) in enumerate(cells_of(view, columns, rows, points)):
        groups.setdefault((col // bucket_cols, row // bucket_rows), []).append(index)
    clusters: list[Cluster] = []
    alone: list[int] = []
    for members in groups.values():
        if len(members) >= least:
            lon = sum(points[i][0] for i in members) / len(members)
            lat = sum(points[i][1] for i in members) / len(members)
            clusters.append(Cluster(lon, lat, tuple(members)))
        else:
            alone.extend(members)
    alone.sort()
    return clusters, alone

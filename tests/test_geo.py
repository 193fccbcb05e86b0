"""Map data, the viewport, clipping, and the pure parts of drawing: places, scale, clusters."""

from __future__ import annotations

import itertools
import json
import math
import random
import time
from importlib import resources
from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mwm_tui.domain.geo import (
    LON_MAX,
    LON_MIN,
    MIN_SPAN,
    WORLD,
    Place,
    PlaceIndex,
    Point,
    Viewport,
    cell_of,
    cells_of,
    clip_lines,
    clip_rings,
    clipping,
    cluster_points,
    load_border_lines,
    load_land_rings,
    load_places,
    pick_places,
    place_index,
    rank_places,
    scale_bar,
    visible_points,
)

# --- bundled data -----------------------------------------------------------------------


def test_land_data_loads_as_many_closed_rings_within_world_bounds() -> None:
    rings = load_land_rings()
    assert len(rings) > 100
    for ring in rings:
        assert len(ring) >= 4
        assert ring[0] == ring[-1]
        for lon, lat in ring:
            assert -180.0 <= lon <= 180.0
            assert -90.0 <= lat <= 90.0


def test_land_data_is_cached() -> None:
    assert load_land_rings() is load_land_rings()


def test_land_data_is_small_documented_public_domain_json() -> None:
    resource = resources.files("mwm_tui") / "data" / "land_110m.json"
    raw = resource.read_bytes()
    assert len(raw) < 200_000
    document = json.loads(raw)
    assert document["license"] == "public domain"
    assert "Natural Earth" in document["source"]
    assert all(len(flat) % 2 == 0 for flat in document["rings"])


def test_land_data_has_no_lines_across_the_antimeridian() -> None:
    # A longitude jump of half the world would draw a line straight across the map;
    # only Antarctica's closing edge along the South Pole may run that far.
    for ring in load_land_rings():
        for (lon0, lat0), (lon1, lat1) in itertools.pairwise(ring):
            assert abs(lon1 - lon0) < 180.0 or lat0 == lat1 == -90.0


def test_land_data_looks_like_the_world() -> None:
    rings = load_land_rings()

    def near(lon: float, lat: float, tolerance: float = 3.0) -> bool:
        return any(
            abs(x - lon) <= tolerance and abs(y - lat) <= tolerance for r in rings for x, y in r
        )

    assert near(-5.5, 36.0)  # Strait of Gibraltar
    assert near(151.2, -33.9)  # Sydney
    assert near(-74.0, 40.7)  # New York
    assert not near(-30.0, 0.0, tolerance=1.0)  # mid Atlantic


# --- Viewport ---------------------------------------------------------------------------


def test_world_is_the_whole_globe() -> None:
    assert (WORLD.lon_min, WORLD.lon_max, WORLD.lat_min, WORLD.lat_max) == (-180, 180, -90, 90)
    assert WORLD.contains(-180, -90)
    assert WORLD.contains(180, 90)
    assert not WORLD.contains(180.01, 0)


def test_viewport_rejects_empty_or_non_finite_bounds() -> None:
    with pytest.raises(ValueError):
        Viewport(10, 10, 0, 1)
    with pytest.raises(ValueError):
        Viewport(0, 1, 5, -5)
    with pytest.raises(ValueError):
        Viewport(0, math.nan, 0, 1)


def test_contains_includes_the_border_and_excludes_nan() -> None:
    view = Viewport(0, 10, 40, 50)
    assert view.contains(0, 40)
    assert view.contains(10, 50)
    assert view.contains(5, 45)
    assert not view.contains(-0.001, 45)
    assert not view.contains(5, 50.001)
    assert not view.contains(math.nan, 45)


def test_zoom_in_and_out_about_the_centre() -> None:
    view = Viewport(0, 20, 40, 50)
    zoomed = view.zoomed(2)
    assert zoomed.centre == pytest.approx(view.centre)
    assert zoomed.lon_span == pytest.approx(10)
    assert zoomed.lat_span == pytest.approx(5)
    back = zoomed.zoomed(0.5)
    assert back.lon_span == pytest.approx(20)
    assert back.centre == pytest.approx(view.centre)


def test_zoom_in_stops_at_min_span_keeping_aspect() -> None:
    view = Viewport(0, 2, 0, 1).zoomed(1e9)
    assert view.lat_span == pytest.approx(MIN_SPAN)
    assert view.lon_span == pytest.approx(2 * MIN_SPAN)
    assert view.centre == pytest.approx((1, 0.5))
    assert view.zoomed(10) == view


def test_zoom_out_stops_at_the_whole_world() -> None:
    assert Viewport(100, 110, 60, 70).zoomed(1e-9) == WORLD
    assert WORLD.zoomed(0.5) == WORLD


def test_zoom_out_near_the_edge_shifts_back_inside() -> None:
    view = Viewport(170, 180, 80, 90).zoomed(0.5)
    assert view.lon_span == pytest.approx(20)
    assert view.lat_span == pytest.approx(20)
    assert view.lon_max == 180
    assert view.lat_max == 90


def test_zoom_rejects_bad_factors() -> None:
    for factor in (0, -2, math.inf, math.nan):
        with pytest.raises(ValueError):
            WORLD.zoomed(factor)


def test_pan_moves_by_a_fraction_of_the_span() -> None:
    view = Viewport(0, 10, 0, 10)
    moved = view.panned(0.5, -0.25)
    assert (moved.lon_min, moved.lon_max) == pytest.approx((5, 15))
    assert (moved.lat_min, moved.lat_max) == pytest.approx((-2.5, 7.5))
    assert moved.lon_span == pytest.approx(view.lon_span)


def test_pan_is_clamped_to_the_world() -> None:
    view = Viewport(160, 170, 70, 80)
    east = view.panned(100, 0)
    assert east.lon_max == 180
    assert east.lon_span == pytest.approx(10)
    north = view.panned(0, 5)
    assert north.lat_max == 90
    south_west = view.panned(-1000, -1000)
    assert (south_west.lon_min, south_west.lat_min) == (-180, -90)
    assert WORLD.panned(0.3, -0.3) == WORLD


def test_centred_on_keeps_span_and_is_clamped() -> None:
    view = Viewport(0, 4, 0, 2)
    centred = view.centred_on(10, 20)
    assert centred.centre == pytest.approx((10, 20))
    assert centred.lon_span == pytest.approx(4)
    assert centred.lat_span == pytest.approx(2)
    edge = view.centred_on(179.5, -89.9)
    assert (edge.lon_max, edge.lat_min) == (180, -90)
    assert edge.lon_span == pytest.approx(4)
    with pytest.raises(ValueError):
        view.centred_on(math.nan, 0)


def test_fit_with_no_points_is_the_world() -> None:
    assert Viewport.fit([]) == WORLD
    assert Viewport.fit([(math.nan, 1.0), (2.0, math.inf)]) == WORLD


def test_fit_skips_non_finite_points_and_survives_sums_that_overflow() -> None:
    mixed = [(2.0, 48.0), (math.nan, 3.0), (3.0, math.inf), (2.5, 48.5)]
    assert Viewport.fit(mixed) == Viewport.fit([(2.0, 48.0), (2.5, 48.5)])
    # Each coordinate is finite (and beyond the world); only their sum overflows.
    huge = Viewport.fit([(1e308, 10.0), (1e308, 20.0), (-1e308, 15.0)])
    assert (huge.lon_min, huge.lon_max) == (LON_MIN, LON_MAX)
    assert huge.lat_min <= 10.0 and huge.lat_max >= 20.0


def test_fit_single_point_gives_a_min_span_view_around_it() -> None:
    view = Viewport.fit([(13.4, 52.5)])
    assert view.centre == pytest.approx((13.4, 52.5))
    assert view.lon_span == pytest.approx(0.01)
    assert view.lat_span == pytest.approx(0.01)
    wider = Viewport.fit([(13.4, 52.5)], min_span=2.0)
    assert wider.lon_span == pytest.approx(2.0)


def test_fit_contains_all_points_with_margin() -> None:
    points = [(10.0, 50.0), (20.0, 55.0), (12.0, 48.0)]
    view = Viewport.fit(points, margin_fraction=0.1)
    assert all(view.contains(lon, lat) for lon, lat in points)
    assert view.lon_min == pytest.approx(9.0)
    assert view.lon_max == pytest.approx(21.0)
    assert view.lat_min == pytest.approx(47.3)
    assert view.lat_max == pytest.approx(55.7)


def test_fit_points_on_a_line_still_gives_a_proper_view() -> None:
    view = Viewport.fit([(5.0, 40.0), (5.0, 45.0)], min_span=0.5)
    assert view.lon_span == pytest.approx(0.5)
    assert view.lat_span == pytest.approx(6.0)


def test_fit_at_the_world_edge_stays_inside_the_world() -> None:
    view = Viewport.fit([(180.0, 90.0), (-180.0, -90.0)])
    assert view == WORLD
    corner = Viewport.fit([(180.0, 90.0)], min_span=1.0)
    assert (corner.lon_max, corner.lat_max) == (180, 90)
    assert corner.contains(180.0, 90.0)


def test_refit_keeps_the_view_while_the_fleet_moves_inside_it() -> None:
    view = Viewport.fit([(10.0, 50.0), (20.0, 55.0)])
    moved = Viewport.fit([(10.5, 50.2), (19.6, 54.9)])
    assert moved != view
    assert view.refit(moved) is view


def test_refit_follows_a_truck_that_leaves_the_view() -> None:
    view = Viewport.fit([(10.0, 50.0), (20.0, 55.0)])
    beyond = Viewport.fit([(10.0, 50.0), (21.5, 55.0)])
    assert view.refit(beyond) == beyond
    assert beyond.contains(21.5, 55.0)


def test_refit_zooms_in_once_the_fleet_fills_too_little_of_the_view() -> None:
    view = Viewport.fit([(10.0, 50.0), (20.0, 55.0)])
    # 80 % of the width is still shown as it was; 70 % is fitted afresh.
    eighty = Viewport(
        view.lon_min + 0.1 * view.lon_span,
        view.lon_max - 0.1 * view.lon_span,
        view.lat_min,
        view.lat_max,
    )
    seventy = Viewport(
        view.lon_min + 0.15 * view.lon_span,
        view.lon_max - 0.15 * view.lon_span,
        view.lat_min,
        view.lat_max,
    )
    assert view.refit(eighty) is view
    assert view.refit(seventy) == seventy
    assert view.refit(seventy, least_share=0.5) is view


def test_fit_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        Viewport.fit([(0, 0)], margin_fraction=-0.1)
    with pytest.raises(ValueError):
        Viewport.fit([(0, 0)], min_span=0)


# --- clip_rings -------------------------------------------------------------------------

SQUARE = Viewport(0, 10, 0, 10)


def _on_border(point: Point, view: Viewport) -> bool:
    lon, lat = point
    return lon in (view.lon_min, view.lon_max) or lat in (view.lat_min, view.lat_max)


def _strictly_inside(point: Point, view: Viewport) -> bool:
    return view.contains(*point) and not _on_border(point, view)


def test_ring_fully_inside_is_kept_whole_and_closed() -> None:
    ring = ((1.0, 1.0), (2.0, 1.0), (2.0, 2.0), (1.0, 1.0))
    assert clip_rings([ring], SQUARE) == [list(ring)]
    open_ring = ((1.0, 1.0), (2.0, 1.0), (2.0, 2.0))
    assert clip_rings([open_ring], SQUARE) == [[*open_ring, (1.0, 1.0)]]


def test_ring_fully_outside_gives_nothing() -> None:
    ring = ((20.0, 20.0), (30.0, 20.0), (30.0, 30.0), (20.0, 20.0))
    assert clip_rings([ring], SQUARE) == []


def test_crossing_segment_gets_the_exact_border_point() -> None:
    # A triangle poking out of the right edge.
    ring = ((5.0, 2.0), (15.0, 5.0), (5.0, 8.0), (5.0, 2.0))
    assert clip_rings([ring], SQUARE) == [[(10.0, 6.5), (5.0, 8.0), (5.0, 2.0), (10.0, 3.5)]]


def test_run_through_the_ring_start_is_one_line() -> None:
    # Starts inside, leaves, comes back: one polyline from re-entry round to the exit.
    ring = ((5.0, 5.0), (15.0, 5.0), (15.0, 8.0), (5.0, 8.0), (5.0, 5.0))
    assert clip_rings([ring], SQUARE) == [[(10.0, 8.0), (5.0, 8.0), (5.0, 5.0), (10.0, 5.0)]]


def test_ring_leaving_twice_gives_two_lines() -> None:
    ring = ((2.0, 2.0), (12.0, 3.0), (2.0, 4.0), (2.0, 6.0), (12.0, 7.0), (2.0, 8.0), (2.0, 2.0))
    lines = clip_rings([ring], SQUARE)
    assert len(lines) == 2
    for line in lines:
        assert _on_border(line[0], SQUARE)
        assert _on_border(line[-1], SQUARE)
        for point in line[1:-1]:
            assert point in ring


def test_segment_passing_through_with_both_ends_outside_is_kept() -> None:
    ring = ((-5.0, 5.0), (15.0, 5.0), (15.0, 20.0), (-5.0, 20.0), (-5.0, 5.0))
    assert clip_rings([ring], SQUARE) == [[(0.0, 5.0), (10.0, 5.0)]]


def test_segment_touching_only_a_corner_adds_no_line() -> None:
    ring = ((-5.0, 5.0), (5.0, -5.0), (-5.0, -5.0), (-5.0, 5.0))
    assert clip_rings([ring], SQUARE) == []


def test_points_on_the_border_count_as_inside() -> None:
    ring = ((0.0, 0.0), (10.0, 0.0), (10.0, 10.0), (0.0, 0.0))
    assert clip_rings([ring], SQUARE) == [list(ring)]


def test_clip_never_moves_an_outside_point_onto_the_border() -> None:
    ring = ((5.0, 5.0), (10.5, 5.0), (5.0, 9.0), (5.0, 5.0))
    (line,) = clip_rings([ring], SQUARE)
    assert line[0] == pytest.approx((10.0, 5.0 + 4.0 * 0.5 / 5.5))
    assert line[1:] == [(5.0, 9.0), (5.0, 5.0), (10.0, 5.0)]


def test_tiny_rings_are_skipped() -> None:
    assert clip_rings([(), ((1.0, 1.0),)], SQUARE) == []


def test_non_finite_points_never_reach_the_output() -> None:
    ring = ((1.0, 1.0), (2.0, 1.0), (math.nan, 2.0), (3.0, 3.0), (math.inf, 3.0), (1.0, 1.0))
    lines = clip_rings([ring], SQUARE)
    assert lines == [[(1.0, 1.0), (2.0, 1.0)]]


def test_vertex_only_touching_the_border_draws_nothing() -> None:
    ring = ((5.0, 10.0), (0.0, 15.0), (10.0, 15.0), (5.0, 10.0))
    assert clip_rings([ring], SQUARE) == []


def test_whole_world_clip_returns_every_ring() -> None:
    rings = load_land_rings()
    lines = clip_rings(rings, WORLD)
    assert len(lines) == len(rings)
    assert sum(map(len, lines)) == sum(map(len, rings))


def test_clip_of_land_in_europe_keeps_exactly_the_inside_points() -> None:
    view = Viewport(-12, 35, 34, 62)
    rings = load_land_rings()
    lines = clip_rings(rings, view)
    assert lines
    drawn = {p for line in lines for p in line}
    inside = {p for ring in rings for p in ring if view.contains(*p)}
    assert inside <= drawn
    for point in drawn - inside:
        assert _on_border(point, view)


def test_clip_of_whole_world_is_fast() -> None:
    rings = load_land_rings()
    clip_rings(rings, WORLD)
    runs = 20
    start = time.perf_counter()
    for _ in range(runs):
        clip_rings(rings, WORLD)
        clip_rings(rings, WORLD.zoomed(1.3))
    per_call = (time.perf_counter() - start) / (2 * runs)
    assert per_call < 0.015


lons = st.floats(-180, 180, allow_nan=False)
lats = st.floats(-90, 90, allow_nan=False)


@st.composite
def viewports(draw: st.DrawFn) -> Viewport:
    lon_a, lon_b = draw(lons), draw(lons)
    lat_a, lat_b = draw(lats), draw(lats)
    if lon_a == lon_b or lat_a == lat_b:
        return Viewport.around(lon_a, lat_a, MIN_SPAN, MIN_SPAN)
    return Viewport(min(lon_a, lon_b), max(lon_a, lon_b), min(lat_a, lat_b), max(lat_a, lat_b))


@settings(max_examples=150, deadline=None)
@given(viewports())
def test_clipped_land_always_lies_within_the_view(view: Viewport) -> None:
    rings = load_land_rings()
    lines = clip_rings(rings, view)
    inside = {p for ring in rings for p in ring if view.contains(*p)}
    for line in lines:
        assert len(line) >= 2
        for point in line:
            assert view.contains(*point)
            assert point in inside or _on_border(point, view)
    # A vertex that merely touches the border alone has nothing to draw; all others stay.
    assert {p for p in inside if _strictly_inside(p, view)} <= {p for line in lines for p in line}


@settings(max_examples=300, deadline=None)
@given(
    viewports(),
    st.lists(st.tuples(st.floats(-400, 400), st.floats(-200, 200)), min_size=2, max_size=30),
)
def test_clipped_random_rings_lie_within_the_view(view: Viewport, points: list[Point]) -> None:
    lines = clip_rings([tuple(points)], view)
    for line in lines:
        for point in line:
            assert view.contains(*point)
            assert point in points or _on_border(point, view)
    kept = {p for line in lines for p in line}
    assert all(p in kept for p in points if _strictly_inside(p, view))


@settings(max_examples=200, deadline=None)
@given(viewports(), st.floats(0.01, 100), st.floats(-3, 3), st.floats(-3, 3))
def test_zoom_and_pan_stay_within_the_world(
    view: Viewport, factor: float, dx: float, dy: float
) -> None:
    for result in (view.zoomed(factor), view.panned(dx, dy), view.centred_on(dx * 60, dy * 30)):
        assert -180 <= result.lon_min < result.lon_max <= 180
        assert -90 <= result.lat_min < result.lat_max <= 90
        assert result.lon_span >= MIN_SPAN * 0.999
        assert result.lat_span >= MIN_SPAN * 0.999


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(lons, lats), min_size=1, max_size=20), st.floats(0, 1))
def test_fit_always_contains_every_point(points: list[Point], margin: float) -> None:
    view = Viewport.fit(points, margin_fraction=margin)
    assert all(view.contains(lon, lat) for lon, lat in points)


# --- visible_points ---------------------------------------------------------------------


class Marker(NamedTuple):
    lon: float
    lat: float


def test_visible_points_leaves_out_points_outside_the_view() -> None:
    points = [(5.0, 5.0), (10.0, 0.0), (10.01, 5.0), (-1.0, -1.0), (math.nan, 5.0), (3.0, 9.0)]
    assert visible_points(points, SQUARE) == [(5.0, 5.0), (10.0, 0.0), (3.0, 9.0)]


def test_visible_points_keeps_the_callers_type_and_never_clamps() -> None:
    markers = [Marker(1.0, 1.0), Marker(50.0, 1.0)]
    visible = visible_points(markers, SQUARE)
    assert visible == [Marker(1.0, 1.0)]
    assert isinstance(visible[0], Marker)
    assert visible_points([], SQUARE) == []


# --- borders and places -------------------------------------------------------------------

PARIS_CITY = Viewport.around(2.35, 48.86, 0.4, 0.25)
EUROPE = Viewport.around(10.0, 50.0, 50.0, 30.0)


def test_border_data_loads_as_open_lines_within_world_bounds() -> None:
    lines = load_border_lines()
    assert len(lines) > 200
    for line in lines:
        assert len(line) >= 2
        assert all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in line)


def test_france_and_germany_share_a_border_near_strasbourg() -> None:
    near = Viewport.around(7.8, 48.6, 2.0, 2.0)
    assert clip_lines(load_border_lines(), near)


def test_place_data_is_ranked_capitals_first_then_by_population() -> None:
    places = load_places()
    assert len(places) > 30_000
    capitals_first = [not p.capital for p in places]
    assert capitals_first == sorted(capitals_first)
    towns = [p.thousands for p in places if not p.capital]
    assert towns == sorted(towns, reverse=True)
    capitals = {p.name for p in places if p.capital}
    assert {"Paris", "London", "Berlin", "Tokyo"} <= capitals
    assert "Boulogne-Billancourt" not in capitals
    assert not any(p.name.startswith("Paris 1") for p in places)


def test_the_paris_suburbs_are_named_when_the_map_shows_paris() -> None:
    names = {
        label.place.name
        for label in pick_places(
            rank_places(load_places(), PARIS_CITY), PARIS_CITY, 80, 25, most=20
        )
    }
    assert {"Paris", "Boulogne-Billancourt", "Saint-Denis", "Montreuil"} <= names


def test_a_continent_shows_capitals_first_and_no_suburbs() -> None:
    picked = pick_places(rank_places(load_places(), EUROPE), EUROPE, 100, 30, most=20)
    names = {label.place.name for label in picked}
    assert {"Paris", "Berlin", "Rome", "Madrid"} <= names
    assert "Boulogne-Billancourt" not in names and "Montreuil" not in names
    assert sum(label.place.capital for label in picked) > len(picked) / 2


def test_picked_labels_never_touch_and_stay_on_the_canvas() -> None:
    columns, rows = 60, 20
    picked = pick_places(rank_places(load_places(), EUROPE), EUROPE, columns, rows, most=50)
    boxes = []
    for label in picked:
        width = len(label.place.name) + 2
        first = label.col - width + 1 if label.leftwards else label.col
        last = first + width - 1
        assert first >= 0 and last < columns
        boxes.append((label.row, first, last))
    for (r1, a1, b1), (r2, a2, b2) in itertools.combinations(boxes, 2):
        assert r1 != r2 or b1 + 1 < a2 or b2 + 1 < a1


def test_no_more_places_than_asked_and_none_outside_the_view() -> None:
    places = [Place(f"p{i}", 2.0 + i, 48.0, 100 - i) for i in range(10)]
    view = Viewport(1.5, 5.5, 47.0, 49.0)
    picked = pick_places(rank_places(places, view), view, 200, 20, most=2)
    assert [label.place.name for label in picked] == ["p0", "p1"]
    assert pick_places(places, Viewport(20.0, 30.0, 0.0, 10.0), 200, 20, most=5) == []


def test_a_name_goes_to_the_side_without_trucks() -> None:
    view = Viewport(0.0, 10.0, 0.0, 10.0)
    town = [Place("Town", 5.0, 5.0, 50)]
    col, row = cell_of(view, 40, 10, 5.0, 5.0)
    (free,) = pick_places(town, view, 40, 10, most=1)
    assert not free.leftwards
    (moved,) = pick_places(town, view, 40, 10, most=1, avoid={(col + 3, row)})
    assert moved.leftwards
    # Trucks on both sides: a town is left out, a capital takes the side covering fewer.
    both = {(col + 3, row), (col - 3, row), (col - 2, row)}
    assert pick_places(town, view, 40, 10, most=1, avoid=both) == []
    capital = [Place("City", 5.0, 5.0, 50, capital=True)]
    (kept,) = pick_places(capital, view, 40, 10, most=1, avoid=both)
    assert not kept.leftwards
    # The selected truck's label or a depot: nobody covers it, a capital neither.
    (left,) = pick_places(capital, view, 40, 10, most=1, keep_clear={(col + 3, row)})
    assert left.leftwards
    boxed = {(col + 3, row), (col - 3, row)}
    assert pick_places(capital, view, 40, 10, most=1, keep_clear=boxed) == []


def test_cell_of_maps_the_corners_and_clamps_the_far_edges() -> None:
    view = Viewport(0.0, 10.0, 0.0, 5.0)
    assert cell_of(view, 10, 5, 0.0, 5.0) == (0, 0)  # north-west is the top left
    assert cell_of(view, 10, 5, 10.0, 0.0) == (9, 4)  # the far edges stay on the grid
    assert cell_of(view, 10, 5, 4.5, 2.4) == (4, 2)


# --- scale bar ------------------------------------------------------------------------------


def test_scale_bar_at_the_equator_is_as_long_as_its_distance() -> None:
    view = Viewport(0.0, 10.0, -5.0, 5.0)  # 10 degrees, about 1,113 km, over 100 cells
    found = scale_bar(view, 100, 20)
    assert found is not None
    km, cells = found
    assert km == 200.0
    assert cells == round(200.0 / (10 * 111.32 / 100))


def test_scale_bar_is_shorter_in_cells_nearer_the_pole() -> None:
    equator = scale_bar(Viewport(0.0, 1.0, -0.5, 0.5), 100, 30)
    north = scale_bar(Viewport(0.0, 1.0, 59.5, 60.5), 100, 30)
    assert equator is not None and north is not None
    # At 60 degrees a degree of longitude is half as long: the same cells show half the km.
    assert north[0] / north[1] == pytest.approx(equator[0] / equator[1] / 2, rel=0.15)


@given(st.floats(0.002, 360.0), st.floats(-80.0, 80.0), st.integers(10, 300), st.integers(2, 40))
def test_scale_bar_is_a_round_distance_within_the_room(
    span: float, lat: float, columns: int, most: int
) -> None:
    view = Viewport.around(0.0, lat, span, min(span, 20.0))
    found = scale_bar(view, columns, most)
    assert found is not None
    km, cells = found
    assert 1 <= cells <= most
    mantissa = km / 10 ** math.floor(math.log10(km))
    assert round(mantissa, 6) in (1.0, 2.0, 5.0)
    km_per_cell = view.lon_span / columns * 111.32 * math.cos(math.radians(view.centre[1]))
    assert abs(cells - km / km_per_cell) <= 0.5 + 1e-9


# --- clusters -------------------------------------------------------------------------------


def test_dense_points_become_one_cluster_and_sparse_ones_stay_alone() -> None:
    view = Viewport(0.0, 10.0, 0.0, 10.0)
    dense = [(1.5 + i * 0.005, 8.5 + i * 0.005) for i in range(10)]
    sparse = [(8.0, 8.0), (5.0, 5.0)]
    clusters, alone = cluster_points(dense + sparse, view, 100, 50, bucket=(6, 3), least=4)
    assert len(clusters) == 1
    assert sorted(clusters[0].members) == list(range(10))
    assert clusters[0].lon == pytest.approx(1.5225) and clusters[0].lat == pytest.approx(8.5225)
    assert alone == [10, 11]


def test_fewer_than_least_points_in_a_bucket_stay_alone() -> None:
    view = Viewport(0.0, 10.0, 0.0, 10.0)
    points = [(1.0, 1.0), (1.01, 1.0), (1.02, 1.0)]
    assert cluster_points(points, view, 100, 50, least=4) == ([], [0, 1, 2])


# --- open lines -----------------------------------------------------------------------------


def test_clip_lines_keeps_the_inside_part_and_never_closes_the_line() -> None:
    view = Viewport(0.0, 10.0, 0.0, 10.0)
    line = [(-5.0, 5.0), (5.0, 5.0), (5.0, 15.0)]
    assert clip_lines([line], view) == [[(0.0, 5.0), (5.0, 5.0), (5.0, 10.0)]]


def test_clip_lines_splits_a_line_that_leaves_and_comes_back() -> None:
    view = Viewport(0.0, 10.0, 0.0, 10.0)
    line = [(2.0, 2.0), (2.0, 20.0), (8.0, 20.0), (8.0, 2.0)]
    assert clip_lines([line], view) == [[(2.0, 2.0), (2.0, 10.0)], [(8.0, 10.0), (8.0, 2.0)]]


@given(st.lists(st.tuples(st.floats(-30, 30), st.floats(-30, 30)), min_size=2, max_size=12))
def test_clip_lines_output_stays_inside(line: list[Point]) -> None:
    view = Viewport(-10.0, 10.0, -10.0, 10.0)
    for part in clip_lines([line], view):
        assert len(part) >= 2
        assert all(view.contains(x, y) for x, y in part)


def test_clip_lines_inside_segments_come_out_as_liang_barsky_gives_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(11)
    views = [EUROPE, PARIS_CITY, WORLD, Viewport(-10.0, 10.0, -10.0, 10.0)]
    lines: list[list[Point]] = [list(line) for line in load_border_lines()]
    # An end one ulp inside the border, far from the start: its exit parameter rounds to 1.
    views.append(Viewport(-180.0, 10.0, -10.0, 10.0))
    near = math.nextafter(10.0, 0.0)
    lines += [[(-170.0, 0.0), (near, 0.0), (near, 5.0)], [(0.0, -9.0), (0.0, near), (5.0, near)]]
    for _ in range(300):
        # Ends on the border, a hair inside it and anywhere, where rounding decides.
        values = [-10.0, 10.0, -10.0 + 1e-13, 10.0 - 1e-13, 9.999999999999998, 0.0]
        lines.append(
            [
                (rng.choice([*values, rng.uniform(-12, 12)]), rng.uniform(-12, 12))
                for _ in range(rng.randint(2, 8))
            ]
        )
    fast = [clip_lines(lines, view) for view in views]
    monkeypatch.setattr(clipping, "_crosses_no_border", lambda *_: False)
    assert fast == [clip_lines(lines, view) for view in views]


def test_cells_of_is_cell_of_for_each_point() -> None:
    rng = random.Random(3)
    view = Viewport(2.1, 2.6, 48.7, 49.0)
    points = [(rng.uniform(2.0, 2.7), rng.uniform(48.6, 49.1)) for _ in range(500)]
    points += [(view.lon_min, view.lat_max), (view.lon_max, view.lat_min)]
    for columns, rows in ((40, 6), (197, 58), (1, 1)):
        expected = [cell_of(view, columns, rows, lon, lat) for lon, lat in points]
        assert cells_of(view, columns, rows, points) == expected


def test_the_place_index_gives_the_places_rank_places_gives() -> None:
    places = load_places()
    rng = random.Random(5)
    views = [WORLD, EUROPE, PARIS_CITY, Viewport(179.0, 180.0, 89.0, 90.0), Viewport(0, 64, 0, 64)]
    for _ in range(60):
        span = 10 ** rng.uniform(-3, 2.6)
        lon, lat = rng.uniform(-180, 180), rng.uniform(-90, 90)
        views.append(Viewport.around(lon, lat, span * rng.uniform(0.3, 3), span))
    for view in views:
        assert list(place_index().ranked(view)) == rank_places(places, view)
    # Unranked input is ranked as rank_places ranks it; equal ranks keep their order.
    shuffled = [Place(f"p{i}", i % 7, i % 5, i % 3, capital=i % 4 == 0) for i in range(40)]
    view = Viewport(1.0, 5.0, 0.0, 3.0)
    assert list(PlaceIndex(shuffled).ranked(view)) == rank_places(shuffled, view)


def test_the_place_index_hands_out_places_one_by_one_in_rank_order() -> None:
    ranked = place_index().ranked(WORLD)
    first = [place for _, place in zip(range(50), ranked, strict=False)]
    assert first == list(load_places()[:50])
    assert next(ranked) == load_places()[50]

"""Simulated trucks: reproducible, plausible routes and motion that the codecs accept."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from mwm_tui.domain.codecs import (
    Motion,
    decode_location,
    decode_motion,
    encode_location,
    encode_motion,
)
from mwm_tui.domain.ids import id_problem
from mwm_tui.domain.simulation import DEFAULT_CENTRE, SimulatedTruck, device_ids, make_trucks

KM_PER_DEGREE = 111.32
START = datetime(2014, 3, 5, 10, 0, tzinfo=UTC)


def distance_km(lat: float, lng: float, centre: tuple[float, float]) -> float:
    north = (lat - centre[0]) * KM_PER_DEGREE
    east = (lng - centre[1]) * KM_PER_DEGREE * math.cos(math.radians(centre[0]))
    return math.hypot(north, east)


def route(
    trucks: list[SimulatedTruck], steps: int, seconds: float = 1.0
) -> list[list[tuple[float, float, Motion]]]:
    """Per step, every truck's (lat, lng, motion) after advancing."""
    out = []
    for _ in range(steps):
        row = []
        for truck in trucks:
            truck.advance(seconds)
            row.append((truck.lat, truck.lng, truck.motion()))
        out.append(row)
    return out


def test_device_ids_format() -> None:
    assert device_ids("truck-", 3) == ["truck-01", "truck-02", "truck-03"]
    assert device_ids("T", 1) == ["T01"]
    ids = device_ids("truck-", 120)
    assert ids[0] == "truck-001" and ids[-1] == "truck-120"
    assert len(set(ids)) == 120
    assert device_ids("x", 0) == []


def test_device_ids_are_addressable() -> None:
    assert all(id_problem(device_id) is None for device_id in device_ids("truck-", 250))


def test_same_seed_gives_same_routes() -> None:
    ids = device_ids("truck-", 5)
    first = route(make_trucks(ids, seed=42), 300)
    second = route(make_trucks(ids, seed=42), 300)
    assert first == second


def test_different_seeds_give_different_routes() -> None:
    ids = device_ids("truck-", 5)
    first = make_trucks(ids, seed=1)
    second = make_trucks(ids, seed=2)
    assert [(t.lat, t.lng) for t in first] != [(t.lat, t.lng) for t in second]
    assert route(first, 60) != route(second, 60)


def test_trucks_in_one_fleet_differ_from_each_other() -> None:
    trucks = make_trucks(device_ids("truck-", 10), seed=7)
    assert len({(t.lat, t.lng) for t in trucks}) == 10
    assert [t.device_id for t in trucks] == device_ids("truck-", 10)


@pytest.mark.parametrize("seed", [0, 1, 2013])
def test_trucks_stay_near_the_centre_for_an_hour(seed: int) -> None:
    trucks = make_trucks(device_ids("truck-", 8), seed=seed, radius_km=12.0)
    start = [(t.lat, t.lng) for t in trucks]
    furthest = 0.0
    for _ in range(3600):
        for truck in trucks:
            truck.advance(1.0)
            furthest = max(furthest, distance_km(truck.lat, truck.lng, DEFAULT_CENTRE))
    assert furthest <= 12.0 + 0.01
    # And they do drive: an hour at 25..70 km/h leaves the starting point.
    assert all((t.lat, t.lng) != s for t, s in zip(trucks, start, strict=True))
    assert all(math.isclose(t.elapsed, 3600.0) for t in trucks)


def test_speed_is_plausible() -> None:
    (truck,) = make_trucks(["T01"], seed=3)
    for _ in range(600):
        before = (truck.lat, truck.lng)
        truck.advance(1.0)
        step = distance_km(truck.lat, truck.lng, before)
        assert step <= 70.0 / 3600 + 1e-6


def test_custom_centre_is_honoured() -> None:
    sydney = (-33.8568, 151.2153)
    trucks = make_trucks(device_ids("syd-", 4), seed=9, centre=sydney, radius_km=5.0)
    for truck in trucks:
        for _ in range(600):
            truck.advance(2.0)
        assert distance_km(truck.lat, truck.lng, sydney) <= 5.01


def test_motion_is_finite_and_within_pi() -> None:
    trucks = make_trucks(device_ids("truck-", 6), seed=11)
    for _ in range(1200):
        for truck in trucks:
            truck.advance(1.0)
            motion = truck.motion()
            for value in (motion.pitch, motion.roll, motion.yaw):
                assert math.isfinite(value)
                assert -math.pi <= value <= math.pi


def test_motion_varies() -> None:
    (truck,) = make_trucks(["T01"], seed=5)
    samples = []
    for _ in range(30):
        truck.advance(1.0)
        samples.append(truck.motion())
    assert len({m.pitch for m in samples}) > 1
    assert len({m.roll for m in samples}) > 1


def test_fixes_and_motion_survive_the_wire() -> None:
    trucks = make_trucks(device_ids("truck-", 3), seed=21)
    for step in range(120):
        now = START + timedelta(seconds=step)
        for truck in trucks:
            truck.advance(1.0)
            fix = truck.fix(now)
            assert (
                fix.ts == now
                and fix.raw_ts == "2014-03-05T10:" + f"{step // 60:02d}:{step % 60:02d}Z"
            )
            assert decode_location(encode_location(fix), truck.device_id) == fix
            motion = truck.motion()
            assert decode_motion(encode_motion(motion)) == motion

"""Simulated trucks: seeded, reproducible routes and motion, shared by mwm-sim and the demo."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime

from .codecs import Motion, Position, format_timestamp

# Paris, where the book's first fix (the Eiffel tower) lies.
DEFAULT_CENTRE = (48.8566, 2.3522)
_KM_PER_DEGREE_LAT = 111.32


def device_ids(prefix: str, count: int) -> list[str]:
    """Ids as the simulator names its devices: the prefix and a zero-padded number."""
    width = max(2, len(str(count)))
    return [f"{prefix}{number:0{width}d}" for number in range(1, count + 1)]


@dataclass(slots=True)
class SimulatedTruck:
    """A truck driving between random waypoints around a centre, with a phone on the dash."""

    device_id: str
    rng: random.Random
    centre: tuple[float, float]
    radius_km: float
    lat: float = 0.0
    lng: float = 0.0
    speed_kmh: float = 40.0
    waypoint: tuple[float, float] = (0.0, 0.0)
    phase: float = 0.0
    elapsed: float = 0.0
    heading: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.lat, self.lng = self._random_point()
        self.waypoint = self._random_point()
        self.speed_kmh = self.rng.uniform(25.0, 70.0)
        self.phase = self.rng.uniform(0.0, 2 * math.pi)

    def _random_point(self) -> tuple[float, float]:
        distance = self.radius_km * math.sqrt(self.rng.random())
        bearing = self.rng.uniform(0.0, 2 * math.pi)
        north = distance * math.cos(bearing) / _KM_PER_DEGREE_LAT
        east = distance * math.sin(bearing) / self._km_per_degree_lng()
        return self.centre[0] + north, self.centre[1] + east

    def _km_per_degree_lng(self) -> float:
        return _KM_PER_DEGREE_LAT * max(math.cos(math.radians(self.centre[0])), 0.01)

    def advance(self, seconds: float) -> None:
        """Drive towards the waypoint for ``seconds``; pick a new one on arrival."""
        self.elapsed += seconds
        step_km = self.speed_kmh * seconds / 3600.0
        north_km = (self.waypoint[0] - self.lat) * _KM_PER_DEGREE_LAT
        east_km = (self.waypoint[1] - self.lng) * self._km_per_degree_lng()
        remaining = math.hypot(north_km, east_km)
        if remaining <= step_km:
            self.lat, self.lng = self.waypoint
            self.waypoint = self._random_point()
            self.speed_kmh = self.rng.uniform(25.0, 70.0)
            return
        self.heading = math.atan2(east_km, north_km)
        self.lat += north_km / remaining * step_km / _KM_PER_DEGREE_LAT
        self.lng += east_km / remaining * step_km / self._km_per_degree_lng()

    def fix(self, now: datetime) -> Position:
        """A GPS fix as the device app reports it."""
        return Position(
            self.device_id, round(self.lat, 6), round(self.lng, 6), now, format_timestamp(now)
        )

    def motion(self) -> Motion:
        """Phone attitude: a gentle sway plus road noise, yaw following the heading."""
        t = self.elapsed + self.phase
        pitch = 0.25 * math.sin(t / 3.0) + self.rng.gauss(0.0, 0.03)
        roll = 0.35 * math.sin(t / 2.0 + 1.0) + self.rng.gauss(0.0, 0.03)
        yaw = math.remainder(self.heading + self.rng.gauss(0.0, 0.02), 2 * math.pi)
        return Motion(pitch, roll, yaw)


def make_trucks(
    ids: list[str],
    seed: int,
    centre: tuple[float, float] = DEFAULT_CENTRE,
    radius_km: float = 12.0,
) -> list[SimulatedTruck]:
    """One truck per id; the same seed gives the same routes."""
    master = random.Random(seed)
    return [
        SimulatedTruck(device_id, random.Random(master.getrandbits(64)), centre, radius_km)
        for device_id in ids
    ]

"""How often mwm-sim's loop turns: each turn visits every device, so sends are batched."""

from __future__ import annotations

import io
import random
import time

from mwm_tui.domain.simulation import SimulatedTruck
from mwm_tui.domain.targets import Protocol, parse_target
from mwm_tui.sim.fleet import _MAX_IDLE, _MIN_IDLE, FleetSimulator, LineWriter, SimSettings


def fleet(count: int) -> FleetSimulator:
    settings = SimSettings(
        stomp=parse_target("stomp://127.0.0.1:61613", Protocol.STOMP),
        mqtt=parse_target("mqtt://127.0.0.1:1883", Protocol.MQTT),
        location_interval=1.0,
        motion_interval=1.0,
    )
    trucks = [
        SimulatedTruck(f"truck-{n}", random.Random(n), (37.5, 127.0), 5.0) for n in range(count)
    ]
    return FleetSimulator(settings, trucks, LineWriter(io.StringIO()), LineWriter(io.StringIO()))


def test_a_send_already_due_waits_for_the_next_turn() -> None:
    simulator = fleet(1_000)
    now = time.monotonic()
    for index, device in enumerate(simulator._devices.values()):
        # Due every millisecond: 1,000 trucks at 1 Hz, spread over the second.
        device.next_location_at = device.next_motion_at = now + index / 1_000
        device.stomp_retry_at = device.mqtt_retry_at = now + 60
    assert simulator._idle_time(now + 0.5) == _MIN_IDLE


def test_a_send_further_off_is_waited_for_and_an_empty_fleet_waits_longest() -> None:
    simulator = fleet(1)
    now = time.monotonic()
    device = next(iter(simulator._devices.values()))
    device.next_location_at = device.next_motion_at = now + 0.2
    device.stomp_retry_at = device.mqtt_retry_at = now + 60
    assert abs(simulator._idle_time(now) - 0.2) < 1e-6
    assert fleet(0)._idle_time(now) == _MAX_IDLE

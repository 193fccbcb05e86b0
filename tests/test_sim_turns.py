"""How often mwm-sim's loop turns: sends due close together leave in one turn."""

from __future__ import annotations

import io
import random
import time

from mwm_tui.domain.simulation import SimulatedTruck
from mwm_tui.domain.targets import Protocol, parse_target
from mwm_tui.sim.fleet import _MAX_IDLE, _MIN_IDLE, FleetSimulator, LineWriter, SimSettings
from mwm_tui.sim.schedule import ConnectGate, Due


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
    for index in range(1_000):
        # Due every millisecond: 1,000 trucks at 1 Hz, spread over the second.
        simulator._schedule.add(now + index / 1_000, Due.LOCATION, index)
        simulator._schedule.add(now + index / 1_000, Due.MOTION, index)
    assert simulator._idle_time(now + 0.5) == _MIN_IDLE


def test_a_send_further_off_is_waited_for_and_an_empty_fleet_waits_longest() -> None:
    simulator = fleet(1)
    now = time.monotonic()
    simulator._schedule.add(now + 0.2, Due.LOCATION, 0)
    simulator._schedule.add(now + 60, Due.STOMP_RETRY, 0)
    assert abs(simulator._idle_time(now) - 0.2) < 1e-6
    assert fleet(0)._idle_time(now) == _MAX_IDLE


def test_connections_are_let_through_at_the_rate_asked() -> None:
    gate = ConnectGate(rate=100)
    for index in range(1_000):
        gate.ask(index, "STOMP")
    now = time.monotonic()
    through = gate.let_through(now)
    assert [index for index, _ in through] == list(range(5))  # a burst of a twentieth
    assert abs(gate.next_at(now) - (now + 0.01)) < 1e-6
    for step in range(1, 101):
        through += gate.let_through(now + step / 100)
    assert len(through) == 5 + 100
    assert [index for index, _ in through] == list(range(105))


def test_a_slow_turn_loses_no_connections_and_an_idle_spell_saves_one_burst() -> None:
    gate = ConnectGate(rate=128)  # a power of two: the sums below are exact
    for index in range(1_000):
        gate.ask(index, "MQTT")
    now = 1024.0
    assert len(gate.let_through(now)) == 6
    assert len(gate.let_through(now + 0.5)) == 64  # the turn came half a second late
    assert len(gate.let_through(now + 0.625)) == 16
    idle = ConnectGate(rate=128)
    idle.let_through(now)
    for index in range(1_000):
        idle.ask(index, "MQTT")
    assert len(idle.let_through(now + 0.25)) == 32  # what the last quarter second earned
    assert len(idle.let_through(now + 0.3125)) == 8

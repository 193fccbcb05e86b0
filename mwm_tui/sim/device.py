"""One simulated device's state, shared by its STOMP and MQTT sides and the fleet's loop."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.adapters.mqtt_link import BufferedClient
from mwm_tui.adapters.protocol_probe import other_protocol, wrong_protocol_reason
from mwm_tui.domain.simulation import SimulatedTruck
from mwm_tui.domain.targets import BrokerTarget


class Voice(Protocol):
    """How a device's side speaks: a line on stdout, a complaint on stderr, the loop woken."""

    def say(self, line: str) -> None: ...

    def complain(self, line: str) -> None: ...

    def wake(self) -> None: ...


@dataclass(slots=True)
class WrongPort:
    """Whether a side's port speaks the other protocol: asked once, on its first handshake
    that got no answer (the probe waits up to a second), then remembered."""

    asked: bool = False
    said: str | None = None

    def check(self, target: BrokerTarget) -> bool:
        if not self.asked:
            self.asked = True
            found = other_protocol(target)
            if found is not None:
                self.said = wrong_protocol_reason(target, found)
        return self.said is not None


@dataclass(slots=True)
class StompAttempt:
    """One STOMP connection of one device; flags are set by stomp.py's threads."""

    connection: Any
    receipt: str
    started_at: float
    connected: bool = False
    subscribe_sent: bool = False
    subscribed: bool = False
    lost: bool = False
    # What the broker's ERROR frame said, if one came.
    error: str | None = None


@dataclass(slots=True)
class SimDevice:
    truck: SimulatedTruck
    stomp_backoff: Backoff
    mqtt_backoff: Backoff
    alive: bool = True
    stomp: StompAttempt | None = None
    stomp_retry_at: float = 0.0
    mqtt: BufferedClient | None = None
    mqtt_connecting_since: float | None = None
    mqtt_connected: bool = False
    mqtt_subscribed: bool = False
    mqtt_retry_at: float = 0.0
    # The contract's STOMP client id is the device id; a broker with one client-id namespace
    # for both protocols (ActiveMQ serving both) refuses it, and <ID>.stomp is used instead.
    stomp_id_clashes: bool = False
    next_location_at: float = 0.0
    next_motion_at: float = 0.0
    last_advance: float = 0.0

    @property
    def device_id(self) -> str:
        return self.truck.device_id

    @property
    def ready(self) -> bool:
        return self.stomp is not None and self.stomp.subscribed and self.mqtt_subscribed


def device_target(
    target: BrokerTarget, passwords: Mapping[str, str], device_id: str
) -> BrokerTarget:
    """``target`` as ``device_id`` logs in: its own user and password when it has an account."""
    password = passwords.get(device_id)
    if password is None:
        return target
    return replace(target, username=device_id, password=password)

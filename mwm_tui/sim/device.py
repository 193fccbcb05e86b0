"""One simulated device's state, shared by its STOMP and MQTT links and the fleet's loop."""

from __future__ import annotations

from dataclasses import dataclass, field

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.simulation import SimulatedTruck

from . import mqtt_wire, stomp_wire
from .mqtt_side import MqttLink
from .stomp_side import StompLink

LOCATION_CONTENT_TYPE = "application/json;charset=utf-8"


@dataclass(slots=True)
class SimDevice:
    truck: SimulatedTruck
    index: int
    stomp_backoff: Backoff
    mqtt_backoff: Backoff
    alive: bool = True
    # False once told ``quiet``: connected still, but sending no fix or motion.
    sending: bool = True
    stomp: StompLink | None = None
    mqtt: MqttLink | None = None
    # The contract's STOMP client id is the device id; a broker with one client-id namespace
    # for both protocols (ActiveMQ serving both) refuses it, and <ID>.stomp is used instead.
    stomp_id_clashes: bool = False
    next_location_at: float = 0.0
    next_motion_at: float = 0.0
    last_advance: float = 0.0
    # The parts of its SEND and PUBLISH that never change, made once.
    location_prefix: bytes = field(default=b"", repr=False)
    motion_prefix: bytes = field(default=b"", repr=False)

    def __post_init__(self) -> None:
        device_id = self.truck.device_id
        self.location_prefix = stomp_wire.send_prefix(
            ids.location_destination(device_id), LOCATION_CONTENT_TYPE
        )
        self.motion_prefix = mqtt_wire.publish_prefix(
            ids.motion_topic(device_id), codecs.MOTION_PAYLOAD_BYTES, retain=True
        )

    @property
    def device_id(self) -> str:
        return self.truck.device_id

    @property
    def ready(self) -> bool:
        stomp, mqtt = self.stomp, self.mqtt
        return stomp is not None and stomp.subscribed and mqtt is not None and mqtt.subscribed

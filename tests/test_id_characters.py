"""Every character a broker reads as routing is refused in an id before anything is sent."""

from __future__ import annotations

import re
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
import stomp
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain.errors import InvalidDeviceIdError
from mwm_tui.domain.events import LinkName, LinkState
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import HOST, ActiveMQ, Mosquitto
from tests.support.link_events import Recorder, wait_until

# Character, and what the broker would make of "<prefix><char>x=y": the id it would cut to.
STOMP_CHARACTERS = ["?", ",", "%", ".", "*", ">", "/"]
MQTT_CHARACTERS = ["+", "#", "/", "%", "?", ".", ","]
QUIET_SECONDS = 1.5


class _Inbox(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.got: list[object] = []

    def on_message(self, frame: object) -> None:
        self.got.append(frame)


@pytest.mark.parametrize("char", STOMP_CHARACTERS)
def test_an_order_to_an_id_with_a_routing_character_is_refused(
    activemq: ActiveMQ, char: str
) -> None:
    base = f"M{uuid.uuid4().hex[:6]}"
    events = Recorder()
    link = StompLink(parse_target(activemq.url, Protocol.STOMP), events, advisories=False)
    truck = stomp.Connection12([(HOST, activemq.port)], heartbeats=(0, 0))
    inbox = _Inbox()
    truck.set_listener("inbox", inbox)
    truck.connect(wait=True)
    # Where ActiveMQ would have put it: the id cut at the character (options, lists, levels).
    truck.subscribe(f"/queue/device.{base}.text", id="cut")
    truck.subscribe(f"/queue/device.{base}", id="bare")
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        with pytest.raises(InvalidDeviceIdError, match=re.escape(repr(char))):
            link.send_order(f"{base}{char}x=y", "hello")
        time.sleep(QUIET_SECONDS)
    finally:
        link.stop()
        truck.disconnect()
    assert inbox.got == []


@pytest.mark.parametrize("char", MQTT_CHARACTERS)
def test_an_alert_to_an_id_with_a_routing_character_is_refused(
    mosquitto: Mosquitto, char: str
) -> None:
    base = f"M{uuid.uuid4().hex[:6]}"
    events = Recorder()
    link = MqttLink(parse_target(mosquitto.url, Protocol.MQTT), events)
    got: list[str] = []
    subscribed = threading.Event()
    truck = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    truck.on_message = lambda client, userdata, message: got.append(message.topic)
    truck.on_subscribe = lambda *args: subscribed.set()
    truck.connect(HOST, mosquitto.port)
    truck.loop_start()
    truck.subscribe(f"/mwm/{base}/#", qos=1)
    link.start()
    try:
        assert subscribed.wait(10)
        wait_until(lambda: events.state_at(LinkName.MQTT, LinkState.UP), 30, "MQTT up")
        with pytest.raises(InvalidDeviceIdError):
            link.send_alert(f"{base}{char}x", "red")
        time.sleep(QUIET_SECONDS)
    finally:
        link.stop()
        truck.disconnect()
        truck.loop_stop()
    assert got == []

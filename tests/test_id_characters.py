"""Every character a broker reads as routing is refused in an id before anything is sent.

Against real ActiveMQ and Mosquitto, and RabbitMQ serving both protocols.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
import stomp
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain.errors import InvalidDeviceIdError
from mwm_tui.domain.events import AlertOutcome, Delivery, LinkName, LinkState, OrderOutcome
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import HOST, ActiveMQ, Mosquitto, RabbitMQ
from tests.support.link_events import Recorder, wait_until

# Character, and what the broker would make of "<prefix><char>x=y": the id it would cut to.
STOMP_CHARACTERS = ["?", ",", "%", ".", "*", ">", "/"]
MQTT_CHARACTERS = ["+", "#", "/", "%", "?", ".", ","]
# RabbitMQ: '/' splits /exchange/NAME/KEY and no queue name may hold it; '%' is
# percent-decoded (SEND to /queue/device.M%2Fx.text fills queue 'device.M/x.text'); '.' splits
# topic routing keys, '*' and '#' are their wildcards. Its MQTT plugin swaps '/' and '.' between
# topic and routing key, and '+', '#' and '*' are wildcards of a subscription.
RABBITMQ_STOMP_CHARACTERS = ["/", "%", ".", "*", "#"]
RABBITMQ_MQTT_CHARACTERS = ["+", "#", "/", ".", "*", "%"]
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


class _Firehose(stomp.ConnectionListener):  # type: ignore[misc]
    """Every message published on the RabbitMQ node, by any protocol to any exchange or queue
    (its trace exchange, turned on for this module): (exchange, body) in arrival order."""

    def __init__(self, rabbitmq: RabbitMQ) -> None:
        self._lock = threading.Lock()
        self._seen: list[tuple[str, bytes]] = []
        self._subscribed = threading.Event()
        self.connection = stomp.Connection12(
            [(HOST, rabbitmq.port)], heartbeats=(0, 0), vhost=rabbitmq.vhost, auto_decode=False
        )
        self.connection.set_listener("firehose", self)
        self.connection.connect(wait=True)
        self.connection.subscribe(
            "/exchange/amq.rabbitmq.trace/publish.#", id="firehose", receipt="firehose-on"
        )
        if not self._subscribed.wait(10):
            raise AssertionError("the firehose spy could not subscribe")

    def on_receipt(self, frame: stomp.utils.Frame) -> None:
        if frame.headers.get("receipt-id") == "firehose-on":
            self._subscribed.set()

    def on_message(self, frame: stomp.utils.Frame) -> None:
        with self._lock:
            self._seen.append((frame.headers.get("exchange_name", "?"), frame.body or b""))

    @property
    def seen(self) -> list[tuple[str, bytes]]:
        with self._lock:
            return list(self._seen)

    def close(self) -> None:
        self.connection.disconnect()


@pytest.fixture(scope="module")
def rabbitmq_traced(rabbitmq: RabbitMQ) -> Iterator[RabbitMQ]:
    """The session RabbitMQ copying every publish to its trace exchange while this module runs."""
    rabbitmq.ctl("trace_on")
    yield rabbitmq
    rabbitmq.ctl("trace_off")


def _wait_for_marker(firehose: _Firehose, marker: bytes) -> list[tuple[str, bytes]]:
    """Everything the firehose saw up to and with ``marker``, sent after the refused attempt."""
    wait_until(lambda: any(body == marker for _, body in firehose.seen), 10, "the marker")
    return firehose.seen


@pytest.mark.parametrize("char", RABBITMQ_STOMP_CHARACTERS)
def test_rabbitmq_never_carries_an_order_to_an_id_with_its_routing_characters(
    rabbitmq_traced: RabbitMQ, char: str
) -> None:
    base = f"M{uuid.uuid4().hex[:6]}"
    events = Recorder()
    target = parse_target(rabbitmq_traced.url, Protocol.STOMP)
    link = StompLink(target, events, advisories=False)
    firehose = _Firehose(rabbitmq_traced)
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        refused = f"hello {uuid.uuid4().hex}"
        with pytest.raises(InvalidDeviceIdError, match=re.escape(repr(char))):
            link.send_order(f"{base}{char}x=y", refused)
        # The same link then orders the plain id: once that arrives, anything before it has.
        marker = f"marker {uuid.uuid4().hex}"
        order_id = link.send_order(base, marker)
        seen = _wait_for_marker(firehose, marker.encode())
        wait_until(lambda: events.first(OrderOutcome, order_id=order_id), 10, "the receipt")
        confirmed = events.first(OrderOutcome, order_id=order_id)
    finally:
        link.stop()
        firehose.close()
    assert confirmed is not None and confirmed[1].delivery is Delivery.CONFIRMED
    # One publish, the marker, to the default exchange (a queue); the refused order nowhere.
    assert seen == [("", marker.encode())]


@pytest.mark.parametrize("char", RABBITMQ_MQTT_CHARACTERS)
def test_rabbitmq_never_carries_an_alert_to_an_id_with_its_routing_characters(
    rabbitmq_traced: RabbitMQ, char: str
) -> None:
    base = f"M{uuid.uuid4().hex[:6]}"
    events = Recorder()
    link = MqttLink(parse_target(rabbitmq_traced.mqtt_url, Protocol.MQTT), events)
    firehose = _Firehose(rabbitmq_traced)
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.MQTT, LinkState.UP), 30, "MQTT up")
        with pytest.raises(InvalidDeviceIdError, match=re.escape(repr(char))):
            link.send_alert(f"{base}{char}x", "red")
        marker = f"marker-{uuid.uuid4().hex}"
        alert_id = link.send_alert(base, marker)
        seen = _wait_for_marker(firehose, marker.encode())
        wait_until(lambda: events.first(AlertOutcome, alert_id=alert_id), 10, "the PUBACK")
        acked = events.first(AlertOutcome, alert_id=alert_id)
    finally:
        link.stop()
        firehose.close()
    assert acked is not None and acked[1].delivery is Delivery.CONFIRMED
    # One publish, the marker, to the MQTT plugin's topic exchange; the refused alert nowhere.
    assert seen == [("amq.topic", marker.encode())]

"""What differs between the brokers of the matrix, seen from HQ and mwm-sim.

The shared scenarios (fleet, orders, alerts, wills) are parametrized over ``broker_pair`` in
test_integration.py and test_ui_brokers.py; this module holds what one pair does differently:
one client-id namespace for both protocols (ActiveMQ; RabbitMQ keeps two), retained motion to
wildcards, and a single broker's crash taking both links at once.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink, stomp_client_id
from mwm_tui.domain import ids
from mwm_tui.domain.events import Delivery, LinkName, LinkState
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import HOST, ActiveMQ, ActiveMQFactory, BrokerStarter, RabbitMQ
from tests.support.link_events import Recorder, wait_until
from tests.support.matrix import BrokerPair
from tests.support.sim import Sim, fleet_ids, unique_prefix
from tests.support.ui import driven
from tests.test_integration import Hq
from tests.test_ui_brokers import links_up, pair_app, row_of, until

RETAINED = struct.pack(">ddd", 0.1, 0.2, 0.3)


def stomp_connect_reply(port: int, client_id: str) -> bytes:
    """The first frame the broker answers a CONNECT naming ``client_id`` with."""
    # A loaded ActiveMQ may close a refused connection before its ERROR frame is read: ask again.
    for _ in range(3):
        reply = _one_connect_reply(port, client_id)
        if reply:
            break
    return reply


def _one_connect_reply(port: int, client_id: str) -> bytes:
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(
            b"CONNECT\naccept-version:1.2\nhost:/\nheart-beat:0,0\nclient-id:"
            + client_id.encode()
            + b"\n\n\x00"
        )
        reply = b""
        while b"\x00" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


# How long a truck's STOMP side may take to come back under its suffixed id.
TRUCK_SETTLES = 15.0


def test_hq_and_trucks_keep_their_client_ids_apart_on_activemq_serving_both(
    activemq_both: ActiveMQ, sim_factory: Callable[..., Sim]
) -> None:
    assert activemq_both.mqtt_url is not None
    client_id = f"hq-{uuid.uuid4().hex[:8]}"
    events = Recorder()
    stomp_link = StompLink(
        parse_target(activemq_both.url, Protocol.STOMP), events, client_id=client_id
    )
    mqtt_link = MqttLink(
        parse_target(activemq_both.mqtt_url, Protocol.MQTT), events, client_id=client_id
    )
    prefix = unique_prefix("ids")
    device = fleet_ids(prefix, 1)[0]
    stomp_link.start()
    mqtt_link.start()
    try:
        for link in LinkName:
            wait_until(lambda link=link: events.state_at(link, LinkState.UP), 30, f"{link} up")
        up_at = time.monotonic()
        # Every device connects on both protocols under its own id: READY needs both.
        sim = sim_factory(
            activemq_both.url, activemq_both.mqtt_url, "--devices", "1", "--prefix", prefix
        )
        sim.wait_ready()
        # ActiveMQ has one namespace: the MQTT ids are taken for STOMP too, and each STOMP
        # connection holds the suffixed id. A truck whose STOMP side won the plain id first
        # loses it to its MQTT side and comes back suffixed after its STOMP backoff.
        for taken in (client_id, stomp_client_id(client_id), device, stomp_client_id(device)):
            deadline = time.monotonic() + (TRUCK_SETTLES if taken.startswith(prefix) else 0)
            reply = stomp_connect_reply(activemq_both.port, taken)
            while not reply.startswith(b"ERROR\n") and time.monotonic() < deadline:
                time.sleep(0.5)
                reply = stomp_connect_reply(activemq_both.port, taken)
            assert reply.startswith(b"ERROR\n"), (taken, reply[:200])
            assert f"Client: {taken} already connected".encode() in reply, reply[:300]
        assert stomp_connect_reply(activemq_both.port, f"{client_id}.x").startswith(b"CONNECTED\n")
        # Neither of HQ's links was ever refused or taken over.
        for link in LinkName:
            assert [e.state for _, e in events.states(link, up_at)] == [], events.states(link)
        assert sim.lines("READY ") == ["READY 1 devices"]
    finally:
        stomp_link.stop()
        mqtt_link.stop()


def test_rabbitmq_keeps_stomp_and_mqtt_client_ids_apart(rabbitmq: RabbitMQ) -> None:
    truck = f"{unique_prefix('rid')}01"
    mqtt_session = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=truck, protocol=mqtt.MQTTv311)
    mqtt_session.connect(HOST, rabbitmq.mqtt_port)
    mqtt_session.loop_start()
    try:
        wait_until(mqtt_session.is_connected, 10, "the MQTT session")
        assert stomp_connect_reply(rabbitmq.port, truck).startswith(b"CONNECTED\n")
    finally:
        mqtt_session.disconnect()
        mqtt_session.loop_stop()


def _retain_motion(port: int, device_id: str, payload: bytes) -> None:
    """Publish (or, with an empty payload, clear) a truck's retained motion."""
    truck = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
    truck.connect(HOST, port)
    truck.loop_start()
    try:
        truck.publish(ids.motion_topic(device_id), payload, qos=1, retain=True).wait_for_publish(5)
    finally:
        truck.disconnect()
        truck.loop_stop()


# RabbitMQ's side of this (listed by its fix, asked by exact topic) is in test_rabbitmq.py.
@pytest.mark.parametrize("broker_pair", ["mosquitto+activemq", "activemq"], indirect=True)
async def test_a_truck_known_only_by_its_retained_motion_is_listed_with_it(
    broker_pair: BrokerPair,
) -> None:
    assert broker_pair.retained_to_wildcard
    truck = f"{unique_prefix('ret')}01"
    await asyncio.to_thread(_retain_motion, broker_pair.mqtt_port, truck, RETAINED)
    app = pair_app(broker_pair)
    try:
        async with driven(app) as pilot:
            await links_up(pilot, app)
            await pilot.press("slash", *truck, "enter")
            # No fix was ever sent: the wildcard subscription alone brought the truck.
            await until(pilot, app, lambda: app.device_list.row_ids == [truck], "the truck")
            device = app.fleet.devices[truck]
            assert device.position is None
            assert device.motion is not None and device.motion_is_retained
            assert (device.motion.pitch, device.motion.roll, device.motion.yaw) == (0.1, 0.2, 0.3)
            await until(pilot, app, lambda: "+6°" in row_of(app, truck), "pitch on screen")
    finally:
        await asyncio.to_thread(_retain_motion, broker_pair.mqtt_port, truck, b"")


@pytest.fixture(params=["activemq", "rabbitmq"])
def one_broker(
    request: pytest.FixtureRequest,
    fresh_activemq: ActiveMQFactory,
    own_brokers: BrokerStarter,
    tmp_path: Path,
) -> ActiveMQ | RabbitMQ:
    """A private broker serving both protocols, free to kill and restart."""
    if request.param == "activemq":
        return fresh_activemq(mqtt=True)
    return own_brokers(RabbitMQ(workdir=tmp_path / "rabbitmq"))


def test_both_links_and_the_fleet_come_back_after_the_one_broker_is_killed(
    one_broker: ActiveMQ | RabbitMQ, sim_factory: Callable[..., Sim]
) -> None:
    mqtt_url = one_broker.mqtt_url
    assert mqtt_url is not None
    hq = Hq(one_broker.url, mqtt_url)
    hq.start()
    try:
        prefix = unique_prefix("kill")
        device_ids = fleet_ids(prefix, 2)
        sim = sim_factory(
            one_broker.url, mqtt_url, "--devices", "2", "--prefix", prefix,
            "--location-interval", "0.5", "--motion-interval", "0.5",
        )  # fmt: skip
        sim.wait_ready()
        wait_until(lambda: hq.devices_ready(device_ids), 15, "devices online")

        known = {link: len(hq.states(link)) for link in LinkName}
        one_broker.kill()
        for link in LinkName:
            wait_until(lambda link=link: hq.state(link) is LinkState.DOWN, 30, f"{link} down")
        order_id = hq.stomp.send_order(device_ids[0], "are you there?")
        assert hq.wait_outcome(order_id, 5).delivery is Delivery.FAILED
        one_broker.start()
        for link in LinkName:
            wait_until(lambda link=link: hq.state(link) is LinkState.UP, 30, f"{link} up again")
        since = len(hq.log)
        wait_until(
            lambda: all(hq.live_telemetry_since(since, [d]) == (True, True) for d in device_ids),
            30,
            "every truck's fixes and live motion after the restart",
        )
        order_id = hq.stomp.send_order(device_ids[0], "back again?")
        alert_id = hq.mqtt.send_alert(device_ids[1], "green")
        try:
            wait_until(lambda: sim.lines(f"ORDER {device_ids[0]}: back again?"), 30, "the order")
            wait_until(lambda: sim.lines(f"ALERT {device_ids[1]}: green"), 30, "the alert")
        except AssertionError as error:
            outcomes = hq.outcomes_of(order_id) + hq.outcomes_of(alert_id)
            raise AssertionError(f"{error}\n{outcomes}\n{sim.out}\n{sim.err[-2000:]}") from None
        assert hq.wait_outcome(order_id, 10).delivery is Delivery.CONFIRMED
        assert hq.wait_outcome(alert_id, 10).delivery is Delivery.CONFIRMED
        assert not any("are you there?" in line for line in sim.out)
        for link in LinkName:
            sequence = [s.state for s in hq.states(link)[known[link] :]]
            assert sequence[0] is LinkState.DOWN and sequence[-1] is LinkState.UP, sequence
        assert sim.stop() == 0
    finally:
        hq.stop()

"""HQ on RabbitMQ 3.10 serving both protocols (rabbitmq_stomp and rabbitmq_mqtt), with mwm-sim.

The session RabbitMQ is shared: each test's trucks get a prefix of their own. The fleet, order,
alert and will scenarios run on it through ``broker_pair`` (test_integration.py,
test_ui_brokers.py, test_broker_matrix.py); here is what is RabbitMQ's own.
"""

from __future__ import annotations

import asyncio
import os
import struct
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import stomp
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.events import LinkName, LinkState, OrderOutcome
from mwm_tui.domain.targets import Protocol, parse_target
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.widgets.motion_panel import MotionPanel
from mwm_tui.ui.widgets.status_bar import StatusBar
from tests.support.brokers import HOST, BrokerStarter, RabbitMQ, mqtt_handshake, stomp_handshake
from tests.support.link_events import Recorder, wait_until
from tests.support.sim import Sim, unique_prefix
from tests.support.ui import driven, log_text
from tests.test_ui_brokers import links_up, row_of, until

NO_MOTION = "No motion from this device yet (MQTT)."
RETAINED = struct.pack(">ddd", 0.1, 0.2, 0.3)


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return unique_prefix(request.node.name.removeprefix("test_"))


@pytest.fixture
def rabbit_sim(sim_factory: Callable[..., Sim], rabbitmq: RabbitMQ) -> Callable[..., Sim]:
    """Starts mwm-sim on the session RabbitMQ (both protocols); all stopped after the test."""
    return partial(sim_factory, rabbitmq.url, rabbitmq.mqtt_url)


def rabbit_app(rabbitmq: RabbitMQ, stomp_vhost: str = "/") -> MwmApp:
    settings = Settings(stomp=rabbitmq.url, mqtt=rabbitmq.mqtt_url, stomp_vhost=stomp_vhost)
    return create_app(settings, tune_gc=False)


def _group_members(pgid: int) -> list[str]:
    """Program names of the live processes (zombies aside) in process group ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, rest = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        if int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            found.append(name.partition("(")[2])
    return found


def test_session_rabbitmq_speaks_both_protocols_on_its_own_loopback_ports(
    rabbitmq: RabbitMQ,
) -> None:
    assert stomp_handshake(rabbitmq.port, vhost="/").startswith(b"CONNECTED\n")
    assert mqtt_handshake(rabbitmq.mqtt_port)[0] == 0x20
    assert rabbitmq.url == f"stomp://{HOST}:{rabbitmq.port}"
    assert rabbitmq.mqtt_url == f"mqtt://{HOST}:{rabbitmq.mqtt_port}"
    assert {rabbitmq.port, rabbitmq.mqtt_port, rabbitmq.epmd_port}.isdisjoint(
        {61613, 1883, 4369, 5672}
    )
    # The dialled host is not a virtual host: the reason is in the ERROR frame's body.
    with pytest.raises(ConnectionError, match="access denied"):
        stomp_handshake(rabbitmq.port, vhost=HOST)


def test_a_killed_rabbitmq_leaves_no_process_behind(
    tmp_path: Path, own_brokers: BrokerStarter
) -> None:
    broker = own_brokers(RabbitMQ(workdir=tmp_path / "rabbitmq"))
    try:
        assert broker.ready_seconds is not None and broker.ready_seconds < 60
        assert broker.pid is not None
        group = os.getpgid(broker.pid)
        # The start script, the Erlang VM and epmd.
        assert {"rabbitmq-server", "beam.smp", "epmd"} <= set(_group_members(group))
    finally:
        broker.kill()
    deadline = time.monotonic() + 10
    while _group_members(group) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _group_members(group) == []
    broker.close()


async def test_hq_names_the_virtual_host_the_broker_refused(rabbitmq: RabbitMQ) -> None:
    app = rabbit_app(rabbitmq, HOST)
    async with driven(app, (200, 40)) as pilot:
        said = "Virtual host '127.0.0.1' access denied"
        await until(pilot, app, lambda: said in log_text(app), "the ERROR body in the log", 30)
        line = next(line for line in log_text(app).splitlines() if said in line)
        assert f"STOMP link down: broker refused: Bad CONNECT: {said} (--stomp-vhost is" in line
        assert app.query_one(StatusBar).links[LinkName.STOMP].state is not LinkState.UP


def _retain_motion(rabbitmq: RabbitMQ, device_id: str) -> None:
    """The truck's motion, retained on the broker before HQ runs."""
    truck = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
    truck.connect(HOST, rabbitmq.mqtt_port)
    truck.loop_start()
    try:
        truck.publish(ids.motion_topic(device_id), RETAINED, qos=1, retain=True).wait_for_publish(5)
    finally:
        truck.disconnect()
        truck.loop_stop()


def _send_fix(rabbitmq: RabbitMQ, device_id: str) -> None:
    connection = stomp.Connection12([(HOST, rabbitmq.port)], vhost="/")
    connection.connect(wait=True)
    try:
        body = codecs.encode_location(Position(device_id, 48.8581, 2.2946))
        connection.send(
            ids.location_destination(device_id),
            body,
            content_type="application/json;charset=utf-8",
            receipt="fix-sent",
        )
    finally:
        connection.disconnect()


def _retained_reaches_exact_subscriber(rabbitmq: RabbitMQ, device_id: str) -> bytes | None:
    """What an exact subscription to the truck's motion topic gets at once (the retained)."""
    got: list[bytes] = []
    arrived = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)

    def on_message(_client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage) -> None:
        got.append(message.payload)
        arrived.set()

    client.on_message = on_message
    client.connect(HOST, rabbitmq.mqtt_port)
    client.loop_start()
    try:
        client.subscribe(ids.motion_topic(device_id), qos=0)
        arrived.wait(10)
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0] if got else None


async def test_a_truck_whose_only_motion_is_retained_gets_it_by_its_exact_topic(
    rabbitmq: RabbitMQ, prefix: str
) -> None:
    retained_only, motionless = f"{prefix}01", f"{prefix}02"
    await asyncio.to_thread(_retain_motion, rabbitmq, retained_only)
    # RabbitMQ holds it, but gives it only to an exact subscription, not to /mwm/+/motion.
    held = await asyncio.to_thread(_retained_reaches_exact_subscriber, rabbitmq, retained_only)
    assert held == RETAINED
    app = rabbit_app(rabbitmq)
    async with driven(app) as pilot:
        await links_up(pilot, app)
        for truck in (retained_only, motionless):
            await asyncio.to_thread(_send_fix, rabbitmq, truck)
        await pilot.press("slash", *prefix, "enter")
        await until(
            pilot,
            app,
            lambda: app.device_list.row_ids == [retained_only, motionless],
            "both trucks listed",
        )
        # Before HQ asks, and for a truck with no motion anywhere: listed, motion visibly empty.
        row = row_of(app, motionless)
        # Its motion age, pitch and roll are dashes (yaw, next, needs a wider screen).
        assert "48.8581" in row and "2.2946" in row and row.count("—") >= 3, row
        # HQ asks the broker for the first truck's motion by its exact topic and shows it as
        # last known, age unknown (a retained value proves nothing about liveness).
        await until(
            pilot,
            app,
            lambda: app.fleet.devices[retained_only].motion is not None,
            "the retained motion asked for",
        )
        device = app.fleet.devices[retained_only]
        assert device.motion_is_retained
        assert (device.motion.pitch, device.motion.roll, device.motion.yaw) == (0.1, 0.2, 0.3)
        await until(pilot, app, lambda: "+6°" in row_of(app, retained_only), "pitch on screen")
        # The second truck has nothing retained: it stays listed, saying so.
        await pilot.press("j")
        assert app.device_list.selected == motionless
        await until(
            pilot,
            app,
            lambda: NO_MOTION in app.query_one(MotionPanel).render().plain,
            "the motion panel saying there is none yet",
        )
        assert app.fleet.devices[motionless].motion is None
    # The exact subscription was only a question: HQ unsubscribed once it was answered.
    bindings = await asyncio.to_thread(rabbitmq.ctl, "list_bindings", "routing_key")
    assert f".mwm.{retained_only}.motion" not in bindings.split()


def _collect_queue(rabbitmq: RabbitMQ, destination: str, seconds: float) -> list[bytes]:
    """Bodies a truck subscribing to ``destination`` reads within ``seconds``."""
    got: list[bytes] = []

    class Truck(stomp.ConnectionListener):  # type: ignore[misc]
        def on_message(self, frame: stomp.utils.Frame) -> None:
            got.append(frame.body)

    connection = stomp.Connection12([(HOST, rabbitmq.port)], vhost="/", auto_decode=False)
    connection.set_listener("truck", Truck())
    connection.connect(wait=True)
    try:
        connection.subscribe(destination, id="orders")
        time.sleep(seconds)
    finally:
        connection.disconnect()
    return got


def test_rabbitmq_drops_an_order_nobody_took_before_it_expired(rabbitmq: RabbitMQ) -> None:
    truck = f"X{uuid.uuid4().hex[:8]}"
    events = Recorder()
    link = StompLink(parse_target(rabbitmq.url, Protocol.STOMP), events, advisories=False)
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        sent = [
            link.send_order(truck, "too late", expires_at=time.time() + 0.3),
            link.send_order(truck, "still wanted", expires_at=time.time() + 600),
        ]
        wait_until(
            lambda: all(events.first(OrderOutcome, order_id=order_id) for order_id in sent),
            10,
            "both receipts",
        )
    finally:
        link.stop()
    time.sleep(0.6)
    # The truck comes online after the first order's deadline: it reads only the second.
    assert _collect_queue(rabbitmq, ids.order_destination(truck), 1.0) == [b"still wanted"]


def test_mwm_sim_names_the_virtual_host_rabbitmq_refused(
    rabbit_sim: Callable[..., Sim], rabbitmq: RabbitMQ, prefix: str
) -> None:
    sim = rabbit_sim("--devices", "1", "--prefix", prefix, "--stomp-vhost", "nowhere")
    said = "Bad CONNECT: Virtual host 'nowhere' access denied"
    wait_until(lambda: said in sim.err, 30, "the ERROR body on mwm-sim's stderr")
    assert "Traceback" not in sim.err
    assert sim.lines("READY ") == []

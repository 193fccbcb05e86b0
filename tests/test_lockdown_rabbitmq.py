"""A locked-down fleet on a real RabbitMQ: the ``rabbitmqctl`` script ``mwm-tui brokers config``
writes, run against a RabbitMQ of the module's own (it deletes the guest account).

RabbitMQ answers a refused STOMP SEND or SUBSCRIBE with an ERROR frame and closes the
connection; it closes an MQTT connection that publishes or subscribes where it may not.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain import ids
from mwm_tui.domain.events import AlertOutcome, LinkName, LinkState, OrderOutcome, WillReceived
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import RABBITMQ_HOME, RabbitMQ
from tests.support.fleet_brokers import read_credentials, write_fleet_config
from tests.support.fleet_clients import (
    FleetAccess,
    Hq,
    RawStomp,
    fix_of,
    motion_payload,
    mqtt_client,
    refused,
    running_hq,
    stomp_as,
    subscribed,
)
from tests.support.link_events import Recorder, wait_until
from tests.support.sim import Sim

ATTACKER, VICTIM = "truck-a", "truck-b"
QUIET = 1.0


@dataclass
class RabbitFleet:
    access: FleetAccess
    credentials_file: str
    # Runs one rabbitmqctl command against the module's node.
    ctl: Callable[..., None]


@pytest.fixture(scope="module")
def fleet(real_brokers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitFleet]:
    broker = RabbitMQ(workdir=tmp_path_factory.mktemp("rabbitmq-locked")).start()
    directory, _ = write_fleet_config(
        [ATTACKER, VICTIM], None, mqtt_port=broker.mqtt_port, stomp_port=broker.port
    )
    try:
        environment = {
            **broker._popen_environment(),
            "RABBITMQCTL": f"{RABBITMQ_HOME / 'bin' / 'rabbitmqctl'} -n {broker.node_name}",
        }
        script = directory / "rabbitmq" / "setup.sh"
        done = subprocess.run(
            ["sh", str(script)], env=environment, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        access = FleetAccess(broker.port, broker.mqtt_port, read_credentials(directory))

        def ctl(*arguments: str) -> None:
            command = [str(RABBITMQ_HOME / "bin" / "rabbitmqctl"), "-n", broker.node_name]
            done = subprocess.run(
                [*command, *arguments], env=environment, capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, done.stderr

        yield RabbitFleet(access, str(directory / "credentials"), ctl)
    finally:
        broker.close()
        shutil.rmtree(directory.parent, ignore_errors=True)


@pytest.fixture(scope="module")
def hq(fleet: RabbitFleet) -> Iterator[Hq]:
    with running_hq(fleet.access) as running:
        yield running


def test_rabbitmq_refuses_a_trucks_stomp_forgeries_and_eavesdropping(
    fleet: RabbitFleet, hq: Hq
) -> None:
    start = time.monotonic()
    attempts = [
        ("SEND", ids.location_destination(VICTIM), fix_of(VICTIM)),
        ("SEND", ids.order_destination(VICTIM), b"go home"),
        ("SEND", ids.order_destination(ATTACKER), b"go home"),
        ("SUBSCRIBE", ids.order_destination(VICTIM), b""),
        ("SUBSCRIBE", "/queue/device.*.text", b""),
        ("SUBSCRIBE", ids.LOCATION_SUBSCRIPTION, b""),
        ("SUBSCRIBE", "/topic/device.#", b""),
    ]
    for command, destination, body in attempts:
        # RabbitMQ ends the connection with its ERROR: one connection per attempt.
        with stomp_as(fleet.access, ATTACKER) as attacker:
            assert refused(attacker, command, destination, body) == "access_refused"
    with stomp_as(fleet.access, ATTACKER) as attacker:
        attacker.send_frame(
            "SEND", {"destination": ids.location_destination(ATTACKER), "receipt": "own"},
            fix_of(ATTACKER),
        )  # fmt: skip
        frame = attacker.next_frame(10.0)
        assert frame is not None and frame[0] == "RECEIPT", frame
    wait_until(lambda: hq.locations(start, ATTACKER), 10, "the attacker's own fix at HQ")
    time.sleep(QUIET)
    assert hq.locations(start, VICTIM) == []


def test_rabbitmq_refuses_a_trucks_mqtt_forgeries_and_eavesdropping(
    fleet: RabbitFleet, hq: Hq
) -> None:
    start = time.monotonic()
    password = fleet.access.password(ATTACKER)
    for topic in (ids.alert_topic(VICTIM), "/mwm/+/alert", ids.MOTION_SUBSCRIPTION, "#"):
        with mqtt_client(fleet.access, ATTACKER, password, client_id=ATTACKER) as (client, seen):
            client.subscribe(topic, 1)
            wait_until(lambda seen=seen: seen.disconnected, 10, f"the end of {topic}'s asker")
            assert seen.subacks in ([], [[0x80]]), seen.subacks
    for topic in (ids.motion_topic(VICTIM), ids.alert_topic(VICTIM)):
        with mqtt_client(fleet.access, ATTACKER, password, client_id=ATTACKER) as (client, seen):
            client.publish(topic, motion_payload(0.5), qos=1)
            wait_until(lambda seen=seen: seen.disconnected, 10, f"the end of {topic}'s writer")
    with mqtt_client(fleet.access, ATTACKER, password, client_id=ATTACKER) as (client, seen):
        assert subscribed(client, seen, (ids.alert_topic(ATTACKER), 1)) == [1]
        client.publish(ids.motion_topic(ATTACKER), motion_payload(0.25), qos=1)
        wait_until(lambda: hq.motions(start, ATTACKER), 10, "the attacker's own motion at HQ")
    time.sleep(QUIET)
    assert hq.motions(start, VICTIM) == []


@pytest.mark.parametrize(
    ("user", "password"),
    [(None, ""), (ATTACKER, "not-the-password"), ("guest", "guest")],
    ids=["anonymous", "wrong password", "guest"],
)
def test_rabbitmq_lets_in_no_client_without_its_own_password(
    fleet: RabbitFleet, user: str | None, password: str
) -> None:
    client = RawStomp(fleet.access, user, password)
    try:
        assert client.connected is not None and client.connected[0] == "ERROR", client.connected
    finally:
        client.close()
    with mqtt_client(fleet.access, user, password or None, expect_refusal=True) as (_, seen):
        assert seen.connack is not None and seen.connack.is_failure


def test_hq_and_the_simulated_trucks_work_through_the_locked_down_rabbitmq(
    fleet: RabbitFleet, hq: Hq, sim_factory: Callable[..., Sim]
) -> None:
    start = time.monotonic()
    sim = sim_factory(
        fleet.access.url(Protocol.STOMP),
        fleet.access.url(Protocol.MQTT),
        "--credentials", fleet.credentials_file,
        "--ids", f"{ATTACKER},{VICTIM}",
        "--location-interval", "0.5",
        "--motion-interval", "0.5",
    )  # fmt: skip
    sim.wait_ready(30)
    for device_id in (ATTACKER, VICTIM):
        wait_until(lambda d=device_id: hq.locations(start, d), 15, f"a fix of {device_id}")
        wait_until(lambda d=device_id: hq.motions(start, d), 15, f"motion of {device_id}")
        text = f"order for {device_id} {time.monotonic_ns()}"
        hq.confirmed(OrderOutcome, order_id=hq.stomp.send_order(device_id, text))
        sim.wait_line(f"ORDER {device_id}: {text}", 15)
        hq.confirmed(AlertOutcome, alert_id=hq.mqtt.send_alert(device_id, "purple"))
        sim.wait_line(f"ALERT {device_id}: purple", 15)
    sim.command(f"kill {VICTIM}")
    wait_until(lambda: hq.since(start, WillReceived, device_id=VICTIM), 15, "the dead truck's will")


def test_hq_refused_the_advisories_by_rabbitmq_connects_again_once_without_them(
    fleet: RabbitFleet,
) -> None:
    # An HQ account that may read the fleet's topics but not the advisories' routing key.
    fleet.ctl("add_user", "hq-plain", "hq-plain-password")
    fleet.ctl("set_permissions", "-p", "/", "hq-plain", ".*", ".*", ".*")
    fleet.ctl("set_topic_permissions", "-p", "/", "hq-plain", "amq.topic", ".*", "^device[.]")
    events = Recorder()
    url = fleet.access.url(Protocol.STOMP, "hq-plain")
    target = parse_target(url, Protocol.STOMP).with_password("hq-plain-password")
    link = StompLink([target], events)
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        time.sleep(6.0)  # long enough for several reconnections had it kept asking
        states = [change.state for _, change in events.states(LinkName.STOMP)]
    finally:
        link.stop()
    assert states.count(LinkState.UP) <= 2, states
    assert states[-1] is LinkState.UP, states

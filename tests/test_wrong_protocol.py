"""A URL that names the other protocol's port is said to be so, not "closed" or "no answer";
mwm-sim says why its trucks cannot connect."""

from __future__ import annotations

from collections.abc import Callable

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.protocol_probe import other_protocol
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain.events import LinkName, LinkState
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import ActiveMQ, Mosquitto, free_port
from tests.support.link_events import Recorder, wait_until
from tests.support.sim import Sim


def test_each_port_is_named_for_the_protocol_it_speaks(
    mosquitto: Mosquitto, activemq: ActiveMQ
) -> None:
    stomp_at_mosquitto = parse_target(f"stomp://127.0.0.1:{mosquitto.port}", Protocol.STOMP)
    mqtt_at_activemq = parse_target(f"mqtt://127.0.0.1:{activemq.port}", Protocol.MQTT)
    events = Recorder()
    stomp_link = StompLink(stomp_at_mosquitto, events)
    mqtt_link = MqttLink(mqtt_at_activemq, events)
    stomp_link.start()
    mqtt_link.start()

    def said(link: LinkName) -> str | None:
        downs = [e.detail for _, e in events.states(link) if e.state is LinkState.DOWN]
        return downs[0] if downs else None

    try:
        stomp_said = wait_until(lambda: said(LinkName.STOMP), 15, "the STOMP link's reason")
        mqtt_said = wait_until(lambda: said(LinkName.MQTT), 20, "the MQTT link's reason")
    finally:
        stomp_link.stop()
        mqtt_link.stop()
    assert stomp_said == (f"port {mosquitto.port} speaks MQTT, not STOMP (check the --stomp URL)")
    assert mqtt_said == f"port {activemq.port} speaks STOMP, not MQTT (check the --mqtt URL)"
    # The right protocol on the right port, or no broker at all, names nothing.
    assert other_protocol(parse_target(mosquitto.url, Protocol.MQTT)) is None
    assert other_protocol(parse_target(activemq.url, Protocol.STOMP)) is None
    nobody = parse_target(f"mqtt://127.0.0.1:{free_port()}", Protocol.MQTT)
    assert other_protocol(nobody) is None


def test_the_simulator_says_why_its_trucks_cannot_connect(
    mosquitto: Mosquitto, sim_factory: Callable[..., Sim]
) -> None:
    closed = free_port()
    sim = sim_factory(
        f"stomp://127.0.0.1:{mosquitto.port}", f"mqtt://127.0.0.1:{closed}", "--devices", "2"
    )
    said = (
        "mwm-sim: STOMP 0/2 subscribed, MQTT 0/2; "
        f"STOMP: port {mosquitto.port} speaks MQTT, not STOMP (check the --stomp URL); "
        f"MQTT: connection refused by 127.0.0.1:{closed}"
    )
    wait_until(lambda: said in sim.err.splitlines(), 20, "both reasons on stderr")

"""Key ``r`` reconnects both real links at once, however long their backoff."""

from __future__ import annotations

from pathlib import Path

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.adapters.base import EventSink
from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.events import LinkState
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import ActiveMQ, BrokerStarter, Mosquitto, free_port
from tests.support.ui import driven, wait_for


async def test_r_reconnects_both_links_without_waiting(
    tmp_path: Path, own_brokers: BrokerStarter
) -> None:
    stomp_port, mqtt_port = free_port(), free_port()
    hour = Backoff(initial=3600.0, maximum=3600.0)
    made: list[StompLink | MqttLink] = []

    def links(sink: EventSink) -> tuple[StompLink, MqttLink]:
        stomp_target = parse_target(f"stomp://127.0.0.1:{stomp_port}", Protocol.STOMP)
        mqtt_target = parse_target(f"mqtt://127.0.0.1:{mqtt_port}", Protocol.MQTT)
        pair = (
            StompLink(stomp_target, sink, backoff=hour.copy()),
            MqttLink(mqtt_target, sink, backoff=hour.copy()),
        )
        made.extend(pair)
        return pair

    def all_in(state: LinkState) -> bool:
        return all(link.state is state for link in made)

    app = create_app(Settings(), links=links, tune_gc=False)
    async with driven(app) as pilot:
        await wait_for(pilot, lambda: all_in(LinkState.DOWN), 15, "both links refused")
        own_brokers(ActiveMQ(stomp_port, tmp_path / "activemq"))
        own_brokers(Mosquitto(mqtt_port, tmp_path / "mosquitto"))
        await pilot.press("r")
        await wait_for(pilot, lambda: all_in(LinkState.UP), 10, "both links up after r")

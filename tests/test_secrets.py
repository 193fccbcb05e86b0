"""A broker password never reaches the log (at any level), the link states or a repr."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain.events import LinkName, LinkState
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import ActiveMQ, BrokerStarter, Mosquitto
from tests.support.link_events import Recorder, wait_until

SECRET = "S3cr3t-do-not-show"


def test_password_stays_out_of_log_and_link_states(
    tmp_path: Path,
    activemq: ActiveMQ,
    own_brokers: BrokerStarter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    mosquitto = own_brokers(Mosquitto(workdir=tmp_path / "m", users={"hq": "right-password"}))
    events = Recorder()
    mqtt = parse_target(f"mqtt://hq@127.0.0.1:{mosquitto.port}", Protocol.MQTT)
    stomp = parse_target(f"stomp://hq@127.0.0.1:{activemq.port}", Protocol.STOMP)
    links = (
        MqttLink([mqtt.with_password(SECRET)], events),
        StompLink([stomp.with_password(SECRET)], events),
    )
    try:
        for link in links:
            link.start()
        wait_until(lambda: events.state_at(LinkName.MQTT, LinkState.DOWN), 20, "MQTT refused")
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        shown = [repr(event) for _, event in events.since()] + [link.label for link in links]
        shown += [repr(link.targets) for link in links]
    finally:
        for link in links:
            link.stop()
    assert any("authentication failed" in line for line in shown), shown
    assert caplog.text, "nothing was logged, so the check below would prove nothing"
    assert SECRET not in caplog.text
    assert not [line for line in shown if SECRET in line]

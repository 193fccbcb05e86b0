"""When the links retry, and when they stop retrying: backoff delays and client-id clashes."""

from __future__ import annotations

import random
import time

import pytest

from mwm_tui.adapters.backoff import (
    RECONNECT_MAXIMUM,
    REFUSED_INITIAL,
    reconnect_backoff,
    refused_backoff,
)
from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.supervisor import LinkDownError
from mwm_tui.domain.targets import Protocol, parse_target

CLOSED = LinkDownError("broker closed the connection")
REFUSED = LinkDownError("connection refused by 127.0.0.1:1883")


def test_reconnect_delays_stay_short_whatever_the_outage() -> None:
    backoff = reconnect_backoff()
    delays = [backoff.next_delay() for _ in range(1000)]
    # A broker back after any outage is tried again within 2.5 s ...
    assert max(delays) <= RECONNECT_MAXIMUM == 2.5
    # ... and the cap is reached after four failures, about 6 s into an outage.
    assert sum(delays[:4]) <= 6.0
    assert min(delays[4:]) >= 2.5 * 0.8


def test_refused_connections_are_retried_a_few_times_a_minute() -> None:
    for seed in range(50):
        backoff = refused_backoff()
        backoff._rng = random.Random(seed)
        elapsed, attempts = 0.0, 1
        while True:
            elapsed += backoff.next_delay()
            if elapsed > 60.0:
                break
            attempts += 1
        assert attempts <= 4
    assert refused_backoff().next_delay() >= REFUSED_INITIAL * 0.9


@pytest.fixture
def link() -> MqttLink:
    target = parse_target("mqtt://127.0.0.1:1883", Protocol.MQTT)
    return MqttLink(target, lambda event: None, client_id="hq-1")


def session_closed(link: MqttLink, lasted: float) -> None:
    link._judge_takeover(CLOSED, time.monotonic() - lasted)


def test_sessions_lost_just_after_being_won_back_are_a_clash(link: MqttLink) -> None:
    session_closed(link, 3600.0)  # the long session the other client took
    session_closed(link, 0.5)
    session_closed(link, 0.5)
    with pytest.raises(LinkDownError) as raised:
        session_closed(link, 0.5)
    assert raised.value.clash
    assert raised.value.reason == "session taken over by another client with client id hq-1"


def test_a_broker_that_was_away_in_between_is_no_clash(link: MqttLink) -> None:
    for _ in range(10):
        session_closed(link, 3600.0)
        session_closed(link, 0.5)
        session_closed(link, 0.5)
        link._judge_takeover(REFUSED, None)  # the broker was down: a restart, not a clash


def test_sessions_that_lasted_are_no_clash(link: MqttLink) -> None:
    for _ in range(10):
        session_closed(link, 0.5)
        session_closed(link, 0.5)
        session_closed(link, 5.0)


def test_a_lost_keepalive_is_no_clash(link: MqttLink) -> None:
    silent = LinkDownError("no answer to a keepalive ping within 6 s")
    for _ in range(10):
        session_closed(link, 0.5)
        session_closed(link, 0.5)
        link._judge_takeover(silent, time.monotonic() - 0.5)

"""ActiveMQ consumer advisories on the STOMP link: who listens on a truck's order queue."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import stomp
from stomp.utils import Frame

from mwm_tui.adapters.stomp_advisories import advisory_event
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.adapters.stomp_session import SessionListener, StompSession
from mwm_tui.domain import ids
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    LinkName,
    LinkState,
    LocationReceived,
    MessageRejected,
    QueueConsumers,
)
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import ActiveMQ, BrokerStarter
from tests.support.link_events import Recorder, publish_location, wait_until

PREFIX = "/topic/ActiveMQ.Advisory.Consumer.Queue.device."


@pytest.fixture
def advisory_activemq(tmp_path: Path, own_brokers: BrokerStarter) -> ActiveMQ:
    return own_brokers(ActiveMQ(workdir=tmp_path / "activemq", advisories=True))


def device_connection(port: int) -> stomp.Connection12:
    connection = stomp.Connection12([("127.0.0.1", port)], heartbeats=(0, 0))
    connection.connect(wait=True)
    return connection


def test_a_truck_listening_on_its_queue_is_counted(advisory_activemq: ActiveMQ) -> None:
    events = Recorder()
    link = StompLink(parse_target(advisory_activemq.url, Protocol.STOMP), events)
    device = f"adv-{uuid.uuid4().hex[:6]}"
    hostile = "bad id"
    truck = device_connection(advisory_activemq.port)
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        truck.subscribe(ids.order_destination(device), id="orders")
        wait_until(lambda: events.first(QueueConsumers, device_id=device, consumers=1), 10, "1")
        truck.unsubscribe("orders")
        wait_until(lambda: events.first(QueueConsumers, device_id=device, consumers=0), 10, "0")
        # A client may name any queue; an id HQ could not address is rejected, not shown.
        truck.subscribe(f"/queue/device.{hostile}.text", id="odd")
        reject = wait_until(lambda: events.first(MessageRejected), 10, "a reject")[1]
        # Locations still flow on the same link.
        publish_location(advisory_activemq.port, device)
        wait_until(
            lambda: any(isinstance(e, LocationReceived) for _, e in events.since()), 10, "location"
        )
    finally:
        truck.disconnect()
        link.stop()
    assert reject.reason is RejectReason.BAD_ID
    assert reject.source == f"{PREFIX}{hostile}.text"
    assert [e.state for _, e in events.states(LinkName.STOMP)][:2] == [
        LinkState.CONNECTING,
        LinkState.UP,
    ]


def test_a_broker_without_advisories_keeps_the_link_up(activemq: ActiveMQ) -> None:
    """Debian's ActiveMQ without XStream cannot hand advisories to STOMP: it sends nothing."""
    events = Recorder()
    link = StompLink(parse_target(activemq.url, Protocol.STOMP), events)
    device = f"noadv-{uuid.uuid4().hex[:6]}"
    truck = device_connection(activemq.port)
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        truck.subscribe(ids.order_destination(device), id="orders")
        time.sleep(2.0)
        publish_location(activemq.port, device)
        wait_until(
            lambda: any(isinstance(e, LocationReceived) for _, e in events.since()), 10, "location"
        )
    finally:
        truck.disconnect()
        link.stop()
    assert not [e for _, e in events.since() if isinstance(e, QueueConsumers)]
    states = [e.state for _, e in events.states(LinkName.STOMP)]
    assert states == [LinkState.CONNECTING, LinkState.UP, LinkState.DOWN]  # DOWN: stopped


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"destination": f"{PREFIX}T1.text", "consumerCount": "2"}, QueueConsumers("T1", 2)),
        ({"destination": f"{PREFIX}T1.text", "consumerCount": "0"}, QueueConsumers("T1", 0)),
        ({"destination": f"{PREFIX}a.b.text", "consumerCount": "1"}, RejectReason.BAD_ID),
        ({"destination": f"{PREFIX}.text", "consumerCount": "1"}, RejectReason.BAD_ID),
        ({"destination": f"{PREFIX}a*.text", "consumerCount": "1"}, RejectReason.BAD_ID),
        ({"destination": f"{PREFIX}\x07.text", "consumerCount": "1"}, RejectReason.BAD_ID),
        ({"destination": f"{PREFIX}T1.other", "consumerCount": "1"}, RejectReason.BAD_DESTINATION),
        ({"destination": "/topic/device.T1.location"}, RejectReason.BAD_DESTINATION),
        ({"destination": f"{PREFIX}T1.text"}, RejectReason.MISSING_FIELD),
        ({"destination": f"{PREFIX}T1.text", "consumerCount": "-1"}, RejectReason.MISTYPED_FIELD),
        (
            {"destination": f"{PREFIX}T1.text", "consumerCount": "\u0661"},
            RejectReason.MISTYPED_FIELD,
        ),
        (
            {"destination": f"{PREFIX}T1.text", "consumerCount": "9" * 40},
            RejectReason.MISTYPED_FIELD,
        ),
    ],
)
def test_advisory_headers_become_a_count_or_a_reject(
    headers: dict[str, str], expected: QueueConsumers | RejectReason
) -> None:
    event = advisory_event(headers)
    if isinstance(expected, QueueConsumers):
        assert event == expected
    else:
        assert isinstance(event, MessageRejected)
        assert (event.link, event.reason) == (LinkName.STOMP, expected)


def test_only_the_advisory_subscription_is_read_as_advisories() -> None:
    events = Recorder()
    link = StompLink(parse_target("stomp://127.0.0.1:9", Protocol.STOMP), events)
    advisory = {"subscription": "mwm-tui-order-consumers", "consumerCount": "1"}
    link.handle_message(Frame("MESSAGE", {**advisory, "destination": f"{PREFIX}T1.text"}, b""))
    link.handle_message(
        Frame("MESSAGE", {"subscription": "mwm-tui-locations", "destination": f"{PREFIX}T1.text"})
    )
    first, second = (event for _, event in events.since())
    assert first == QueueConsumers("T1", 1)
    assert isinstance(second, MessageRejected) and second.reason is RejectReason.BAD_DESTINATION


def test_a_refused_advisory_subscription_does_not_end_the_session() -> None:
    events = Recorder()
    link = StompLink(parse_target("stomp://127.0.0.1:9", Protocol.STOMP), events)
    session = StompSession(subscription_receipt="sub-1", advisory_receipt="adv-1", connected=True)
    listener = SessionListener(link, session)
    refusal = {"receipt-id": "adv-1", "message": "User hq is not authorized to read"}
    listener.on_error(Frame("ERROR", refusal, b""))
    assert (session.lost, session.last_error) == (None, None)
    assert link._advisories_refused == "User hq is not authorized to read"
    listener.on_error(Frame("ERROR", {"receipt-id": "sub-1", "message": "no"}, b""))
    assert session.lost == "broker refused the subscription: no"

"""An order as a truck receives it from a real ActiveMQ: who made it and which dispatch it is."""

from __future__ import annotations

import uuid

import stomp

from mwm_tui.adapters.stomp_link import BY_HEADER, DISPATCH_HEADER, StompLink
from mwm_tui.domain.events import Delivery, LinkName, LinkState, OrderOutcome
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import HOST, ActiveMQ
from tests.support.link_events import Recorder, wait_until


class _Truck(stomp.ConnectionListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.frames: list[stomp.utils.Frame] = []

    def on_message(self, frame: stomp.utils.Frame) -> None:
        self.frames.append(frame)


def outcomes(events: Recorder) -> list[OrderOutcome]:
    return [event for _, event in events.since() if isinstance(event, OrderOutcome)]


def test_an_order_names_its_dispatcher_and_its_dispatch_on_the_wire(activemq: ActiveMQ) -> None:
    device_id = f"H{uuid.uuid4().hex[:6]}"
    events = Recorder()
    link = StompLink(parse_target(activemq.url, Protocol.STOMP), events, advisories=False)
    truck = stomp.Connection12([(HOST, activemq.port)], heartbeats=(0, 0))
    listener = _Truck()
    truck.set_listener("truck", listener)
    truck.connect(wait=True)
    truck.subscribe(f"/queue/device.{device_id}.text", id="orders")
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        order_id = link.send_order(device_id, "Call HQ", dispatch_id="d-42", by="d1")
        unnamed = link.send_order(device_id, "no name")
        wait_until(lambda: len(listener.frames) == 2, 15, "both orders at the truck")
        wait_until(lambda: len(outcomes(events)) == 2, 15, "both receipts")
    finally:
        link.stop()
        truck.disconnect()
    named, bare = listener.frames
    assert named.body == "Call HQ"
    assert named.headers[BY_HEADER] == "d1"
    assert named.headers[DISPATCH_HEADER] == "d-42"
    assert bare.body == "no name"
    assert BY_HEADER not in bare.headers and DISPATCH_HEADER not in bare.headers
    assert {(o.order_id, o.delivery) for o in outcomes(events)} == {
        (order_id, Delivery.CONFIRMED),
        (unnamed, Delivery.CONFIRMED),
    }

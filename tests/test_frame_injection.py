"""A device cannot forge frames to HQ through a NUL in a header (issue 8), on a real ActiveMQ."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable

from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain import codecs
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MessageRejected,
)
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import HOST, ActiveMQ
from tests.support.link_events import Recorder, publish_location, wait_until

HQ_SUBSCRIPTION = "mwm-tui-locations"


def forged_message(victim: str) -> bytes:
    body = codecs.encode_location(codecs.Position(victim, 1.5, 2.5))
    return (
        f"MESSAGE\ndestination:/topic/device.{victim}.location\nsubscription:{HQ_SUBSCRIPTION}\n"
        f"message-id:x\ncontent-length:{len(body)}\n\n"
    ).encode() + body


def forged_error(marker: str) -> bytes:
    return f"ERROR\nmessage:{marker}\n\n{marker}".encode()


def send_hostile(port: int, evil: str, forged: bytes) -> None:
    """SEND to ``/topic/device.<evil>\\0Z.location`` a body that hides ``forged`` after a NUL."""
    body = b"A\x00" + forged + b"\x00\n"
    frame = (
        (
            f"SEND\ndestination:/topic/device.{evil}\x00Z.location\n"
            f"content-length:{len(body)}\nreceipt:sent\n\n"
        ).encode()
        + body
        + b"\x00"
    )
    with socket.create_connection((HOST, port), timeout=5.0) as sock:
        sock.sendall(b"CONNECT\naccept-version:1.2\nhost:localhost\nheart-beat:0,0\n\n\x00")
        sock.sendall(frame)
        reply = b""
        while b"RECEIPT" not in reply:
            chunk = sock.recv(4096)
            assert chunk, f"broker closed before the receipt: {reply!r}"
            reply += chunk


def malformed(events: Recorder) -> list[MessageRejected]:
    return [
        event
        for _, event in events.since()
        if isinstance(event, MessageRejected) and event.reason is RejectReason.MALFORMED_FRAME
    ]


def attack(broker: ActiveMQ, forged: Callable[[str], bytes], events: Recorder) -> str:
    """Run HQ's link, send the hostile frame and then one honest location; the honest id."""
    suffix = uuid.uuid4().hex[:6]
    honest = f"honest-{suffix}"
    send_hostile(broker.port, f"EVIL{suffix}", forged(f"VICTIM{suffix}"))
    publish_location(broker.port, honest)
    wait_until(lambda: events.first(LocationReceived), 20, "the honest location")
    return suffix


def test_a_message_hidden_behind_a_nul_in_a_destination_is_rejected_not_shown(
    activemq: ActiveMQ,
) -> None:
    events = Recorder()
    link = StompLink(parse_target(activemq.url, Protocol.STOMP), events)
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        suffix = attack(activemq, forged_message, events)
    finally:
        link.stop()
    shown = [e.position.device_id for _, e in events.since() if isinstance(e, LocationReceived)]
    assert shown == [f"honest-{suffix}"]
    (rejected,) = malformed(events)
    assert rejected.link is LinkName.STOMP
    assert "control character 0x00" in rejected.detail
    assert rejected.source == f"/topic/device.EVIL{suffix}\\x00Z.location"


def test_an_error_hidden_behind_a_nul_is_never_taken_for_the_brokers(
    fresh_activemq: Callable[..., ActiveMQ],
) -> None:
    broker = fresh_activemq()
    events = Recorder()
    link = StompLink(parse_target(broker.url, Protocol.STOMP), events)
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        suffix = attack(broker, forged_error, events)
        assert len(malformed(events)) == 1
        # A forged ERROR would be named as the cause when the broker goes away.
        broker.stop()
        wait_until(lambda: events.first(LinkStateChanged, state=LinkState.DOWN), 30, "STOMP down")
    finally:
        link.stop()
    details = [repr(event) for _, event in events.since()]
    assert not [detail for detail in details if f"VICTIM{suffix}" in detail]

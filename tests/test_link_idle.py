"""An idle STOMP link with sparse traffic must not drop (issue 7; takes about 3 minutes).

ActiveMQ skips a heart-beat when it sent anything in the interval before, so after a message
the next heart-beat can come two intervals later; stomp.py's own 1.5-interval watchdog dropped
such links about one time in four.
"""

from __future__ import annotations

import time
import uuid

import pytest

from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.domain.events import LinkName, LinkState, LocationReceived
from mwm_tui.domain.targets import Protocol, parse_target
from tests.support.brokers import ActiveMQ
from tests.support.link_events import Recorder, publish_location, wait_until

MESSAGES = 7
GAP = 30.0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_idle_link_with_a_message_every_30_s_never_reconnects(activemq: ActiveMQ) -> None:
    events = Recorder()
    link = StompLink(parse_target(activemq.url, Protocol.STOMP), events)
    device = f"idle-{uuid.uuid4().hex[:6]}"
    link.start()
    try:
        wait_until(lambda: events.state_at(LinkName.STOMP, LinkState.UP), 30, "STOMP up")
        for n in range(MESSAGES):
            if n:
                time.sleep(GAP)
            publish_location(activemq.port, device)
            wait_until(
                lambda n=n: sum(isinstance(e, LocationReceived) for _, e in events.since()) > n,
                10,
                f"location {n + 1}",
            )
        time.sleep(1.0)
    finally:
        link.stop()
    print(f"\nidle link: {link._probes} probe(s) answered in {MESSAGES - 1} gaps of {GAP:g} s")
    states = [(e.state, e.detail) for _, e in events.states(LinkName.STOMP)]
    assert [state for state, _ in states] == [
        LinkState.CONNECTING,
        LinkState.UP,
        LinkState.DOWN,
    ], states
    assert states[-1][1] == "stopped"

"""Which dashboard of a team sends the outbox: the rules, and the ``links`` table on a real file."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from mwm_tui.adapters.store import Store
from mwm_tui.adapters.team_links import TeamLinks
from mwm_tui.domain.events import LinkName
from mwm_tui.domain.team_lead import (
    HAND_OVER_AFTER,
    LinkReport,
    hand_over_reason,
    should_ask_for_lead,
)

STOMP, MQTT = LinkName.STOMP, LinkName.MQTT


def report(by: str, *up: LinkName) -> LinkReport:
    return LinkReport(session=f"s-{by}", by=by, up=frozenset(up))


def test_the_leader_keeps_the_lead_until_its_link_has_been_down_a_while() -> None:
    others = [report("d2", STOMP, MQTT)]
    assert hand_over_reason(10.0, {STOMP}, {STOMP: 10.0 - HAND_OVER_AFTER + 0.1}, others) is None
    reason = hand_over_reason(10.0, {STOMP}, {STOMP: 10.0 - HAND_OVER_AFTER}, others)
    assert reason == "its STOMP link is down and d2's is up"


def test_the_leader_keeps_the_lead_when_nobody_can_do_better() -> None:
    down = {STOMP: 0.0, MQTT: 0.0}
    assert hand_over_reason(60.0, {STOMP, MQTT}, down, [report("d2", MQTT)]) is not None
    assert hand_over_reason(60.0, {STOMP}, down, [report("d2", MQTT), report("d3")]) is None
    assert hand_over_reason(60.0, {STOMP}, down, []) is None
    # Nothing waits for the down link: nothing to hand over.
    assert hand_over_reason(60.0, set(), down, [report("d2", STOMP, MQTT)]) is None


def test_a_follower_asks_for_the_lead_unless_another_has_a_link_it_lacks() -> None:
    assert should_ask_for_lead({STOMP, MQTT}, [report("d1"), report("d3", STOMP)])
    assert should_ask_for_lead(set(), [report("d1")])
    assert should_ask_for_lead({MQTT}, [])
    assert not should_ask_for_lead({MQTT}, [report("d2", STOMP)])


def test_each_dashboard_sees_the_others_links_and_not_an_ended_ones(tmp_path: Path) -> None:
    first, second = Store.open(tmp_path), Store.open(tmp_path)
    try:
        mine, theirs = TeamLinks(first), TeamLinks(second)
        mine.publish("d1", frozenset({MQTT}), 100.0)
        theirs.publish("d2", frozenset({STOMP, MQTT}), 101.0)
        assert mine.others() == [LinkReport(second.session, "d2", frozenset({STOMP, MQTT}))]
        assert theirs.others() == [LinkReport(first.session, "d1", frozenset({MQTT}))]
        theirs.publish("d2", frozenset(), 102.0)
        assert mine.others() == [LinkReport(second.session, "d2", frozenset())]
        theirs.withdraw()
        assert mine.others() == []
        # A row left by a process that has ended (killed, say) is not believed.
        ended = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        with first.writing() as db:
            db.execute(
                "INSERT INTO links VALUES ('gone', 'd3', ?, ?, 'STOMP', 1.0)",
                (int(ended.stdout), socket.gethostname()),
            )
        assert mine.others() == []
    finally:
        first.close()
        second.close()

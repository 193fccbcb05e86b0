"""HQ asks for the retained motion of a truck still without any, once, after a moment."""

from __future__ import annotations

from mwm_tui.adapters.base import MotionAsker
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import LinkName
from mwm_tui.domain.fleet import Fleet
from mwm_tui.services.motion_asks import ASK_AFTER, MotionAsks
from tests.support.clock import FakeClock
from tests.support.links import RecordingLink


class AskingLink(RecordingLink):
    """An MQTT link that records which trucks' motion it was asked for."""

    def __init__(self) -> None:
        super().__init__(LinkName.MQTT, lambda event: None)
        self.asked: list[str] = []

    def ask_motion(self, device_id: str) -> None:
        self.asked.append(device_id)


def test_only_a_truck_still_without_motion_is_asked_about_once_after_its_moment() -> None:
    clock = FakeClock()
    fleet = Fleet(clock=clock)
    link = AskingLink()
    assert isinstance(link, MotionAsker)
    asks = MotionAsks(link, fleet)
    for truck in ("AAA", "BBB"):
        fleet.apply_location(Position(truck, 48.85, 2.35))
        asks.first_heard(truck)
    asks.tick()
    assert link.asked == []  # a wildcard's retained copy may still be on its way
    fleet.apply_motion("BBB", Motion(0.1, 0.2, 0.3), retained=True)
    clock.advance(ASK_AFTER)
    asks.tick()
    clock.advance(ASK_AFTER)
    asks.tick()
    assert link.asked == ["AAA"]  # once only


def test_a_link_that_cannot_ask_is_left_alone() -> None:
    clock = FakeClock()
    fleet = Fleet(clock=clock)
    link = RecordingLink(LinkName.MQTT, lambda event: None)
    assert not isinstance(link, MotionAsker)
    asks = MotionAsks(link, fleet)
    fleet.apply_location(Position("AAA", 48.85, 2.35))
    asks.first_heard("AAA")
    clock.advance(ASK_AFTER)
    asks.tick()
    assert link.sent == []

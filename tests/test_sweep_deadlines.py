"""The fleet's sweep judges only devices that are due, with the outcome of judging them all."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import (
    Event,
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MotionReceived,
    WillReceived,
)
from mwm_tui.domain.fleet import DeviceStatus, Fleet
from mwm_tui.domain.freshness import LinkView, StatusRule
from tests.support.clock import FakeClock

IDS = ["a", "b", "c", "d"]


def message(kind: str, device_id: str) -> Event:
    if kind == "fix":
        return LocationReceived(Position(device_id, 48.85, 2.35))
    if kind == "will":
        return WillReceived(device_id)
    return MotionReceived(device_id, Motion(0.1, 0.2, 0.3), kind == "retained")


step = st.one_of(
    st.tuples(st.just("advance"), st.sampled_from([0.25, 0.5, 1.0, 3.0, 14.0, 15.0, 40.0, 200.0])),
    st.tuples(st.sampled_from(["fix", "motion", "retained", "will"]), st.sampled_from(IDS)),
    st.tuples(st.just("link"), st.sampled_from([(n, s) for n in LinkName for s in LinkState])),
    st.tuples(st.just("sweep"), st.none()),
)


def state(fleet: Fleet) -> dict[str, tuple[DeviceStatus, str]]:
    return {d.device_id: (d.status, d.status_reason) for d in fleet.devices.values()}


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=60))
def test_sweeping_the_due_devices_matches_judging_every_device(
    steps: list[tuple[str, object]],
) -> None:
    clock = FakeClock()
    due_only = Fleet(clock=clock, stale_after=15.0, offline_after=120.0)
    everyone = Fleet(clock=clock, stale_after=15.0, offline_after=120.0)
    for kind, value in steps:
        if kind == "advance":
            assert isinstance(value, float)
            clock.advance(value)
            due_only.sweep()  # the app sweeps every second, so time never jumps unswept
            everyone.sweep_all()
        elif kind == "sweep":
            due_only.sweep()
            everyone.sweep_all()
        elif kind == "link":
            assert isinstance(value, tuple)
            event = LinkStateChanged(value[0], value[1], "test")
            due_only.apply(event)
            everyone.apply(event)
        else:
            assert isinstance(value, str)
            due_only.apply(message(kind, value))
            everyone.apply(message(kind, value))
        assert state(due_only) == state(everyone)
        assert due_only.take_changes() == everyone.take_changes()
        assert due_only.take_dirty() == everyone.take_dirty()
        assert due_only.counts() == everyone.counts()
        assert due_only.counts() == {
            status: n
            for status in DeviceStatus
            if (n := sum(d.status is status for d in due_only.devices.values()))
        }


class CountingRule(StatusRule):
    judged: list[float] = []

    def judge(
        self, current: DeviceStatus, now: float, **kwargs: object
    ) -> tuple[DeviceStatus, str]:
        self.judged.append(now)
        return super().judge(current, now, **kwargs)  # type: ignore[arg-type]


def test_a_quiet_sweep_judges_nobody() -> None:
    clock = FakeClock()
    fleet = Fleet(clock=clock, stale_after=15.0, offline_after=120.0)
    fleet.rule = CountingRule(15.0, 120.0)
    for number in range(1_000):
        fleet.apply(LocationReceived(Position(f"t-{number}", 1.0, 2.0)))
    clock.advance(1)
    fleet.sweep()  # the newcomers' first judgement
    assert len(CountingRule.judged) == 1_000
    CountingRule.judged.clear()
    for _ in range(13):
        clock.advance(1)
        fleet.sweep()
    assert CountingRule.judged == []
    clock.advance(1)
    fleet.sweep()
    assert len(CountingRule.judged) == 1_000
    assert fleet.counts() == {DeviceStatus.STALE: 1_000}


def test_next_change_is_when_a_silent_device_goes_stale_then_offline() -> None:
    rule = StatusRule(15.0, 120.0)
    up = LinkView(True, 0.0)
    online, stale = DeviceStatus.ONLINE, DeviceStatus.STALE
    assert rule.next_change(online, 10.0, known_at=0.0, fix_at=5.0, stomp=up) == 20.0
    assert rule.next_change(stale, 25.0, known_at=0.0, fix_at=5.0, stomp=up) == 125.0
    assert rule.next_change(DeviceStatus.OFFLINE, 25.0, known_at=0.0, fix_at=5.0, stomp=up) is None
    # HQ cannot hear the device: only a link change can move it.
    down = LinkView(False, 9.0)
    assert (
        rule.next_change(DeviceStatus.UNKNOWN, 25.0, known_at=0.0, fix_at=5.0, stomp=down) is None
    )
    # Online on the fresher of two links.
    both = {"stomp": up, "mqtt": up}
    assert rule.next_change(online, 10.0, known_at=0.0, fix_at=2.0, motion_at=8.0, **both) == 23.0

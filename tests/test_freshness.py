"""The status rule, alone and inside the fleet: hand-built events, an injected clock."""

from __future__ import annotations

import pytest

from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import (
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MotionReceived,
    WillReceived,
)
from mwm_tui.domain.fleet import DeviceStatus, Fleet, StatusChange
from mwm_tui.domain.freshness import AGE_UNKNOWN, AWAITING, LinkView, StatusRule
from tests.support.clock import FakeClock

ONLINE, STALE, OFFLINE = DeviceStatus.ONLINE, DeviceStatus.STALE, DeviceStatus.OFFLINE
UNKNOWN = DeviceStatus.UNKNOWN
RULE = StatusRule(stale_after=15.0, offline_after=120.0)
UP = LinkView(True, 0.0)


# --- the rule alone -------------------------------------------------------------------------


def test_recent_message_on_an_up_link_is_online() -> None:
    assert RULE.judge(ONLINE, 110.0, known_at=0.0, fix_at=100.0, stomp=UP) == (
        ONLINE,
        "heard from",
    )


@pytest.mark.parametrize(
    ("silent", "expected"), [(14.9, ONLINE), (15.0, STALE), (119.9, STALE), (120.0, OFFLINE)]
)
def test_thresholds_on_the_newest_message(silent: float, expected: DeviceStatus) -> None:
    status, _ = RULE.judge(ONLINE, 100.0 + silent, known_at=0.0, fix_at=100.0, stomp=UP)
    assert status is expected


def test_newest_of_both_ages_counts() -> None:
    status, _ = RULE.judge(
        ONLINE, 130.0, known_at=0.0, fix_at=100.0, motion_at=129.0, stomp=UP, mqtt=UP
    )
    assert status is ONLINE


def test_a_link_down_makes_an_online_device_unknown_whatever_its_silence() -> None:
    down = LinkView(False, 105.0)
    for now in (106.0, 500.0, 10_000.0):
        assert RULE.judge(ONLINE, now, known_at=0.0, fix_at=100.0, stomp=down) == (
            UNKNOWN,
            "HQ's STOMP link down",
        )


def test_proof_on_the_other_link_keeps_a_device_online() -> None:
    """Seen on both, STOMP down: fresh motion over MQTT still proves it alive."""
    status, _ = RULE.judge(
        ONLINE,
        200.0,
        known_at=0.0,
        fix_at=100.0,
        motion_at=199.0,
        stomp=LinkView(False, 101.0),
        mqtt=UP,
    )
    assert status is ONLINE


def test_silent_on_the_up_link_with_the_other_down_is_unknown_not_stale() -> None:
    status, reason = RULE.judge(
        ONLINE,
        200.0,
        known_at=0.0,
        fix_at=100.0,
        motion_at=100.0,
        stomp=LinkView(False, 101.0),
        mqtt=UP,
    )
    assert (status, reason) == (UNKNOWN, "HQ's STOMP link down")


def test_a_stale_device_stays_stale_while_the_link_is_down() -> None:
    status, _ = RULE.judge(STALE, 10_000.0, known_at=0.0, fix_at=100.0, stomp=LinkView(False, 120))
    assert status is STALE


def test_offline_is_never_ended_by_the_rule() -> None:
    status, _ = RULE.judge(OFFLINE, 101.0, known_at=0.0, fix_at=100.0, stomp=UP)
    assert status is OFFLINE


def test_grace_of_one_stale_interval_after_the_link_returns() -> None:
    back = LinkView(True, 500.0)  # silent since 100, link back at 500
    assert RULE.judge(UNKNOWN, 514.9, known_at=0.0, fix_at=100.0, stomp=back) == (
        UNKNOWN,
        AWAITING,
    )
    assert RULE.judge(UNKNOWN, 515.0, known_at=0.0, fix_at=100.0, stomp=back) == (
        STALE,
        "silent for 15 s",
    )
    assert RULE.judge(STALE, 620.0, known_at=0.0, fix_at=100.0, stomp=back) == (
        OFFLINE,
        "silent for 120 s",
    )


def test_a_message_from_before_the_outage_proves_nothing_after_it() -> None:
    back = LinkView(True, 105.0)
    status, _ = RULE.judge(UNKNOWN, 106.0, known_at=0.0, fix_at=104.0, stomp=back)
    assert status is UNKNOWN


def test_retained_only_device_counts_silence_from_when_hq_learned_of_it() -> None:
    assert RULE.judge(UNKNOWN, 110.0, known_at=100.0, mqtt=UP) == (UNKNOWN, AGE_UNKNOWN)
    assert RULE.judge(UNKNOWN, 115.0, known_at=100.0, mqtt=UP)[0] is STALE
    assert RULE.judge(STALE, 220.0, known_at=100.0, mqtt=UP)[0] is OFFLINE


@pytest.mark.parametrize(("stale", "offline"), [(0.0, 10.0), (10.0, 10.0), (20.0, 10.0)])
def test_thresholds_must_be_ordered(stale: float, offline: float) -> None:
    with pytest.raises(ValueError, match="stale_after"):
        StatusRule(stale, offline)


# --- the rule in the fleet ------------------------------------------------------------------


def position(device_id: str) -> LocationReceived:
    return LocationReceived(Position(device_id, 48.85, 2.35))


def motion(device_id: str, *, retained: bool = False) -> MotionReceived:
    return MotionReceived(device_id, Motion(0.1, 0.2, 0.3), retained)


def link(name: LinkName, state: LinkState) -> LinkStateChanged:
    return LinkStateChanged(name, state, "test")


def running_fleet(clock: FakeClock, count: int = 50) -> Fleet:
    fleet = Fleet(clock=clock, stale_after=15.0, offline_after=120.0)
    for number in range(count):
        fleet.apply(position(f"truck-{number:03d}"))
        fleet.apply(motion(f"truck-{number:03d}"))
    fleet.take_changes()
    return fleet


def test_hq_outage_makes_no_stale_or_offline_transition() -> None:
    clock = FakeClock()
    fleet = running_fleet(clock)
    clock.advance(1)
    fleet.apply(link(LinkName.STOMP, LinkState.DOWN))
    fleet.apply(link(LinkName.MQTT, LinkState.DOWN))
    for _ in range(300):  # five minutes down, swept every second, with retries
        clock.advance(1)
        fleet.sweep()
        fleet.apply(link(LinkName.MQTT, LinkState.CONNECTING))
        fleet.apply(link(LinkName.MQTT, LinkState.DOWN))
    changes = fleet.take_changes()
    assert {change.after for change in changes} == {UNKNOWN}
    assert len(changes) == 50  # one each, when HQ lost its links
    down = "HQ's STOMP and MQTT links down"
    assert changes[0] == StatusChange("truck-000", ONLINE, UNKNOWN, down)
    assert fleet.counts() == {UNKNOWN: 50}


def test_after_the_outage_live_trucks_come_back_and_silent_ones_wait_a_grace() -> None:
    clock = FakeClock()
    fleet = running_fleet(clock, 3)
    fleet.apply_all([link(LinkName.STOMP, LinkState.DOWN), link(LinkName.MQTT, LinkState.DOWN)])
    clock.advance(30)
    fleet.apply_all([link(LinkName.STOMP, LinkState.UP), link(LinkName.MQTT, LinkState.UP)])
    fleet.take_changes()
    clock.advance(0.5)
    fleet.apply(motion("truck-000"))
    fleet.apply(position("truck-001"))
    assert fleet.devices["truck-000"].status is ONLINE
    assert fleet.devices["truck-001"].status is ONLINE
    clock.advance(14)
    fleet.apply(motion("truck-000"))
    fleet.apply(position("truck-001"))
    fleet.sweep()
    assert fleet.devices["truck-002"].status is UNKNOWN  # 14.5 s after the return: grace
    assert fleet.devices["truck-002"].status_reason == AWAITING
    clock.advance(1)
    fleet.sweep()
    assert fleet.devices["truck-002"].status is STALE
    assert fleet.take_changes() == [
        StatusChange("truck-000", UNKNOWN, ONLINE, "heard from"),
        StatusChange("truck-001", UNKNOWN, ONLINE, "heard from"),
        StatusChange("truck-002", UNKNOWN, STALE, "silent for 16 s"),
    ]


def test_a_truck_seen_only_on_mqtt_does_not_depend_on_stomp() -> None:
    clock = FakeClock()
    fleet = Fleet(clock=clock)
    fleet.apply(motion("mqtt-only"))
    fleet.apply(position("both"))
    fleet.apply(motion("both"))
    fleet.apply(link(LinkName.STOMP, LinkState.DOWN))
    clock.advance(5)
    fleet.sweep()
    # Fresh motion over the MQTT link, which is up, proves both alive.
    assert fleet.devices["mqtt-only"].status is ONLINE
    assert fleet.devices["both"].status is ONLINE
    clock.advance(11)
    fleet.sweep()
    # Silent: judged by MQTT alone, but "both" may be sending positions HQ cannot hear.
    assert fleet.devices["mqtt-only"].status is STALE
    assert fleet.devices["both"].status is UNKNOWN


def test_a_will_is_believed_during_a_stomp_outage() -> None:
    clock = FakeClock()
    fleet = running_fleet(clock, 2)
    fleet.apply(link(LinkName.STOMP, LinkState.DOWN))
    fleet.apply(WillReceived("truck-001"))
    clock.advance(60)
    fleet.apply(link(LinkName.STOMP, LinkState.UP))
    clock.advance(60)
    fleet.sweep()
    assert fleet.devices["truck-001"].status is OFFLINE
    assert fleet.devices["truck-001"].status_reason == "last will"


def test_retained_only_device_goes_offline_and_never_online() -> None:
    clock = FakeClock()
    fleet = Fleet(clock=clock)
    fleet.apply(motion("parked", retained=True))
    for _ in range(130):
        clock.advance(1)
        fleet.sweep()
    assert [(c.before, c.after) for c in fleet.take_changes()] == [
        (None, UNKNOWN),
        (UNKNOWN, STALE),
        (STALE, OFFLINE),
    ]


def test_resubscribe_retained_does_not_make_a_live_device_look_fresh() -> None:
    clock = FakeClock()
    fleet = running_fleet(clock, 1)
    clock.advance(10)
    fleet.apply(motion("truck-000", retained=True))
    device = fleet.devices["truck-000"]
    assert device.motion_is_retained
    assert device.last_motion_at == 1000.0
    clock.advance(5)
    fleet.sweep()
    assert device.status is STALE


def test_an_offline_device_heard_live_is_online_again() -> None:
    clock = FakeClock()
    fleet = running_fleet(clock, 1)
    clock.advance(2)
    fleet.apply(WillReceived("truck-000"))
    fleet.take_changes()
    clock.advance(5)
    fleet.apply(motion("truck-000"))
    assert fleet.take_changes() == [
        StatusChange("truck-000", OFFLINE, ONLINE, "heard from again"),
    ]

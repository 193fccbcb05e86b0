"""The fleet model with a fake clock: devices, statuses, bounded histories, counters, memory."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    Delivery,
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MessageRejected,
    MotionReceived,
    OrderOutcome,
    WillReceived,
)
from mwm_tui.domain.fleet import DeviceStatus, Fleet, StatusChange
from tests.support.clock import FakeClock

ONLINE, STALE, OFFLINE = DeviceStatus.ONLINE, DeviceStatus.STALE, DeviceStatus.OFFLINE
UNKNOWN = DeviceStatus.UNKNOWN


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    return Fleet(clock=clock, stale_after=15.0, offline_after=120.0, history=50, trail=20)


def fix(device_id: str = "BBB", lat: float = 48.8581, lng: float = 2.2946) -> Position:
    return Position(device_id, lat, lng)


def still(value: float = 0.0) -> Motion:
    return Motion(value, value, value)


# --- devices appear -----------------------------------------------------------------


def test_first_location_creates_an_online_device(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply(LocationReceived(fix("BBB")))
    assert fleet.take_changes() == [StatusChange("BBB", None, ONLINE, "first message")]
    device = fleet.devices["BBB"]
    assert device.status is ONLINE
    assert device.position == fix("BBB")
    assert device.trail() == [(48.8581, 2.2946)]
    assert device.last_seen == clock.now
    assert device.location_count == 1 and device.motion_count == 0
    assert device.address_problem is None


def test_first_live_motion_creates_an_online_device(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply(MotionReceived("AAA", Motion(0.1, 0.2, 0.3)))
    assert fleet.take_changes() == [StatusChange("AAA", None, ONLINE, "first message")]
    device = fleet.devices["AAA"]
    assert device.motion == Motion(0.1, 0.2, 0.3)
    assert (device.pitch.values(), device.roll.values(), device.yaw.values()) == (
        [0.1],
        [0.2],
        [0.3],
    )
    assert device.last_seen == clock.now


def test_both_protocols_join_on_one_device(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("AAA"))
    clock.advance(3)
    fleet.apply_motion("AAA", still())
    assert list(fleet.devices) == ["AAA"]
    device = fleet.devices["AAA"]
    assert device.location_count == 1 and device.motion_count == 1
    assert device.last_seen == clock.now == device.last_motion_at
    assert device.last_location_at == clock.now - 3
    assert len(fleet.take_changes()) == 1


def test_last_seen_is_the_newer_of_the_two_links(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_motion("AAA", still())
    clock.advance(5)
    fleet.apply_location(fix("AAA"))
    assert fleet.devices["AAA"].last_seen == clock.now


def test_hostile_id_is_tracked_but_cannot_be_addressed(fleet: Fleet) -> None:
    fleet.apply_location(fix("*"))
    device = fleet.devices["*"]
    assert device.status is ONLINE
    assert device.address_problem is not None and "'*'" in device.address_problem


# --- bounded histories --------------------------------------------------------------


def test_motion_history_is_bounded_at_50(fleet: Fleet) -> None:
    for i in range(500):
        fleet.apply_motion("AAA", Motion(float(i), -float(i), i / 1000))
    device = fleet.devices["AAA"]
    assert device.pitch.values() == [float(i) for i in range(450, 500)]
    assert device.roll.values() == [-float(i) for i in range(450, 500)]
    assert device.yaw.values() == [i / 1000 for i in range(450, 500)]
    assert device.motion == Motion(499.0, -499.0, 0.499)
    assert device.motion_count == 500


def test_trail_is_bounded_and_oldest_first(fleet: Fleet) -> None:
    for i in range(300):
        fleet.apply_location(fix("BBB", lat=i / 10, lng=-i / 10))
    trail = fleet.devices["BBB"].trail()
    assert len(trail) == 20
    assert trail == [(i / 10, -i / 10) for i in range(280, 300)]
    assert fleet.devices["BBB"].position == fix("BBB", 29.9, -29.9)


def test_history_sizes_come_from_the_fleet(clock: FakeClock) -> None:
    small = Fleet(clock=clock, history=3, trail=2)
    for i in range(10):
        small.apply_motion("A", still(float(i)))
        small.apply_location(fix("A", lat=float(i)))
    assert small.devices["A"].pitch.values() == [7.0, 8.0, 9.0]
    assert [lat for lat, _ in small.devices["A"].trail()] == [8.0, 9.0]


# --- status over time -------------------------------------------------------------------


def test_stale_after_silence_then_offline(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("BBB"))
    fleet.take_changes()
    clock.advance(14.5)
    fleet.sweep()
    assert fleet.devices["BBB"].status is ONLINE
    assert fleet.take_changes() == []
    clock.advance(0.5)
    fleet.sweep()
    assert fleet.devices["BBB"].status is STALE
    assert fleet.take_changes() == [StatusChange("BBB", ONLINE, STALE, "silent for 15 s")]
    clock.advance(100)
    fleet.sweep()
    assert fleet.devices["BBB"].status is STALE
    clock.advance(5)
    fleet.sweep()
    assert fleet.devices["BBB"].status is OFFLINE
    assert fleet.take_changes() == [StatusChange("BBB", STALE, OFFLINE, "silent for 120 s")]
    clock.advance(10_000)
    fleet.sweep()
    assert fleet.take_changes() == []


def test_long_silence_goes_straight_to_offline(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_motion("AAA", still())
    fleet.take_changes()
    clock.advance(500)
    fleet.sweep()
    assert fleet.take_changes() == [StatusChange("AAA", ONLINE, OFFLINE, "silent for 500 s")]


def test_only_silent_devices_go_stale(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("QUIET"))
    clock.advance(10)
    fleet.apply_location(fix("CHATTY"))
    clock.advance(6)
    fleet.sweep()
    assert fleet.devices["QUIET"].status is STALE
    assert fleet.devices["CHATTY"].status is ONLINE


def test_will_after_a_silence_makes_a_device_offline_at_once(
    fleet: Fleet, clock: FakeClock
) -> None:
    fleet.apply_location(fix("BBB"))
    fleet.take_changes()
    clock.advance(2)
    fleet.apply(WillReceived("BBB"))
    assert fleet.devices["BBB"].status is OFFLINE
    assert fleet.devices["BBB"].status_reason == "last will"
    assert fleet.take_changes() == [StatusChange("BBB", ONLINE, OFFLINE, "last will")]


def test_device_heard_from_after_will_is_online_again(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("BBB"))
    clock.advance(2)
    fleet.apply_will("BBB")
    fleet.take_changes()
    clock.advance(60)
    fleet.apply_location(fix("BBB"))
    assert fleet.devices["BBB"].status is ONLINE
    assert fleet.take_changes() == [StatusChange("BBB", OFFLINE, ONLINE, "heard from again")]
    assert fleet.devices["BBB"].last_seen == clock.now


def test_live_motion_revives_a_stale_device(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("BBB"))
    clock.advance(20)
    fleet.sweep()
    fleet.take_changes()
    fleet.apply_motion("BBB", still())
    assert fleet.take_changes() == [StatusChange("BBB", STALE, ONLINE, "heard from again")]


def test_will_for_an_unknown_id_adds_no_device(fleet: Fleet) -> None:
    fleet.apply_will("GHOST")
    fleet.apply_will("GHOST", retained=True)
    assert "GHOST" not in fleet.devices
    assert fleet.take_changes() == []
    assert fleet.wills.ignored == 2


def test_second_will_changes_nothing(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("BBB"))
    clock.advance(2)
    fleet.apply_will("BBB")
    fleet.take_changes()
    version = fleet.version
    fleet.apply_will("BBB")
    assert fleet.take_changes() == []
    assert fleet.version == version


def test_sweep_leaves_an_offline_device_offline(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("BBB"))
    clock.advance(2)
    fleet.apply_will("BBB")
    fleet.take_changes()
    clock.advance(20)
    fleet.sweep()
    assert fleet.devices["BBB"].status is OFFLINE
    assert fleet.take_changes() == []


# --- retained motion ----------------------------------------------------------------------


def test_retained_motion_of_unknown_device_is_unknown_not_online(fleet: Fleet) -> None:
    fleet.apply(MotionReceived("OLD", Motion(0.5, 0.6, 0.7), retained=True))
    device = fleet.devices["OLD"]
    assert device.status is UNKNOWN
    assert device.motion_is_retained
    assert device.last_seen is None and device.last_motion_at is None
    assert device.motion == Motion(0.5, 0.6, 0.7)
    assert device.pitch.values() == [0.5]
    # It never passed through online, so the log must not say it did.
    assert fleet.take_changes() == [StatusChange("OLD", None, UNKNOWN, "last known, age unknown")]


def test_retained_motion_only_device_goes_stale_then_offline_never_online(
    fleet: Fleet, clock: FakeClock
) -> None:
    fleet.apply_motion("OLD", still(), retained=True)
    fleet.take_changes()
    clock.advance(15)
    fleet.sweep()
    clock.advance(105)
    fleet.sweep()
    assert fleet.devices["OLD"].status is OFFLINE
    assert fleet.take_changes() == [
        StatusChange("OLD", UNKNOWN, STALE, "silent for 15 s"),
        StatusChange("OLD", STALE, OFFLINE, "silent for 120 s"),
    ]


def test_retained_then_live_motion_goes_online(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_motion("OLD", still(), retained=True)
    fleet.take_changes()
    fleet.apply_motion("OLD", still(1.0))
    assert fleet.devices["OLD"].status is ONLINE
    assert fleet.devices["OLD"].last_seen == clock.now
    assert not fleet.devices["OLD"].motion_is_retained
    # Confirmed live, not "again": it was never known to be online or silent.
    assert fleet.take_changes() == [StatusChange("OLD", UNKNOWN, ONLINE, "heard from")]


def test_retained_motion_does_not_refresh_a_known_device(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("BBB"))
    seen = clock.now
    fleet.take_dirty()
    clock.advance(20)
    fleet.apply_motion("BBB", still(0.3), retained=True)
    assert fleet.devices["BBB"].last_seen == seen
    assert fleet.devices["BBB"].motion == still(0.3)
    assert fleet.take_dirty() == {"BBB"}
    fleet.sweep()
    assert fleet.devices["BBB"].status is STALE


def test_retained_motion_does_not_revive_an_offline_device(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("BBB"))
    clock.advance(2)
    fleet.apply_will("BBB")
    fleet.take_changes()
    fleet.apply_motion("BBB", still(), retained=True)
    assert fleet.devices["BBB"].status is OFFLINE
    assert fleet.take_changes() == []


# --- counters -------------------------------------------------------------------------


def test_counters_per_link_and_per_reject_reason(fleet: Fleet, clock: FakeClock) -> None:
    for _ in range(3):
        fleet.apply(LocationReceived(fix("BBB")))
    for _ in range(4):
        fleet.apply(MotionReceived("AAA", still()))
    fleet.apply(MotionReceived("AAA", still(), retained=True))
    clock.advance(2)
    fleet.apply(WillReceived("AAA"))
    rejects = [
        MessageRejected(LinkName.STOMP, RejectReason.NOT_JSON, "x", "/topic/device.B.location"),
        MessageRejected(LinkName.STOMP, RejectReason.NOT_JSON, "y", "/topic/device.B.location"),
        MessageRejected(LinkName.MQTT, RejectReason.WRONG_LENGTH, "23 bytes", "/mwm/A/motion"),
    ]
    fleet.apply_all(rejects)
    assert fleet.accepted == {LinkName.STOMP: 3, LinkName.MQTT: 6}
    assert fleet.rejected == {LinkName.STOMP: 2, LinkName.MQTT: 1}
    assert fleet.rejects_by_reason == {RejectReason.NOT_JSON: 2, RejectReason.WRONG_LENGTH: 1}
    assert fleet.counts() == {ONLINE: 1, OFFLINE: 1}
    assert set(fleet.devices) == {"AAA", "BBB"}


def test_events_that_are_not_the_fleets_are_ignored(fleet: Fleet) -> None:
    fleet.apply_all(
        [
            LinkStateChanged(LinkName.MQTT, LinkState.DOWN, "refused", retry_in=2.0),
            OrderOutcome("o-1", "BBB", Delivery.CONFIRMED),
        ]
    )
    assert fleet.devices == {}
    assert fleet.take_dirty() == set() and fleet.take_changes() == []
    assert sum(fleet.accepted.values()) == 0


# --- take_dirty / take_changes / version ---------------------------------------------------


def test_take_dirty_hands_over_once(fleet: Fleet) -> None:
    fleet.apply_location(fix("A"))
    fleet.apply_motion("B", still())
    fleet.apply_location(fix("A"))
    assert fleet.take_dirty() == {"A", "B"}
    assert fleet.take_dirty() == set()
    fleet.apply_motion("B", still())
    assert fleet.take_dirty() == {"B"}


def test_sweep_marks_changed_devices_dirty(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("A"))
    fleet.take_dirty()
    clock.advance(16)
    fleet.sweep()
    assert fleet.take_dirty() == {"A"}
    fleet.sweep()
    assert fleet.take_dirty() == set()


def test_take_changes_is_oldest_first_and_then_empty(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(fix("A"))
    fleet.apply_location(fix("B"))
    clock.advance(2)
    fleet.apply_will("A")
    changes = fleet.take_changes()
    assert [(c.device_id, c.before, c.after) for c in changes] == [
        ("A", None, ONLINE),
        ("B", None, ONLINE),
        ("A", ONLINE, OFFLINE),
    ]
    assert fleet.take_changes() == []


def test_version_moves_on_add_and_status_change_only(fleet: Fleet, clock: FakeClock) -> None:
    start = fleet.version
    fleet.apply_location(fix("A"))
    added = fleet.version
    assert added > start
    fleet.apply_location(fix("A"))
    fleet.apply_motion("A", still())
    assert fleet.version == added
    clock.advance(16)
    fleet.sweep()
    assert fleet.version > added


@pytest.mark.parametrize(("stale", "offline"), [(0.0, 10.0), (10.0, 10.0), (20.0, 10.0)])
def test_thresholds_must_be_ordered(stale: float, offline: float) -> None:
    with pytest.raises(ValueError, match="stale_after"):
        Fleet(stale_after=stale, offline_after=offline)


# --- memory -----------------------------------------------------------------------------

DEVICE_IDS = [f"truck-{n:02d}" for n in range(10)]


def feed(fleet: Fleet, clock: FakeClock, messages: int) -> None:
    for i in range(messages):
        device_id = DEVICE_IDS[i % len(DEVICE_IDS)]
        clock.advance(0.01)
        if i % 2:
            fleet.apply_motion(device_id, Motion(i * 1e-6, -i * 1e-6, 0.5))
        else:
            fleet.apply_location(Position(device_id, (i % 9000) / 100, (i % 18000) / 100))
        if i % 1000 == 0:
            fleet.take_dirty()


def retained_growth(messages: int) -> int:
    """Bytes the fleet holds on to after ``messages`` more messages, once it is warm."""
    clock = FakeClock()
    fleet = Fleet(clock=clock)
    feed(fleet, clock, 2_000)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        feed(fleet, clock, messages)
        fleet.take_dirty()
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return after - before


def test_memory_does_not_grow_with_messages() -> None:
    small = retained_growth(10_000)
    large = retained_growth(100_000)
    # Ten times the messages for ten devices must not hold on to more memory.
    assert large < 32 * 1024, large
    assert large <= small + 8 * 1024, (small, large)


def test_past_the_device_limit_new_ids_are_rejected_and_known_trucks_kept() -> None:
    clock = FakeClock()
    fleet = Fleet(clock=clock, max_devices=3)
    for name in ("A", "B", "C"):
        fleet.apply_location(Position(name, 1.0, 2.0))
    for n in range(100):
        fleet.apply_location(Position(f"new{n}", 1.0, 2.0))
        fleet.apply_motion(f"mq{n}", Motion(0.0, 0.0, 0.0))
        fleet.apply_will(f"gone{n}")  # no truck: ignored, not refused
    assert sorted(fleet.devices) == ["A", "B", "C"]
    assert fleet.full
    assert fleet.rejects_by_reason == {RejectReason.DEVICE_LIMIT: 200}
    assert fleet.rejected == {LinkName.STOMP: 100, LinkName.MQTT: 100}
    assert fleet.accepted == {LinkName.STOMP: 3, LinkName.MQTT: 100}
    assert fleet.wills.ignored == 100
    assert fleet.last_refused_id == "mq99"
    # A known truck's news and will still apply when the fleet is full.
    clock.advance(2)
    fleet.apply_location(Position("A", 5.0, 6.0))
    fleet.apply_motion("B", Motion(0.5, 0.0, 0.0))
    fleet.apply_will("C")
    assert fleet.devices["A"].position == Position("A", 5.0, 6.0)
    assert fleet.devices["B"].motion == Motion(0.5, 0.0, 0.0)
    assert fleet.devices["C"].status is DeviceStatus.OFFLINE
    assert fleet.rejects_by_reason[RejectReason.DEVICE_LIMIT] == 200


def test_the_default_device_limit_is_ten_thousand_and_must_be_positive() -> None:
    assert Fleet().max_devices == 10_000
    with pytest.raises(ValueError, match="max_devices"):
        Fleet(max_devices=0)


def test_a_folded_reject_counts_as_many_as_it_stands_for() -> None:
    fleet = Fleet(clock=lambda: 0.0)
    fleet.apply(MessageRejected(LinkName.MQTT, RejectReason.NOT_JSON, "x", "/mwm/lastWill", 41))
    fleet.apply(MessageRejected(LinkName.MQTT, RejectReason.NOT_JSON, "x", "/mwm/lastWill"))
    assert fleet.rejected == {LinkName.MQTT: 42}
    assert fleet.rejects_by_reason == {RejectReason.NOT_JSON: 42}

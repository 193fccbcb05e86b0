"""Last wills weighed against the truck's own data, and the device limit against retained ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import LinkName, LinkState, LinkStateChanged, WillReceived
from mwm_tui.domain.fleet import DeviceStatus, Fleet, StatusChange
from mwm_tui.domain.last_known import LastKnown
from mwm_tui.domain.wills import (
    HOLD,
    SPOKE_BEFORE,
    LiveData,
    WillNote,
    WillVerdict,
    disputed_after,
    weigh_live_will,
    weigh_retained_will,
)
from mwm_tui.ui.widgets.event_log import will_lines
from tests.support.clock import FakeClock
from tests.test_dispatcher import make

ONLINE, OFFLINE, STALE = DeviceStatus.ONLINE, DeviceStatus.OFFLINE, DeviceStatus.STALE
WALL = 1_800_000_000.0
STILL = Motion(0.0, 0.0, 0.0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fleet(clock: FakeClock) -> Fleet:
    return Fleet(clock=clock, stale_after=15.0, offline_after=120.0)


def verdicts(fleet: Fleet) -> list[tuple[str, WillVerdict]]:
    return [(note.device_id, note.verdict) for note in fleet.wills.take_notes()]


# --- the pure rules -------------------------------------------------------------------


def test_a_will_within_a_second_of_the_trucks_data_on_an_up_link_is_held() -> None:
    verdict, text = weigh_live_will(100.0, LiveData(99.5, None, stomp_up=True, mqtt_up=True))
    assert verdict is WillVerdict.HELD
    assert text.startswith("disputed will: the truck spoke 0.5 s before it")


def test_data_on_a_link_that_is_down_disputes_nothing() -> None:
    data = LiveData(99.5, 90.0, stomp_up=False, mqtt_up=True)
    assert weigh_live_will(100.0, data)[0] is WillVerdict.OFFLINE


def test_a_will_after_a_second_of_silence_is_believed() -> None:
    data = LiveData(100.0 - SPOKE_BEFORE - 0.01, 98.0, stomp_up=True, mqtt_up=True)
    assert weigh_live_will(100.0, data) == (WillVerdict.OFFLINE, "last will: went away")


def test_a_will_for_a_truck_never_heard_live_is_ignored() -> None:
    data = LiveData(None, None, stomp_up=True, mqtt_up=True)
    assert weigh_live_will(100.0, data)[0] is WillVerdict.IGNORED


def test_data_disputes_a_will_only_within_the_hold_after_it() -> None:
    assert disputed_after(100.0, 100.0)
    assert disputed_after(100.0, 100.0 + HOLD)
    assert not disputed_after(100.0, 100.0 + HOLD + 0.01)
    assert not disputed_after(100.0, 99.0)


@pytest.mark.parametrize(
    ("known", "since_start", "last_heard", "expected"),
    [
        (False, False, 50.0, WillVerdict.IGNORED),
        (True, False, None, WillVerdict.IGNORED),
        (True, True, 99.0, WillVerdict.DISPUTED),
        (True, False, 95.0, WillVerdict.DISPUTED),  # spoke 5 s before HQ started
        (True, False, 80.0, WillVerdict.OFFLINE),  # silent 20 s: the will explains it
    ],
)
def test_a_retained_will_explains_only_a_silence_hq_already_sees(
    known: bool, since_start: bool, last_heard: float | None, expected: WillVerdict
) -> None:
    verdict, _ = weigh_retained_will(
        100.0,
        known=known,
        heard_since_start=since_start,
        last_heard=last_heard,
        stale_after=15.0,
    )
    assert verdict is expected


# --- the fleet ------------------------------------------------------------------------


def test_a_forged_will_never_turns_a_talking_truck_offline(fleet: Fleet, clock: FakeClock) -> None:
    for _ in range(3):
        fleet.apply_motion("truck-02", STILL)
        clock.advance(0.5)
    fleet.take_changes()
    fleet.apply(WillReceived("truck-02"))
    assert verdicts(fleet) == [("truck-02", WillVerdict.HELD)]
    for _ in range(20):  # the truck talks on at 2 Hz; sweeps run at 1 Hz
        clock.advance(0.5)
        fleet.apply_motion("truck-02", STILL)
        fleet.sweep()
    assert fleet.devices["truck-02"].status is ONLINE
    assert fleet.take_changes() == []
    assert verdicts(fleet) == [("truck-02", WillVerdict.DISPUTED)]
    assert fleet.wills.held == {}


def test_a_held_will_is_believed_once_the_truck_stays_silent(
    fleet: Fleet, clock: FakeClock
) -> None:
    fleet.apply_motion("truck-02", STILL)
    clock.advance(0.3)
    fleet.apply(WillReceived("truck-02"))  # a crash: the will follows the last message at once
    clock.advance(HOLD - 0.1)
    fleet.sweep()
    assert fleet.devices["truck-02"].status is ONLINE
    clock.advance(0.2)
    fleet.sweep()
    assert fleet.devices["truck-02"].status is OFFLINE
    assert fleet.take_changes()[-1] == StatusChange("truck-02", ONLINE, OFFLINE, "last will")
    assert verdicts(fleet) == [("truck-02", WillVerdict.HELD), ("truck-02", WillVerdict.OFFLINE)]


def test_data_soon_after_a_believed_will_disputes_it(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(Position("truck-02", 1.0, 2.0))
    clock.advance(1.5)
    fleet.apply(WillReceived("truck-02"))
    assert fleet.devices["truck-02"].status is OFFLINE
    clock.advance(0.5)
    fleet.apply_location(Position("truck-02", 1.0, 2.0))
    assert fleet.devices["truck-02"].status is ONLINE
    assert fleet.take_changes()[-2:] == [
        StatusChange("truck-02", ONLINE, OFFLINE, "last will"),
        StatusChange("truck-02", OFFLINE, ONLINE, "disputed will"),
    ]
    notes = fleet.wills.take_notes()
    assert [note.verdict for note in notes] == [WillVerdict.OFFLINE, WillVerdict.DISPUTED]
    assert notes[1].text == "disputed will: the truck spoke 0.5 s after it"


def test_a_truck_back_long_after_its_will_disputes_nothing(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(Position("truck-02", 1.0, 2.0))
    clock.advance(2)
    fleet.apply(WillReceived("truck-02"))
    fleet.take_changes()
    clock.advance(HOLD + 1)
    fleet.apply_location(Position("truck-02", 1.0, 2.0))
    assert fleet.take_changes() == [StatusChange("truck-02", OFFLINE, ONLINE, "heard from again")]
    assert verdicts(fleet) == [("truck-02", WillVerdict.OFFLINE)]


def test_a_retained_will_adds_no_truck_and_disputes_a_live_one(
    fleet: Fleet, clock: FakeClock
) -> None:
    fleet.apply(WillReceived("PHANTOM-9", retained=True))
    fleet.apply_location(Position("truck-02", 1.0, 2.0))
    clock.advance(30)  # silent, but heard live since HQ started: the will is older
    fleet.apply(WillReceived("truck-02", retained=True))
    assert "PHANTOM-9" not in fleet.devices
    assert fleet.devices["truck-02"].status is not OFFLINE
    assert verdicts(fleet) == [("truck-02", WillVerdict.DISPUTED)]
    assert fleet.wills.ignored == 1


def remembered(device_id: str, age: float) -> LastKnown:
    return LastKnown(
        device_id, ONLINE, "", Position(device_id, 1.0, 2.0), WALL - age, None, None, WALL
    )


def test_a_retained_will_takes_offline_only_a_remembered_truck_long_silent(
    fleet: Fleet,
) -> None:
    fleet.restore([remembered("quiet", 60.0), remembered("recent", 3.0)], WALL)
    fleet.take_changes()
    fleet.apply(WillReceived("quiet", retained=True))
    fleet.apply(WillReceived("recent", retained=True))
    assert fleet.devices["quiet"].status is OFFLINE
    assert fleet.devices["quiet"].status_reason == "retained will"
    assert fleet.devices["recent"].status is not OFFLINE
    assert verdicts(fleet) == [("quiet", WillVerdict.OFFLINE), ("recent", WillVerdict.DISPUTED)]


def test_a_live_will_during_hqs_own_outage_is_believed(fleet: Fleet, clock: FakeClock) -> None:
    fleet.apply_location(Position("truck-02", 1.0, 2.0))
    fleet.apply(LinkStateChanged(LinkName.STOMP, LinkState.DOWN))
    clock.advance(0.5)
    fleet.apply(WillReceived("truck-02"))  # its fix came on a link that is down now
    assert fleet.devices["truck-02"].status is OFFLINE


# --- the device limit -----------------------------------------------------------------


def test_live_trucks_evict_ids_known_only_from_retained_motion() -> None:
    clock = FakeClock()
    fleet = Fleet(clock=clock, max_devices=5)
    fleet.apply_location(Position("real-1", 1.0, 2.0))
    for number in range(10):
        fleet.apply_motion(f"junk-{number}", STILL, retained=True)
    assert len(fleet.devices) == 5
    assert fleet.rejects_by_reason[RejectReason.DEVICE_LIMIT] == 6
    fleet.apply_motion("junk-0", STILL)  # heard live: no longer evictable
    fleet.apply_location(Position("real-2", 1.0, 2.0))
    fleet.apply_motion("real-3", STILL)
    fleet.apply_motion("junk-99", STILL, retained=True)  # still refused
    assert sorted(fleet.devices) == ["junk-0", "junk-3", "real-1", "real-2", "real-3"]
    assert (fleet.evicted, fleet.last_evicted_id) == (2, "junk-2")
    assert fleet.counts() == {ONLINE: 4, DeviceStatus.UNKNOWN: 1}
    assert {"junk-1", "junk-2"} <= fleet.take_dirty()  # the list drops them
    fleet.apply_location(Position("real-4", 1.0, 2.0))
    fleet.apply_location(Position("real-5", 1.0, 2.0))  # nothing left to evict: refused
    assert "real-5" not in fleet.devices
    assert fleet.last_refused_id == "real-5"
    clock.advance(1000)
    fleet.sweep()  # evicted ids left in the sweep's queue are skipped


def test_remembered_ids_never_heard_live_are_evicted_first() -> None:
    fleet = Fleet(clock=FakeClock(), max_devices=2)
    hearsay = LastKnown("junk", DeviceStatus.UNKNOWN, "", None, None, STILL, None, WALL)
    fleet.restore([hearsay, remembered("real-1", 60.0)], WALL)
    fleet.apply_motion("real-2", STILL)
    assert sorted(fleet.devices) == ["real-1", "real-2"]
    assert fleet.evicted == 1


# --- log and history ------------------------------------------------------------------


def test_doubted_wills_are_log_lines_and_believed_ones_left_to_the_status_line() -> None:
    notes = [WillNote(f"t{n}", WillVerdict.DISPUTED, "disputed will: x") for n in range(5)]
    notes.append(WillNote("gone", WillVerdict.OFFLINE, "last will: went away"))
    lines = will_lines(notes)
    assert [str(line.text) for line in lines] == [
        "? t0: disputed will: x",
        "? t1: disputed will: x",
        "? t2: disputed will: x",
        "? … and 2 more disputed wills",
    ]
    assert lines[-1].devices == frozenset({"t3", "t4"})


def test_the_history_keeps_disputed_wills(tmp_path: Path, clock: FakeClock) -> None:
    fleet = Fleet(clock=clock)
    dispatcher = make(tmp_path, clock, fleet)
    fleet.apply_motion("truck-02", STILL)
    fleet.apply(WillReceived("truck-02"))
    clock.advance(0.5)
    fleet.apply_motion("truck-02", STILL)
    dispatcher.record_wills(fleet.wills.take_notes())
    dispatcher.tick()
    entries = [(e.kind, e.device_id, e.text) for e in dispatcher.store.history()]
    assert [kind for kind, _, _ in entries] == ["will", "will"]
    assert all(text.startswith("disputed will") for _, _, text in entries)
    dispatcher.close()

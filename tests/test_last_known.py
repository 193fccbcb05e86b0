"""The fleet's last known state: taken from a fleet, kept in SQLite, restored at start."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from mwm_tui.adapters.fleet_state import load_fleet_state, prune_fleet_state, save_fleet_state
from mwm_tui.adapters.schema import MIGRATIONS, SCHEMA_VERSION
from mwm_tui.adapters.store import Store, StoreError, database_path
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import LinkName, LinkState
from mwm_tui.domain.fleet import DeviceStatus, Fleet, StatusChange
from mwm_tui.domain.freshness import AGE_UNKNOWN, AWAITING, LAST_KNOWN, LinkView, StatusRule
from mwm_tui.domain.last_known import LastKnown
from mwm_tui.services.fleet_memory import FleetMemory
from tests.support.clock import FakeClock

ONLINE, STALE, OFFLINE = DeviceStatus.ONLINE, DeviceStatus.STALE, DeviceStatus.OFFLINE
UNKNOWN = DeviceStatus.UNKNOWN
WALL = 1_800_000_000.0  # the wall clock when the second run starts


def make_fleet(clock: FakeClock, max_devices: int = 100) -> Fleet:
    return Fleet(clock=clock, stale_after=15.0, offline_after=120.0, max_devices=max_devices)


def state(
    device_id: str,
    age: float,
    status: DeviceStatus = ONLINE,
    reason: str = "heard from",
    *,
    motion_age: float | None = None,
) -> LastKnown:
    """What an earlier run kept: a fix ``age`` seconds before WALL, and maybe a motion."""
    motion_at = None if motion_age is None else WALL - motion_age
    return LastKnown(
        device_id=device_id,
        status=status,
        reason=reason,
        position=Position(device_id, 45.5, 9.25, raw_ts="2027-01-15T08:00:00Z"),
        fix_at=WALL - age,
        motion=Motion(0.1, 0.2, 0.3) if motion_age is not None else None,
        motion_at=motion_at,
        updated_at=WALL - min(age, motion_age if motion_age is not None else age),
    )


def parked() -> LastKnown:
    """A device HQ only ever had a retained motion of."""
    return LastKnown(
        "parked", UNKNOWN, AGE_UNKNOWN, None, None, Motion(0.1, 0.1, 0.1), None, WALL - 50.0
    )


# --- the rule with an earlier run's times ----------------------------------------------


def test_the_rule_takes_an_earlier_runs_times_as_no_proof_of_life_and_gives_no_grace() -> None:
    rule = StatusRule(stale_after=15.0, offline_after=120.0)
    up_long, back = LinkView(True, 0.0), LinkView(True, 200.0)
    heard_5_s_ago = {"known_at": 195.0, "fix_at": 195.0, "stomp": up_long}
    assert rule.judge(UNKNOWN, 200.0, **heard_5_s_ago) == (ONLINE, "heard from")
    assert rule.judge(UNKNOWN, 200.0, **heard_5_s_ago, restored=True) == (UNKNOWN, LAST_KNOWN)
    assert rule.next_change(UNKNOWN, 200.0, **heard_5_s_ago, restored=True) == 210.0

    heard_long_ago = {"known_at": 100.0, "fix_at": 100.0, "stomp": back}
    assert rule.judge(UNKNOWN, 201.0, **heard_long_ago) == (UNKNOWN, AWAITING)
    assert rule.judge(UNKNOWN, 201.0, **heard_long_ago, restored=True) == (
        STALE,
        "silent for 101 s",
    )
    assert rule.next_change(STALE, 201.0, **heard_long_ago, restored=True) == 220.0
    # HQ's own outage still is not the truck's.
    down = {"known_at": 100.0, "fix_at": 100.0, "stomp": LinkView(False, 200.0)}
    assert rule.judge(UNKNOWN, 300.0, **down, restored=True) == (UNKNOWN, "HQ's STOMP link down")
    assert rule.next_change(UNKNOWN, 300.0, **down, restored=True) is None


# --- restoring: statuses and ages -----------------------------------------------------


def test_a_truck_gone_by_its_will_is_offline_at_once_at_its_last_position() -> None:
    clock = FakeClock(500.0)
    fleet = make_fleet(clock)
    assert fleet.restore([state("truck-12", 30.0, OFFLINE, "last will", motion_age=31.0)], WALL)

    truck = fleet.devices["truck-12"]
    assert (truck.status, truck.status_reason) == (OFFLINE, "last will")
    assert truck.position == Position("truck-12", 45.5, 9.25, raw_ts="2027-01-15T08:00:00Z")
    assert truck.last_location_at is not None and truck.last_motion_at is not None
    assert clock() - truck.last_location_at == pytest.approx(30.0)
    assert clock() - truck.last_motion_at == pytest.approx(31.0)
    assert truck.motion == Motion(0.1, 0.2, 0.3) and not truck.motion_is_retained
    assert fleet.counts() == {OFFLINE: 1}
    assert fleet.take_changes() == []  # a restart is no transition for the history


def test_a_will_offline_truck_stays_offline_until_it_speaks_live() -> None:
    clock = FakeClock()
    fleet = make_fleet(clock)
    fleet.restore([state("truck-12", 30.0, OFFLINE, "last will", motion_age=30.0)], WALL)
    fleet.link_changed(LinkName.MQTT, LinkState.CONNECTING)
    fleet.link_changed(LinkName.MQTT, LinkState.UP)
    fleet.apply_motion("truck-12", Motion(0.0, 0.0, 0.0), retained=True)
    clock.advance(300.0)
    fleet.sweep()
    assert fleet.devices["truck-12"].status is OFFLINE
    assert fleet.devices["truck-12"].status_reason == "last will"

    fleet.apply_location(Position("truck-12", 45.6, 9.3))
    assert fleet.devices["truck-12"].status is ONLINE
    assert [(c.before, c.after, c.reason) for c in fleet.take_changes()] == [
        (OFFLINE, ONLINE, "heard from again")
    ]


def test_silence_counts_from_the_stored_times_not_from_the_restart() -> None:
    clock = FakeClock()
    fleet = make_fleet(clock)
    fleet.restore(
        [
            state("long-gone", 600.0, motion_age=700.0),
            state("quiet", 30.0),
            state("just-heard", 5.0, motion_age=4.0),
        ],
        WALL,
    )
    devices = fleet.devices
    assert (devices["long-gone"].status, devices["long-gone"].status_reason) == (
        OFFLINE,
        "silent for 600 s",
    )
    assert (devices["quiet"].status, devices["quiet"].status_reason) == (STALE, "silent for 30 s")
    # Heard 4 s ago by an earlier run: not proof of life now, so last known, not online.
    assert (devices["just-heard"].status, devices["just-heard"].status_reason) == (
        UNKNOWN,
        LAST_KNOWN,
    )
    assert fleet.take_changes() == []

    clock.advance(11.0)  # the newest message is now 15 s old
    fleet.sweep()
    assert devices["just-heard"].status is STALE
    clock.advance(90.0)  # "quiet" has been silent 131 s
    fleet.sweep()
    assert [(c.device_id, c.after, c.reason) for c in fleet.take_changes()] == [
        ("just-heard", STALE, "silent for 15 s"),
        ("quiet", OFFLINE, "silent for 131 s"),
    ]


def test_a_link_coming_back_gives_a_restored_truck_no_grace() -> None:
    clock = FakeClock()
    fleet = make_fleet(clock)
    fleet.restore([state("quiet", 100.0, motion_age=100.0)], WALL)
    fleet.link_changed(LinkName.STOMP, LinkState.CONNECTING)
    fleet.link_changed(LinkName.MQTT, LinkState.CONNECTING)
    clock.advance(5.0)
    fleet.link_changed(LinkName.STOMP, LinkState.UP)
    fleet.link_changed(LinkName.MQTT, LinkState.UP)
    fleet.apply_motion("quiet", Motion(0.0, 0.0, 0.0), retained=True)
    clock.advance(15.0)
    fleet.sweep()
    assert fleet.devices["quiet"].status is OFFLINE
    assert fleet.devices["quiet"].status_reason == "silent for 120 s"


def test_while_hqs_links_are_down_a_restored_truck_is_unknown_not_silent() -> None:
    clock = FakeClock()
    fleet = make_fleet(clock)
    for link in LinkName:
        fleet.link_changed(link, LinkState.CONNECTING)
    stale = state("quiet", 30.0, STALE, "silent for 15 s")
    fleet.restore([state("recent", 5.0, motion_age=5.0), state("was-online", 30.0), stale], WALL)
    devices = fleet.devices
    assert (devices["recent"].status, devices["recent"].status_reason) == (
        UNKNOWN,
        "HQ's STOMP and MQTT links down",
    )
    assert devices["was-online"].status is UNKNOWN
    assert (devices["quiet"].status, devices["quiet"].status_reason) == (STALE, "silent for 15 s")
    clock.advance(300.0)
    fleet.sweep()
    assert [devices[d].status for d in ("recent", "was-online", "quiet")] == [
        UNKNOWN,
        UNKNOWN,
        STALE,
    ]

    fleet.link_changed(LinkName.STOMP, LinkState.UP)
    fleet.link_changed(LinkName.MQTT, LinkState.UP)
    assert (devices["recent"].status, devices["recent"].status_reason) == (
        OFFLINE,
        "silent for 305 s",
    )
    assert devices["was-online"].status is OFFLINE
    assert devices["quiet"].status is OFFLINE
    assert fleet.take_changes() == [
        StatusChange("quiet", STALE, OFFLINE, "silent for 330 s"),
        StatusChange("was-online", UNKNOWN, OFFLINE, "silent for 330 s"),  # seen on STOMP only
        StatusChange("recent", UNKNOWN, OFFLINE, "silent for 305 s"),  # once MQTT is back too
    ]


def test_a_restored_truck_is_live_again_only_when_it_speaks() -> None:
    clock = FakeClock()
    fleet = make_fleet(clock)
    fleet.restore([state("quiet", 20.0, motion_age=20.0)], WALL)
    assert fleet.devices["quiet"].status is STALE
    fleet.apply_motion("quiet", Motion(0.0, 0.0, 0.0), retained=True)
    fleet.sweep()
    assert fleet.devices["quiet"].status is STALE
    fleet.apply_motion("quiet", Motion(0.5, 0.5, 0.5))
    assert fleet.devices["quiet"].status is ONLINE
    assert clock() - (fleet.devices["quiet"].last_location_at or 0.0) == pytest.approx(20.0)
    clock.advance(16.0)
    fleet.sweep()
    assert fleet.devices["quiet"].status is STALE
    assert fleet.devices["quiet"].status_reason == "silent for 16 s"


def test_a_kept_retained_motion_is_shown_as_of_unknown_age() -> None:
    clock = FakeClock()
    fleet = make_fleet(clock)
    fleet.restore([parked()], WALL)
    device = fleet.devices["parked"]
    assert device.motion_is_retained and device.last_motion_at is None
    assert (device.status, device.status_reason) == (UNKNOWN, AGE_UNKNOWN)


def test_restoring_skips_known_ids_and_keeps_the_newest_within_the_device_limit() -> None:
    clock = FakeClock()
    fleet = make_fleet(clock, max_devices=3)
    fleet.apply_location(Position("live", 1.0, 2.0))
    states = [state("old", 500.0), state("live", 1.0), state("newer", 50.0), state("new", 10.0)]
    assert fleet.restore(states, WALL) == 2
    assert sorted(fleet.devices) == ["live", "new", "newer"]
    assert fleet.devices["live"].status is ONLINE
    assert fleet.devices["live"].location_count == 1


# --- taking the state to keep -----------------------------------------------------------


def test_only_devices_changed_since_the_last_take_are_given_in_wall_time() -> None:
    clock = FakeClock(1000.0)
    fleet = make_fleet(clock)
    fleet.apply_location(Position("a", 1.0, 2.0))
    fleet.apply_motion("a", Motion(0.1, 0.2, 0.3))
    fleet.apply_motion("b", Motion(0.4, 0.5, 0.6), retained=True)
    clock.advance(3.0)
    taken = fleet.take_last_known(WALL)
    assert [s.device_id for s in taken] == ["a", "b"]
    first, second = taken
    assert (first.status, first.fix_at, first.motion_at) == (ONLINE, WALL - 3.0, WALL - 3.0)
    assert first.position == Position("a", 1.0, 2.0) and first.updated_at == WALL
    assert (second.status, second.motion, second.motion_at) == (
        UNKNOWN,
        Motion(0.4, 0.5, 0.6),
        None,
    )
    assert fleet.take_last_known(WALL + 1.0) == []

    fleet.apply_will("a")
    assert [(s.device_id, s.status, s.reason) for s in fleet.take_last_known(WALL + 2.0)] == [
        ("a", OFFLINE, "last will")
    ]


def test_restored_devices_are_not_written_back_until_they_change() -> None:
    clock = FakeClock()
    fleet = make_fleet(clock)
    fleet.restore([state("a", 20.0), state("b", 100.0)], WALL)
    assert fleet.take_last_known(WALL) == []
    clock.advance(30.0)
    fleet.sweep()  # "b" goes offline by silence
    assert [(s.device_id, s.status) for s in fleet.take_last_known(WALL + 30.0)] == [("b", OFFLINE)]


# --- the table ---------------------------------------------------------------------------


def test_states_survive_closing_and_reopening_the_database(tmp_path: Path) -> None:
    kept = [
        state("truck-12", 30.0, OFFLINE, "last will", motion_age=31.0),
        state("truck-7", 2.0, motion_age=1.0),
        parked(),
    ]
    store = Store.open(tmp_path)
    save_fleet_state(store, kept)
    store.close()

    again = Store.open(tmp_path)
    assert load_fleet_state(again, 10) == [kept[1], kept[0], kept[2]]  # newest first
    assert load_fleet_state(again, 1) == [kept[1]]
    again.close()


def test_a_dashboard_that_heard_less_never_takes_back_what_another_heard_later(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path)
    newer = state("truck-7", 5.0, motion_age=4.0)
    save_fleet_state(store, [newer])
    # Another dashboard writes later, but with an older fix and no motion: only its status wins.
    old_fix = Position("truck-7", 1.0, 1.0)
    later = LastKnown("truck-7", STALE, "silent for 20 s", old_fix, WALL - 20.0, None, None, WALL)
    save_fleet_state(store, [later])
    (merged,) = load_fleet_state(store, 10)
    assert (merged.status, merged.reason, merged.updated_at) == (STALE, "silent for 20 s", WALL)
    assert (merged.position, merged.fix_at) == (newer.position, newer.fix_at)
    assert (merged.motion, merged.motion_at) == (newer.motion, newer.motion_at)

    fix, motion = Position("truck-7", 2.0, 2.0), Motion(1.0, 1.0, 1.0)
    fresher = LastKnown("truck-7", ONLINE, "heard from", fix, WALL + 2, motion, WALL + 2, WALL + 2)
    save_fleet_state(store, [fresher])
    assert load_fleet_state(store, 10) == [fresher]
    store.close()


def test_devices_unheard_of_for_the_kept_days_are_forgotten(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    save_fleet_state(store, [state("old", 10 * 86400.0), state("recent", 60.0)])
    assert prune_fleet_state(store, WALL, days=7) == 1
    assert [s.device_id for s in load_fleet_state(store, 10)] == ["recent"]
    store.close()


def test_a_version_1_database_gains_the_table_and_keeps_its_rows(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    db = sqlite3.connect(database_path(tmp_path))
    db.executescript(f"{MIGRATIONS[1]} PRAGMA user_version = 1;")
    db.execute("INSERT INTO history (at, kind, text) VALUES (1.0, 'link', 'kept')")
    db.commit()
    db.close()

    store = Store.open(tmp_path)
    assert [entry.text for entry in store.history()] == ["kept"]
    save_fleet_state(store, [state("truck-1", 1.0)])
    assert [s.device_id for s in load_fleet_state(store, 10)] == ["truck-1"]
    store.close()
    db = sqlite3.connect(database_path(tmp_path))
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


# --- the service: restore at start, save throttled ---------------------------------------


def test_saves_are_throttled_to_one_transaction_whatever_the_message_rate(tmp_path: Path) -> None:
    fleet_clock, ticks = FakeClock(), FakeClock(0.0)
    fleet = make_fleet(fleet_clock, max_devices=2000)
    store = Store.open(tmp_path)
    memory = FleetMemory(store, fleet, wall_clock=lambda: WALL, keep_days=7, every=5.0, clock=ticks)
    for second in range(10):  # 1,000 trucks at 1 Hz for 10 s, ticked 16 times a second
        for truck in range(1000):
            fleet.apply_location(Position(f"t{truck}", 1.0, float(second)))
        for _ in range(16):
            ticks.advance(1 / 16)
            fleet_clock.advance(1 / 16)
            memory.tick()
    assert memory.saves == 2
    fleet_clock.advance(2)  # silent a while: the will is believed at once
    fleet.apply_will("t3")
    memory.close()  # the last save, on quit, written before it returns
    assert memory.saves == 3
    assert memory.take_problems() == []
    store.close()

    again = Store.open(tmp_path)
    restored = make_fleet(FakeClock(), max_devices=2000)
    assert FleetMemory(again, restored, wall_clock=lambda: WALL, keep_days=7).restore() == 1000
    assert restored.devices["t3"].status_reason == "last will"
    assert restored.devices["t999"].position == Position("t999", 1.0, 9.0)
    again.close()


def test_a_save_takes_the_fleet_a_slice_a_tick_and_writes_it_in_one_go(tmp_path: Path) -> None:
    fleet_clock, ticks = FakeClock(), FakeClock(0.0)
    fleet = make_fleet(fleet_clock, max_devices=3000)
    store = Store.open(tmp_path)
    memory = FleetMemory(
        store, fleet, wall_clock=lambda: WALL, keep_days=7, every=5.0, clock=ticks, slice_size=1000
    )
    for truck in range(2500):
        fleet.apply_location(Position(f"t{truck}", 1.0, 2.0))
    ticks.advance(5.0)
    left = []
    for _ in range(4):
        memory.tick()
        left.append(fleet.unkept)
    assert left == [1500, 500, 0, 0]
    assert memory.saves == 1  # handed over once, when the last slice was taken
    memory.close()
    assert len(load_fleet_state(store, 5000)) == 2500
    store.close()


def test_a_failed_write_is_told_and_its_states_go_with_the_next(tmp_path: Path) -> None:
    fleet_clock, ticks = FakeClock(), FakeClock(0.0)
    fleet = make_fleet(fleet_clock)
    store = Store.open(tmp_path)
    memory = FleetMemory(store, fleet, wall_clock=lambda: WALL, keep_days=7, clock=ticks)
    other = sqlite3.connect(database_path(tmp_path), isolation_level=None)
    schema = other.execute("SELECT sql FROM sqlite_master WHERE name = 'fleet_state'").fetchone()
    other.execute("DROP TABLE fleet_state")  # another hand breaks the table under the writer
    fleet.apply_location(Position("first", 1.0, 2.0))
    memory.save()
    problems: list[str] = []
    deadline = time.monotonic() + 10
    while not problems and time.monotonic() < deadline:
        problems += memory.take_problems()
        time.sleep(0.01)
    assert len(problems) == 1 and "no such table: fleet_state" in problems[0], problems
    other.execute(schema[0])
    other.close()
    fleet.apply_location(Position("second", 1.0, 2.0))
    memory.close()
    assert memory.take_problems() == []
    assert sorted(s.device_id for s in load_fleet_state(store, 10)) == ["first", "second"]
    store.close()


def test_two_dashboards_opening_an_old_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    path = database_path(tmp_path)
    db = sqlite3.connect(path)
    db.executescript(f"{MIGRATIONS[1]} PRAGMA user_version = 1;")
    db.close()
    opened: list[Store] = []
    failures: list[StoreError] = []
    start = threading.Barrier(2)

    def open_store() -> None:
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA busy_timeout = 5000")
        connection.execute("PRAGMA journal_mode = WAL")
        start.wait()
        try:
            opened.append(Store(connection, path, None))
        except StoreError as error:
            failures.append(error)

    threads = [threading.Thread(target=open_store) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert failures == [] and len(opened) == 2
    save_fleet_state(opened[0], [state("truck-1", 1.0)])
    assert [s.device_id for s in load_fleet_state(opened[1], 10)] == ["truck-1"]
    for store in opened:
        store.close()

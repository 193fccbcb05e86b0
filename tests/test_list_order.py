"""The device list's incremental order, held to a plain full sort of the fleet at every step."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mwm_tui.domain import list_order
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.fleet import Device, DeviceStatus, Fleet
from mwm_tui.domain.list_order import ListOrder, SortKey
from mwm_tui.domain.text import literal
from tests.support.clock import FakeClock

RANK = {
    DeviceStatus.OFFLINE: 0,
    DeviceStatus.STALE: 1,
    DeviceStatus.UNKNOWN: 2,
    DeviceStatus.ONLINE: 3,
}
IDS = ["a1", "A2", "b1", "bb", "c", "Ab-9", "z", "online", "x\u202ey"]


def plain_sort(
    fleet: Fleet,
    key: SortKey,
    *,
    reverse: bool,
    filter_text: str,
    claims: dict[str, str] | None = None,
) -> list[str]:
    """What the list showed before it was incremental: filter, sort everything, reverse."""
    now = fleet.clock()
    wanted = filter_text.strip().casefold()
    claimed = claims or {}
    devices = [
        d
        for d in fleet.devices.values()
        if not wanted or wanted in d.device_id.casefold() or wanted == d.status.value
    ]

    def age(then: float | None) -> float:
        return now - then if then is not None else float("inf")

    def sort_by(d: Device) -> tuple[float | str, ...]:
        motion, position = d.motion, d.position
        if key is SortKey.STATUS:
            return (RANK[d.status], d.device_id)
        if key is SortKey.ID:
            return (d.device_id,)
        if key is SortKey.AGE:
            return (age(d.last_location_at), d.device_id)
        if key is SortKey.MOTION_AGE:
            return (age(None if d.motion_is_retained else d.last_motion_at), d.device_id)
        if key in (SortKey.PITCH, SortKey.ROLL, SortKey.YAW):
            value = getattr(motion, key.value) if motion else float("inf")
            return (value, d.device_id)
        if key is SortKey.BY:
            by = claimed.get(d.device_id)
            return (0 if by else 1, by or "", d.device_id)
        if key is SortKey.MOTION:
            pitch = d.pitch.values()
            return (max(pitch) - min(pitch) if pitch else float("inf"), d.device_id)
        if key is SortKey.DEVICE_TS:
            stamp = position.ts if position else None
            return (age(stamp.timestamp() if stamp else None), d.device_id)
        if key is SortKey.LAT:
            return (position.lat if position else float("inf"), d.device_id)
        return (position.lng if position else float("inf"), d.device_id)

    ordered = sorted(devices, key=sort_by)
    if reverse:
        ordered.reverse()
    return [d.device_id for d in ordered]


def assert_matches(order: ListOrder, fleet: Fleet, claims: dict[str, str] | None = None) -> None:
    expected = plain_sort(
        fleet, order.key, reverse=order.reverse, filter_text=order.filter_text, claims=claims
    )
    assert order.ids() == expected
    assert len(order) == len(expected)
    assert [order[row] for row in range(len(order))] == expected
    assert all(order.index(device_id) == row for row, device_id in enumerate(expected))
    assert all((device_id in order) == (device_id in expected) for device_id in fleet.devices)
    assert order.id_width == max((len(literal(i)) for i in expected), default=2)


step = st.one_of(
    st.tuples(st.just("fix"), st.sampled_from(IDS), st.sampled_from([-10.0, 0.0, 3.5, 45.0])),
    st.tuples(
        st.just("motion"),
        st.sampled_from(IDS),
        st.tuples(st.booleans(), st.sampled_from([-1.0, 0.0, 0.5])),
    ),
    st.tuples(st.just("claim"), st.sampled_from(IDS), st.sampled_from(["", "ann", "bob"])),
    st.tuples(st.just("will"), st.sampled_from(IDS), st.none()),
    st.tuples(st.just("advance"), st.sampled_from([0.5, 1.0, 16.0, 130.0]), st.none()),
    st.tuples(st.just("remove"), st.sampled_from(IDS), st.none()),
    st.tuples(
        st.just("filter"),
        st.sampled_from(["", "a", "A", " b ", "stale", "online", "zz"]),
        st.none(),
    ),
    st.tuples(st.just("key"), st.sampled_from(list(SortKey)), st.none()),
    st.tuples(st.just("reverse"), st.none(), st.none()),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(step, max_size=50), st.booleans(), st.sampled_from([8, 100_000]))
def test_incremental_order_matches_a_plain_full_sort(
    steps: list[tuple[str, object, object]], batch: bool, rebuild_share: int
) -> None:
    """``batch``: many changes per update; a huge ``rebuild_share``: every update re-sorts."""
    default_share = list_order._REBUILD_SHARE
    list_order._REBUILD_SHARE = rebuild_share
    try:
        replay(steps, batch=batch)
    finally:
        list_order._REBUILD_SHARE = default_share


def replay(steps: list[tuple[str, object, object]], *, batch: bool) -> None:
    clock = FakeClock()
    fleet = Fleet(clock=clock, stale_after=15.0, offline_after=120.0)
    claims: dict[str, str] = {}
    order = ListOrder(fleet.devices, claimant=claims.get)
    removed: set[str] = set()
    for kind, first, second in steps:
        if kind == "fix":
            assert isinstance(first, str) and isinstance(second, float)
            clock.advance(0.25)
            fleet.apply_location(Position(first, second, -second))
        elif kind == "motion":
            assert isinstance(first, str) and isinstance(second, tuple)
            retained, value = second
            fleet.apply_motion(first, Motion(value, -value, value / 2), retained=retained)
        elif kind == "claim":
            assert isinstance(first, str) and isinstance(second, str)
            if second:
                claims[first] = second
            else:
                claims.pop(first, None)
            if order.key is SortKey.BY:  # as the list does when the team's claims change
                order.rebuild()
        elif kind == "will":
            assert isinstance(first, str)
            fleet.apply_will(first)
        elif kind == "advance":
            assert isinstance(first, float)
            clock.advance(first)
            fleet.sweep()
        elif kind == "remove":
            assert isinstance(first, str)
            if fleet.devices.pop(first, None) is not None:
                removed.add(first)
        elif kind == "filter":
            assert isinstance(first, str)
            order.update(fleet.take_dirty() | removed)
            removed.clear()
            order.set_filter(first)
        elif kind == "key":
            assert isinstance(first, SortKey)
            order.update(fleet.take_dirty() | removed)
            removed.clear()
            order.set_key(first)
        else:
            order.update(fleet.take_dirty() | removed)
            removed.clear()
            order.reverse = not order.reverse
        if not batch:
            order.update(fleet.take_dirty() | removed)
            removed.clear()
            assert_matches(order, fleet, claims)
    order.update(fleet.take_dirty() | removed)
    assert_matches(order, fleet, claims)


def fleet_of(count: int) -> tuple[FakeClock, Fleet]:
    clock = FakeClock()
    fleet = Fleet(clock=clock, stale_after=15.0, offline_after=120.0)
    for number in range(count):
        clock.advance(0.01)
        fleet.apply_location(Position(f"truck-{number:04d}", number % 90, number % 180))
    return clock, fleet


def test_a_status_change_moves_one_device_to_its_place() -> None:
    clock, fleet = fleet_of(300)
    order = ListOrder(fleet.devices)
    fleet.take_dirty()
    assert order[0] == "truck-0000"
    clock.advance(10)
    fleet.apply_location(Position("truck-0150", 1.0, 1.0))
    clock.advance(6)
    fleet.sweep()  # all but truck-0150 go stale, and stale sorts before online
    order.update(fleet.take_dirty())
    assert order[len(order) - 1] == "truck-0150"
    assert order.index("truck-0150") == 299
    fleet.apply_will("truck-0007")
    order.update(fleet.take_dirty())
    assert order[0] == "truck-0007"  # offline first
    assert_matches(order, fleet)


def test_new_devices_land_in_order_and_widen_the_id_column() -> None:
    _clock, fleet = fleet_of(50)
    order = ListOrder(fleet.devices, SortKey.ID)
    fleet.take_dirty()
    fleet.apply_motion("a-much-longer-device-id", Motion(0.0, 0.0, 0.0))
    order.update(fleet.take_dirty())
    assert order[0] == "a-much-longer-device-id"
    assert order.id_width == len("a-much-longer-device-id")
    del fleet.devices["a-much-longer-device-id"]
    order.update(["a-much-longer-device-id"])
    assert order.id_width == len("truck-0000")
    assert "a-much-longer-device-id" not in order
    assert_matches(order, fleet)


def test_filter_by_text_or_status_and_back() -> None:
    clock, fleet = fleet_of(120)
    order = ListOrder(fleet.devices)
    clock.advance(2)  # silent a while: wills are believed at once
    fleet.apply_will("truck-0042")
    order.update(fleet.take_dirty())
    order.set_filter("offline")
    assert order.ids() == ["truck-0042"]
    order.set_filter("TRUCK-001")
    assert order.ids() == [f"truck-{n:04d}" for n in range(10, 20)]
    fleet.apply_will("truck-0015")  # now offline: sorts first within the filter
    order.update(fleet.take_dirty())
    assert order[0] == "truck-0015"
    order.set_filter("")
    assert len(order) == 120
    clock.advance(1)
    assert_matches(order, fleet)


def test_age_order_is_newest_fix_first_without_resorting_as_time_passes() -> None:
    clock, fleet = fleet_of(20)
    fleet.apply_motion("no-fix-yet", Motion(0.0, 0.0, 0.0))
    order = ListOrder(fleet.devices, SortKey.AGE)
    fleet.take_dirty()
    assert order[0] == "truck-0019" and order[len(order) - 1] == "no-fix-yet"
    clock.advance(50)
    assert_matches(order, fleet)  # nothing re-placed, still right
    order.reverse = True
    assert order[0] == "no-fix-yet"
    assert_matches(order, fleet)


def test_a_flood_of_changes_is_one_full_sort_with_the_same_outcome() -> None:
    clock, fleet = fleet_of(2_000)
    order = ListOrder(fleet.devices, SortKey.LAT)
    fleet.take_dirty()
    clock.advance(1)
    for number in range(0, 2_000, 2):
        fleet.apply_location(Position(f"truck-{number:04d}", -(number % 70), 0.0))
    order.update(fleet.take_dirty())
    assert_matches(order, fleet)

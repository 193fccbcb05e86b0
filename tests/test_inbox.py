"""EventInbox: order, coalescing under overload, critical events never lost, many producers."""

from __future__ import annotations

import threading
from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import (
    AlertOutcome,
    Delivery,
    DeviceNotice,
    Event,
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    MessageRejected,
    MotionReceived,
    OrderOutcome,
    WillReceived,
)
from mwm_tui.domain.inbox import EventInbox, InboxStats

TELEMETRY = (LocationReceived, MotionReceived)


def motion(device_id: str, seq: int, *, retained: bool = False) -> MotionReceived:
    # The sequence number rides in pitch so coalescing can be checked.
    return MotionReceived(device_id, Motion(float(seq), 0.0, 0.0), retained)


def location(device_id: str, seq: int) -> LocationReceived:
    return LocationReceived(Position(device_id, seq / 1000, 0.0))


def seq_of(event: Event) -> int:
    if isinstance(event, MotionReceived):
        return int(event.motion.pitch)
    assert isinstance(event, LocationReceived)
    return round(event.position.lat * 1000)


def key_of(event: Event) -> tuple[type, str]:
    if isinstance(event, LocationReceived):
        return (LocationReceived, event.position.device_id)
    assert isinstance(event, MotionReceived)
    return (MotionReceived, event.device_id)


def drain_all(inbox: EventInbox) -> list[Event]:
    out: list[Event] = []
    while batch := inbox.drain(1000):
        out.extend(batch)
    return out


# --- under capacity ------------------------------------------------------------------


def test_order_is_preserved_under_capacity() -> None:
    inbox = EventInbox(capacity=100)
    events: list[Event] = [
        location("A", 1),
        motion("B", 1),
        WillReceived("C"),
        motion("B", 2),
        LinkStateChanged(LinkName.MQTT, LinkState.UP),
        location("A", 2),
        OrderOutcome("o1", "A", Delivery.CONFIRMED),
        motion("B", 3),
    ]
    for event in events:
        inbox.put(event)
    assert inbox.stats() == InboxStats(received=8, coalesced=0, pending=8)
    assert inbox.drain(100) == events
    assert inbox.stats() == InboxStats(received=8, coalesced=0, pending=0)


def test_drain_respects_its_limit() -> None:
    inbox = EventInbox(capacity=100)
    events = [motion("A", i) for i in range(10)]
    for event in events:
        inbox.put(event)
    assert inbox.drain(3) == events[:3]
    assert inbox.drain(0) == []
    assert inbox.drain(100) == events[3:]
    assert inbox.drain(100) == []


def test_drain_respects_its_limit_when_handing_over_held_telemetry() -> None:
    inbox = EventInbox(capacity=1)
    inbox.put(motion("first", 0))
    for n in range(100):
        inbox.put(motion(f"d{n}", n))
    assert inbox.stats().pending == 101
    sizes = []
    while batch := inbox.drain(16):
        sizes.append(len(batch))
    assert max(sizes) <= 16
    assert sum(sizes) == 101


def test_exactly_at_capacity_nothing_is_coalesced() -> None:
    inbox = EventInbox(capacity=5)
    events = [motion("A", i) for i in range(5)]
    for event in events:
        inbox.put(event)
    assert inbox.drain(10) == events
    assert inbox.stats().coalesced == 0


# --- over capacity -------------------------------------------------------------------


def test_over_capacity_telemetry_coalesces_to_latest_per_kind_and_device() -> None:
    inbox = EventInbox(capacity=5)
    first = [motion("A", i) for i in range(5)]
    for event in first:
        inbox.put(event)
    for i in range(5, 105):
        inbox.put(motion("A", i))
        inbox.put(location("A", i))
        inbox.put(motion("B", i))
    stats = inbox.stats()
    assert stats.received == 305
    assert stats.coalesced == 3 * 99
    assert stats.pending == 5 + 3
    batch = drain_all(inbox)
    assert batch[:5] == first
    assert sorted((key_of(e)[0].__name__, key_of(e)[1], seq_of(e)) for e in batch[5:]) == [
        ("LocationReceived", "A", 104),
        ("MotionReceived", "A", 104),
        ("MotionReceived", "B", 104),
    ]
    assert len(batch) == stats.received - stats.coalesced


def test_coalescing_keeps_the_retained_flag_of_the_latest() -> None:
    inbox = EventInbox(capacity=1)
    inbox.put(motion("X", 0))
    inbox.put(motion("X", 1, retained=True))
    inbox.put(motion("X", 2, retained=False))
    assert drain_all(inbox) == [motion("X", 0), motion("X", 2)]


def test_telemetry_after_overflow_waits_behind_it_even_with_room() -> None:
    # Once something is held, newer telemetry must not overtake it through the queue.
    inbox = EventInbox(capacity=2)
    for i in range(3):
        inbox.put(motion("A", i))
    assert inbox.drain(1) == [motion("A", 0)]
    inbox.put(motion("B", 0))
    inbox.put(motion("A", 3))
    out = drain_all(inbox)
    assert [seq_of(e) for e in out if key_of(e) == (MotionReceived, "A")] == [1, 3]


def test_critical_events_are_never_dropped_far_over_capacity() -> None:
    inbox = EventInbox(capacity=10)
    critical: list[Event] = []
    for i in range(3_000):
        inbox.put(motion(f"d{i % 7}", i))
        inbox.put(location(f"d{i % 7}", i))
        if i % 3 == 0:
            kind = i % 6
            event: Event
            if kind == 0:
                event = WillReceived(f"d{i % 7}")
            elif i % 2:
                event = OrderOutcome(f"o{i}", "d1", Delivery.FAILED, "no receipt")
            else:
                event = AlertOutcome(f"a{i}", "d2", "red", Delivery.CONFIRMED)
            critical.append(event)
            inbox.put(event)
        if i % 100 == 0:
            for extra in (
                LinkStateChanged(LinkName.STOMP, LinkState.DOWN, f"lost {i}", retry_in=1.0),
                MessageRejected(LinkName.MQTT, RejectReason.WRONG_LENGTH, f"#{i}", "/mwm/x/motion"),
                DeviceNotice("d3", f"read order {i}"),
            ):
                critical.append(extra)
                inbox.put(extra)
    out = drain_all(inbox)
    assert [e for e in out if not isinstance(e, TELEMETRY)] == critical
    stats = inbox.stats()
    assert stats.coalesced > 0
    assert len(out) == stats.received - stats.coalesced
    assert stats.pending == 0


def test_coalesced_telemetry_is_applied_before_its_will() -> None:
    inbox = EventInbox(capacity=1)
    inbox.put(motion("A", 0))
    inbox.put(motion("A", 1))
    inbox.put(location("A", 1))
    inbox.put(motion("B", 1))
    inbox.put(motion("A", 2))
    inbox.put(WillReceived("A"))
    inbox.put(motion("A", 3))
    out = drain_all(inbox)
    will_at = out.index(WillReceived("A"))
    before = {(key_of(e), seq_of(e)) for e in out[:will_at] if isinstance(e, TELEMETRY)}
    after = [(key_of(e), seq_of(e)) for e in out[will_at + 1 :] if isinstance(e, TELEMETRY)]
    assert ((MotionReceived, "A"), 2) in before
    assert ((LocationReceived, "A"), 1) in before
    assert ((MotionReceived, "A"), 3) in after
    assert ((MotionReceived, "A"), 3) not in before
    # B's held motion still arrives.
    assert any(key_of(e) == (MotionReceived, "B") for e in out if isinstance(e, TELEMETRY))


# --- a model check over random schedules ------------------------------------------------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("motion"), st.sampled_from("ABC")),
        st.tuples(st.just("location"), st.sampled_from("ABC")),
        st.tuples(st.just("will"), st.sampled_from("ABC")),
        st.tuples(st.just("order"), st.sampled_from("ABC")),
        st.tuples(st.just("drain"), st.integers(0, 6)),
    ),
    max_size=80,
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 6), operations)
def test_any_schedule_keeps_the_inbox_promises(
    capacity: int, ops: list[tuple[str, object]]
) -> None:
    inbox = EventInbox(capacity=capacity)
    out: list[Event] = []
    critical: list[Event] = []
    latest: dict[tuple[type, str], int] = {}
    # For each will: the newest seq of each of its device's telemetry put before it.
    owed_before_will: list[tuple[Event, dict[tuple[type, str], int]]] = []
    for seq, (op, arg) in enumerate(ops):
        if op == "drain":
            assert isinstance(arg, int)
            batch = inbox.drain(arg)
            assert len(batch) <= arg
            out.extend(batch)
            continue
        assert isinstance(arg, str)
        event: Event
        if op == "motion":
            event = motion(arg, seq)
        elif op == "location":
            event = location(arg, seq)
        elif op == "will":
            event = WillReceived(arg)
            owed = {k: v for k, v in latest.items() if k[1] == arg}
            owed_before_will.append((event, owed))
        else:
            event = OrderOutcome(f"o{seq}", arg, Delivery.CONFIRMED)
        if isinstance(event, TELEMETRY):
            latest[key_of(event)] = seq
        else:
            critical.append(event)
        inbox.put(event)
    out.extend(drain_all(inbox))
    stats = inbox.stats()

    assert stats.received == len(ops) - sum(op == "drain" for op, _ in ops)
    assert len(out) == stats.received - stats.coalesced
    assert stats.pending == 0
    # Critical events: all of them, once each, in order.
    assert [e for e in out if not isinstance(e, TELEMETRY)] == critical
    # Telemetry never goes back in time, and the newest value of each key always arrives.
    delivered: dict[tuple[type, str], list[int]] = defaultdict(list)
    for event in out:
        if isinstance(event, TELEMETRY):
            delivered[key_of(event)].append(seq_of(event))
    for key, seqs in delivered.items():
        assert seqs == sorted(set(seqs)), key
    assert {key: seqs[-1] for key, seqs in delivered.items()} == latest
    # A device's telemetry put before its will is applied before the will.
    position = {id(e): i for i, e in enumerate(out)}
    for will, owed in owed_before_will:
        will_at = position[id(will)]
        for key, seq in owed.items():
            earlier = [
                seq_of(e) for e in out[:will_at] if isinstance(e, TELEMETRY) and key_of(e) == key
            ]
            assert earlier and earlier[-1] >= seq, (key, seq, earlier)


# --- many producers -----------------------------------------------------------------------

PRODUCERS = 4
PER_PRODUCER = 20_000


def test_concurrent_producers_lose_no_critical_event() -> None:
    inbox = EventInbox(capacity=500)
    start = threading.Barrier(PRODUCERS + 1)
    producers_done = threading.Event()
    out: list[Event] = []

    def produce(p: int) -> None:
        start.wait()
        for i in range(PER_PRODUCER):
            device_id = f"p{p}-d{i % 5}"
            if i % 50 == 0:
                inbox.put(OrderOutcome(f"{p}:{i}", device_id, Delivery.CONFIRMED))
            elif i % 97 == 0:
                inbox.put(WillReceived(device_id))
            elif i % 2:
                inbox.put(motion(device_id, i))
            else:
                inbox.put(location(device_id, i))

    def consume() -> None:
        start.wait()
        while True:
            finished = producers_done.is_set()
            batch = inbox.drain(256)
            out.extend(batch)
            if finished and not batch and inbox.stats().pending == 0:
                return

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(PRODUCERS)]
    consumer = threading.Thread(target=consume)
    for thread in [*threads, consumer]:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    producers_done.set()
    consumer.join(timeout=60)
    assert not consumer.is_alive()

    stats = inbox.stats()
    assert stats.received == PRODUCERS * PER_PRODUCER
    assert stats.pending == 0
    assert len(out) == stats.received - stats.coalesced

    expected_orders = {
        f"{p}:{i}" for p in range(PRODUCERS) for i in range(PER_PRODUCER) if i % 50 == 0
    }
    orders = [e.order_id for e in out if isinstance(e, OrderOutcome)]
    assert len(orders) == len(expected_orders) and set(orders) == expected_orders
    wills = [e for e in out if isinstance(e, WillReceived)]
    expected_wills = sum(1 for i in range(PER_PRODUCER) if i % 50 and i % 97 == 0) * PRODUCERS
    assert len(wills) == expected_wills
    # Each producer's own critical events stay in its order.
    for p in range(PRODUCERS):
        own = [int(o.split(":")[1]) for o in orders if o.startswith(f"{p}:")]
        assert own == sorted(own)
    # Per key telemetry is monotonic and ends on the newest value.
    last: dict[tuple[type, str], int] = {}
    for event in out:
        if isinstance(event, TELEMETRY):
            key, seq = key_of(event), seq_of(event)
            assert seq > last.get(key, -1), key
            last[key] = seq
    for p in range(PRODUCERS):
        for d in range(5):
            device_id = f"p{p}-d{d}"
            sent = [
                i for i in range(PER_PRODUCER) if i % 5 == d and i % 50 and i % 97 and i % 2 == 1
            ]
            assert last[(MotionReceived, device_id)] == sent[-1]


def reject(n: int, reason: RejectReason = RejectReason.NOT_JSON) -> MessageRejected:
    return MessageRejected(LinkName.MQTT, reason, f"detail {n}", f"/mwm/x{n}/motion")


def test_rejects_past_their_capacity_are_folded_into_one_counted_reject_per_reason() -> None:
    inbox = EventInbox(reject_capacity=10)
    reasons = (RejectReason.NOT_JSON, RejectReason.WRONG_LENGTH)
    for n in range(10_010):
        inbox.put(reject(n, reasons[n % 2]))
    will = WillReceived("W")
    inbox.put(will)
    # Ten queued one by one, the rest held as two counted ones, whatever the flood's size.
    assert inbox.stats().pending == 10 + 1 + 2
    batch = inbox.drain(100)
    assert [e for e in batch[:10]] == [reject(n, reasons[n % 2]) for n in range(10)]
    assert batch[10] == will
    folded = {e.reason: e for e in batch[11:] if isinstance(e, MessageRejected)}
    assert folded[RejectReason.NOT_JSON].count == 5_000
    assert folded[RejectReason.WRONG_LENGTH].count == 5_000
    assert folded[RejectReason.WRONG_LENGTH].detail == "detail 10009"  # the newest is the sample
    assert sum(e.count for e in batch if isinstance(e, MessageRejected)) == 10_010
    assert inbox.stats().pending == 0
    # Drained, the capacity is free again: rejects queue one by one.
    inbox.put(reject(1))
    assert inbox.drain(10) == [reject(1)]


def test_a_reject_flood_keeps_the_inbox_small_and_counts_exact() -> None:
    inbox = EventInbox()
    total = 0
    for round_ in range(20):
        for n in range(5_000):
            inbox.put(reject(round_ * 5_000 + n))
        assert inbox.stats().pending <= 1_000 + len(RejectReason) * len(LinkName)
        total += sum(e.count for e in inbox.drain(100_000) if isinstance(e, MessageRejected))
    assert total == 100_000

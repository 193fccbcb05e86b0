"""The outbox at work, fed hand-built link events, on a real SQLite file."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path

from mwm_tui.adapters.store import Store, database_path
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.dispatch import Dispatch, Kind, Stage, describe
from mwm_tui.domain.events import (
    AlertOutcome,
    Delivery,
    Event,
    Failure,
    LinkName,
    LinkState,
    LinkStateChanged,
    LocationReceived,
    OrderOutcome,
    QueueConsumers,
    WillReceived,
)
from mwm_tui.domain.fleet import Fleet
from mwm_tui.services.dispatcher import Dispatcher
from tests.support.clock import FakeClock
from tests.support.links import RecordingLink

START = 1_800_000_000.0


def make(
    tmp_path: Path, clock: FakeClock, fleet: Fleet | None = None, *, by: str = ""
) -> Dispatcher:
    """A dashboard's dispatcher on ``tmp_path``, started: it leads unless another one does."""
    events: list[Event] = []
    numbers = itertools.count(1)
    dispatcher = Dispatcher(
        Store.open(tmp_path),
        RecordingLink(LinkName.STOMP, events.append),
        RecordingLink(LinkName.MQTT, events.append),
        fleet or Fleet(),
        order_expiry=60,
        history_days=30,
        wall_clock=clock,
        new_id=lambda: f"{by or 'd'}{next(numbers)}",
        by=by,
    )
    dispatcher.load()
    return dispatcher


def up(link: LinkName) -> LinkStateChanged:
    return LinkStateChanged(link, LinkState.UP, "connected")


def down(link: LinkName) -> LinkStateChanged:
    return LinkStateChanged(link, LinkState.DOWN, "connection refused")


def sent(dispatcher: Dispatcher, link: LinkName) -> list[tuple[str, str, str]]:
    chosen = dispatcher._order_link if link is LinkName.STOMP else dispatcher._alert_link
    assert isinstance(chosen, RecordingLink)
    return chosen.sent


def test_made_while_down_is_committed_queued_then_sent_in_order(tmp_path: Path) -> None:
    clock = FakeClock(START)
    dispatcher = make(tmp_path, clock)
    first = dispatcher.submit(Kind.ORDER, "truck-1", "one")
    dispatcher.submit(Kind.ORDER, "truck-2", "two")
    alert = dispatcher.submit(Kind.ALERT, "truck-1", "red")
    assert first.stage is Stage.QUEUED
    assert [d.stage for d in dispatcher.take_reports()] == [Stage.QUEUED] * 3
    # Committed before it was reported: another reader sees it already.
    reader = sqlite3.connect(database_path(tmp_path))
    stored = reader.execute("SELECT body FROM dispatches WHERE stage = 'queued' ORDER BY seq")
    assert [body for (body,) in stored] == ["one", "two", "red"]
    reader.close()
    assert sent(dispatcher, LinkName.STOMP) == []

    dispatcher.observe(up(LinkName.STOMP))
    assert [text for _, _, text in sent(dispatcher, LinkName.STOMP)] == ["one", "two"]
    assert sent(dispatcher, LinkName.MQTT) == []
    dispatcher.observe(OrderOutcome("order-1", "truck-1", Delivery.CONFIRMED))
    dispatcher.tick()
    reports = dispatcher.take_reports()
    assert [(d.body, d.stage) for d in reports] == [
        ("one", Stage.SENDING),
        ("two", Stage.SENDING),
        ("one", Stage.WAITING),  # truck-1 was never heard from
    ]
    assert [d.dispatch_id for d in dispatcher.queued()] == [alert.dispatch_id]
    dispatcher.close()


def test_listening_consumers_and_online_trucks_change_the_words(tmp_path: Path) -> None:
    clock = FakeClock(START)
    fleet = Fleet(clock=clock)
    fleet.apply(LocationReceived(Position("truck-1", 1.0, 2.0)))
    dispatcher = make(tmp_path, clock, fleet)
    dispatcher.observe(up(LinkName.STOMP))
    dispatcher.observe(up(LinkName.MQTT))
    dispatcher.submit(Kind.ORDER, "truck-1", "a")
    dispatcher.observe(OrderOutcome("order-1", "truck-1", Delivery.CONFIRMED))
    dispatcher.observe(QueueConsumers("truck-1", 1))
    dispatcher.submit(Kind.ORDER, "truck-1", "b")
    dispatcher.observe(OrderOutcome("order-2", "truck-1", Delivery.CONFIRMED))
    dispatcher.observe(QueueConsumers("truck-1", 0))
    dispatcher.submit(Kind.ORDER, "truck-1", "c")
    dispatcher.observe(OrderOutcome("order-3", "truck-1", Delivery.CONFIRMED))
    dispatcher.submit(Kind.ALERT, "truck-1", "red")
    dispatcher.observe(AlertOutcome("alert-1", "truck-1", "red", Delivery.CONFIRMED))
    done = [d for d in dispatcher.take_reports() if not d.is_open]
    assert [(d.body, d.stage, d.detail) for d in done] == [
        ("a", Stage.ACCEPTED, "online"),
        ("b", Stage.ACCEPTED, "listening"),
        ("c", Stage.WAITING, "away"),
        ("red", Stage.ACCEPTED, "online"),
    ]
    dispatcher.close()


def test_an_ambiguous_loss_is_resent_marked_and_counted(tmp_path: Path) -> None:
    clock = FakeClock(START)
    dispatcher = make(tmp_path, clock)
    dispatcher.observe(up(LinkName.MQTT))
    dispatcher.submit(Kind.ALERT, "truck-1", "red")
    dispatcher.observe(
        AlertOutcome("alert-1", "truck-1", "red", Delivery.FAILED, "lost", Failure.UNCONFIRMED)
    )
    dispatcher.observe(down(LinkName.MQTT))
    dispatcher.tick()
    assert dispatcher.resends == 0 and len(dispatcher.queued()) == 1
    dispatcher.observe(up(LinkName.MQTT))
    assert len(sent(dispatcher, LinkName.MQTT)) == 2 and dispatcher.resends == 1
    dispatcher.observe(AlertOutcome("alert-2", "truck-1", "red", Delivery.CONFIRMED))
    # A late answer for the superseded first attempt changes nothing.
    dispatcher.observe(AlertOutcome("alert-1", "truck-1", "red", Delivery.CONFIRMED))
    dispatcher.tick()
    history = [e.text for e in dispatcher.store.history(kinds=["alert"])]
    assert history[-1].endswith("resent (attempt 2): may arrive twice")
    assert any("resend pending: may arrive twice" in text for text in history)
    dispatcher.close()


def test_not_sent_while_believed_up_is_retried_on_the_next_tick(tmp_path: Path) -> None:
    clock = FakeClock(START)
    dispatcher = make(tmp_path, clock)
    dispatcher.observe(up(LinkName.STOMP))
    dispatcher.submit(Kind.ORDER, "truck-1", "go")
    not_sent = Failure.NOT_SENT
    dispatcher.observe(OrderOutcome("order-1", "truck-1", Delivery.FAILED, "down", not_sent))
    dispatcher.tick()
    assert len(sent(dispatcher, LinkName.STOMP)) == 2 and dispatcher.resends == 0


def test_queued_past_its_expiry_is_expired_and_never_sent(tmp_path: Path) -> None:
    clock = FakeClock(START)
    dispatcher = make(tmp_path, clock)
    dispatcher.submit(Kind.ORDER, "truck-1", "too late")
    clock.now += 61
    dispatcher.tick()
    dispatcher.observe(up(LinkName.STOMP))
    assert sent(dispatcher, LinkName.STOMP) == []
    assert dispatcher.take_reports()[-1].stage is Stage.EXPIRED
    assert dispatcher.store.open_dispatches() == []
    dispatcher.close()


def test_a_restart_takes_up_the_outbox_and_marks_an_unanswered_send(tmp_path: Path) -> None:
    clock = FakeClock(START)
    first = make(tmp_path, clock)
    first.observe(up(LinkName.STOMP))
    first.submit(Kind.ORDER, "truck-1", "in flight")
    first.observe(down(LinkName.STOMP))
    first.submit(Kind.ORDER, "truck-1", "queued")
    first.close()  # quit before the broker answered the first one

    second = make(tmp_path, clock)
    assert second.load() == 2
    assert [(d.body, d.possible_duplicate) for d in second.queued()] == [
        ("in flight", True),
        ("queued", False),
    ]
    second.observe(up(LinkName.STOMP))
    assert [text for _, _, text in sent(second, LinkName.STOMP)] == ["in flight", "queued"]
    assert second.resends == 1
    second.close()


def test_history_records_status_changes_wills_and_link_changes(tmp_path: Path) -> None:
    clock = FakeClock(START)
    fleet = Fleet(clock=clock)
    dispatcher = make(tmp_path, clock, fleet)
    fleet.apply(LocationReceived(Position("truck-1", 1.0, 2.0)))
    clock.advance(2)
    fleet.apply(WillReceived("truck-1"))
    dispatcher.record_wills(fleet.wills.take_notes())
    dispatcher.record_changes(fleet.take_changes())
    dispatcher.observe(down(LinkName.MQTT))
    dispatcher.tick()
    entries = [(e.kind, e.device_id, e.text) for e in dispatcher.store.history()]
    assert entries == [
        ("will", "truck-1", "last will: went away"),
        ("status", "truck-1", "first heard: online (first message)"),
        ("status", "truck-1", "online -> offline (last will)"),
        ("link", None, "MQTT link down: connection refused"),
    ]
    dispatcher.close()


def test_a_device_record_is_its_own_newest_transitions_and_dispatches(tmp_path: Path) -> None:
    clock = FakeClock(START)
    fleet = Fleet(clock=clock)
    dispatcher = make(tmp_path, clock, fleet)
    fleet.apply(LocationReceived(Position("truck-1", 1.0, 2.0)))
    fleet.apply(LocationReceived(Position("truck-2", 3.0, 4.0)))
    clock.advance(2)
    fleet.apply(WillReceived("truck-1"))
    dispatcher.record_wills(fleet.wills.take_notes())
    dispatcher.record_changes(fleet.take_changes())
    dispatcher.submit(Kind.ORDER, "truck-1", "first")
    dispatcher.submit(Kind.ALERT, "truck-2", "red")
    dispatcher.submit(Kind.ORDER, "truck-1", "second")
    dispatcher.tick()
    record = dispatcher.device_record("truck-1", transitions=2, dispatches=1)
    assert [e.text for e in record.transitions] == [
        "first heard: online (first message)",
        "online -> offline (last will)",
    ]
    assert [d.body for d in record.dispatches] == ["second"]
    assert (record.transitions_problem, record.dispatches_problem) == (None, None)
    everything = dispatcher.device_record("truck-1", transitions=10, dispatches=10)
    assert [e.kind for e in everything.transitions] == ["will", "status", "status"]
    assert [d.body for d in everything.dispatches] == ["second", "first"]
    dispatcher.close()


def test_every_dispatch_and_its_history_lines_carry_who_sent_it(tmp_path: Path) -> None:
    clock = FakeClock(START)
    dispatcher = make(tmp_path, clock, by="d1")
    dispatcher.observe(up(LinkName.STOMP))
    order = dispatcher.submit(Kind.ORDER, "truck-07", "pick up at Rungis")
    assert order.by == "d1"
    reports = [describe_line(report) for report in dispatcher.take_reports()]
    assert reports == ["⧗ d1: order to truck-07 (pick up at Rungis) sending"]
    dispatcher.observe(OrderOutcome(order.send_id or "order-1", "truck-07", Delivery.CONFIRMED))
    dispatcher.tick()
    dispatcher.close()

    store = Store.open(tmp_path)
    (kept,) = store.dispatches_for("truck-07")
    assert kept.by == "d1" and kept.stage is Stage.WAITING
    lines = [(e.kind, e.by, e.text) for e in store.history("truck-07")]
    assert lines and all(by == "d1" for kind, by, _ in lines if kind == "order")
    assert lines[-1][2].startswith("◔ d1: order to truck-07 (pick up at Rungis) accepted")
    store.close()


def describe_line(dispatch: Dispatch) -> str:
    return describe(dispatch)[0]


def test_a_followers_order_is_sent_by_the_leader_and_both_see_its_outcome(tmp_path: Path) -> None:
    clock = FakeClock(START)
    d1, d2 = make(tmp_path, clock, by="d1"), make(tmp_path, clock, by="d2")
    assert d1.leading and not d2.leading
    assert "d1's, pid" in " ".join(d2.take_notices())
    for dispatcher in (d1, d2):
        dispatcher.observe(up(LinkName.STOMP))
    order = d2.submit(Kind.ORDER, "truck-07", "go to Orly, not Rungis")
    (queued,) = d2.take_reports()
    assert queued.stage is Stage.QUEUED and "the team's leader sends it: d1's" in queued.detail
    assert sent(d2, LinkName.STOMP) == []
    d1.tick()
    assert sent(d1, LinkName.STOMP) == [
        ("/queue/device.truck-07.text", "truck-07", "go to Orly, not Rungis")
    ]
    d1.observe(OrderOutcome("order-1", "truck-07", Delivery.CONFIRMED))
    d1.tick()
    d2.tick()
    lines = [entry.text for entry in d2.take_news()]
    assert lines[-1].startswith("◔ d2: order to truck-07 (go to Orly, not Rungis) accepted"), lines
    assert all(entry.by == "d2" for entry in d1.take_news()) is True
    assert order.by == "d2"
    d1.close()
    d2.close()


def test_a_claim_and_a_note_reach_the_other_dispatcher_as_news_and_in_the_record(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    d1, d2 = make(tmp_path, clock, by="d1"), make(tmp_path, clock, by="d2")
    d1.team.toggle_claim("truck-07")
    d1.team.add_note("truck-07", "waits at gate 6")
    assert d2.team.whose("truck-07") is None
    d2.tick()
    assert [(e.kind, e.by, e.text) for e in d2.take_news()] == [
        ("claim", "d1", "d1 claims truck-07"),
        ("note", "d1", "d1's note on truck-07: waits at gate 6"),
    ]
    assert d2.team.whose("truck-07") == "d1"
    record = d2.device_record("truck-07", transitions=5, dispatches=5)
    assert record.claim is not None and (record.claim.by, record.claim.at) == ("d1", START)
    assert [e.text for e in record.team] == [
        "d1 claims truck-07",
        "d1's note on truck-07: waits at gate 6",
    ]
    d1.tick()
    assert d1.take_news() == [], "a dispatcher's own lines are not news to it"
    d1.close()
    d2.close()


def test_when_the_leader_is_gone_a_follower_takes_up_the_outbox_oldest_first(
    tmp_path: Path,
) -> None:
    clock = FakeClock(START)
    d1, d2 = make(tmp_path, clock, by="d1"), make(tmp_path, clock, by="d2")
    # STOMP is down everywhere: the team's orders wait, in the order they were typed.
    for n in range(3):
        d1.submit(Kind.ORDER, "truck-07", f"d1 #{n}")
        d2.submit(Kind.ORDER, "truck-07", f"d2 #{n}")
    d1.tick()
    assert d1.unsettled() == 6 and d2.unsettled() == 0
    d1.store.close()  # as the kernel does for a dashboard killed with SIGKILL: the lock goes
    d2.tick()
    assert not d2.leading, "a follower tries to lead once a second, not at every tick"
    clock.advance(1.0)
    d2.tick()
    assert d2.leading and d2.unsettled() == 6
    assert any("now sends the team's outbox (6 taken up)" in n for n in d2.take_notices())
    d2.observe(up(LinkName.STOMP))
    assert [text for _, _, text in sent(d2, LinkName.STOMP)] == [
        "d1 #0", "d2 #0", "d1 #1", "d2 #1", "d1 #2", "d2 #2",
    ]  # fmt: skip
    d2.close()

"""The life of an order or alert: every transition, expiry, resend marking, sending order."""

from __future__ import annotations

import pytest

from mwm_tui.domain import dispatch as rules
from mwm_tui.domain.dispatch import Dispatch, DispatchError, Kind, Reach, Stage, Tone
from mwm_tui.domain.events import Delivery, Failure

T0 = 1_800_000_000.0


def order(seq: int = 1, expiry: float = 900.0, body: str = "Back to depot") -> Dispatch:
    return rules.new_dispatch(f"d{seq}", seq, Kind.ORDER, "truck-1", body, now=T0, expiry=expiry)


def sent(dispatch: Dispatch, send_id: str = "order-1", now: float = T0 + 1) -> Dispatch:
    return rules.sending(dispatch, send_id, now)


def answer(
    dispatch: Dispatch,
    delivery: Delivery,
    failure: Failure | None = None,
    reach: Reach = Reach.ONLINE,
    now: float = T0 + 2,
) -> Dispatch:
    return rules.outcome(dispatch, delivery, failure, detail="why", reach=reach, now=now)


def test_a_new_dispatch_is_queued_with_its_expiry() -> None:
    created = order(expiry=60)
    assert created.stage is Stage.QUEUED and created.is_open
    assert created.expires_at == T0 + 60
    assert created.attempts == 0 and not created.possible_duplicate
    with pytest.raises(ValueError, match="positive"):
        order(expiry=0)


def test_sending_counts_the_attempt_and_names_it() -> None:
    sending = sent(order(), "order-7")
    assert sending.stage is Stage.SENDING and sending.is_open
    assert sending.attempts == 1 and sending.send_id == "order-7"
    with pytest.raises(DispatchError):
        sent(sending)


@pytest.mark.parametrize(
    ("reach", "stage"),
    [
        (Reach.LISTENING, Stage.ACCEPTED),
        (Reach.ONLINE, Stage.ACCEPTED),
        (Reach.AWAY, Stage.WAITING),
    ],
)
def test_a_confirmed_send_is_accepted_or_waits_for_the_truck(reach: Reach, stage: Stage) -> None:
    done = answer(sent(order()), Delivery.CONFIRMED, reach=reach)
    assert done.stage is stage and not done.is_open
    assert done.detail == reach.value


def test_a_refusal_is_final() -> None:
    failed = answer(sent(order()), Delivery.FAILED, Failure.REFUSED)
    assert failed.stage is Stage.FAILED and failed.detail == "why"
    with pytest.raises(DispatchError):
        answer(failed, Delivery.CONFIRMED)


def test_not_sent_goes_back_to_the_queue_unmarked() -> None:
    back = answer(sent(order()), Delivery.FAILED, Failure.NOT_SENT)
    assert back.stage is Stage.QUEUED and not back.possible_duplicate


@pytest.mark.parametrize("failure", [Failure.UNCONFIRMED, None])
def test_an_ambiguous_loss_is_queued_again_as_a_possible_duplicate(
    failure: Failure | None,
) -> None:
    back = answer(sent(order()), Delivery.FAILED, failure)
    assert back.stage is Stage.QUEUED and back.possible_duplicate
    again = sent(back, "order-2")
    assert again.attempts == 2 and again.possible_duplicate
    # The mark stays for good, even after a clean NOT_SENT and the final receipt.
    clean = answer(again, Delivery.FAILED, Failure.NOT_SENT)
    assert clean.possible_duplicate
    done = answer(sent(clean, "order-3"), Delivery.CONFIRMED)
    assert done.possible_duplicate and done.attempts == 3
    line, tone = rules.describe(done)
    assert "resent (attempt 3): may arrive twice" in line and tone is Tone.GOOD


def test_pending_is_not_an_outcome() -> None:
    with pytest.raises(DispatchError):
        answer(sent(order()), Delivery.PENDING)


def test_an_outcome_needs_a_send() -> None:
    with pytest.raises(DispatchError):
        answer(order(), Delivery.CONFIRMED)


def test_queued_past_its_expiry_is_expired_never_anything_else() -> None:
    queued = order(expiry=60)
    assert rules.expire(queued, T0 + 59.9) is queued
    expired = rules.expire(queued, T0 + 60)
    assert expired.stage is Stage.EXPIRED and not expired.is_open
    assert rules.describe(expired)[0].endswith("expired, not sent")
    sending = sent(queued)
    assert rules.expire(sending, T0 + 1000) is sending  # its answer decides
    # An answer handing it back after its expiry expires it at once.
    late = answer(sending, Delivery.FAILED, Failure.UNCONFIRMED, now=T0 + 1000)
    assert late.stage is Stage.EXPIRED
    assert "an earlier attempt may have arrived" in rules.describe(late)[0]


def test_after_a_restart_a_send_without_answer_is_queued_as_possible_duplicate() -> None:
    sending = sent(order())
    back = rules.recovered(sending, T0 + 5)
    assert back.stage is Stage.QUEUED and back.possible_duplicate
    assert rules.recovered(order(), T0 + 5) == order()
    assert rules.recovered(order(expiry=1), T0 + 5).stage is Stage.EXPIRED


def test_refused_before_sending() -> None:
    failed = rules.refused(order(), "bad id", T0 + 1)
    assert failed.stage is Stage.FAILED
    assert rules.describe(failed)[0].endswith("failed: bad id")


def test_queued_dispatches_go_oldest_first_and_only_their_kind() -> None:
    alert = rules.new_dispatch("a", 2, Kind.ALERT, "truck-1", "red", now=T0)
    third, first = order(3), order(1)
    sending = sent(order(4))
    assert rules.send_order([third, alert, sending, first], Kind.ORDER) == [first, third]
    assert rules.send_order([third, alert, first], Kind.ALERT) == [alert]


def test_reach_uses_consumers_for_orders_and_status_otherwise() -> None:
    assert rules.reach_of(Kind.ORDER, online=False, consumers=1) is Reach.LISTENING
    assert rules.reach_of(Kind.ORDER, online=True, consumers=0) is Reach.AWAY
    assert rules.reach_of(Kind.ORDER, online=True, consumers=None) is Reach.ONLINE
    assert rules.reach_of(Kind.ORDER, online=False, consumers=None) is Reach.AWAY
    assert rules.reach_of(Kind.ALERT, online=True, consumers=0) is Reach.ONLINE
    assert rules.reach_of(Kind.ALERT, online=False, consumers=3) is Reach.AWAY


def test_descriptions_say_what_the_broker_can_know() -> None:
    sending = sent(order())
    texts = {
        reach: rules.describe(answer(sending, Delivery.CONFIRMED, reach=reach))[0]
        for reach in Reach
    }
    assert texts[Reach.LISTENING].endswith("the truck is listening on its queue")
    assert texts[Reach.ONLINE].endswith("the truck is online; delivery not confirmed")
    assert texts[Reach.AWAY].endswith("waits at the broker for the truck")
    assert all("(receipt)" in text for text in texts.values())
    queued = rules.describe(order())
    assert queued == ("⧗ order to truck-1 (Back to depot) queued, sent when the link is up",
                      Tone.BUSY)  # fmt: skip
    alert = rules.new_dispatch("a", 2, Kind.ALERT, "t\x1b[2J", "red", now=T0)
    done = rules.outcome(
        rules.sending(alert, "alert-1", T0),
        Delivery.CONFIRMED,
        None,
        detail="",
        reach=Reach.AWAY,
        now=T0,
    )
    line, tone = rules.describe(done)
    assert "\x1b" not in line and "(PUBACK)" in line and tone is Tone.WAIT

"""Orders and alerts through the app while its brokers are frozen, killed and restarted.

Shared by tests/test_outbox_brokers.py and the chaos benchmark (benchmarks/chaos.py).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from textual.pilot import Pilot

from mwm_tui.adapters.base import AlertLink, EventSink, OrderLink
from mwm_tui.adapters.mqtt_link import DEFAULT_KEEPALIVE, MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.adapters.store import HistoryEntry
from mwm_tui.composition import LinkFactory, create_app
from mwm_tui.config import Settings
from mwm_tui.domain import ids
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.dispatch import Stage
from mwm_tui.domain.events import Event, LinkName, LinkState, LinkStateChanged, LocationReceived
from mwm_tui.ui.app import MwmApp
from tests.support.brokers import ActiveMQ, Broker, Mosquitto
from tests.support.counters import QueueCounter, TopicCounter
from tests.support.ui import wait_for

Result = TypeVar("Result")
# A dispatch made while its link is up is sent in the same call: well within this (seconds).
_AT_ONCE = 0.1


class LinkClock:
    """When each link reported each state (monotonic seconds), as the links' sink saw it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.changes: list[tuple[LinkName, LinkState, float]] = []

    def see(self, event: Event) -> None:
        if isinstance(event, LinkStateChanged):
            with self._lock:
                self.changes.append((event.link, event.state, time.monotonic()))

    def first(self, link: LinkName, state: LinkState, after: float) -> float | None:
        with self._lock:
            times = (at for name, seen, at in self.changes if (name, seen) == (link, state))
            return next((at for at in times if at >= after), None)


def quick_links(
    settings: Settings, clock: LinkClock | None = None, *, keepalive: int = DEFAULT_KEEPALIVE
) -> LinkFactory:
    """The real links with their real retry and confirmation settings, seen by ``clock``."""

    def build(sink: EventSink) -> tuple[OrderLink, AlertLink]:
        if clock is not None:
            inner = sink

            def sink(event: Event) -> None:
                clock.see(event)
                inner(event)

        return (
            StompLink(settings.stomp_targets(), sink),
            MqttLink(settings.mqtt_targets(), sink, keepalive=keepalive),
        )

    return build


def make_app(
    settings: Settings, clock: LinkClock | None = None, *, keepalive: int = DEFAULT_KEEPALIVE
) -> MwmApp:
    links = quick_links(settings, clock, keepalive=keepalive)
    return create_app(settings, links=links, tune_gc=False)


def link_state(app: MwmApp, name: LinkName) -> LinkState | None:
    link = app.status_bar.links.get(name)
    return None if link is None else link.state


def feed(app: MwmApp, device_id: str) -> None:
    app.inbox.put(LocationReceived(Position(device_id, 48.85, 2.35)))


class BrokerHost:
    """A thread that starts brokers and outlives them (a broker dies with its starting thread)."""

    def __init__(self) -> None:
        self._work: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="broker-host", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while (item := self._work.get()) is not None:
            work, future = item
            try:
                future.set_result(work())
            except BaseException as error:
                future.set_exception(error)

    def submit(self, work: Callable[[], Result]) -> Future[Result]:
        future: Future[Result] = Future()
        self._work.put((work, future))
        return future

    def close(self, brokers: Sequence[Broker]) -> None:
        """Stop ``brokers`` from this thread, then end it."""
        for broker in brokers:
            self.submit(broker.stop)
        self._work.put(None)
        self._thread.join(60)


def link_of(broker: Broker) -> LinkName:
    return LinkName.STOMP if isinstance(broker, ActiveMQ) else LinkName.MQTT


@dataclass
class Kill:
    broker: str
    link: LinkName
    frozen: bool
    killed_at: float
    ready_at: float = 0.0  # the restarted broker answered a protocol handshake


@dataclass
class KillPlan:
    """Each round kills each broker once: ``pause`` s after the last restart, then ``down`` s
    dead. In the first ``freeze_rounds`` rounds the broker is SIGSTOPped ``frozen`` s first."""

    rounds: int = 3
    pause: float = 2.0
    down: float = 1.0
    freeze_rounds: int = 1
    frozen: float = 1.0


def kill_and_restart(brokers: Sequence[Broker], plan: KillPlan) -> list[Kill]:
    """Run ``plan`` (on a BrokerHost: it restarts the brokers); return what was done."""
    kills = []
    for round_number in range(plan.rounds):
        for broker in brokers:
            time.sleep(plan.pause)
            freeze = round_number < plan.freeze_rounds
            if freeze:
                broker.freeze()
                time.sleep(plan.frozen)
            broker.kill()
            kill = Kill(broker.name, link_of(broker), freeze, time.monotonic())
            kills.append(kill)
            time.sleep(plan.down)
            broker.start()
            kill.ready_at = time.monotonic()
    return kills


@dataclass
class ChaosReport:
    sent: int
    kills: list[Kill]
    queued: int  # dispatches that waited at HQ for a link (made while down, or handed back)
    resends: int  # sends after an ambiguous loss, as the dispatcher counted them
    resends_logged: int  # lines in the history that say a send is a resend
    lost: int
    duplicates: int  # extra copies at the independent consumers
    outcomes: dict[Stage, int]
    seconds: float
    sending_seconds: float  # from the first dispatch made to the last
    recoveries: list[tuple[Kill, float | None]] = field(default_factory=list)

    def recovery_seconds(self, link: LinkName) -> list[float | None]:
        """Per restart: the broker answering a handshake again -> the app's link up."""
        return [
            None if up is None else up - kill.ready_at
            for kill, up in self.recoveries
            if kill.link is link
        ]

    def summary(self) -> str:
        return (
            f"{self.sent} orders + {self.sent} alerts, {len(self.kills)} kills "
            f"({sum(k.frozen for k in self.kills)} frozen first), queued at HQ {self.queued}, "
            f"lost {self.lost}, resends {self.resends}, duplicates at the consumers "
            f"{self.duplicates}, outcomes {dict(self.outcomes)}, {self.seconds:.0f} s; "
            f"link up after the broker's restart: "
            f"STOMP {_seconds(self.recovery_seconds(LinkName.STOMP))}, "
            f"MQTT {_seconds(self.recovery_seconds(LinkName.MQTT))}"
        )


async def run_chaos(
    pilot: Pilot[None],
    app: MwmApp,
    clock: LinkClock,
    host: BrokerHost,
    *,
    activemq: ActiveMQ,
    mosquitto: Mosquitto,
    count: int,
    prefix: str,
    plan: KillPlan,
    spacing: float = 0.12,
    settle_timeout: float = 120.0,
) -> ChaosReport:
    """``count`` orders to one truck and one alert to each of ``count`` trucks, one pair every
    ``spacing`` s, while ``plan`` runs; independent consumers count what arrived.

    Orders go through ``send_order`` and alerts through ``send_alert``: the methods that Enter
    in the composer and the ``a`` key call (typing thousands of keys would take minutes).
    """
    order_truck = prefix + "ord"
    alert_trucks = [f"{prefix}{n:04d}" for n in range(count)]
    orders = QueueCounter(activemq.port, ids.order_destination(order_truck))
    alerts = TopicCounter(mosquitto.port, "/mwm/+/alert", client_id=prefix + "count")
    started = time.monotonic()
    try:
        for device in [order_truck, *alert_trucks]:
            feed(app, device)
        trucks = {order_truck, *alert_trucks}
        await wait_for(pilot, lambda: trucks <= set(app.device_list.row_ids), 30, "the trucks")
        await wait_for(
            pilot,
            lambda: all(link_state(app, name) is LinkState.UP for name in LinkName),
            60,
            "both links up",
        )
        await wait_for(
            pilot,
            lambda: orders.connected.is_set() and alerts.connected.is_set(),
            30,
            "the independent consumers",
        )
        killing = host.submit(lambda: kill_and_restart([activemq, mosquitto], plan))
        first_made = time.monotonic()
        for number, alert_truck in enumerate(alert_trucks):
            app.device_list.select(order_truck)
            assert app.send_order(f"chaos order {number:04d}")
            app.device_list.select(alert_truck)
            app.send_alert("red")
            await pilot.pause(spacing)
        sending = time.monotonic() - first_made
        kill_budget = plan.rounds * 2 * (plan.pause + plan.frozen + plan.down + 90)
        await wait_for(pilot, killing.done, kill_budget, "every kill and restart")
        kills = killing.result()
        await wait_for(
            pilot,
            lambda: app.dispatcher.unsettled() == 0,
            settle_timeout,
            "every dispatch settled",
        )
        expected_orders = {f"chaos order {n:04d}" for n in range(count)}
        expected_alerts = {ids.alert_topic(device) for device in alert_trucks}
        await wait_for(
            pilot,
            lambda: (
                set(orders.counts()) >= expected_orders and set(alerts.counts()) >= expected_alerts
            ),
            settle_timeout,
            "every order and alert at the independent consumers",
        )
        await pilot.pause(1.0)  # late duplicates; the drain tick commits the history
        seconds = time.monotonic() - started
        # The history keeps every line; the event log only the newest 2,000.
        history = app.dispatcher.store.history(kinds=("order", "alert"))
    finally:
        await asyncio.to_thread(orders.close)
        await asyncio.to_thread(alerts.close)
    order_counts, alert_counts = orders.counts(), alerts.counts()
    return ChaosReport(
        sent=count,
        kills=kills,
        queued=_waited(history),
        resends=app.dispatcher.resends,
        resends_logged=sum("sending, resent (attempt" in entry.text for entry in history),
        lost=len(expected_orders - set(order_counts)) + len(expected_alerts - set(alert_counts)),
        duplicates=_extra(order_counts) + _extra(alert_counts),
        outcomes=dict(app.dispatcher.outcomes),
        seconds=seconds,
        sending_seconds=sending,
        recoveries=[(kill, clock.first(kill.link, LinkState.UP, kill.killed_at)) for kill in kills],
    )


def _waited(history: Sequence[HistoryEntry]) -> int:
    """Dispatches not sent at once when made (their link was down), or handed back by it."""
    lines: dict[str | None, list[HistoryEntry]] = {}
    for entry in history:
        lines.setdefault(entry.dispatch_id, []).append(entry)
    waited = 0
    for made, *later in lines.values():
        sends = [entry for entry in later if "sending" in entry.text]
        handed_back = any("queued, sent when the link is up" in entry.text for entry in later)
        if handed_back or not sends or sends[0].at - made.at > _AT_ONCE:
            waited += 1
    return waited


def _seconds(values: Sequence[float | None]) -> str:
    return ", ".join("never" if value is None else f"{value:.2f}" for value in values) + " s"


def _extra(counts: Counter[str]) -> int:
    return sum(n - 1 for n in counts.values())

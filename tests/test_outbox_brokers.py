"""The outbox against real brokers: expiry, a restart of HQ, the words for an absent truck."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot

from mwm_tui.adapters.backoff import Backoff
from mwm_tui.adapters.base import AlertLink, EventSink, OrderLink
from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.adapters.stomp_link import StompLink
from mwm_tui.config import Settings
from mwm_tui.domain import ids
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.dispatch import Stage
from mwm_tui.domain.events import LinkName, LinkState, LocationReceived, WillReceived
from mwm_tui.ui.app import LinkFactory, MwmApp, create_app
from mwm_tui.ui.screens import DeviceDetail, HelpScreen, help_table
from tests.support.brokers import (
    ActiveMQ,
    ActiveMQFactory,
    Mosquitto,
    MosquittoFactory,
    free_port,
)
from tests.support.counters import QueueCounter, TopicCounter
from tests.support.sim import send_marker_orders, unique_prefix
from tests.support.ui import driven, log_text, screen_text, wait_for


def quick_links(settings: Settings) -> LinkFactory:
    """The real links, retrying every second at most: tests wait for brokers to come back."""

    def build(sink: EventSink) -> tuple[OrderLink, AlertLink]:
        return (
            StompLink(settings.stomp_targets(), sink, backoff=Backoff(0.2, 1.0)),
            MqttLink(settings.mqtt_targets(), sink, backoff=Backoff(0.2, 1.0)),
        )

    return build


def make_app(settings: Settings) -> MwmApp:
    return create_app(settings, links=quick_links(settings), tune_gc=False)


def link_state(app: MwmApp, name: LinkName) -> LinkState | None:
    link = app.status_bar.links.get(name)
    return None if link is None else link.state


def composer_text(app: MwmApp) -> str:
    return str(app.composer.query_one("#composer-status").render())


def feed(app: MwmApp, device_id: str) -> None:
    app.inbox.put(LocationReceived(Position(device_id, 48.85, 2.35)))


async def choose(pilot: Pilot[None], app: MwmApp, device: str) -> None:
    """Select ``device`` once it has a row (the session brokers hold other tests' trucks)."""
    await wait_for(pilot, lambda: device in app.device_list.row_ids, 10, f"{device}'s row")
    app.device_list.select(device)
    assert app.device_list.selected == device


def history_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    """``mwm-tui history`` as an operator runs it, with this test's $XDG_DATA_HOME."""
    return subprocess.run(
        [sys.executable, "-m", "mwm_tui.cli", "history", *arguments],
        capture_output=True,
        text=True,
        timeout=30,
        env=dict(os.environ),
        check=False,
    )


async def test_an_order_queued_while_stomp_is_down_expires_and_is_never_sent(
    fresh_activemq: ActiveMQFactory, mosquitto: Mosquitto
) -> None:
    port = free_port()
    device = unique_prefix("expiry") + "1"
    settings = Settings(stomp=f"stomp://127.0.0.1:{port}", mqtt=mosquitto.url, order_expiry=2.0)
    app = make_app(settings)
    async with driven(app) as pilot:
        feed(app, device)
        await choose(pilot, app, device)
        await pilot.press("o", *"too late", "enter")
        assert "queued, sent when the link is up" in composer_text(app)
        await wait_for(pilot, lambda: "expired, not sent" in composer_text(app), 10, "the expiry")
        broker = fresh_activemq(port=port)  # started here: brokers die with their thread
        await wait_for(
            pilot, lambda: link_state(app, LinkName.STOMP) is LinkState.UP, 30, "STOMP up"
        )
        await pilot.pause(1.0)
        assert app.dispatcher.outcomes == {Stage.EXPIRED: 1}
        assert "sending" not in log_text(app)
    counter = QueueCounter(broker.port, ids.order_destination(device))
    try:
        await asyncio.to_thread(counter.connected.wait, 10)
        await asyncio.to_thread(send_marker_orders, broker.url, [device])
        deadline = time.monotonic() + 10
        while not counter.counts() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert counter.counts() == {"marker": 1}  # FIFO: the order would have come first
    finally:
        await asyncio.to_thread(counter.close)


async def test_a_queued_order_survives_quitting_and_reaches_the_truck_once(
    fresh_activemq: ActiveMQFactory, mosquitto: Mosquitto, data_home: Path
) -> None:
    broker = fresh_activemq()
    device = unique_prefix("restart") + "1"
    settings = Settings(stomp=broker.url, mqtt=mosquitto.url)

    first = make_app(settings)
    async with driven(first) as pilot:
        feed(first, device)
        await choose(pilot, first, device)
        await wait_for(
            pilot, lambda: link_state(first, LinkName.STOMP) is LinkState.UP, 30, "STOMP up"
        )
        await asyncio.to_thread(broker.kill)
        await wait_for(
            pilot,
            lambda: link_state(first, LinkName.STOMP) is not LinkState.UP,
            30,
            "STOMP down",
        )
        await pilot.press("o", *"Come back to the depot", "enter")
        assert "queued, sent when the link is up" in composer_text(first)
        await pilot.press("escape", "q")
    assert not first.is_running

    broker.start()  # on the same port, from this thread: brokers die with their thread
    truck = QueueCounter(broker.port, ids.order_destination(device))
    try:
        await asyncio.to_thread(truck.connected.wait, 10)
        second = make_app(settings)
        async with driven(second) as pilot:
            await wait_for(
                pilot,
                lambda: "accepted by the broker" in log_text(second),
                30,
                "the queued order sent and confirmed after the restart",
            )
            assert "taken up from the outbox" in log_text(second)
            await asyncio.to_thread(send_marker_orders, broker.url, [device])
            await wait_for(pilot, lambda: "marker" in truck.counts(), 10, "the marker")
        assert truck.counts() == {"Come back to the depot": 1, "marker": 1}
    finally:
        await asyncio.to_thread(truck.close)

    assert Path(data_home, "mwm-tui", "mwm-tui.sqlite3").is_file()
    result = await asyncio.to_thread(history_cli, "--device", device, "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    orders = [r["text"] for r in records if r["kind"] == "order"]
    assert any("queued, sent when the link is up" in text for text in orders), orders
    assert "accepted by the broker (receipt)" in orders[-1], orders
    assert {r["device"] for r in records} == {device}
    table = await asyncio.to_thread(history_cli, "--since", "10m")
    assert table.returncode == 0 and "STOMP link down" in table.stdout
    assert f"order   {device}" in table.stdout


async def test_history_without_a_database_is_a_clear_error() -> None:
    result = await asyncio.to_thread(history_cli)
    assert result.returncode == 2
    assert "no history yet" in result.stderr and "Traceback" not in result.stderr
    bad = await asyncio.to_thread(history_cli, "--since", "yesterday-ish")
    assert bad.returncode == 2 and "not a date/time" in bad.stderr


async def test_an_absent_truck_is_told_apart_and_its_details_open_with_enter(
    activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix("detail")
    away, here = prefix + "away", prefix + "here"
    app = make_app(Settings(stomp=activemq.url, mqtt=mosquitto.url))
    async with driven(app, notifications=True) as pilot:
        app.inbox.put(WillReceived(away))
        for step in range(3):
            app.inbox.put(LocationReceived(Position(here, 48.85 + step / 100, 2.35)))
        await wait_for(
            pilot,
            lambda: {away, here} <= set(app.device_list.row_ids),
            10,
            "both trucks' rows",
        )
        for name in LinkName:
            await wait_for(
                pilot, lambda n=name: link_state(app, n) is LinkState.UP, 30, f"{name} up"
            )
        await choose(pilot, app, away)
        await pilot.press("o", *"Call HQ", "enter", "escape", "a")
        waits = "waits at the broker for the truck"
        await wait_for(
            pilot,
            lambda: log_text(app).count(waits) == 2,
            15,
            "the order and the alert waiting for the truck",
        )
        assert f"order to {away} (Call HQ) accepted by the broker (receipt); {waits}" in (
            log_text(app)
        )
        assert f"alert red to {away} accepted by the broker (PUBACK); {waits}" in log_text(app)

        app.device_list.select(here)
        await pilot.press("a")
        await wait_for(
            pilot,
            lambda: "the truck is online; delivery not confirmed" in log_text(app),
            15,
            "the alert to the online truck",
        )
        await pilot.pause(0.2)  # one drain tick commits the history

        app.device_list.select(away)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceDetail), 5, "the details")
        shown = screen_text(app)
        assert f"truck {away}" in shown
        assert "first heard: offline (last will)" in shown
        assert "(Call HQ) accepted by the broker" in shown and "PUBACK" in shown
        assert "position fix" in shown and "no position yet" in shown
        assert "Close" in shown  # the footer names the key
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), 5, "the help")
        console = Console(width=100, file=io.StringIO(), record=True)
        console.print(help_table())
        listed = console.export_text()
        assert "Truck details" in listed and "Close the truck's details" in listed
        assert "Show the selected truck" in listed
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0], 5, "back to the list")

        app.device_list.select(here)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DeviceDetail), 5, "the details")
        shown = screen_text(app)
        assert "received" in shown and "(HQ clock)" in shown
        assert "48.87000" in shown and "2.35000" in shown  # the trail, newest fix included
        assert "accepted by the broker (PUBACK); the truck is online;" in shown, shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0], 5, "closed")
    # The order did wait at the broker: the truck takes it on its return (and the shared
    # broker's queue is left empty for other tests).
    truck = QueueCounter(activemq.port, ids.order_destination(away))
    try:
        deadline = time.monotonic() + 10
        while not truck.counts() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert truck.counts() == {"Call HQ": 1}
    finally:
        await asyncio.to_thread(truck.close)


class BrokerKiller(threading.Thread):
    """Kills each broker with SIGKILL and starts it again on its port, ``rounds`` times.

    Brokers die with the thread that started them: this one stays alive until released.
    """

    def __init__(self, activemq: ActiveMQ, mosquitto: Mosquitto, rounds: int) -> None:
        super().__init__(name="broker-killer", daemon=True)
        self._brokers = (activemq, mosquitto)
        self._rounds = rounds
        self.kills = 0
        self.finished = threading.Event()
        self.release = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for _ in range(self._rounds):
                for broker in self._brokers:
                    time.sleep(2.0)
                    broker.kill()
                    self.kills += 1
                    time.sleep(1.0)
                    broker.start()
            self.finished.set()
        except BaseException as error:
            self.error = error
            self.finished.set()
        self.release.wait()
        for broker in self._brokers:
            broker.stop()


CHAOS_COUNT = 200


async def test_chaos_no_order_or_alert_is_lost_while_each_broker_is_killed_three_times(
    fresh_activemq: ActiveMQFactory, fresh_mosquitto: MosquittoFactory
) -> None:
    """Orders go through ``send_order`` and alerts through ``send_alert``: the methods that
    Enter in the composer and the ``a`` key call (typing 400 messages would take minutes)."""
    activemq = fresh_activemq(persistent=True)
    mosquitto = fresh_mosquitto(persistent=True)
    prefix = unique_prefix("chaos")
    order_truck = prefix + "ord"
    alert_trucks = [f"{prefix}{n:03d}" for n in range(CHAOS_COUNT)]
    orders = QueueCounter(activemq.port, ids.order_destination(order_truck))
    alerts = TopicCounter(mosquitto.port, "/mwm/+/alert", client_id=prefix + "count")
    killer = BrokerKiller(activemq, mosquitto, rounds=3)
    app = make_app(Settings(stomp=activemq.url, mqtt=mosquitto.url))
    started = time.monotonic()
    try:
        async with driven(app) as pilot:
            for device in [order_truck, *alert_trucks]:
                feed(app, device)
            await wait_for(
                pilot,
                lambda: len(app.device_list.row_ids) == CHAOS_COUNT + 1,
                10,
                "the trucks",
            )
            for name in LinkName:
                await wait_for(
                    pilot, lambda n=name: link_state(app, n) is LinkState.UP, 30, f"{name} up"
                )
            killer.start()
            for number, alert_truck in enumerate(alert_trucks):
                app.device_list.select(order_truck)
                assert app.send_order(f"chaos order {number:03d}")
                app.device_list.select(alert_truck)
                app.send_alert("red")
                await pilot.pause(0.12)
            await wait_for(pilot, killer.finished.is_set, 120, "three kills of each broker")
            assert killer.error is None, killer.error
            await wait_for(
                pilot, lambda: app.dispatcher.unsettled() == 0, 60, "every dispatch settled"
            )
            expected_orders = {f"chaos order {n:03d}" for n in range(CHAOS_COUNT)}
            expected_alerts = {ids.alert_topic(device) for device in alert_trucks}
            await wait_for(
                pilot,
                lambda: (
                    set(orders.counts()) >= expected_orders
                    and set(alerts.counts()) >= expected_alerts
                ),
                60,
                "every order and alert at the independent consumers",
            )
            log = log_text(app)
            queued = log.count("queued, sent when the link is up")
            resends = app.dispatcher.resends
            outcomes = dict(app.dispatcher.outcomes)
    finally:
        await asyncio.to_thread(orders.close)
        await asyncio.to_thread(alerts.close)
        killer.release.set()
    order_counts, alert_counts = orders.counts(), alerts.counts()
    lost = len(expected_orders - set(order_counts)) + len(expected_alerts - set(alert_counts))
    duplicates = sum(n - 1 for n in order_counts.values()) + sum(
        n - 1 for n in alert_counts.values()
    )
    print(  # the numbers for the report (pytest -s)
        f"\nchaos: {killer.kills} kills, queued at HQ {queued}, lost {lost}, resends {resends}, "
        f"duplicates at the consumers {duplicates}, outcomes {outcomes}, "
        f"{time.monotonic() - started:.0f} s"
    )
    assert killer.kills == 6
    assert queued > 0  # the outbox was needed: some were made while a link was down
    assert lost == 0
    assert sum(outcomes.values()) == 2 * CHAOS_COUNT
    assert not {Stage.FAILED, Stage.EXPIRED} & set(outcomes)
    # Every resend is in the log, marked, never hidden.
    assert log.count("sending, resent (attempt") == resends

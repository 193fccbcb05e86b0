"""The outbox against real brokers: expiry, a restart of HQ, the words for an absent truck,
resends after an ambiguous loss, and chaos."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from textual.pilot import Pilot

from mwm_tui.adapters.identity import unix_account
from mwm_tui.config import Settings
from mwm_tui.domain import ids
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.dispatch import Stage
from mwm_tui.domain.events import (
    LinkName,
    LinkState,
    LocationReceived,
    MotionReceived,
    WillReceived,
)
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import DeviceDetail, HelpScreen, help_table
from mwm_tui.ui.screens.quit_prompt import QuitPrompt
from tests.support.brokers import (
    ActiveMQ,
    ActiveMQFactory,
    Broker,
    Mosquitto,
    MosquittoFactory,
    free_port,
)
from tests.support.chaos import (
    BrokerHost,
    KillPlan,
    LinkClock,
    feed,
    link_state,
    make_app,
    run_chaos,
)
from tests.support.counters import QueueCounter, TopicCounter
from tests.support.sim import send_marker_orders, unique_prefix
from tests.support.ui import driven, log_text, screen_text, send_from_prompt, wait_for


def composer_text(app: MwmApp) -> str:
    return str(app.composer.query_one("#composer-status").render())


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
        await send_from_prompt(pilot, app)
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
        await send_from_prompt(pilot, first)
        assert "queued, sent when the link is up" in composer_text(first)
        await pilot.press("escape", "q")
        # Asked once: nobody else runs, so the order waits for the next start.
        await wait_for(pilot, lambda: isinstance(first.screen, QuitPrompt), 5, "the question")
        asked = first.screen
        assert isinstance(asked, QuitPrompt)
        assert "1 order or alert of yours is still in the outbox" in asked.question
        assert "no other dashboard is running: they wait in the outbox" in asked.question
        await pilot.press("q")
        await wait_for(pilot, lambda: not first.is_running, 5, "quit")
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
    assert f"order     {unix_account():<12}  {device}" in table.stdout


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
        app.inbox.put(MotionReceived(away, Motion(0.0, 0.0, 0.0)))  # heard live, no fix yet
        await wait_for(pilot, lambda: away in app.fleet.devices, 5, "the truck's motion")
        await pilot.pause(1.2)  # silent a while: its will is believed at once
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
        await pilot.press("o", *"Call HQ", "enter")
        await send_from_prompt(pilot, app)
        await pilot.press("escape", "a")
        await send_from_prompt(pilot, app)
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

        # A fresh fix: the first ones may have aged past the grace period while links came up.
        app.inbox.put(LocationReceived(Position(here, 48.87, 2.35)))
        await wait_for(
            pilot,
            lambda: app.fleet.devices[here].status is DeviceStatus.ONLINE,
            5,
            f"{here} online",
        )
        app.device_list.select(here)
        await pilot.press("a")
        await send_from_prompt(pilot, app)
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
        will = "online -> offline (last will)"
        await wait_for(pilot, lambda: will in screen_text(app), 5, "the will in the details")
        shown = screen_text(app)
        assert f"truck {away}" in shown
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
        assert "accepted by the broker (PUBACK); the truck is" in shown, shown
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


AMBIGUOUS = re.compile(r"resent \(attempt (\d+)\): may arrive twice")


async def freeze_send_kill(
    pilot: Pilot[None],
    app: MwmApp,
    host: BrokerHost,
    broker: Broker,
    *,
    keys: tuple[str, ...],
    what: str,
    until_detected: bool = False,
) -> None:
    """Freeze ``broker``, press ``keys`` (one order or alert), kill -9 it, start it again: the
    dispatch went into the socket of a broker that never read it, so it must be resent.

    ``until_detected``: the broker stays frozen until the link gives it up (heart-beat,
    keepalive) before it is killed."""
    link = LinkName.STOMP if isinstance(broker, ActiveMQ) else LinkName.MQTT
    broker.freeze()
    await pilot.press(*keys)
    await send_from_prompt(pilot, app)
    await pilot.press("escape")  # out of the composer, if the keys went there
    await wait_for(pilot, lambda: f"{what} sending" in log_text(app), 5, f"the {what} sent")
    await pilot.pause(1.0)  # written to the socket; no receipt or PUBACK can come
    assert app.dispatcher.unsettled() == 1
    if until_detected:
        await wait_for(
            pilot, lambda: link_state(app, link) is not LinkState.UP, 60, f"{link} given up"
        )
        assert app.dispatcher.unsettled() == 1  # still in the outbox, not lost
    broker.kill()
    await wait_for(
        pilot,
        lambda: "resend pending: may arrive twice" in log_text(app),
        30,
        f"the {what} handed back as an ambiguous loss",
    )
    await asyncio.wrap_future(host.submit(broker.start))
    await wait_for(pilot, lambda: link_state(app, link) is LinkState.UP, 30, f"{link} up again")
    await wait_for(
        pilot, lambda: app.dispatcher.unsettled() == 0, 30, f"the {what} resent and confirmed"
    )


async def ready_to_send(
    pilot: Pilot[None], app: MwmApp, device: str, truck: QueueCounter, alerts: TopicCounter
) -> None:
    """The independent consumers listening, ``device`` fed and chosen, both links up."""
    await wait_for(
        pilot,
        lambda: truck.connected.is_set() and alerts.connected.is_set(),
        30,
        "the independent consumers",
    )
    feed(app, device)
    await choose(pilot, app, device)
    for name in LinkName:
        await wait_for(pilot, lambda n=name: link_state(app, n) is LinkState.UP, 30, f"{name} up")


async def both_arrived(pilot: Pilot[None], truck: QueueCounter, alerts: TopicCounter) -> None:
    """The order and the alert reached the independent consumers, and any second copy too."""
    await wait_for(
        pilot,
        lambda: truck.counts()["Hold position"] >= 1 and alerts.counts() != {},
        30,
        "the order and the alert at the independent consumers",
    )
    await pilot.pause(2.0)  # a second copy, if any, comes within this


async def test_an_order_and_an_alert_lost_in_a_frozen_then_killed_broker_are_resent_marked(
    fresh_activemq: ActiveMQFactory, fresh_mosquitto: MosquittoFactory
) -> None:
    """The broker is SIGSTOPped before the send, so the first copy never reached its journal."""
    activemq = fresh_activemq(persistent=True)
    mosquitto = fresh_mosquitto(persistent=True)
    host = BrokerHost()
    device = unique_prefix("frozen") + "1"
    truck = QueueCounter(activemq.port, ids.order_destination(device))
    alerts = TopicCounter(mosquitto.port, ids.alert_topic(device), client_id=device + "-count")
    app = make_app(Settings(stomp=activemq.url, mqtt=mosquitto.url))
    try:
        async with driven(app) as pilot:
            await ready_to_send(pilot, app, device, truck, alerts)

            order = f"order to {device} (Hold position)"
            keys = ("o", *"Hold position", "enter")
            await freeze_send_kill(pilot, app, host, activemq, keys=keys, what=order)
            lines = [line for line in log_text(app).splitlines() if order in line]
            assert "resend pending: may arrive twice" in lines[-3], lines
            assert "no confirmation from the broker before" in lines[-3], lines
            assert AMBIGUOUS.search(lines[-2]) and "sending" in lines[-2], lines
            assert "accepted by the broker (receipt)" in lines[-1], lines
            assert AMBIGUOUS.search(lines[-1]), lines
            assert AMBIGUOUS.search(composer_text(app)), composer_text(app)
            assert "accepted by the broker (receipt)" in composer_text(app)

            alert = f"alert red to {device}"
            await freeze_send_kill(pilot, app, host, mosquitto, keys=("a",), what=alert)
            lines = [line for line in log_text(app).splitlines() if alert in line]
            assert "resend pending: may arrive twice" in lines[-3], lines
            assert AMBIGUOUS.search(lines[-1]), lines
            assert "accepted by the broker (PUBACK)" in lines[-1], lines
            assert AMBIGUOUS.search(composer_text(app)), composer_text(app)
            assert app.dispatcher.resends >= 2
            # Accepted by the broker; the truck, unheard since HQ's link came back, may wait.
            assert (
                app.dispatcher.outcomes[Stage.ACCEPTED] + app.dispatcher.outcomes[Stage.WAITING]
                == 2
            ), app.dispatcher.outcomes

            await both_arrived(pilot, truck, alerts)
    finally:
        await asyncio.to_thread(truck.close)
        await asyncio.to_thread(alerts.close)
        await asyncio.to_thread(host.close, [activemq, mosquitto])
    orders_seen = truck.counts()["Hold position"]
    alerts_seen = alerts.counts()[ids.alert_topic(device)]
    print(f"\nfrozen then killed: the order arrived {orders_seen}x, the alert {alerts_seen}x")
    assert orders_seen >= 1 and alerts_seen >= 1

    result = await asyncio.to_thread(history_cli, "--device", device, "--json")
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    for kind, proof in (("order", "receipt"), ("alert", "PUBACK")):
        texts = [r["text"] for r in records if r["kind"] == kind]
        assert any("resend pending: may arrive twice" in text for text in texts), texts
        assert f"accepted by the broker ({proof})" in texts[-1], texts
        assert AMBIGUOUS.search(texts[-1]), texts


CHAOS_COUNT = 200


async def test_chaos_no_order_or_alert_is_lost_while_each_broker_is_killed_three_times(
    fresh_activemq: ActiveMQFactory, fresh_mosquitto: MosquittoFactory
) -> None:
    """Each broker is frozen before its first kill: what was in flight then is resent."""
    activemq = fresh_activemq(persistent=True)
    mosquitto = fresh_mosquitto(persistent=True)
    host = BrokerHost()
    clock = LinkClock()
    app = make_app(Settings(stomp=activemq.url, mqtt=mosquitto.url), clock)
    try:
        async with driven(app) as pilot:
            report = await run_chaos(
                pilot,
                app,
                clock,
                host,
                activemq=activemq,
                mosquitto=mosquitto,
                count=CHAOS_COUNT,
                prefix=unique_prefix("chaos"),
                plan=KillPlan(rounds=3, freeze_rounds=1),
            )
    finally:
        await asyncio.to_thread(host.close, [activemq, mosquitto])
    print("\nchaos:", report.summary())  # the numbers for the report (pytest -s)
    assert len(report.kills) == 6 and sum(kill.frozen for kill in report.kills) == 2
    assert report.queued > 0  # the outbox was needed: some were made while a link was down
    assert report.lost == 0
    assert report.resends > 0  # what the frozen brokers swallowed was resent
    assert sum(report.outcomes.values()) == 2 * CHAOS_COUNT
    assert not {Stage.FAILED, Stage.EXPIRED} & set(report.outcomes)
    # Every resend is in the log, marked, never hidden.
    assert report.resends_logged == report.resends
    assert all(up is not None for _, up in report.recoveries)


async def test_a_freeze_the_link_detects_first_still_ends_in_a_marked_resend(
    fresh_activemq: ActiveMQFactory, fresh_mosquitto: MosquittoFactory
) -> None:
    """The links give the frozen brokers up themselves (STOMP heart-beat with its defaults;
    MQTT keepalive 5 s instead of 30 to keep this short) before the kill -9."""
    activemq = fresh_activemq(persistent=True)
    mosquitto = fresh_mosquitto(persistent=True)
    host = BrokerHost()
    device = unique_prefix("unheard") + "1"
    truck = QueueCounter(activemq.port, ids.order_destination(device))
    alerts = TopicCounter(mosquitto.port, ids.alert_topic(device), client_id=device + "-count")
    app = make_app(Settings(stomp=activemq.url, mqtt=mosquitto.url), keepalive=5)
    try:
        async with driven(app) as pilot:
            await ready_to_send(pilot, app, device, truck, alerts)
            keys = ("o", *"Hold position", "enter")
            order = f"order to {device} (Hold position)"
            await freeze_send_kill(
                pilot, app, host, activemq, keys=keys, what=order, until_detected=True
            )
            alert = f"alert red to {device}"
            await freeze_send_kill(
                pilot, app, host, mosquitto, keys=("a",), what=alert, until_detected=True
            )
            log = log_text(app)
            for what, proof in ((order, "receipt"), (alert, "PUBACK")):
                lines = [line for line in log.splitlines() if what in line]
                assert f"accepted by the broker ({proof})" in lines[-1], lines
                assert AMBIGUOUS.search(lines[-1]), lines
            assert "no heart-beat from the broker" in log
            assert "no answer to a keepalive ping" in log
            # Accepted, or waiting: the truck, fed once, went stale during the freezes.
            assert sum(app.dispatcher.outcomes.values()) == 2
            assert set(app.dispatcher.outcomes) <= {Stage.ACCEPTED, Stage.WAITING}
            await both_arrived(pilot, truck, alerts)
    finally:
        await asyncio.to_thread(truck.close)
        await asyncio.to_thread(alerts.close)
        await asyncio.to_thread(host.close, [activemq, mosquitto])
    orders_seen = truck.counts()["Hold position"]
    alerts_seen = alerts.counts()[ids.alert_topic(device)]
    resends = app.dispatcher.resends
    print(f"\ndetected freeze: order {orders_seen}x, alert {alerts_seen}x, {resends} resends")
    assert orders_seen >= 1 and alerts_seen >= 1

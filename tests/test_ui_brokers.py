"""The real dashboard against real brokers and a real mwm-sim, driven by keys through Pilot.

The session brokers are shared, and Mosquitto keeps every earlier device's retained motion, so
each test gives its simulated fleet a prefix of its own and filters the list down to it. The
core scenarios (fleet, order, alert, will) run on every pair of ``broker_pair``.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections.abc import Callable
from functools import partial

import paho.mqtt.client as mqtt
import pytest
import stomp
from paho.mqtt.enums import CallbackAPIVersion
from textual.pilot import Pilot

from mwm_tui.adapters.identity import unix_account
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import LinkName, LinkState
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.widgets.motion_panel import MotionPanel
from mwm_tui.ui.widgets.status_bar import StatusBar
from tests.support.brokers import ActiveMQ, Mosquitto, free_port
from tests.support.matrix import BrokerPair
from tests.support.sim import Sim, fleet_ids, send_marker_orders, unique_prefix
from tests.support.ui import (
    driven,
    list_text,
    log_text,
    screen_dump,
    screen_text,
    send_from_prompt,
    wait_for,
)

HOSTILE_MARKUP = "[red]x[/red]"
HOSTILE_ESCAPE = "evil\x1b[2J"


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    return unique_prefix(request.node.name.removeprefix("test_"))


def make_app(activemq: ActiveMQ, mosquitto: Mosquitto) -> MwmApp:
    return create_app(Settings(stomp=activemq.url, mqtt=mosquitto.url), tune_gc=False)


@pytest.fixture
def pair_sim(sim_factory: Callable[..., Sim], broker_pair: BrokerPair) -> Callable[..., Sim]:
    """Starts mwm-sim on the pair of session brokers; all stopped after the test."""
    return partial(sim_factory, broker_pair.stomp_url, broker_pair.mqtt_url)


def pair_app(broker_pair: BrokerPair) -> MwmApp:
    settings = Settings(stomp=broker_pair.stomp_url, mqtt=broker_pair.mqtt_url)
    return create_app(settings, tune_gc=False)


def status_text(app: MwmApp) -> str:
    return app.query_one(StatusBar).render().plain


def row_of(app: MwmApp, device_id: str) -> str:
    """The device list's line for ``device_id`` ('' when not on screen)."""
    return next((line for line in list_text(app).splitlines() if device_id in line), "")


async def until(
    pilot: Pilot[None],
    app: MwmApp,
    predicate: Callable[[], object],
    what: str,
    timeout: float = 15.0,
) -> None:
    """``wait_for`` whose failure also shows the screen."""
    try:
        await wait_for(pilot, lambda: bool(predicate()), timeout, what)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{screen_dump(app)}") from None


async def links_up(pilot: Pilot[None], app: MwmApp) -> None:
    def up() -> bool:
        links = app.query_one(StatusBar).links
        return all(links[name].state is LinkState.UP for name in LinkName)

    await until(pilot, app, up, "both links up", 30)


async def sim_line(pilot: Pilot[None], app: MwmApp, sim: Sim, prefix: str, what: str) -> str:
    """Wait, letting the app run, for the simulator to print a line starting with ``prefix``."""
    try:
        await wait_for(pilot, lambda: bool(sim.lines(prefix)), 30, what)
    except AssertionError as error:
        raise AssertionError(
            f"{error}\nsim stdout: {sim.out}\nsim stderr: {sim.err[-1500:]}\n{screen_dump(app)}"
        ) from None
    return sim.lines(prefix)[0]


async def fleet_on_screen(
    pilot: Pilot[None], app: MwmApp, sim: Sim, prefix: str, device_ids: list[str]
) -> None:
    """Links up, sim ready, list filtered to this fleet, rows with fix and motion, first chosen."""
    await links_up(pilot, app)
    await sim_line(pilot, app, sim, "READY ", "mwm-sim READY")
    await pilot.press("slash", *prefix, "enter")

    def complete() -> bool:
        for device_id in device_ids:
            device = app.fleet.devices.get(device_id)
            if device is None or device.position is None or device.motion is None:
                return False
            if device.status is not DeviceStatus.ONLINE or not _row_complete(
                row_of(app, device_id)
            ):
                return False
        return app.device_list.row_ids == device_ids

    await until(pilot, app, complete, f"rows of {device_ids} with position and motion")
    await pilot.press("g")  # the first row: the filter selected whichever row came first
    assert app.device_list.selected == device_ids[0]


def panel_shows_newest_motion(app: MwmApp, device_id: str) -> bool:
    """The motion panel's numbers are the fleet's newest motion of ``device_id``."""
    motion = app.fleet.devices[device_id].motion
    assert motion is not None
    shown = app.motion_panel.render().plain
    return all(
        re.search(
            rf"^{name}\s.*{re.escape(f'{math.degrees(getattr(motion, name)):+7.1f}°')}$",
            shown,
            re.M,
        )
        for name in ("pitch", "roll", "yaw")
    )


def _row_complete(row: str) -> bool:
    """Online, with lat and lng numbers and pitch and roll in degrees (yaw, next, is shown
    from about 125 columns with such ids)."""
    return (
        "online" in row
        and len(re.findall(r"-?\d+\.\d{4}", row)) == 2
        and len(re.findall(r"[+-]\d+°", row)) >= 2
    )


async def test_fleet_appears_and_selection_shows_its_motion(
    pair_sim: Callable[..., Sim], broker_pair: BrokerPair, prefix: str
) -> None:
    device_ids = fleet_ids(prefix, 4)
    sim = pair_sim("--devices", "4", "--prefix", prefix)
    app = pair_app(broker_pair)
    async with driven(app) as pilot:
        await fleet_on_screen(pilot, app, sim, prefix, device_ids)
        panel = app.query_one(MotionPanel)
        assert app.device_list.selected == device_ids[0]
        for keys, expected in ((("j", "j"), 2), (("k",), 1), (("j", "j", "j", "j"), 3)):
            await pilot.press(*keys)
            chosen = device_ids[expected]
            assert app.device_list.selected == chosen, screen_dump(app)
            title = f"motion · {chosen}"
            await until(pilot, app, partial(lambda t: t in screen_text(app), title), title)
            screen = screen_text(app)
            for name in ("pitch", "roll", "yaw"):
                assert re.search(rf"│ ?{name} .* [+-] *\d+\.\d° *│", screen), screen
            # And the values drawn are the selected device's own: its newest motion, once the
            # panel's next repaint (at most 0.1 s after the fleet took it) has drawn it.
            assert panel.device_id == chosen
            await until(pilot, app, partial(panel_shows_newest_motion, app, chosen), chosen)
        assert sim.lines("ORDER ") == [] and sim.lines("ALERT ") == []


async def test_order_goes_to_the_selected_device_only_and_is_confirmed(
    pair_sim: Callable[..., Sim], broker_pair: BrokerPair, prefix: str
) -> None:
    device_ids = fleet_ids(prefix, 4)
    sim = pair_sim("--devices", "4", "--prefix", prefix)
    app = pair_app(broker_pair)
    async with driven(app) as pilot:
        await fleet_on_screen(pilot, app, sim, prefix, device_ids)
        target = device_ids[1]
        await pilot.press("j")
        assert app.device_list.selected == target
        await pilot.press("o", *"Where are you heading to?", "enter")
        await send_from_prompt(pilot, app)
        line = await sim_line(pilot, app, sim, "ORDER ", "the order at a device")
        assert line == f"ORDER {target}: Where are you heading to?"
        # The receipt, and what HQ can claim beyond it: a listening consumer where the broker
        # sends advisories, else only that the truck is online.
        reach = (
            "the truck is listening on its queue"
            if broker_pair.advisories
            else "the truck is online; delivery not confirmed"
        )
        confirmed = (
            f"✔ {unix_account()}: order to {target} (Where are you heading to?) "
            "accepted by the broker (receipt); " + reach
        )
        await until(pilot, app, lambda: confirmed in log_text(app), "the receipt in the log")

        # Queues are FIFO: once each other device has read a marker sent after the order,
        # a copy of the order in its queue would have been read, and printed, first.
        others = [d for d in device_ids if d != target]
        await asyncio.to_thread(send_marker_orders, broker_pair.stomp_url, others)
        await until(
            pilot,
            app,
            lambda: len(sim.lines("ORDER ")) == len(device_ids),
            "every device's marker",
        )
        assert [line for line in sim.lines("ORDER ") if not line.endswith(": marker")] == [
            f"ORDER {target}: Where are you heading to?"
        ], sim.out
        assert log_text(app).count(f"order to {target} (Where are you heading to?) accepted") == 1


async def test_alert_flashes_the_selected_device_red_and_is_confirmed(
    pair_sim: Callable[..., Sim], broker_pair: BrokerPair, prefix: str
) -> None:
    device_ids = fleet_ids(prefix, 3)
    sim = pair_sim("--devices", "3", "--prefix", prefix)
    app = pair_app(broker_pair)
    async with driven(app) as pilot:
        await fleet_on_screen(pilot, app, sim, prefix, device_ids)
        target = device_ids[2]
        await pilot.press("j", "j", "a")
        assert app.device_list.selected == target
        await send_from_prompt(pilot, app)
        line = await sim_line(pilot, app, sim, "ALERT ", "the alert at a device")
        assert line == f"ALERT {target}: red"
        confirmed = f"✔ {unix_account()}: alert red to {target} accepted by the broker (PUBACK)"
        await until(pilot, app, lambda: confirmed in log_text(app), "the PUBACK in the log")
        assert sim.lines("ALERT ") == [f"ALERT {target}: red"], sim.out


async def test_killed_device_turns_offline_by_its_last_will(
    pair_sim: Callable[..., Sim], broker_pair: BrokerPair, prefix: str
) -> None:
    device_ids = fleet_ids(prefix, 3)
    sim = pair_sim("--devices", "3", "--prefix", prefix)
    app = pair_app(broker_pair)
    async with driven(app) as pilot:
        await fleet_on_screen(pilot, app, sim, prefix, device_ids)
        victim = device_ids[1]
        sim.command(f"kill {victim}")
        await sim_line(pilot, app, sim, f"KILLED {victim}", "the kill")
        await until(
            pilot, app, lambda: "offline" in row_of(app, victim), "the victim's row offline"
        )
        assert f"✕ {victim} is offline (last will)" in log_text(app)
        assert app.fleet.devices[victim].status_reason == "last will"
        for device_id in device_ids:
            if device_id != victim:
                assert "online" in row_of(app, device_id), screen_dump(app)


class _WireSpy:
    """Every order queue and alert topic written to while the spy listens, in arrival order."""

    def __init__(self, activemq: ActiveMQ, mosquitto: Mosquitto) -> None:
        self._seen: list[str] = []
        self._since_ms = int(time.time() * 1000)
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._subacked = threading.Event()
        self.stomp = stomp.Connection12([("127.0.0.1", activemq.port)])
        self.stomp.set_listener("spy", self)
        self.stomp.connect(wait=True)
        self.stomp.subscribe("/queue/device.>", id="spy", ack="auto", receipt="spy-subscribed")
        self.mqtt = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.mqtt.on_message = lambda _c, _u, message: self._saw(message.topic)
        self.mqtt.on_subscribe = lambda *_: self._subacked.set()
        self.mqtt.connect("127.0.0.1", mosquitto.port)
        self.mqtt.loop_start()
        self.mqtt.subscribe("#", qos=1)
        if not (self._subscribed.wait(10) and self._subacked.wait(10)):
            self.close()
            raise AssertionError("the wire spy could not subscribe")

    def _saw(self, destination: str) -> None:
        if destination.endswith(("/alert", ".text")):
            with self._lock:
                self._seen.append(destination)

    def on_message(self, frame: stomp.utils.Frame) -> None:
        # Orders earlier tests left for absent trucks still wait in their queues: not ours.
        if int(frame.headers.get("timestamp", "0")) >= self._since_ms:
            self._saw(frame.headers.get("destination", ""))

    def on_receipt(self, frame: stomp.utils.Frame) -> None:
        if frame.headers.get("receipt-id") == "spy-subscribed":
            self._subscribed.set()

    @property
    def seen(self) -> list[str]:
        with self._lock:
            return list(self._seen)

    def close(self) -> None:
        self.stomp.disconnect()
        self.mqtt.loop_stop()
        self.mqtt.disconnect()


def on_screen(app: MwmApp, texts: tuple[str, ...]) -> bool:
    screen = screen_text(app)
    return all(text in screen for text in texts)


def refusals(app: MwmApp, problem: str) -> int:
    """Notifications refusing an order or alert for ``problem``."""
    return sum(
        note.message.startswith("Cannot send an ") and problem in note.message
        for note in app._notifications
    )


def _publish_hostile_locations(activemq: ActiveMQ) -> None:
    connection = stomp.Connection12([("127.0.0.1", activemq.port)])
    connection.connect(wait=True)
    try:
        for device_id in (HOSTILE_MARKUP, HOSTILE_ESCAPE):
            body = codecs.encode_location(Position(device_id, 48.85, 2.35))
            destination = f"/topic/device.{device_id}.location"
            connection.send(destination, body, content_type="application/json;charset=utf-8")
    finally:
        connection.disconnect()


def _send_control_messages(activemq: ActiveMQ, mosquitto: Mosquitto, device_id: str) -> None:
    send_marker_orders(activemq.url, [device_id])
    publisher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    publisher.connect("127.0.0.1", mosquitto.port)
    publisher.loop_start()
    try:
        publisher.publish(ids.alert_topic(device_id), b"red", qos=1).wait_for_publish(5)
    finally:
        publisher.disconnect()
        publisher.loop_stop()


async def test_hostile_ids_render_literally_and_nothing_is_sent_to_them(
    activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    app = make_app(activemq, mosquitto)
    spy = await asyncio.to_thread(_WireSpy, activemq, mosquitto)
    try:
        async with driven(app, notifications=True) as pilot:
            await links_up(pilot, app)
            await asyncio.to_thread(_publish_hostile_locations, activemq)
            await pilot.press("slash", "[", "enter")  # both ids hold '[', no simulated one does
            # ActiveMQ forwards the escape byte raw in the destination header: HQ's frame reader
            # refuses that frame whole (Mosquitto refuses control characters in topics itself).
            await until(
                pilot,
                app,
                lambda: app.fleet.rejects_by_reason[RejectReason.MALFORMED_FRAME] >= 1,
                "the escape id's frame refused",
            )
            await until(pilot, app, lambda: HOSTILE_MARKUP in list_text(app), "the markup row")
            assert app.device_list.row_ids == [HOSTILE_MARKUP]
            assert HOSTILE_ESCAPE not in app.fleet.devices
            assert "\x1b" not in log_text(app) and "evil\\x1b[2J" in log_text(app)

            assert app.device_list.selected == HOSTILE_MARKUP
            # The motion title and the composer name it literally (before toasts cover them).
            titles = (f"motion · {HOSTILE_MARKUP}", f"order to {HOSTILE_MARKUP}")
            await until(pilot, app, partial(on_screen, app, titles), f"{titles} on screen")
            await pilot.press("a")
            await pilot.press("o", *"go", "enter", "escape")
            await until(
                pilot,
                app,
                partial(lambda p: refusals(app, p) >= 2, "'/'"),
                "two refusals naming '/'",
                5,
            )
            toast = (f"Cannot send an alert to {HOSTILE_MARKUP}:",)
            await until(pilot, app, partial(on_screen, app, toast), f"{toast} on screen", 5)
            assert "\x1b" not in screen_text(app) and "\x1b" not in app.export_screenshot()

            # Markers down both paths after the refusals: once both arrive, anything the app
            # had sent would have arrived too.
            control = "spy-control"
            await asyncio.to_thread(_send_control_messages, activemq, mosquitto, control)
            expected = [ids.alert_topic(control), ids.order_destination(control)]
            await until(pilot, app, lambda: len(spy.seen) >= 2, "the control messages", 10)
            assert sorted(spy.seen) == expected
            assert app.dispatcher.store.open_dispatches() == []
            assert "sending" not in log_text(app) and "accepted" not in log_text(app)
            assert app.is_running
    finally:
        await asyncio.to_thread(spy.close)


async def test_unreachable_brokers_show_both_links_down_and_keep_retrying(
    capfd: pytest.CaptureFixture[str],
) -> None:
    stomp_port, mqtt_port = free_port(), free_port()
    settings = Settings(
        stomp=f"stomp://127.0.0.1:{stomp_port}", mqtt=f"mqtt://127.0.0.1:{mqtt_port}"
    )
    app = create_app(settings, tune_gc=False)
    started = time.monotonic()
    async with driven(app, (200, 40)) as pilot:  # wide: the bar has room for every detail
        refused = {
            LinkName.STOMP: f"connection refused by 127.0.0.1:{stomp_port}",
            LinkName.MQTT: f"connection refused by 127.0.0.1:{mqtt_port}",
        }

        def tries(name: LinkName) -> int:
            return app.query_one(StatusBar).attempts.get(name, 0)

        await until(
            pilot,
            app,
            lambda: all(tries(name) >= 3 for name in LinkName),
            "three refused attempts on each link",
            20,
        )
        status = status_text(app)
        for name in LinkName:
            # The loss is one line in the log; the retries are counted on the status bar.
            downs = [line for line in log_text(app).splitlines() if f"{name} link down" in line]
            assert len(downs) == 1, log_text(app)
            assert f"{name} link down: {refused[name]}; retrying in" in downs[0]
            assert re.search(
                rf"{name} ▼ down, retry in \d+ s, \d+ tries \(connection refused by", status
            ), status
            assert app.query_one(StatusBar).links[name].detail == refused[name]
        assert app.is_running
        assert "internal error" not in log_text(app)
        await pilot.press("q")
    assert time.monotonic() - started < 25
    captured = capfd.readouterr()
    assert "Traceback" not in captured.out + captured.err

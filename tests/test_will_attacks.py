"""Anyone may publish on ``/mwm/lastWill`` and leave retained messages: HQ weighs what it is told.

Each attack goes through the real brokers and the real dashboard: a forged will against a
talking truck, forged retained wills waiting for HQ at every start, a will followed by the
truck's own motion, and junk retained motions filling the device limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from textual.pilot import Pilot

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.domain.wills import HOLD
from mwm_tui.ui.app import MwmApp
from tests.support.brokers import ActiveMQ, Mosquitto, MosquittoFactory
from tests.support.sim import Sim, fleet_ids, unique_prefix
from tests.support.ui import driven, log_text
from tests.test_ui_brokers import fleet_on_screen, links_up, make_app, until


def publish(port: int, messages: list[tuple[str, bytes]], *, retain: bool = False) -> None:
    """What any client of the broker may do: publish on the fleet's topics, QoS 1."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        for topic, payload in messages:
            info = client.publish(topic, payload, qos=1, retain=retain)
            info.wait_for_publish(5.0)
            assert info.is_published(), f"no PUBACK for {topic}"
    finally:
        client.disconnect()
        client.loop_stop()


def forged_will(device_id: str) -> tuple[str, bytes]:
    return ids.WILL_TOPIC, codecs.encode_will(device_id)


def motion_of(device_id: str) -> tuple[str, bytes]:
    return ids.motion_topic(device_id), codecs.encode_motion(codecs.Motion(0.1, 0.2, 0.3))


def will_history(app: MwmApp, device_id: str) -> list[str]:
    return [
        entry.text
        for entry in app.dispatcher.store.history()
        if entry.kind == "will" and entry.device_id == device_id
    ]


async def statuses_for(
    pilot: Pilot[None], app: MwmApp, device_id: str, seconds: float
) -> set[DeviceStatus]:
    """Every status ``device_id`` showed while the app ran for ``seconds``."""
    seen: set[DeviceStatus] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.add(app.fleet.devices[device_id].status)
        await pilot.pause(0.05)
    return seen


async def test_a_forged_will_is_disputed_and_never_turns_a_talking_truck_offline(
    sim_factory: Callable[..., Sim], activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix("forge")
    device_ids = fleet_ids(prefix, 2)
    sim = sim_factory(activemq.url, mosquitto.url, "--devices", "2", "--prefix", prefix)
    app = make_app(activemq, mosquitto)
    async with driven(app) as pilot:
        await fleet_on_screen(pilot, app, sim, prefix, device_ids)
        victim = device_ids[0]
        publish(mosquitto.port, [forged_will(victim)])
        await until(pilot, app, lambda: f"? {victim}: disputed will" in log_text(app), "dispute")
        assert await statuses_for(pilot, app, victim, HOLD + 2) == {DeviceStatus.ONLINE}
        assert f"{victim} is offline" not in log_text(app)
        await until(pilot, app, lambda: will_history(app, victim), "the will in the history")
        assert all(text.startswith("disputed will") for text in will_history(app, victim))


async def test_forged_retained_wills_add_no_truck_and_offline_none_at_any_start(
    sim_factory: Callable[..., Sim], fresh_mosquitto: MosquittoFactory, activemq: ActiveMQ
) -> None:
    mosquitto = fresh_mosquitto()
    prefix = unique_prefix("ret")
    device_ids = fleet_ids(prefix, 2)
    victim, phantom = device_ids[0], f"{prefix}PHANTOM"
    publish(mosquitto.port, [forged_will(victim), forged_will(phantom)], retain=True)
    sim = sim_factory(activemq.url, mosquitto.url, "--devices", "2", "--prefix", prefix)
    # Twice: the second start restores the fleet from the data directory, the truck in it.
    for start in range(2):
        app = make_app(activemq, mosquitto)
        async with driven(app) as pilot:
            await fleet_on_screen(pilot, app, sim, prefix, device_ids)
            assert await statuses_for(pilot, app, victim, 2.0) == {DeviceStatus.ONLINE}
            assert phantom not in app.fleet.devices, start
            assert app.fleet.wills.ignored >= 1
            log = log_text(app)
            assert f"{victim} is offline" not in log, log
            assert phantom not in log, log


async def test_a_will_followed_by_the_trucks_own_motion_is_disputed(
    activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    truck = unique_prefix("back") + "1"
    app = make_app(activemq, mosquitto)
    async with driven(app) as pilot:
        await links_up(pilot, app)
        publish(mosquitto.port, [motion_of(truck)])
        await until(pilot, app, lambda: truck in app.fleet.devices, "the truck's motion")
        await pilot.pause(1.5)  # silent a while: the will alone would be believed
        publish(mosquitto.port, [forged_will(truck), motion_of(truck)])
        said = f"? {truck}: disputed will: the truck spoke"
        await until(pilot, app, lambda: said in log_text(app), "the dispute in the log")
        assert app.fleet.devices[truck].status is DeviceStatus.ONLINE
        await until(pilot, app, lambda: len(will_history(app, truck)) == 2, "history")
        assert will_history(app, truck)[1].startswith("disputed will: the truck spoke")
        statuses = [e.text for e in app.dispatcher.store.history() if e.device_id == truck]
        assert "offline -> online (disputed will)" in statuses, statuses


async def test_junk_retained_motions_make_room_for_live_trucks(
    sim_factory: Callable[..., Sim], fresh_mosquitto: MosquittoFactory, activemq: ActiveMQ
) -> None:
    mosquitto = fresh_mosquitto()
    prefix = unique_prefix("cap")
    device_ids = fleet_ids(prefix, 2)
    junk = [motion_of(f"{unique_prefix('junk')}{number}") for number in range(30)]
    publish(mosquitto.port, junk, retain=True)
    settings = Settings(stomp=activemq.url, mqtt=mosquitto.url, max_devices=10)
    app = create_app(settings, tune_gc=False)
    async with driven(app) as pilot:
        await until(pilot, app, lambda: len(app.fleet.devices) == 10, "the junk fills it", 30)
        sim = sim_factory(activemq.url, mosquitto.url, "--devices", "2", "--prefix", prefix)
        await fleet_on_screen(pilot, app, sim, prefix, device_ids)
        assert app.fleet.evicted >= 2
        assert len(app.fleet.devices) == 10
        said = "ids known only from retained messages evicted for trucks sending live data"
        await until(pilot, app, lambda: said in log_text(app), "the evictions in the log")

"""HQ started against a fleet that is already running: retained motion first, then live data.

Each truck is first heard of through its retained motion (last known, age unknown), then live.
That is HQ learning, not trucks coming back: the log must not fill with "online" lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.fleet import DeviceStatus
from tests.support.brokers import ActiveMQ, Mosquitto, MosquittoFactory
from tests.support.sim import Sim, fleet_ids, unique_prefix
from tests.support.ui import driven, log_text
from tests.test_ui_brokers import make_app, until

TRUCKS = 20


async def test_start_against_a_running_fleet_logs_no_online_lines(
    sim_factory: Callable[..., Sim], activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix("run")
    device_ids = fleet_ids(prefix, TRUCKS)
    sim = sim_factory(activemq.url, mosquitto.url, "--devices", str(TRUCKS), "--prefix", prefix)
    sim.wait_ready()
    time.sleep(1.5)  # every truck has published motion: Mosquitto holds it retained
    app = make_app(activemq, mosquitto)
    async with driven(app) as pilot:

        def all_online() -> bool:
            devices = app.fleet.devices
            return all(
                d in devices
                and devices[d].status is DeviceStatus.ONLINE
                and devices[d].retained_at is not None
                for d in device_ids
            )

        await until(pilot, app, all_online, "every truck online, first seen retained", 30)
        log = log_text(app)
        assert " online" not in log, log
        assert "heard from again" not in log, log


def publish_retained_motion(port: int, device_id: str) -> None:
    """What a device leaves behind: its last motion, retained, then a clean goodbye."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    try:
        payload = codecs.encode_motion(codecs.Motion(0.1, 0.2, 0.3))
        info = client.publish(ids.motion_topic(device_id), payload, qos=1, retain=True)
        info.wait_for_publish(5.0)
        assert info.is_published(), "no PUBACK for the retained motion"
    finally:
        client.disconnect()
        client.loop_stop()


async def test_a_truck_known_only_by_its_retained_motion_goes_offline_by_the_normal_rule(
    fresh_mosquitto: MosquittoFactory, activemq: ActiveMQ
) -> None:
    mosquitto = fresh_mosquitto()
    device = unique_prefix("ret") + "1"
    publish_retained_motion(mosquitto.port, device)
    settings = Settings(stomp=activemq.url, mqtt=mosquitto.url, stale_after=2, offline_after=5)
    app = create_app(settings, tune_gc=False)
    async with driven(app) as pilot:
        await until(pilot, app, lambda: device in app.fleet.devices, "the retained motion", 30)
        statuses = [app.fleet.devices[device].status]
        deadline = time.monotonic() + 20
        while statuses[-1] is not DeviceStatus.OFFLINE and time.monotonic() < deadline:
            await pilot.pause(0.1)
            status = app.fleet.devices[device].status
            if status is not statuses[-1]:
                statuses.append(status)
        assert statuses == [DeviceStatus.UNKNOWN, DeviceStatus.STALE, DeviceStatus.OFFLINE]

        def device_lines() -> list[str]:
            return [line for line in log_text(app).splitlines() if device in line]

        # The sweep changes the status; the next drain writes its line.
        await until(
            pilot,
            app,
            lambda: any("is offline (silent for" in line for line in device_lines()),
            "the offline line",
            5,
        )
        assert not any(" online" in line for line in device_lines()), device_lines()

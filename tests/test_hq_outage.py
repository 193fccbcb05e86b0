"""HQ's own network fails while the brokers and the trucks stay up (real brokers, a TCP proxy
between HQ and each broker), and HQ's persistent MQTT session across it.

The broker keeps HQ's session while HQ is cut off, so a truck's will published meanwhile is
handed to HQ when it is back; a normal quit ends that session. Figures are printed (``-s``).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from mwm_tui.adapters.mqtt_link import MqttLink
from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.events import LinkName, LinkState, WillReceived
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.domain.targets import Protocol, parse_target
from mwm_tui.ui.app import LINK_STOP_GRACE
from tests.support.brokers import HOST, ActiveMQFactory, Mosquitto, MosquittoFactory
from tests.support.link_events import Recorder, wait_until
from tests.support.proxy import TcpProxy
from tests.support.sim import Sim, fleet_ids, unique_prefix
from tests.support.ui import (
    BAD_WORDS,
    HQ_LOST_BOTH,
    driven,
    hold,
    log_text,
    screen_dump,
)
from tests.test_ui_brokers import fleet_on_screen, sim_line, until

MQTT = LinkName.MQTT
# A cut longer than the stale interval, as in tests/test_outage.py.
CUT = 15.0
STALE_AFTER = 10.0
OFFLINE_AFTER = 20.0
TRUCKS = 5


@pytest.fixture
def proxies() -> Iterator[list[TcpProxy]]:
    """Proxies a test adds to this list; all closed after the test."""
    made: list[TcpProxy] = []
    yield made
    for proxy in made:
        proxy.close()


def mqtt_link_through(proxy: TcpProxy, events: Recorder) -> MqttLink:
    return MqttLink(parse_target(proxy.url("mqtt"), Protocol.MQTT), events)


def publish_will(port: int, device_id: str) -> None:
    """A device's will as the broker would publish it: QoS 2 on /mwm/lastWill, not retained."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv311)
    client.connect(HOST, port, keepalive=10)
    client.loop_start()
    try:
        info = client.publish(ids.WILL_TOPIC, codecs.encode_will(device_id), qos=2)
        info.wait_for_publish(5.0)
        assert info.is_published(), "the broker did not take the will"
    finally:
        client.disconnect()
        client.loop_stop()


def session_kept(port: int, client_id: str) -> tuple[bool, list[str]]:
    """Whether the broker holds a session for ``client_id``, and the wills queued in it.

    Connects as ``client_id`` without a clean session and reads the CONNACK's session-present
    flag; then ends the session it looked at, so the probe leaves nothing behind either.
    """
    connack: list[bool] = []
    wills: list[str] = []
    lock = threading.Lock()

    def on_connect(
        _c: mqtt.Client, _u: Any, flags: mqtt.ConnectFlags, code: ReasonCode, _p: Any
    ) -> None:
        assert not code.is_failure, code
        connack.append(flags.session_present)

    def on_message(_c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        with lock:
            wills.append(codecs.decode_will(message.payload))

    for clean in (False, True):
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=clean,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        client.on_connect = on_connect
        client.on_message = on_message
        client.connect(HOST, port, keepalive=10)
        deadline = time.monotonic() + 5.0
        while len(connack) < (1 if not clean else 2) and time.monotonic() < deadline:
            assert client.loop(0.1) == MQTTErrorCode.MQTT_ERR_SUCCESS
        if not clean:
            # Messages queued in a kept session come right after the CONNACK.
            settle = time.monotonic() + 1.0
            while time.monotonic() < settle:
                client.loop(0.1)
        client.disconnect()
    assert len(connack) == 2, "no CONNACK from the broker"
    with lock:
        return connack[0], wills


def test_wills_published_while_hq_is_cut_off_arrive_when_it_is_back(
    fresh_mosquitto: MosquittoFactory, proxies: list[TcpProxy]
) -> None:
    mosquitto = fresh_mosquitto()
    proxy = TcpProxy(mosquitto.port)
    proxies.append(proxy)
    events = Recorder()
    link = mqtt_link_through(proxy, events)
    device = f"gone-{uuid.uuid4().hex[:6]}"
    link.start()
    try:
        wait_until(lambda: events.state_at(MQTT, LinkState.UP), 15, "MQTT up")
        first_id = link.client_id
        cut_at = time.monotonic()
        proxy.cut()
        wait_until(lambda: events.state_at(MQTT, LinkState.DOWN, cut_at), 10, "MQTT down")
        publish_will(mosquitto.port, device)
        time.sleep(3.0)  # a few refused reconnects while the will waits at the broker
        restored_at = time.monotonic()
        proxy.restore()
        up_at = wait_until(lambda: events.state_at(MQTT, LinkState.UP, restored_at), 10, "up")
        will_at, _ = wait_until(
            lambda: events.first(WillReceived, restored_at, device_id=device), 10, "the will"
        )
        assert link.client_id == first_id
    finally:
        stop_started = time.monotonic()
        link.stop()
        stop_seconds = time.monotonic() - stop_started
    print(
        f"\nwill queued while cut off: link up {up_at - restored_at:.2f} s and the will in "
        f"{will_at - restored_at:.2f} s after restore; stop took {stop_seconds:.2f} s"
    )
    assert will_at - restored_at < 5.0
    assert stop_seconds < LINK_STOP_GRACE
    # Delivered once: the resumed session does not hand it over again.
    assert [e for _, e in events.since(cut_at) if isinstance(e, WillReceived)] == [
        WillReceived(device)
    ]
    assert session_kept(mosquitto.port, first_id) == (False, [])


def test_a_silent_network_is_noticed_and_its_wills_arrive_after_it(
    fresh_mosquitto: MosquittoFactory, proxies: list[TcpProxy]
) -> None:
    """HQ's network goes silent (nothing closes): the keepalive notices it, the broker keeps
    HQ's session once its own keepalive gives up on HQ, and hands over the will later."""
    mosquitto = fresh_mosquitto()
    proxy = TcpProxy(mosquitto.port)
    proxies.append(proxy)
    events = Recorder()
    link = mqtt_link_through(proxy, events)
    device = f"hush-{uuid.uuid4().hex[:6]}"
    link.start()
    try:
        wait_until(lambda: events.state_at(MQTT, LinkState.UP), 15, "MQTT up")
        frozen_at = time.monotonic()
        proxy.freeze()
        down_at = wait_until(
            lambda: events.state_at(MQTT, LinkState.DOWN, frozen_at), 20, "MQTT down"
        )
        publish_will(mosquitto.port, device)
        thawed_at = time.monotonic()
        proxy.thaw()
        will_at, _ = wait_until(
            lambda: events.first(WillReceived, thawed_at, device_id=device), 15, "the will"
        )
    finally:
        link.stop()
    print(
        f"\nsilent network: noticed {down_at - frozen_at:.1f} s after it went silent, "
        f"the will {will_at - thawed_at:.2f} s after it came back"
    )
    assert down_at - frozen_at < 16.0
    assert will_at - thawed_at < 5.0
    assert session_kept(mosquitto.port, link.client_id) == (False, [])


def test_a_normal_stop_leaves_no_session_behind(mosquitto: Mosquitto) -> None:
    events = Recorder()
    link = MqttLink(parse_target(mosquitto.url, Protocol.MQTT), events)
    link.start()
    try:
        wait_until(lambda: events.state_at(MQTT, LinkState.UP), 15, "MQTT up")
    finally:
        stop_started = time.monotonic()
        link.stop()
        stop_seconds = time.monotonic() - stop_started
    publish_will(mosquitto.port, f"after-{uuid.uuid4().hex[:6]}")
    print(f"\nstop, ending the session too: {stop_seconds * 1000:.0f} ms")
    assert stop_seconds < LINK_STOP_GRACE
    assert session_kept(mosquitto.port, link.client_id) == (False, [])


def test_a_stop_while_cut_off_is_brief_and_the_session_stays(
    fresh_mosquitto: MosquittoFactory, proxies: list[TcpProxy]
) -> None:
    """The other side of the probe above: a session HQ could not end is seen, wills and all."""
    mosquitto = fresh_mosquitto()
    proxy = TcpProxy(mosquitto.port)
    proxies.append(proxy)
    events = Recorder()
    link = mqtt_link_through(proxy, events)
    device = f"kept-{uuid.uuid4().hex[:6]}"
    link.start()
    try:
        wait_until(lambda: events.state_at(MQTT, LinkState.UP), 15, "MQTT up")
        cut_at = time.monotonic()
        proxy.cut()
        wait_until(lambda: events.state_at(MQTT, LinkState.DOWN, cut_at), 10, "MQTT down")
    finally:
        stop_started = time.monotonic()
        link.stop()
        stop_seconds = time.monotonic() - stop_started
    publish_will(mosquitto.port, device)
    print(f"\nstop while cut off: {stop_seconds * 1000:.0f} ms")
    assert stop_seconds < LINK_STOP_GRACE
    assert session_kept(mosquitto.port, link.client_id) == (True, [device])


async def test_hq_cut_off_from_running_brokers_learns_the_wills_it_missed(
    fresh_mosquitto: MosquittoFactory,
    fresh_activemq: ActiveMQFactory,
    proxies: list[TcpProxy],
    tmp_path: Path,
) -> None:
    mosquitto, activemq = fresh_mosquitto(), fresh_activemq()
    stomp_proxy, mqtt_proxy = TcpProxy(activemq.port), TcpProxy(mosquitto.port)
    proxies.extend((stomp_proxy, mqtt_proxy))
    prefix = unique_prefix("cut")
    device_ids = fleet_ids(prefix, TRUCKS)
    victim = device_ids[2]
    living = [d for d in device_ids if d != victim]
    settings = Settings(
        stomp=stomp_proxy.url("stomp"),
        mqtt=mqtt_proxy.url("mqtt"),
        stale_after=STALE_AFTER,
        offline_after=OFFLINE_AFTER,
    )
    app = create_app(settings, tune_gc=False)
    # The trucks talk to the brokers directly: only HQ's network fails.
    with Sim(
        activemq.url, mosquitto.url, tmp_path, "--devices", str(TRUCKS), "--prefix", prefix
    ) as sim:
        async with driven(app) as pilot:
            await fleet_on_screen(pilot, app, sim, prefix, device_ids)

            await asyncio.to_thread(stomp_proxy.cut)
            await asyncio.to_thread(mqtt_proxy.cut)
            cut_at = time.monotonic()
            await until(pilot, app, lambda: len(app.status_bar.lost_at) == 2, "both lost", 15)
            lost_after = time.monotonic() - cut_at
            await until(
                pilot,
                app,
                lambda: app.fleet.counts() == {DeviceStatus.UNKNOWN: TRUCKS},
                "every truck unknown",
                5,
            )
            assert HQ_LOST_BOTH.search(app.status_bar.render().plain), screen_dump(app)
            await hold(pilot, app, CUT / 3)
            sim.command(f"kill {victim}")
            await sim_line(pilot, app, sim, f"KILLED {victim}", "the kill")
            await hold(pilot, app, CUT - (time.monotonic() - cut_at))
            assert app.fleet.devices[victim].status is DeviceStatus.UNKNOWN

            await asyncio.to_thread(stomp_proxy.restore)
            await asyncio.to_thread(mqtt_proxy.restore)
            restored_at = time.monotonic()
            restored_clock = app.fleet.clock()
            counts_then = {d: app.fleet.devices[d].location_count for d in device_ids}

            def victim_offline_by_will() -> bool:
                device = app.fleet.devices[victim]
                return device.status is DeviceStatus.OFFLINE

            await until(pilot, app, victim_offline_by_will, "the victim's will", 15)
            will_after = time.monotonic() - restored_at

            def flowing() -> bool:
                devices = app.fleet.devices
                mqtt_since = app.fleet.links[LinkName.MQTT].since
                return all(
                    devices[d].status is DeviceStatus.ONLINE
                    and devices[d].location_count > counts_then[d]
                    and devices[d].last_motion_at is not None
                    and devices[d].last_motion_at > mqtt_since
                    for d in living
                )

            await until(pilot, app, flowing, "positions and motion from every living truck", 15)
            flowing_after = time.monotonic() - restored_at
            links_were_up = all(app.status_bar.links[n].state is LinkState.UP for n in LinkName)
            # The retained motions come again on the resubscribe: they change no status.
            await until(
                pilot,
                app,
                lambda: all(
                    (app.fleet.devices[d].retained_at or 0.0) > restored_clock for d in device_ids
                ),
                "every retained motion again",
                10,
            )
            await pilot.pause(1.0)
            print(
                f"\nHQ cut off {CUT:.0f} s: links lost {lost_after:.1f} s after the cut; after "
                f"restore the victim's will in {will_after:.2f} s, data from every living "
                f"truck in {flowing_after:.2f} s"
            )
            assert links_were_up, screen_dump(app)
            assert "lost" not in app.status_bar.render().plain, screen_dump(app)
            assert flowing_after < 5.0
            victim_device = app.fleet.devices[victim]
            assert victim_device.status is DeviceStatus.OFFLINE, screen_dump(app)
            assert victim_device.status_reason == "last will"
            log = log_text(app)
            assert f"✕ {victim} is offline (last will)" in log, log
            assert "stale" not in log, log
            for device_id in living:
                assert app.fleet.devices[device_id].status is DeviceStatus.ONLINE
                assert device_id not in "\n".join(
                    line for line in log.splitlines() if BAD_WORDS.search(line)
                ), log

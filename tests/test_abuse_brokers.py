"""A publisher floods HQ with new ids past its device limit over real brokers: trucks stay."""

from __future__ import annotations

import asyncio

import paho.mqtt.client as mqtt
import stomp
from paho.mqtt.enums import CallbackAPIVersion

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.errors import RejectReason
from mwm_tui.domain.events import LinkName, LinkState
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.ui.widgets.status_bar import StatusBar
from tests.support.brokers import ActiveMQ, MosquittoFactory
from tests.support.ui import driven, log_text, wait_for

LIMIT = 50
KNOWN = [f"known-{n}" for n in range(5)]
FLOOD = [f"flood-{n}" for n in range(500)]
FLOOD_WILLS = [f"will-only-{n}" for n in range(20)]


def publish_mqtt(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish at QoS 1 and wait for every PUBACK, so each message is in the broker."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.max_inflight_messages_set(100)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        sent = [client.publish(topic, payload, qos=1) for topic, payload in messages]
        for info in sent:
            info.wait_for_publish(30)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


def publish_location(activemq: ActiveMQ, position: Position) -> None:
    connection = stomp.Connection12([("127.0.0.1", activemq.port)])
    connection.connect(wait=True)
    try:
        connection.send(
            ids.location_destination(position.device_id),
            codecs.encode_location(position),
            receipt="sent",
        )
    finally:
        connection.disconnect()


def motion_of(device_id: str) -> tuple[str, bytes]:
    return ids.motion_topic(device_id), codecs.encode_motion(Motion(0.1, 0.2, 0.3))


async def test_a_flood_of_new_ids_past_the_limit_is_counted_exactly_and_evicts_no_truck(
    activemq: ActiveMQ, fresh_mosquitto: MosquittoFactory
) -> None:
    # A Mosquitto of its own: the session's keeps other tests' retained devices.
    mosquitto = fresh_mosquitto()
    settings = Settings(stomp=activemq.url, mqtt=mosquitto.url, max_devices=LIMIT)
    app = create_app(settings, tune_gc=False)
    fleet = app.fleet
    async with driven(app) as pilot:
        await wait_for(
            pilot,
            lambda: all(app.status_bar.links[n].state is LinkState.UP for n in LinkName),
            30,
            "both links up",
        )
        await asyncio.to_thread(publish_mqtt, mosquitto.port, [motion_of(d) for d in KNOWN])
        await wait_for(pilot, lambda: set(KNOWN) <= set(fleet.devices), 30, "the known trucks")

        flood = [motion_of(d) for d in FLOOD]
        flood += [(ids.WILL_TOPIC, codecs.encode_will(d)) for d in FLOOD_WILLS]
        await asyncio.to_thread(publish_mqtt, mosquitto.port, flood)
        # Known trucks still get through a full fleet: a will and a fix after the flood.
        await asyncio.to_thread(
            publish_mqtt, mosquitto.port, [(ids.WILL_TOPIC, codecs.encode_will(KNOWN[0]))]
        )
        await asyncio.to_thread(publish_location, activemq, Position(KNOWN[1], 12.5, 45.25))

        # A will for an id never heard live adds no truck: ignored, counted apart.
        refused = len(FLOOD) - (LIMIT - len(KNOWN))
        await wait_for(
            pilot,
            lambda: (
                fleet.devices[KNOWN[0]].status is DeviceStatus.OFFLINE
                and fleet.devices[KNOWN[1]].position is not None
            ),
            30,
            "the known trucks' will and fix",
        )
        await wait_for(
            pilot,
            lambda: fleet.rejects_by_reason[RejectReason.DEVICE_LIMIT] >= refused,
            30,
            f"{refused} refused ids",
        )
        await pilot.pause(1.5)  # nothing more arrives: the count is exact, not a lower bound
        assert fleet.rejects_by_reason == {RejectReason.DEVICE_LIMIT: refused}
        assert fleet.rejected == {LinkName.MQTT: refused}
        assert fleet.wills.ignored == len(FLOOD_WILLS)
        assert len(fleet.devices) == LIMIT
        assert set(KNOWN) <= set(fleet.devices)
        assert set(fleet.devices) - set(KNOWN) == set(FLOOD[: LIMIT - len(KNOWN)])
        assert fleet.devices[KNOWN[1]].position == Position(KNOWN[1], 12.5, 45.25)
        await wait_for(
            pilot,
            lambda: f"{refused:,} new ids refused" in app.query_one(StatusBar).render().plain,
            10,
            "the status bar's count",
        )
        assert f"device limit {refused}" in app.reject_summary.render().plain
        assert f"device limit {LIMIT:,} reached" in log_text(app)

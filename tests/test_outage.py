"""HQ's own outage against real brokers: both kill -9'd for 15 s while mwm-sim's trucks run.

What really happens to a truck killed while Mosquitto is dead: its MQTT connection was already
gone with the broker, so Mosquitto never holds its will and never publishes one (the broker
keeps no sessions: persistence is off). HQ can only learn it by silence: once HQ is back, the
truck gets one stale interval of grace, then turns stale, then offline. This test says so.
"""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.events import LinkName, LinkState
from mwm_tui.domain.fleet import DeviceStatus
from mwm_tui.ui.app import MwmApp
from tests.support.brokers import ActiveMQFactory, MosquittoFactory
from tests.support.sim import Sim, fleet_ids, unique_prefix
from tests.support.ui import (
    BAD_WORDS,
    HQ_LOST_BOTH,
    driven,
    hold,
    log_text,
    no_truck_stale_or_offline,
    screen_dump,
)
from tests.test_ui_brokers import fleet_on_screen, sim_line, until

# An outage longer than the stale interval; intervals short enough to see a truck go stale and
# offline within the test (the rule is the same at the defaults, 15 s and 120 s).
OUTAGE = 15.0
STALE_AFTER = 10.0
OFFLINE_AFTER = 20.0
TRUCKS = 5


def links_are(app: MwmApp, state: LinkState) -> bool:
    return all(app.status_bar.links[name].state is state for name in LinkName)


async def test_hq_outage_is_not_the_fleets(
    fresh_mosquitto: MosquittoFactory, fresh_activemq: ActiveMQFactory, tmp_path: Path
) -> None:
    mosquitto, activemq = fresh_mosquitto(), fresh_activemq()
    prefix = unique_prefix("outage")
    device_ids = fleet_ids(prefix, TRUCKS)
    victim = device_ids[2]
    settings = Settings(
        stomp=activemq.url,
        mqtt=mosquitto.url,
        stale_after=STALE_AFTER,
        offline_after=OFFLINE_AFTER,
    )
    app = create_app(settings, tune_gc=False)
    with Sim(
        activemq.url, mosquitto.url, tmp_path, "--devices", str(TRUCKS), "--prefix", prefix
    ) as sim:
        async with driven(app) as pilot:
            await fleet_on_screen(pilot, app, sim, prefix, device_ids)
            # A truck known only by the sim's retained motion is judged on STOMP alone, and
            # its log line would name that link only: wait for live motion from each.
            await until(
                pilot,
                app,
                lambda: all(app.fleet.devices[d].last_motion_at is not None for d in device_ids),
                "live motion from every truck",
                10,
            )

            await asyncio.to_thread(mosquitto.kill)
            await asyncio.to_thread(activemq.kill)
            killed_at = time.monotonic()
            await until(pilot, app, lambda: len(app.status_bar.lost_at) == 2, "both lost", 15)
            await until(
                pilot,
                app,
                lambda: app.fleet.counts() == {DeviceStatus.UNKNOWN: TRUCKS},
                "every truck unknown",
                5,
            )
            assert HQ_LOST_BOTH.search(app.status_bar.render().plain), screen_dump(app)
            assert f"{TRUCKS} trucks are unknown (HQ's STOMP and MQTT links down)" in log_text(app)
            await hold(pilot, app, OUTAGE / 3)
            sim.command(f"kill {victim}")
            await sim_line(pilot, app, sim, f"KILLED {victim}", "the kill")
            await hold(pilot, app, OUTAGE - (time.monotonic() - killed_at))

            await asyncio.gather(
                asyncio.to_thread(mosquitto.start), asyncio.to_thread(activemq.start)
            )
            back_at = time.monotonic()
            counts_then = {d: app.fleet.devices[d].location_count for d in device_ids}
            living = [d for d in device_ids if d != victim]

            def flowing() -> bool:
                devices = app.fleet.devices
                return all(
                    devices[d].status is DeviceStatus.ONLINE
                    and devices[d].location_count > counts_then[d]
                    and devices[d].last_motion_at is not None
                    and devices[d].last_motion_at > app.fleet.links[LinkName.MQTT].since
                    for d in living
                )

            # The reconnect backoff is capped at 30 s today: allow for it.
            await until(pilot, app, lambda: links_are(app, LinkState.UP), "links back", 45)
            links_up_after = time.monotonic() - back_at
            await until(pilot, app, flowing, "positions and motion from every living truck", 20)
            flowing_after = time.monotonic() - back_at
            print(f"links up {links_up_after:.1f} s, data {flowing_after:.1f} s after restart")
            assert "lost" not in app.status_bar.render().plain
            # Still nothing stale or offline: the victim is in its grace, not yet judged.
            no_truck_stale_or_offline(app)
            assert app.fleet.devices[victim].status is DeviceStatus.UNKNOWN

            # The victim by silence: stale after the grace, offline later; never by a will.
            await until(
                pilot,
                app,
                lambda: app.fleet.devices[victim].status is DeviceStatus.OFFLINE,
                "the victim offline by silence",
                OFFLINE_AFTER + 15,
            )
            victim_device = app.fleet.devices[victim]
            assert re.fullmatch(r"silent for \d+ s", victim_device.status_reason)
            await until(
                pilot, app, lambda: f"{victim} is offline" in log_text(app), "its log line", 5
            )
            log = log_text(app)
            assert f"{victim} is stale (silent for" in log, log
            assert f"{victim} is offline (silent for" in log, log
            assert "last will" not in log, log
            for device_id in living:
                assert app.fleet.devices[device_id].status is DeviceStatus.ONLINE
                assert device_id not in "\n".join(
                    line for line in log.splitlines() if BAD_WORDS.search(line)
                ), log

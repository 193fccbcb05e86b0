"""No dashboard starts blind: a second run on the same data directory shows the fleet as the
first left it, before any message arrives."""

from __future__ import annotations

import re
from pathlib import Path

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.domain.codecs import Motion, Position
from mwm_tui.domain.events import LocationReceived, MotionReceived, WillReceived
from mwm_tui.domain.fleet import DeviceStatus, Fleet
from mwm_tui.ui.app import MwmApp
from mwm_tui.ui.screens import DeviceDetail
from tests.support.brokers import ActiveMQ, Mosquitto
from tests.support.clock import FakeClock
from tests.support.links import RecordingLink, recording_links
from tests.support.sim import Sim, fleet_ids, unique_prefix
from tests.support.ui import driven, list_text, log_text, screen_text, wait_for

NOON = 1_764_072_000.0


def make_app(data_dir: Path, monotonic: FakeClock, wall: FakeClock) -> MwmApp:
    fleet = Fleet(clock=monotonic, stale_after=15.0, offline_after=120.0)
    settings = Settings(data_dir=str(data_dir))
    return create_app(settings, links=recording_links, fleet=fleet, tune_gc=False, wall_clock=wall)


def rows_by_id(app: MwmApp) -> dict[str, str]:
    _header, *rows = list_text(app).splitlines()
    return {row.split()[2]: row.rstrip() for row in rows if row.strip()}


async def test_a_restarted_dashboard_shows_the_will_and_the_last_positions_at_once(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "team"
    first_clock, first_wall = FakeClock(5000.0), FakeClock(NOON)
    first = make_app(data_dir, first_clock, first_wall)
    async with driven(first) as pilot:
        for number, lat in ((7, 48.8581), (12, 45.4642)):
            first.inbox.put(LocationReceived(Position(f"truck-{number}", lat, 9.19)))
            first.inbox.put(MotionReceived(f"truck-{number}", Motion(0.1, -0.2, 0.3)))
        await wait_for(pilot, lambda: len(first.fleet.devices) == 2, 5, "both trucks")
        first_clock.advance(2)  # silent a while: the will is believed at once
        first_wall.advance(2)
        first.inbox.put(WillReceived("truck-12"))
        await wait_for(pilot, lambda: "offline" in list_text(first), 5, "the will shown")

    # A minute later, on another clock altogether: the monotonic clock means nothing here.
    monotonic, wall = FakeClock(70.0), FakeClock(NOON + 60.0)
    second = make_app(data_dir, monotonic, wall)
    async with driven(second) as pilot:
        await wait_for(pilot, lambda: "truck-12" in list_text(second), 5, "the restored rows")
        rows = rows_by_id(second)
        assert re.match(r"✕ offline +truck-12 +1m +1m +45\.4642 +9\.1900 ", rows["truck-12"])
        assert re.match(r"◐ stale +truck-7 +1m +1m +48\.8581 +9\.1900 ", rows["truck-7"])
        assert second.fleet.devices["truck-12"].status_reason == "last will"
        links = (second.stomp_link, second.mqtt_link)
        assert all(isinstance(link, RecordingLink) and not link.sent for link in links)
        assert "truck-12" not in log_text(second)  # a restart is no news of the truck

        second.device_list.select("truck-12")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(second.screen, DeviceDetail), 5, "details")
        await wait_for(pilot, lambda: "last will" in screen_text(second), 5, "the reason")
        assert "last known from before this start" in screen_text(second)
        await pilot.press("escape")

        # Silence counts from the first run's times: truck-7 is offline 120 s after its fix.
        monotonic.advance(60.0)
        wall.advance(60.0)
        await wait_for(pilot, lambda: "truck-7 is" in log_text(second), 5, "truck-7's change")
        assert second.fleet.devices["truck-7"].status is DeviceStatus.OFFLINE
        assert "✕ truck-7 is offline (silent for 120 s)" in log_text(second)


async def test_a_dashboard_started_after_a_trucks_will_shows_it_offline_at_once(
    tmp_path: Path, activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix("will")
    victim, other = fleet_ids(prefix, 2)
    settings = Settings(stomp=activemq.url, mqtt=mosquitto.url)
    with Sim(activemq.url, mosquitto.url, tmp_path, "--devices", "2", "--prefix", prefix) as sim:
        first = create_app(settings, tune_gc=False)
        async with driven(first) as pilot:

            def both_heard() -> bool:
                devices = [first.fleet.devices.get(device_id) for device_id in (victim, other)]
                return all(d is not None and d.position and d.motion for d in devices)

            await wait_for(pilot, lambda: bool(sim.lines("READY ")), 30, "mwm-sim ready")
            await wait_for(pilot, both_heard, 30, "both trucks' fixes and motion")
            sim.command(f"kill {victim}")
            await wait_for(
                pilot,
                lambda: first.fleet.devices[victim].status_reason == "last will",
                30,
                "the victim's will",
            )
            last_fix = first.fleet.devices[victim].position

        second = create_app(settings, tune_gc=False)
        # Built, no link started yet: the will and the last fix are there already.
        restored = second.fleet.devices[victim]
        assert (restored.status, restored.status_reason) == (DeviceStatus.OFFLINE, "last will")
        assert restored.position == last_fix
        assert second.fleet.devices[other].last_known
        async with driven(second) as pilot:
            await pilot.press("slash", *prefix, "enter")
            await wait_for(
                pilot,
                lambda: any(
                    victim in row and "offline" in row for row in list_text(second).splitlines()
                ),
                5,
                "the victim's row offline",
            )
            live = second.fleet.devices[other]
            await wait_for(
                pilot,
                lambda: live.status is DeviceStatus.ONLINE and not live.last_known,
                30,
                "the other truck online once it speaks",
            )
            assert second.fleet.devices[victim].status is DeviceStatus.OFFLINE
            assert second.fleet.devices[victim].status_reason == "last will"

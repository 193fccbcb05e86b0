"""HQ started against a fleet that is already running: retained motion first, then live data.

Each truck is first heard of through its retained motion (last known, age unknown), then live.
That is HQ learning, not trucks coming back: the log must not fill with "online" lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from mwm_tui.domain.fleet import DeviceStatus
from tests.support.brokers import ActiveMQ, Mosquitto
from tests.support.sim import Sim, fleet_ids, unique_prefix
from tests.support.ui import driven, log_text
from tests.test_ui_brokers import make_app, sim_factory, until

__all__ = ["sim_factory"]  # the fixture, used by name below

TRUCKS = 20


async def test_start_against_a_running_fleet_logs_no_online_lines(
    sim_factory: Callable[..., Sim], activemq: ActiveMQ, mosquitto: Mosquitto
) -> None:
    prefix = unique_prefix("run")
    device_ids = fleet_ids(prefix, TRUCKS)
    sim = sim_factory("--devices", str(TRUCKS), "--prefix", prefix)
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

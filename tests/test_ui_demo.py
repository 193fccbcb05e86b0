"""The demo as a dispatcher uses it: Pilot presses keys, the in-process fleet answers."""

from __future__ import annotations

from mwm_tui.config import Settings
from mwm_tui.ui.app import create_app
from mwm_tui.ui.widgets.status_bar import StatusBar
from tests.support.ui import list_text, log_text, wait_for


async def test_demo_fleet_appears_takes_orders_and_flashes() -> None:
    app = create_app(Settings(demo=True, devices=8), tune_gc=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.fleet.devices) == 8, 2.0, "8 demo devices")
        await wait_for(pilot, lambda: "truck-01" in list_text(app), 1.0, "rows on screen")
        assert "DEMO" in app.query_one(StatusBar).render().plain

        selected = app.device_list.selected
        assert selected is not None
        await pilot.press("o")
        await pilot.press(*"Where are you heading to?")
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: f"{selected}: read the order: Where are you heading to?" in log_text(app),
            5.0,
            "the device's acknowledgement of the order",
        )
        assert f"order to {selected} confirmed (broker receipt)" in log_text(app)

        await pilot.press("escape", "a")
        await wait_for(
            pilot,
            lambda: f"{selected}: screen flashes red" in log_text(app),
            3.0,
            "the device's red flash",
        )

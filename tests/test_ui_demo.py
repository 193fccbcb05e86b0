"""The demo as a dispatcher uses it: Pilot presses keys, the in-process fleet answers."""

from __future__ import annotations

from mwm_tui.composition import create_app
from mwm_tui.config import Settings
from mwm_tui.ui.widgets.status_bar import StatusBar
from tests.support.ui import list_text, log_text, send_from_prompt, wait_for, write_order


async def test_demo_fleet_appears_and_takes_orders_and_alerts() -> None:
    app = create_app(Settings(demo=True, devices=8), tune_gc=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.fleet.devices) == 8, 2.0, "8 demo devices")
        await wait_for(pilot, lambda: "truck-01" in list_text(app), 1.0, "rows on screen")
        assert "DEMO" in app.query_one(StatusBar).render().plain

        selected = app.device_list.selected
        assert selected is not None
        await write_order(pilot, "Where are you heading to?")
        await send_from_prompt(pilot, app)
        accepted = (
            f"order to {selected} (Where are you heading to?) accepted by the broker (receipt); "
            "the truck is online; delivery not confirmed"
        )
        await wait_for(pilot, lambda: accepted in log_text(app), 5.0, "the order's receipt")

        await pilot.press("escape", "a")
        await send_from_prompt(pilot, app)
        flashed = (
            f"alert red to {selected} accepted by the broker (PUBACK); "
            "the truck is online; delivery not confirmed"
        )
        await wait_for(pilot, lambda: flashed in log_text(app), 3.0, "the alert's PUBACK")
        # The truck takes both, but says nothing: the dashboard claims no more than a broker can.
        assert "read the order" not in log_text(app)

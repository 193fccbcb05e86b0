"""Write docs/screenshot.svg: the demo fleet after a few seconds, drawn by the app itself."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from mwm_tui.composition import create_app
from mwm_tui.config import Settings

ROOT = Path(__file__).resolve().parent.parent


async def shoot(path: Path, seconds: float) -> None:
    app = create_app(Settings(demo=True, devices=20), tune_gc=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(seconds)
        await pilot.press("j", "j", "o", *"Where are you heading to?", "enter")
        await pilot.pause(2.0)
        await pilot.press("escape", "a")
        await pilot.pause(1.5)
        path.write_text(app.export_screenshot(title="mwm-tui --demo"), encoding="utf-8")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.svg"
    asyncio.run(shoot(target, 10.0))
    print(target)

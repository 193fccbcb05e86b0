"""Screenshots from the palette: an SVG of the screen in a directory the operator can find."""

from __future__ import annotations

import time
from pathlib import Path

from textual.app import App


def screenshot_folder(configured: str | None) -> Path:
    """``--screenshot-dir`` when given, else the directory mwm-tui was started in."""
    return Path(configured).expanduser() if configured else Path.cwd()


def save_svg(app: App[None], folder: Path, filename: str | None = None) -> tuple[bool, str]:
    """Write the screen as SVG into ``folder``; (saved, one line for the operator)."""
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    path = folder / (filename or f"mwm-tui_{stamp}.svg")
    number = 1
    while filename is None and path.exists():
        number += 1
        path = folder / f"mwm-tui_{stamp}_{number}.svg"
    try:
        svg = app.export_screenshot()
        with path.open("x" if filename is None else "w", encoding="utf-8") as file:
            file.write(svg)
    except OSError as error:
        reason = error.strerror or str(error).splitlines()[0]
        return False, f"Screenshot not saved: {path}: {reason}"
    return True, f"Screenshot saved: {path}"

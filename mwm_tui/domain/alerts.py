"""Alert colours: the colour names the device app flashes, anything else flashes red."""

from __future__ import annotations

ALERT_COLOURS: tuple[str, ...] = (
    "red",
    "orange",
    "yellow",
    "green",
    "cyan",
    "blue",
    "magenta",
    "purple",
    "brown",
    "white",
    "gray",
    "black",
)
DEFAULT_ALERT_COLOUR = "red"


def flash_colour(payload: str) -> str:
    """Colour a device flashes for an alert payload."""
    name = payload.strip().lower()
    return name if name in ALERT_COLOURS else DEFAULT_ALERT_COLOUR

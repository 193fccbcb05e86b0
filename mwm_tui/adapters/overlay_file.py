"""Reads the operator's GeoJSON overlay files (``--overlay``) for the map."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mwm_tui.domain.overlay import Overlay, OverlayError, parse_overlay

__all__ = ["load_overlays"]


def load_overlays(paths: Iterable[str]) -> Overlay | None:
    """Every file's depots, routes and zones in one Overlay; None when no file is named.

    Raises OverlayError with one line naming the file and what is wrong with it.
    """
    merged: Overlay | None = None
    for name in paths:
        path = Path(name).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise OverlayError(f"{name}: no such file") from None
        except UnicodeDecodeError:
            raise OverlayError(f"{name}: not UTF-8 text") from None
        except OSError as error:
            raise OverlayError(f"{name}: cannot read it: {error.strerror or error}") from None
        overlay = parse_overlay(text, name)
        merged = overlay if merged is None else merged.merged(overlay)
    return merged

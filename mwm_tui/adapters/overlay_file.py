"""Reads the operator's GeoJSON overlay files (``--overlay``) for the map."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from mwm_tui.domain.overlay import (
    DEFAULT_MAX_POINTS,
    MAX_CHARS,
    Overlay,
    OverlayError,
    parse_overlay,
)

__all__ = ["load_overlays"]


def load_overlays(paths: Iterable[str], max_points: int = DEFAULT_MAX_POINTS) -> Overlay | None:
    """Every file's depots, routes and zones in one Overlay, at most ``max_points`` positions in
    all; None when no file is named.

    Raises OverlayError with one line naming the file, the place and what is wrong with it.
    """
    merged: Overlay | None = None
    for name in paths:
        path = Path(name).expanduser()
        try:
            with path.open("rb") as file:
                data = file.read(MAX_CHARS + 1)
            if len(data) > MAX_CHARS:
                raise OverlayError(f"{name}: over {MAX_CHARS:,} bytes: too big for an overlay")
            text = data.decode("utf-8")
        except FileNotFoundError:
            raise OverlayError(f"{name}: no such file") from None
        except UnicodeDecodeError:
            raise OverlayError(f"{name}: not UTF-8 text") from None
        except OSError as error:
            raise OverlayError(f"{name}: cannot read it: {error.strerror or error}") from None
        used = merged.point_count() if merged is not None else 0
        overlay = parse_overlay(text, name, max_points=max_points, already=used)
        merged = overlay if merged is None else merged.merged(overlay)
    return merged

"""``mwm-tui export``: the positions in a record file as CSV, GPX 1.1 or GeoJSON (RFC 7946).

Positions are decoded from the recorded bodies by ``domain.messages``, as HQ decoded them live;
what HQ rejected is left out. Times are HQ's receive times, in UTC.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from mwm_tui.domain.events import LocationReceived
from mwm_tui.domain.messages import location_event
from mwm_tui.domain.text import literal

from .recording import MESSAGE, decode_payload

GPX_NAMESPACE = "http://www.topografix.com/GPX/1/1"
# A spreadsheet takes a cell starting with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@")


class ExportFormat(StrEnum):
    CSV = "csv"
    GPX = "gpx"
    GEOJSON = "geojson"


@dataclass(frozen=True, slots=True)
class Fix:
    received_at: float
    device_id: str
    lat: float
    lng: float
    device_time: str | None


@dataclass
class Selection:
    device: str | None = None
    since: float | None = None
    until: float | None = None

    def wants(self, at: float, device_id: str) -> bool:
        return (
            (self.device is None or device_id == self.device)
            and (self.since is None or at >= self.since)
            and (self.until is None or at <= self.until)
        )


def fixes_of(records: Iterable[Mapping[str, Any]], selection: Selection) -> list[Fix]:
    """Every position HQ accepted in ``records`` that ``selection`` wants, oldest first."""
    found: list[Fix] = []
    for record in records:
        if record.get("kind") != MESSAGE or record.get("link") != "STOMP" or "headers" in record:
            continue
        try:
            event = location_event(str(record.get("source", "")), decode_payload(record))
        except ValueError:
            continue
        if not isinstance(event, LocationReceived):
            continue
        at, position = float(record["at"]), event.position
        if selection.wants(at, position.device_id):
            found.append(Fix(at, position.device_id, position.lat, position.lng, position.raw_ts))
    found.sort(key=lambda fix: fix.received_at)
    return found


def iso_utc(at: float) -> str:
    """``2026-11-30T14:05:00.250Z``: what GPX's xsd:dateTime and GeoJSON readers expect."""
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def inert(text: str) -> str:
    """A text cell a spreadsheet shows as text: controls made visible, no formula start."""
    shown = literal(text)
    return f"'{shown}" if shown.startswith(_FORMULA_STARTS) else shown


def to_csv(fixes: Iterable[Fix]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["received_at", "device_id", "lat", "lng", "device_time"])
    for fix in fixes:
        device_time = inert(fix.device_time) if fix.device_time is not None else ""
        row = [iso_utc(fix.received_at), inert(fix.device_id), fix.lat, fix.lng, device_time]
        writer.writerow(row)
    return out.getvalue()


def by_device(fixes: Iterable[Fix]) -> dict[str, list[Fix]]:
    tracks: dict[str, list[Fix]] = {}
    for fix in fixes:
        tracks.setdefault(fix.device_id, []).append(fix)
    return tracks


def _gpx_lon(lng: float) -> float:
    """GPX's longitude excludes 180: the same meridian is -180."""
    return -180.0 if lng >= 180.0 else lng


def to_gpx(fixes: Iterable[Fix]) -> str:
    """A GPX 1.1 document: one track a truck, named by its id, one point a fix."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<gpx version="1.1" creator="mwm-tui" xmlns="{GPX_NAMESPACE}">',
    ]
    for device_id, track in by_device(fixes).items():
        lines.append("  <trk>")
        lines.append(f"    <name>{escape(literal(device_id))}</name>")
        lines.append("    <trkseg>")
        for fix in track:
            lat, lon = quoteattr(f"{fix.lat:.7f}"), quoteattr(f"{_gpx_lon(fix.lng):.7f}")
            lines.append(
                f"      <trkpt lat={lat} lon={lon}><time>{iso_utc(fix.received_at)}</time></trkpt>"
            )
        lines.append("    </trkseg>")
        lines.append("  </trk>")
    lines.append("</gpx>")
    return "\n".join(lines) + "\n"


def to_geojson(fixes: Iterable[Fix]) -> str:
    """A FeatureCollection: one feature a truck (a LineString, or a Point for one fix) with
    its id in ``deviceID`` and each position's time in ``times``."""
    features = []
    for device_id, track in by_device(fixes).items():
        coordinates = [[fix.lng, fix.lat] for fix in track]
        geometry: dict[str, Any] = (
            {"type": "LineString", "coordinates": coordinates}
            if len(coordinates) > 1
            else {"type": "Point", "coordinates": coordinates[0]}
        )
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "deviceID": device_id,
                    "times": [iso_utc(fix.received_at) for fix in track],
                    "deviceTimes": [fix.device_time for fix in track],
                },
            }
        )
    collection = {"type": "FeatureCollection", "features": features}
    return json.dumps(collection, ensure_ascii=True, allow_nan=False, indent=1) + "\n"


WRITERS = {ExportFormat.CSV: to_csv, ExportFormat.GPX: to_gpx, ExportFormat.GEOJSON: to_geojson}

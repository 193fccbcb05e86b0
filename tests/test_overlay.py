"""The operator's GeoJSON overlay: parsing, clear errors, drawing, the option, geofence events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mwm_tui.adapters.overlay_file import load_overlays
from mwm_tui.commands.options import settings_from
from mwm_tui.composition import create_app
from mwm_tui.config import ConfigError, Settings, load_settings
from mwm_tui.domain.codecs import Position
from mwm_tui.domain.events import LocationReceived
from mwm_tui.domain.geo import Viewport
from mwm_tui.domain.overlay import GeofenceCrossing, GeofenceWatch, OverlayError, parse_overlay
from mwm_tui.ui.map_render import Marker, render_map
from tests.support.links import recording_links
from tests.support.ui import list_text, log_text, wait_for

SQUARE = [[2.33, 48.735], [2.375, 48.735], [2.375, 48.76], [2.33, 48.76], [2.33, 48.735]]
HOLE = [[2.35, 48.74], [2.36, 48.74], [2.36, 48.75], [2.35, 48.75], [2.35, 48.74]]


def feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features: dict[str, Any]) -> str:
    return json.dumps({"type": "FeatureCollection", "features": list(features)})


PARIS_OVERLAY = collection(
    feature({"type": "Point", "coordinates": [2.3522, 48.7469]}, name="Rungis depot"),
    feature({"type": "Polygon", "coordinates": [SQUARE]}, name="Rungis market", geofence=True),
    feature({"type": "Polygon", "coordinates": [SQUARE]}, name="Drawn only"),
    feature({"type": "LineString", "coordinates": [[2.35, 48.82], [2.35, 48.70]]}, name="A6"),
)


def test_points_polygons_and_lines_become_depots_zones_and_routes() -> None:
    overlay = parse_overlay(PARIS_OVERLAY, "paris.geojson")
    assert [(d.name, d.lon, d.lat) for d in overlay.depots] == [("Rungis depot", 2.3522, 48.7469)]
    assert [(z.name, z.geofence) for z in overlay.zones] == [
        ("Rungis market", True),
        ("Drawn only", False),
    ]
    assert [r.name for r in overlay.routes] == ["A6"]
    assert overlay.routes[0].points == ((2.35, 48.82), (2.35, 48.70))


def test_multi_geometries_and_collections_are_unpacked() -> None:
    text = collection(
        feature({"type": "MultiPoint", "coordinates": [[1.0, 2.0], [3.0, 4.0]]}, name="m"),
        feature(
            {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "MultiPolygon", "coordinates": [[SQUARE], [SQUARE, HOLE]]},
                    {"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]]]},
                ],
            }
        ),
        {"type": "Feature", "properties": None, "geometry": None},
    )
    overlay = parse_overlay(text, "x.geojson")
    assert len(overlay.depots) == 2 and len(overlay.zones) == 2 and len(overlay.routes) == 1
    assert len(overlay.zones[1].rings) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "x.geojson: not JSON: Expecting property name"),
        ("[1, 2]", "x.geojson: not a GeoJSON object (it is a list)"),
        ('{"type": "FeatureCollection"}', "needs a list of features"),
        (collection({"type": "Thing"}), "x.geojson: feature 1: not a Feature"),
        (collection(feature({"type": "Circle"})), "feature 1: unknown geometry type 'Circle'"),
        (
            collection(feature({"type": "Point", "coordinates": [48.8, 2.3]}), feature({})),
            "x.geojson: feature 2: unknown geometry type None",
        ),
        (
            collection(feature({"type": "Point", "coordinates": [2.3, 95.0]})),
            "off the globe (GeoJSON is [longitude, latitude]: are they swapped?)",
        ),
        (collection(feature({"type": "Point", "coordinates": ["a", 1]})), "must be [longitude"),
        (collection(feature({"type": "LineString", "coordinates": [[0, 0]]})), "at least 2"),
        (
            collection(feature({"type": "Polygon", "coordinates": [SQUARE[:-1]]})),
            "a polygon ring must end where it starts",
        ),
    ],
)
def test_bad_geojson_gets_one_line_naming_the_file_and_the_fault(text: str, expected: str) -> None:
    with pytest.raises(OverlayError) as caught:
        parse_overlay(text, "x.geojson")
    message = str(caught.value)
    assert message.startswith("x.geojson: ")
    assert expected in message
    assert "\n" not in message


def test_files_are_merged_and_unreadable_ones_named(tmp_path: Path) -> None:
    first = tmp_path / "a.geojson"
    first.write_text(PARIS_OVERLAY, encoding="utf-8")
    second = tmp_path / "b.geojson"
    second.write_text(json.dumps({"type": "Point", "coordinates": [1, 2]}), encoding="utf-8")
    merged = load_overlays([str(first), str(second)])
    assert merged is not None
    assert len(merged.depots) == 2 and len(merged.zones) == 2
    assert load_overlays([]) is None
    with pytest.raises(OverlayError, match=r"missing\.geojson: no such file"):
        load_overlays([str(tmp_path / "missing.geojson")])
    binary = tmp_path / "bin.geojson"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(OverlayError, match=r"bin\.geojson: not UTF-8 text"):
        load_overlays([str(binary)])


def test_zone_contains_respects_holes() -> None:
    text = collection(feature({"type": "Polygon", "coordinates": [SQUARE, HOLE]}, name="z"))
    (zone,) = parse_overlay(text, "z.geojson").zones
    assert zone.contains(2.34, 48.745)
    assert not zone.contains(2.355, 48.745)  # in the hole
    assert not zone.contains(2.40, 48.745)


def test_geofence_reports_leaving_and_entering_but_not_a_first_fix() -> None:
    watch = GeofenceWatch(parse_overlay(PARIS_OVERLAY, "p.geojson").zones)
    assert watch.update("truck-07", 2.35, 48.745) == []  # first fix: already inside
    assert watch.update("truck-07", 2.351, 48.746) == []
    assert watch.update("truck-07", 2.35, 48.80) == [
        GeofenceCrossing("truck-07", "Rungis market", entered=False)
    ]
    assert watch.update_all([("truck-07", 2.35, 48.745), ("truck-08", 2.35, 48.745)]) == [
        GeofenceCrossing("truck-07", "Rungis market", entered=True)
    ]


def test_overlay_is_drawn_under_the_trucks_with_depot_names() -> None:
    overlay = parse_overlay(PARIS_OVERLAY, "p.geojson")
    view = Viewport.around(2.35, 48.78, 0.3, 0.15)
    truck = Marker("truck-07", 2.37, 48.79, "offline")
    plain = render_map(100, 30, view, [truck], overlay=overlay, legend=False).plain
    assert "⌂ Rungis depot" in plain and "✕" in plain
    without = render_map(100, 30, view, [truck], legend=False).plain
    braille = sum(0x2800 < ord(c) <= 0x28FF for c in plain)
    assert braille > sum(0x2800 < ord(c) <= 0x28FF for c in without) + 20
    ascii_text = render_map(100, 30, view, [truck], overlay=overlay, ascii_only=True).plain
    assert ascii_text.isascii() and "H Rungis depot" in ascii_text and "=" in ascii_text


# --- the option, and the app watching geofences ---------------------------------------------


def test_overlay_files_from_flag_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = tmp_path / "good.geojson"
    good.write_text(PARIS_OVERLAY, encoding="utf-8")
    config = tmp_path / "mwm-tui" / "config.toml"
    config.parent.mkdir()
    config.write_text(f'overlay = ["{good}", "{good}"]\n', encoding="utf-8")
    environ = {"XDG_CONFIG_HOME": str(tmp_path), "LANG": "C.UTF-8"}
    assert load_settings({}, environ).overlay_files() == [str(good), str(good)]
    from_env = load_settings({}, environ | {"MWM_OVERLAY": f"{good}, {good}"})
    assert from_env.overlay_files() == [str(good), str(good)]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "none"))
    settings = settings_from(["--overlay", str(good), "--overlay", str(good)])
    assert settings.overlay_files() == [str(good), str(good)]


def test_bad_overlay_on_the_command_line_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "depots.geojson"
    bad.write_text(collection(feature({"type": "Point", "coordinates": [48.8, 2.3]}))[:-3])
    with pytest.raises(ConfigError, match=r"^overlay .*depots\.geojson: not JSON"):
        settings_from(["--overlay", str(bad)])
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mwm_tui.cli",
            "--demo",
            "--overlay",
            str(tmp_path / "nope.geojson"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("mwm-tui: error: overlay ")
    assert "nope.geojson: no such file" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_truck_leaving_a_geofence_is_logged(tmp_path: Path) -> None:
    path = tmp_path / "paris.geojson"
    path.write_text(PARIS_OVERLAY, encoding="utf-8")
    app = create_app(Settings(overlay=str(path)), links=recording_links, tune_gc=False)
    async with app.run_test(size=(120, 40)) as pilot:
        app.inbox.put(LocationReceived(Position("truck-07", 48.745, 2.35)))
        await wait_for(pilot, lambda: "truck-07" in list_text(app), 3.0, "the truck")
        await wait_for(
            pilot, lambda: "Rungis depot" in app.position_map.render().plain, 3.0, "the depot"
        )
        assert "left" not in log_text(app) and "entered" not in log_text(app)
        app.inbox.put(LocationReceived(Position("truck-07", 48.80, 2.35)))
        await wait_for(
            pilot, lambda: "truck-07 left Rungis market" in log_text(app), 3.0, "the exit"
        )
        app.inbox.put(LocationReceived(Position("truck-07", 48.745, 2.36)))
        await wait_for(
            pilot, lambda: "truck-07 entered Rungis market" in log_text(app), 3.0, "the entry"
        )
        assert "Drawn only" not in log_text(app)
        await pilot.pause(0.2)  # one drain tick commits the history
        crossings = app.dispatcher.store.history(device_id="truck-07", kinds=["geofence"])
        assert [entry.text for entry in crossings] == [
            "truck-07 left Rungis market",
            "truck-07 entered Rungis market",
        ]

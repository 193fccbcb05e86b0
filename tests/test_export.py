"""mwm-tui export: positions of a record as CSV, GPX 1.1 and GeoJSON, valid and inert."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import geojson
import pytest
from lxml import etree

from mwm_tui.adapters.export import Selection, fixes_of, iso_utc, to_csv, to_geojson, to_gpx
from mwm_tui.adapters.recording import encode_payload, record_line
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.codecs import Position

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 11, 30, 14, 0, tzinfo=UTC).timestamp()
HOSTILE = ["=HYPERLINK(1)", "+1-2", "-3", "@SUM(A1)", '<b a="1">&amp;</b>', "x\x1b[2Jy"]


def gpx_schema() -> etree.XMLSchema:
    """The GPX 1.1 XSD as the gpx package ships it (read from its folder, not imported)."""
    spec = importlib.util.find_spec("gpx")
    assert spec is not None and spec.submodule_search_locations
    xsd = Path(next(iter(spec.submodule_search_locations))) / "gpx.xsd"
    return etree.XMLSchema(etree.parse(str(xsd)))


def fix_record(truck: str, at: float, lat: float, lng: float) -> dict[str, Any]:
    body = codecs.encode_location(Position(truck, lat, lng, datetime.fromtimestamp(at, UTC)))
    return {
        "at": at,
        "kind": "message",
        "link": "STOMP",
        # As it came off the wire: HQ would refuse to build a destination for some of these ids.
        "source": f"/topic/device.{truck}.location",
        **encode_payload(body),
    }


def records() -> list[dict[str, Any]]:
    made = [fix_record("truck-7", START + s, 48.85 + s * 1e-5, 2.35) for s in range(0, 600, 60)]
    made.append(fix_record("truck-8", START + 30, -33.9, 179.99))
    made.append(fix_record("truck-9", START + 45, 10.0, 180.0))
    made += [fix_record(name, START + 50 + n, 1.0, -1.0) for n, name in enumerate(HOSTILE)]
    # Left out: what HQ rejected, motion, and an order sent.
    made.append(
        {
            "at": START + 5,
            "kind": "message",
            "link": "STOMP",
            "source": ids.location_destination("bad"),
        }
        | encode_payload(b'{"deviceID": "bad", "lat": 91, "lng": 0}')
    )
    made.append({"at": START + 6, "kind": "sent", "what": "order", "device": "truck-7"})
    motion = codecs.encode_motion(codecs.Motion(0.0, 0.0, 0.0))
    made.append(
        {"at": START + 7, "kind": "message", "link": "MQTT", "source": ids.motion_topic("truck-7")}
        | encode_payload(motion)
    )
    return made


def test_the_selection_picks_device_and_times() -> None:
    every = fixes_of(records(), Selection())
    assert len(every) == 10 + 2 + len(HOSTILE)
    assert [f.received_at for f in every] == sorted(f.received_at for f in every)
    seven = fixes_of(records(), Selection("truck-7", START + 60, START + 180))
    assert [f.received_at - START for f in seven] == [60, 120, 180]
    assert {f.device_id for f in seven} == {"truck-7"}


def test_gpx_is_valid_gpx_1_1_with_a_track_a_truck() -> None:
    text = to_gpx(fixes_of(records(), Selection()))
    document = etree.fromstring(text.encode("utf-8"))
    schema = gpx_schema()
    assert schema.validate(document), schema.error_log
    space = {"g": "http://www.topografix.com/GPX/1/1"}
    names = document.xpath("//g:trk/g:name/text()", namespaces=space)
    # In order of first fix; markup escaped and read back as the id, controls made visible.
    assert names == ["truck-7", "truck-8", "truck-9", *HOSTILE[:5], "x\\x1b[2Jy"]
    assert "\x1b" not in text
    points = document.xpath("//g:trk[g:name='truck-7']//g:trkpt", namespaces=space)
    assert len(points) == 10
    assert points[1].get("lat") == "48.8506000"
    assert points[1].findtext("g:time", namespaces=space) == iso_utc(START + 60)
    antimeridian = document.xpath("//g:trk[g:name='truck-9']//g:trkpt", namespaces=space)
    assert antimeridian[0].get("lon") == "-180.0000000"
    antimeridian[0].set("lon", "180.0")
    assert not schema.validate(document), "the schema is checked: 180 is out of its range"


def test_an_empty_selection_is_still_a_valid_document() -> None:
    nothing = fixes_of(records(), Selection("nobody"))
    assert gpx_schema().validate(etree.fromstring(to_gpx(nothing).encode()))
    assert geojson.loads(to_geojson(nothing)).is_valid
    assert to_csv(nothing) == "received_at,device_id,lat,lng,device_time\n"


def test_geojson_is_valid_with_the_truck_in_device_id() -> None:
    text = to_geojson(fixes_of(records(), Selection()))
    collection = geojson.loads(text)
    assert collection.is_valid, collection.errors()
    assert isinstance(collection, geojson.FeatureCollection)
    by_id = {feature["properties"]["deviceID"]: feature for feature in collection["features"]}
    assert set(by_id) == {"truck-7", "truck-8", "truck-9", *HOSTILE}
    for feature in collection["features"]:
        assert feature.is_valid, feature.errors()
    seven = by_id["truck-7"]
    assert seven["geometry"]["type"] == "LineString"
    assert seven["geometry"]["coordinates"][1] == [2.35, pytest.approx(48.8506)]
    assert seven["properties"]["times"][0] == iso_utc(START)
    assert by_id["truck-8"]["geometry"] == {"type": "Point", "coordinates": [179.99, -33.9]}
    assert text.isascii() and "\x1b" not in text


def test_csv_has_a_header_and_hostile_ids_are_inert() -> None:
    text = to_csv(fixes_of(records(), Selection()))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["received_at", "device_id", "lat", "lng", "device_time"]
    assert rows[1][:4] == [iso_utc(START), "truck-7", "48.85", "2.35"]
    cells = [cell for row in rows[1:] for cell in (row[1], row[4])]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]
    ids_written = {row[1] for row in rows[1:]}
    assert {"'=HYPERLINK(1)", "'+1-2", "'-3", "'@SUM(A1)", "x\\x1b[2Jy"} <= ids_written
    assert "\x1b" not in text


def run_export(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mwm_tui.cli", "export", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


def test_the_command_writes_a_file_or_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    record = tmp_path / "shift.jsonl"
    record.write_text("".join(record_line(r) for r in records()), encoding="ascii")
    out = tmp_path / "seven.geojson"
    since, until = datetime.fromtimestamp(START + 60).isoformat(), "2026-11-30T14:03:00+00:00"
    done = run_export(
        str(record), "--format", "geojson", "--device", "truck-7", "--since", since,
        "--until", until, "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    features = json.loads(out.read_text())["features"]
    assert [f["properties"]["deviceID"] for f in features] == ["truck-7"]
    assert features[0]["properties"]["times"] == [iso_utc(START + s) for s in (60, 120, 180)]

    printed = run_export(str(record), "--format", "csv", "--device", "truck-8")
    assert printed.returncode == 0 and printed.stdout.count("\n") == 2

    for args, said in (
        ([str(tmp_path / "missing")], "cannot read the record"),
        ([str(record), "--since", "yesterday-ish"], "--since 'yesterday-ish'"),
        ([str(record), "-o", str(tmp_path / "no" / "dir.csv")], "cannot write"),
    ):
        failed = run_export(*args, "--format", "csv")
        assert failed.returncode == 2
        lines = failed.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("mwm-tui export: error: ")
        assert said in lines[0]

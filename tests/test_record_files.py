"""Rotated record files are gzip-compressed, and replay and export read any mix of plain and
compressed rotations in time order; the defaults keep a day of a 200-truck fleet."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from mwm_tui.adapters.demo import DemoFleet, DemoMqttLink, DemoStompLink
from mwm_tui.adapters.recording import Recorder, RecordReader
from mwm_tui.commands.replay import replay_parser, replay_settings
from mwm_tui.composition import create_replay_app, tap_links
from mwm_tui.config import Settings
from mwm_tui.domain import codecs, ids
from mwm_tui.domain.codecs import Position
from tests.support.link_events import wait_until

ROOT = Path(__file__).resolve().parents[1]


def _record_fixes(path: Path, count: int) -> None:
    """``count`` fixes of 5 trucks, through a recorder rotating every 4 KiB."""
    recorder = Recorder(path, max_bytes=4096, keep=50)
    for number in range(count):
        truck = f"rf-{number % 5}"
        at = datetime.fromtimestamp(1_800_000_000 + number, UTC).replace(microsecond=0)
        payload = codecs.encode_location(Position(truck, 48.0 + number * 1e-4, 2.3, at))
        recorder.message("STOMP", ids.location_destination(truck), payload, False)
        if number % 40 == 0:
            time.sleep(0.12)  # several batches, so several rotations
    recorder.close()


def test_export_reads_plain_and_compressed_rotations_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "shift.jsonl"
    _record_fixes(path, 300)
    rotated = sorted(tmp_path.glob("shift.jsonl.*.gz"))
    assert len(rotated) >= 3
    # One rotation left plain, as a crash before its compression would leave it.
    second = tmp_path / "shift.jsonl.2.gz"
    second.with_suffix("").write_bytes(gzip.decompress(second.read_bytes()))
    cut_short = second.with_name(f"{second.name}.partial")  # and its copy, cut short
    cut_short.write_bytes(second.read_bytes()[: second.stat().st_size * 2 // 3])
    second.unlink()
    files = [str(f) for f in sorted(tmp_path.iterdir(), reverse=True)]
    out = tmp_path / "shift.csv"
    done = subprocess.run(
        [sys.executable, "-m", "mwm_tui.cli", "export", *files, "--format", "csv", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = out.read_text().splitlines()[1:]
    assert len(rows) == 300
    latitudes = [float(row.split(",")[2]) for row in rows]
    assert latitudes == sorted(latitudes), "oldest first across the files"
    assert done.stderr == f"mwm-tui export: wrote 300 fixes of 5 trucks as csv to {out}\n"


def test_a_compressed_rotation_cut_short_keeps_what_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    _record_fixes(path, 120)
    whole = tmp_path / "r.jsonl.1.gz"
    held = len(RecordReader.load([whole]).records)
    whole.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
    reader = RecordReader.load([whole, path])
    assert reader.bad_lines == 1
    assert 0 < len(reader.records) - len(RecordReader.load([path]).records) < held


def test_the_default_rotation_keeps_a_day_of_200_trucks(tmp_path: Path) -> None:
    """Measured on the demo fleet's recorded lines: bytes an hour a truck, and gzip's ratio."""
    path = tmp_path / "fleet.jsonl"
    recorder = Recorder(path)
    fleet = DemoFleet(20, incidents=False)
    stomp_link, mqtt_link = (
        DemoStompLink(fleet, lambda _: None),
        DemoMqttLink(fleet, lambda _: None),
    )
    tap_links(recorder, stomp_link, mqtt_link)
    stomp_link.start()
    mqtt_link.start()
    try:
        wait_until(lambda: recorder.written >= 20 * 3 * 4, 30, "four seconds of 20 trucks")
    finally:
        stomp_link.stop()
        mqtt_link.stop()
        recorder.close()
    records = RecordReader.load([path]).records
    seconds = records.times[-1] - records.times[0]
    raw = path.read_bytes()
    mb_an_hour_of_200 = len(raw) / seconds * 3600 * 10 / 1e6
    assert 100 < mb_an_hour_of_200 < 250  # the figure the defaults are chosen for: 163-167
    ratio = len(raw) / len(gzip.compress(raw))
    assert ratio > 4
    settings = Settings()
    hours = settings.record_keep * settings.record_max_mb * 1.048576 / mb_an_hour_of_200
    assert hours >= 24
    disk_gb = (settings.record_keep / ratio + 1) * settings.record_max_mb / 1024
    assert disk_gb < 1.5


def test_replay_draws_the_overlay_it_is_given(tmp_path: Path) -> None:
    record = tmp_path / "r.jsonl"
    _record_fixes(record, 10)
    overlay = tmp_path / "depots.geojson"
    depot = {"type": "Point", "coordinates": [2.35, 48.75]}
    overlay.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {"type": "Feature", "properties": {"name": "Rungis"}, "geometry": depot}
                ],
            }
        )
    )
    args = replay_parser().parse_args([str(record), "--overlay", str(overlay)])
    settings = replay_settings(args, {"LANG": "C.UTF-8", "MWM_CONFIG": "/dev/null"})
    assert settings.overlay == str(overlay)
    app = create_replay_app(settings, [record], RecordReader.load([record]), tune_gc=False)
    assert [d.name for d in app.position_map.overlay.depots] == ["Rungis"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mwm_tui.cli",
            "replay",
            str(record),
            "--overlay",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("mwm-tui replay: error: overlay ")
    assert str(tmp_path / "x") in done.stderr

"""Every file HQ reads is bounded in size and nesting and checked for range; a bad one is one
line naming the file, the place and the fault, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mwm_tui.adapters import overlay_file, recording
from mwm_tui.adapters.overlay_file import load_overlays
from mwm_tui.adapters.recording import RecordError, RecordLines, RecordReader, record_line
from mwm_tui.commands.options import settings_from
from mwm_tui.config import ConfigError, load_settings
from mwm_tui.domain.bounded_json import JsonError, deep_line, loads_bounded
from mwm_tui.domain.overlay import OverlayError

ROOT = Path(__file__).resolve().parents[1]
AT = 1_800_000_000.0
DEEP_JSON = "[" * 100_000 + "]" * 100_000


def fix(at: float = AT, device: str = "t1") -> dict[str, object]:
    body = json.dumps({"deviceID": device, "lat": 48.85, "lng": 2.35})
    return {"at": at, "kind": "message", "link": "STOMP"} | {
        "source": f"/topic/device.{device}.location",
        "text": body,
    }


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mwm_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
        env=None if env is None else os.environ | env,
    )


def one_line(result: subprocess.CompletedProcess[str], prefix: str) -> str:
    """The one line of stderr, after checking it is one line and no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), result.stderr[-2000:]
    return lines[0]


# --- the shared bounded JSON reader ---------------------------------------------------


def test_deep_nesting_is_an_error_with_its_line_not_a_recursion() -> None:
    with pytest.raises(JsonError, match=r"^line 3: nested deeper than 32 levels$"):
        loads_bounded("{\n\n" + DEEP_JSON[1:] + "}", max_chars=10**7, max_depth=32)
    with pytest.raises(JsonError, match="nested deeper"):
        loads_bounded("[" * 100_000, max_chars=10**7, max_depth=32)


def test_nesting_at_the_limit_and_brackets_in_strings_are_fine() -> None:
    assert loads_bounded("[" * 32 + "]" * 32, max_chars=100, max_depth=32) is not None
    text = json.dumps({"name": "[[[[{{{{" * 20, "list": [[1], [2]]})
    assert loads_bounded(text, max_chars=10_000, max_depth=3)["list"] == [[1], [2]]


def test_size_and_syntax_faults_name_the_line() -> None:
    with pytest.raises(JsonError, match="101 characters, over the 100 allowed"):
        loads_bounded(" " * 101, max_chars=100, max_depth=4)
    with pytest.raises(
        JsonError,
        match=r"^not JSON: Expecting property name enclosed in double quotes at line 2, column 6$",
    ):
        loads_bounded('{"a":\n  1, }', max_chars=100, max_depth=4)


def test_the_nesting_scan_skips_strings_and_comments() -> None:
    assert deep_line("a = '[[[['\n# [[[[[\nb = [[1]]", 2, "\"'", "#") is None
    assert deep_line("a = 1\nb = [[[1]]]", 2, "\"'", "#") == 2


# --- record files ---------------------------------------------------------------------


def write_lines(path: Path, *lines: str) -> Path:
    path.write_text("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return path


def test_bad_record_lines_are_skipped_and_the_first_named(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "shift.jsonl",
        record_line(fix()),
        '{"at": 1800000001, "deep": ' + DEEP_JSON + "}",
        record_line(fix(at=-1e18)),
        record_line(fix(at=1e15)),
        record_line(fix(at=AT + 2)),
    )
    reader = RecordReader.load([path])
    assert reader.records.times == [AT, AT + 2]
    assert reader.bad_lines == 3
    assert reader.first_problem == f"{path} line 2: nested deeper than 32 levels"


def test_a_deep_line_parsed_late_reads_as_unreadable() -> None:
    deep = '{"at":1800000000,"kind":"message","x":' + DEEP_JSON + "}\n"
    lines = RecordLines([AT], [deep])
    assert lines[0] == {"at": AT, "kind": "unreadable"}


def test_an_overlong_line_is_skipped_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording, "MAX_LINE_CHARS", 1000)
    path = write_lines(tmp_path / "r.jsonl", record_line(fix() | {"pad": "x" * 5000}))
    path.write_text(path.read_text() + record_line(fix(at=AT + 1)))
    reader = RecordReader.load([path])
    assert reader.records.times == [AT + 1]
    assert reader.first_problem == f"{path} line 1: a line over 1,000 characters"


def test_an_oversize_record_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recording, "MAX_FILE_BYTES", 100)
    path = write_lines(tmp_path / "r.jsonl", record_line(fix()), record_line(fix()))
    with pytest.raises(RecordError, match=r"r\.jsonl: \d+ bytes, over the 100 a record file"):
        RecordReader.load([path])


def test_export_skips_hostile_lines_with_one_warning(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "shift.jsonl",
        record_line(fix()),
        record_line(fix(at=1e15)),
        '{"at": 1800000001, "x": ' + DEEP_JSON + "}",
    )
    done = run_cli("export", str(path), "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 2  # the header and the one good fix
    assert done.stderr.splitlines() == [
        f"mwm-tui export: warning: skipped 2 unreadable line(s), the first: {path} line 2: "
        '"at" 1e+15 is not a time between 1970 and 2100',
        "mwm-tui export: wrote 1 fix of 1 truck as csv to standard output",
    ]


@pytest.mark.parametrize("command", ["replay", "export"])
def test_a_record_of_hostile_lines_only_is_one_error_line(tmp_path: Path, command: str) -> None:
    path = write_lines(
        tmp_path / "shift.jsonl", DEEP_JSON, record_line(fix(at=-1e18)), record_line(fix(at=1e15))
    )
    extra = ["--format", "gpx"] if command == "export" else []
    line = one_line(run_cli(command, str(path), *extra), f"mwm-tui {command}: error: ")
    assert line.endswith(
        f"nothing to {command} in {path} (3 unreadable lines); first: {path} line 1: "
        "nested deeper than 32 levels"
    )


# --- overlays -------------------------------------------------------------------------


def polygon(points: int) -> str:
    ring = [[round(-170 + 340 * n / points, 6), 10.0 if n % 2 else 20.0] for n in range(points)]
    ring.append(ring[0])
    feature = {"type": "Feature", "properties": {"geofence": True}}
    feature["geometry"] = {"type": "Polygon", "coordinates": [ring]}
    return json.dumps({"type": "FeatureCollection", "features": [feature]})


def test_a_million_point_geofence_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.geojson"
    path.write_text(polygon(1_000_000))
    line = one_line(run_cli("--overlay", str(path)), "mwm-tui: error: ")
    assert line == (
        f"mwm-tui: error: overlay {path}: feature 1: over 100,000 points in all "
        "(--overlay-max-points; a simpler outline, or a higher limit)"
    )


def test_the_point_limit_counts_every_file_and_can_be_raised(tmp_path: Path) -> None:
    small, other = tmp_path / "a.geojson", tmp_path / "b.geojson"
    small.write_text(polygon(60))
    other.write_text(polygon(60))
    with pytest.raises(OverlayError, match=r"b\.geojson: feature 1: over 100 points in all"):
        load_overlays([str(small), str(other)], 100)
    overlay = load_overlays([str(small), str(other)], 122)
    assert overlay is not None and overlay.point_count() == 122


def test_overlay_max_points_is_a_flag_a_variable_and_a_config_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("overlay-max-points = 500\n")
    environ = {"MWM_CONFIG": str(config), "LANG": "C.UTF-8"}
    assert load_settings({}, environ).overlay_max_points == 500
    from_env = load_settings({}, environ | {"MWM_OVERLAY_MAX_POINTS": "700"})
    assert from_env.overlay_max_points == 700
    assert settings_from(["--overlay-max-points", "900"]).overlay_max_points == 900
    assert load_settings({}, {"MWM_CONFIG": os.devnull}).overlay_max_points == 100_000
    with pytest.raises(ConfigError, match="overlay-max-points must be at least 1"):
        load_settings({"overlay_max_points": 0}, environ)


def test_a_deeply_nested_overlay_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.geojson"
    path.write_text('{"type": "FeatureCollection",\n"features": ' + DEEP_JSON + "}")
    line = one_line(run_cli("--overlay", str(path)), "mwm-tui: error: ")
    assert line == f"mwm-tui: error: overlay {path}: line 2: nested deeper than 32 levels"


def test_an_oversize_overlay_is_refused_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(overlay_file, "MAX_CHARS", 1000)
    path = tmp_path / "big.geojson"
    path.write_text(polygon(200))
    with pytest.raises(OverlayError, match=r"big\.geojson: over 1,000 bytes: too big"):
        load_overlays([str(path)])


# --- the config file ------------------------------------------------------------------


def test_a_deeply_nested_config_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('stomp = "stomp://a:61613"\nmqtt = ' + "[" * 10_000 + "]" * 10_000 + "\n")
    line = one_line(run_cli("--demo", env={"MWM_CONFIG": str(config)}), "mwm-tui: error: ")
    assert line == f"mwm-tui: error: {config}: line 2: nested deeper than 8 levels"


def test_an_oversize_config_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# padding\n" * 200_000)
    with pytest.raises(ConfigError, match=r"config\.toml: over 1,048,576 bytes"):
        load_settings({}, {"MWM_CONFIG": str(config)})


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        (
            {"MWM_OFFLINE_AFTER": "inf"},
            "MWM_OFFLINE_AFTER: offline_after = 'inf' is not a valid float",
        ),
        ({"MWM_STALE_AFTER": "nan"}, "MWM_STALE_AFTER: stale_after = 'nan' is not a valid float"),
        ({"MWM_OFFLINE_AFTER": "1e12"}, "need 0 < stale-after < offline-after <= 31622400"),
        ({"MWM_ORDER_EXPIRY": "1e300"}, "order-expiry must be more than 0 and at most"),
        ({"MWM_HISTORY_DAYS": "1e9"}, "history-days must be more than 0 and at most 3660"),
    ],
)
def test_times_out_of_any_sane_range_are_refused(environ: dict[str, str], said: str) -> None:
    with pytest.raises(ConfigError, match=said.replace("(", r"\(")):
        load_settings({}, {"MWM_CONFIG": os.devnull} | environ)

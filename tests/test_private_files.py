"""Files HQ writes for the operator are HQ's: created anew and 0600, never another's file, never
through a symbolic link (``--record``, ``export -o``)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mwm_tui.adapters.private_file import Existing, open_private
from mwm_tui.adapters.recording import Recorder, RecordError, record_line
from mwm_tui.commands.options import settings_from
from mwm_tui.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
RECORD = {"at": 1_800_000_000.0, "kind": "message", "link": "STOMP"} | {
    "source": "/topic/device.t1.location",
    "text": '{"deviceID":"t1","lat":48.85,"lng":2.35}',
}


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: the modes HQ gives must not come from it."""
    before = os.umask(0)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def planted(path: Path, text: str = "planted\n") -> Path:
    path.write_text(text, encoding="ascii")
    path.chmod(0o666)
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mwm_tui.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


def test_a_new_record_file_is_the_owners_alone_whatever_the_umask(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "shift.jsonl"
    recorder = Recorder(path)
    recorder.message("MQTT", "/mwm/a/motion", b"0" * 24, False)
    recorder.close()
    assert mode(path) == 0o600
    assert recorder.written == 1


def test_the_record_refuses_a_file_it_did_not_create(tmp_path: Path) -> None:
    path = planted(tmp_path / "shift.jsonl")
    with pytest.raises(RecordError, match=r"exists and this run did not create it.*--append"):
        Recorder(path)
    assert path.read_text(encoding="ascii") == "planted\n"
    assert mode(path) == 0o666  # not touched either


def test_the_record_adds_to_an_existing_file_only_with_append_and_makes_it_private(
    tmp_path: Path,
) -> None:
    path = planted(tmp_path / "shift.jsonl", record_line(RECORD))
    recorder = Recorder(path, append=True)
    recorder.message("MQTT", "/mwm/a/motion", b"0" * 24, False)
    recorder.close()
    lines = path.read_text(encoding="ascii").splitlines()
    assert len(lines) == 2 and lines[0] == record_line(RECORD).strip()
    assert mode(path) == 0o600


@pytest.mark.parametrize("append", [False, True])
def test_the_record_never_follows_a_symbolic_link(tmp_path: Path, append: bool) -> None:
    target = planted(tmp_path / "victim.txt")
    link = tmp_path / "shift.jsonl"
    link.symlink_to(target)
    dangling = tmp_path / "dangling.jsonl"
    dangling.symlink_to(tmp_path / "would-be-created")
    for path in (link, dangling):
        with pytest.raises(RecordError, match="symbolic link, which HQ never follows"):
            Recorder(path, append=append)
    assert target.read_text(encoding="ascii") == "planted\n" and mode(target) == 0o666
    assert not (tmp_path / "would-be-created").exists()


def test_a_fifo_with_no_reader_is_an_error_not_a_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(RecordError, match="cannot open the record file"):
        Recorder(fifo, append=True)


def test_the_dashboard_refuses_an_existing_record_file_in_one_line(tmp_path: Path) -> None:
    path = planted(tmp_path / "shift.jsonl")
    result = run_cli("--record", str(path))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"mwm-tui: error: the record file {path} exists and this run did not create it: "
        "name a new file, or give --append to add to it"
    ]


def test_append_is_a_flag_a_variable_and_a_config_key(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("record-append = true\n", encoding="utf-8")
    environ = {"MWM_CONFIG": str(config), "LANG": "C.UTF-8"}
    assert load_settings({}, environ).record_append is True
    plain = {"MWM_CONFIG": os.devnull, "LANG": "C.UTF-8"}
    assert load_settings({}, plain).record_append is False
    assert load_settings({}, plain | {"MWM_RECORD_APPEND": "yes"}).record_append is True
    assert settings_from(["--record", "r.jsonl", "--append"]).record_append is True


def test_export_writes_a_new_private_file_and_replaces_one_only_with_force(
    tmp_path: Path,
) -> None:
    record = tmp_path / "shift.jsonl"
    record.write_text(record_line(RECORD), encoding="ascii")
    out = tmp_path / "shift.csv"
    done = run_cli("export", str(record), "--format", "csv", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert mode(out) == 0o600 and "t1" in out.read_text(encoding="utf-8")

    other = planted(tmp_path / "other.csv")
    refused = run_cli("export", str(record), "--format", "csv", "-o", str(other))
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"mwm-tui export: error: {other} exists: name a new file, or give --force to replace it"
    ]
    assert other.read_text(encoding="ascii") == "planted\n"

    forced = run_cli("export", str(record), "--format", "csv", "-o", str(other), "--force")
    assert forced.returncode == 0, forced.stderr
    assert other.read_text(encoding="utf-8").startswith("received_at,")
    assert mode(other) == 0o600


def test_export_never_writes_through_a_symbolic_link_even_with_force(tmp_path: Path) -> None:
    record = tmp_path / "shift.jsonl"
    record.write_text(record_line(RECORD), encoding="ascii")
    target = planted(tmp_path / "victim.txt")
    link = tmp_path / "out.csv"
    link.symlink_to(target)
    for extra in ([], ["--force"]):
        result = run_cli("export", str(record), "--format", "csv", "-o", str(link), *extra)
        assert result.returncode == 2
        assert result.stderr.splitlines() == [
            f"mwm-tui export: error: cannot write {link}: "
            "it is a symbolic link, which HQ never follows"
        ]
    assert target.read_text(encoding="ascii") == "planted\n"


def test_a_device_is_written_as_it_is() -> None:
    descriptor = open_private(Path(os.devnull), Existing.APPEND)
    try:
        assert os.write(descriptor, b"x") == 1
    finally:
        os.close(descriptor)
    assert mode(Path(os.devnull)) == 0o666

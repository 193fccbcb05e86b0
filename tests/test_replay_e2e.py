"""A shift as an operator runs it: --record against mwm-sim in tmux, quit, replay, export."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from lxml import etree

from mwm_tui.adapters.recording import decode_payload
from tests.support.brokers import ActiveMQ, Mosquitto
from tests.support.sim import ROOT, Sim, fleet_ids, unique_prefix
from tests.test_e2e_tmux import SESSION, Tmux, console_script, list_rows, tmux  # noqa: F401
from tests.test_export import gpx_schema


def show_only(terminal: Tmux, prefix: str) -> None:
    """Filter the list to this test's trucks: the shared brokers hold other tests' retained ones."""
    terminal.keys("/")
    terminal.wait(lambda s: "esc Clear" in s, 5, "the filter field")
    terminal.type(prefix)
    terminal.keys("Enter")
    terminal.wait(lambda s: "q Quit" in s, 5, "the list again")


def test_a_recorded_shift_replays_and_exports(
    tmux: Tmux,  # noqa: F811
    tmp_path: Path,
    activemq: ActiveMQ,
    mosquitto: Mosquitto,
) -> None:
    prefix = unique_prefix("shift")
    device_ids = fleet_ids(prefix, 3)
    record = tmp_path / "shift.jsonl"
    script = console_script("mwm-tui")
    with Sim(activemq.url, mosquitto.url, tmp_path, "--devices", "3", "--prefix", prefix) as sim:
        tmux.start(
            f"{script} --stomp {activemq.url} --mqtt {mosquitto.url} --record {record}", ROOT
        )
        tmux.wait(lambda screen: "REC " in screen and "MQTT ▲ up" in screen, 20, "recording")
        sim.wait_ready(20)
        show_only(tmux, prefix)
        tmux.wait(
            lambda screen: {i for _, i in list_rows(screen)} >= set(device_ids), 20, "the fleet"
        )
        time.sleep(2.0)  # a few more fixes and motions
        tmux.keys("q")
        quit_at = time.time()
        assert tmux.wait_exit_status(15) == "0", tmux.report("mwm-tui did not exit cleanly")

    records = [json.loads(line) for line in record.read_text(encoding="ascii").splitlines()]
    messages = [r for r in records if r["kind"] == "message" and prefix in r["source"]]
    assert {r["link"] for r in messages} == {"STOMP", "MQTT"}
    assert all(len(decode_payload(r)) == 24 for r in messages if r["link"] == "MQTT")
    assert max(r["at"] for r in messages) > quit_at - 2.5, "flushed up to the quit"

    tmux.tmux("kill-session", "-t", SESSION)
    # Paused at its first record: a few seconds of record play out at x5 in under a second.
    tmux.start(f"{script} replay {record} --speed 5 --paused", ROOT)
    tmux.wait(lambda screen: "REPLAY" in screen and "PAUSED" in screen, 20, "the paused replay")
    show_only(tmux, prefix)
    tmux.keys("Space")
    tmux.wait(lambda screen: "PAUSED" not in screen, 5, "playing")
    tmux.wait(
        lambda screen: {i for _, i in list_rows(screen)} >= set(device_ids),
        20,
        "the replayed fleet",
    )
    tmux.keys("o")
    tmux.wait(lambda screen: "Replay: orders and alerts are" in screen, 5, "the refusal")
    tmux.keys("q")
    assert tmux.wait_exit_status(15) == "0", tmux.report("the replay did not exit cleanly")

    gpx = tmp_path / "shift.gpx"
    exported = subprocess.run(
        [script, "export", str(record), "--format", "gpx", "-o", str(gpx)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    document = etree.parse(str(gpx))
    assert gpx_schema().validate(document)
    space = {"g": "http://www.topografix.com/GPX/1/1"}
    names = set(document.xpath("//g:trk/g:name/text()", namespaces=space))
    assert names >= set(device_ids)

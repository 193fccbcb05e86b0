"""The command line teaches: every command listed, mistakes named in one line with the nearest
match, the settings in effect and their sources, completion scripts and a man page made from
the parsers, and ``history`` that reads well in a pipe."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mwm_tui.adapters.store import HistoryEntry, Store
from mwm_tui.cli import BROKEN_PIPE, main
from mwm_tui.commands.completion import bash_script, command_options, fish_script, zsh_script
from mwm_tui.commands.manual import man_page
from mwm_tui.commands.registry import COMMANDS
from tests.support.cli import RunCli

ROOT = Path(__file__).resolve().parents[1]


def test_the_top_level_help_lists_every_command_with_a_line_each(cli: RunCli) -> None:
    shown = cli("--help").stdout
    listed = shown.split("commands (")[1].split("\n\n")[0].splitlines()[1:]
    assert [line.split()[0] for line in listed] == ["(none)"] + [c.name for c in COMMANDS]
    assert {"history", "replay", "export", "serve", "config", "completion", "man"} <= {
        c.name for c in COMMANDS
    }
    assert all(len(line.split(maxsplit=1)) == 2 for line in listed)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["hisotry"], "mwm-tui: unknown command 'hisotry'; did you mean 'history'?"),
        (["--stmop", "x"], "mwm-tui: unknown option '--stmop'; did you mean '--stomp'?"),
        (
            ["history", "--devcie", "t1"],
            "mwm-tui history: unknown option '--devcie'; did you mean '--device'?",
        ),
        (
            ["export", "f.jsonl", "--format", "cvs"],
            "mwm-tui export: --format: unknown value 'cvs'; did you mean 'csv'?",
        ),
        (
            ["history", "--kind", "wil"],
            "mwm-tui history: --kind: unknown value 'wil'; did you mean 'will'?",
        ),
        (
            ["zzzz"],
            "mwm-tui: unknown command 'zzzz' (commands: "
            + ", ".join(c.name for c in COMMANDS)
            + ")",
        ),
    ],
)
def test_a_mistake_gets_one_line_with_the_nearest_match(
    args: list[str], said: str, cli: RunCli
) -> None:
    result = cli(*args)
    assert result.returncode == 2
    assert result.stderr == said + "\n"


def test_config_shows_each_setting_and_where_it_came_from_passwords_hidden(
    tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('stale_after = 20\nmqtt_password = "file-secret"\n')
    config.chmod(0o600)
    env = {
        "MWM_CONFIG": str(config),
        "MWM_STOMP_PASSWORD": "env-secret",
        "MWM_OFFLINE_AFTER": "200",
        "LANG": "C.UTF-8",
    }
    monkeypatch.delenv("LC_ALL", raising=False)
    result = cli("config", "--devices", "7", env=env)
    assert result.returncode == 0, result.stderr
    assert "secret" not in result.stdout
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[2:]}
    assert rows["stale_after"] == ["20.0", str(config)]
    assert rows["offline_after"] == ["200.0", "MWM_OFFLINE_AFTER"]
    assert rows["devices"] == ["7", "--devices"]
    assert rows["stomp_password"] == ["***", "MWM_STOMP_PASSWORD"]
    assert rows["mqtt_password"] == ["***", str(config)]
    assert rows["stomp"] == ["stomp://localhost:61613", "default"]
    assert rows["client_id"] == ["-", "default"]
    assert result.stdout.splitlines()[0] == f"config file: {config} (found)"
    env["LANG"] = "C"
    plain = cli("config", env=env).stdout
    assert re.search(r"^ascii\s+true\s+locale \(not UTF-8\)$", plain, re.MULTILINE)


def _bash_completes(script: Path, *words: str) -> list[str]:
    probe = (
        f'source "{script}"; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _mwm_tui; '
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    done = subprocess.run(
        ["bash", "-c", probe, "bash", *words], capture_output=True, text=True, check=True
    )
    return done.stdout.split()


def test_bash_completion_offers_commands_options_and_choices(tmp_path: Path, cli: RunCli) -> None:
    script = tmp_path / "mwm-tui.bash"
    result = cli("completion", "bash")
    assert result.returncode == 0
    script.write_text(result.stdout)
    assert _bash_completes(script, "mwm-tui", "his") == ["history"]
    assert _bash_completes(script, "mwm-tui", "") == [c.name for c in COMMANDS]
    assert _bash_completes(script, "mwm-tui", "--sto") == ["--stomp", "--stomp-vhost"]
    assert _bash_completes(script, "mwm-tui", "history", "--kind", "a") == ["alert", "ack"]
    assert _bash_completes(script, "mwm-tui", "export", "--format", "g") == ["gpx", "geojson"]
    assert _bash_completes(script, "mwm-tui", "completion", "f") == ["fish"]
    assert "--overlay" in _bash_completes(script, "mwm-tui", "replay", "--o")


def test_every_script_names_every_command_and_option_of_the_parsers() -> None:
    commands = command_options()
    options = {name for command in commands for o in command.options for name in o.names}
    assert {"--stomp", "--kind", "--format", "--port", "--speed"} <= options
    for script in (bash_script(commands), zsh_script(commands), fish_script(commands)):
        for command in COMMANDS:
            assert re.search(rf"\b{command.name}\b", script)
        for name in options:
            fish = f"-l {name[2:]}" if name.startswith("--") else f"-s {name[1:]}"
            assert name in script or fish in script, name
    zsh = zsh_script(commands)
    assert zsh.startswith("#compdef mwm-tui\n") and "compdef _mwm_tui mwm-tui" in zsh
    assert "-a 'csv gpx geojson'" in fish_script(commands)
    subprocess.run(["bash", "-n"], input=bash_script(commands), text=True, check=True)


def test_the_shipped_man_page_is_the_one_the_parsers_make(cli: RunCli) -> None:
    shipped = (ROOT / "docs" / "mwm-tui.1").read_text(encoding="utf-8")
    made = cli("man")
    assert made.returncode == 0
    assert made.stdout == man_page()
    assert shipped == made.stdout, "regenerate it: .venv/bin/mwm-tui man > docs/mwm-tui.1"
    for command in command_options():
        for option in command.options:
            assert option.names[-1].replace("-", "\\-") in shipped
    assert "/root" not in shipped and "/tmp" not in shipped
    rendered = subprocess.run(
        ["man", "-l", "-"],
        input=shipped,
        capture_output=True,
        text=True,
        env=os.environ | {"MANWIDTH": "100"},
        check=True,
    )
    page = re.sub(".\b", "", rendered.stdout)  # bold and underline drawn by overstriking
    assert "COMMANDS" in page and "--record-max-mb" in page and "MWM-TUI HISTORY" in page


def _history_of_a_start(data_dir: Path, trucks: int) -> None:
    store = Store.open(data_dir)
    at = 1_800_000_000.0
    entries = [HistoryEntry(at, "link", "STOMP link up on broker:61613")]
    ids = [f"truck-{n:03d}" for n in range(1, trucks + 1)]
    entries += [
        HistoryEntry(at + n * 0.01, "status", "first heard: unknown (retained motion only)", i)
        for n, i in enumerate(ids)
    ]
    entries += [
        HistoryEntry(at + 2 + n * 0.01, "status", "unknown -> online (fix received)", i)
        for n, i in enumerate(ids)
    ]
    # A restart within the minute: its sightings are a start of their own.
    entries += [
        HistoryEntry(at + 30, "status", "first heard: unknown (retained motion only)", i)
        for i in ids[:2]
    ]
    entries.append(HistoryEntry(at + 300, "status", "online -> stale (silent for 15 s)", ids[0]))
    store.save(history=entries)
    store.close()


def test_history_folds_a_starts_first_sightings_into_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _history_of_a_start(tmp_path, 200)
    assert main(["history", "--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 5
    assert lines[3].endswith("first heard: 2 trucks unknown (truck-001, truck-002)")
    assert lines[1].endswith(
        "first heard: 200 trucks unknown (truck-001, truck-002, truck-003, ... truck-200)"
    )
    assert "200 trucks" in lines[1] and "unknown -> online: 200 trucks (" in lines[2]
    assert lines[4].endswith("online -> stale (silent for 15 s)")
    assert main(["history", "--data-dir", str(tmp_path), "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [len(r.get("devices", [])) for r in records] == [0, 200, 200, 2, 0]
    first = records[1]["devices"][0]
    assert first["device"] == "truck-001"
    assert first["text"] == "first heard: unknown (retained motion only)"
    assert main(["history", "--data-dir", str(tmp_path), "--device", "truck-007"]) == 0
    alone = capsys.readouterr().out.splitlines()
    assert [line.split("truck-007")[1].strip() for line in alone] == [
        "first heard: unknown (retained motion only)",
        "unknown -> online (fix received)",
    ]
    assert main(["history", "--data-dir", str(tmp_path), "--device", "truck-001"]) == 0
    restarted = capsys.readouterr().out.splitlines()
    assert [line.split("truck-001")[1].strip() for line in restarted] == [
        "first heard: unknown (retained motion only)",
        "unknown -> online (fix received)",
        "first heard: unknown (retained motion only)",
        "online -> stale (silent for 15 s)",
    ]


def test_history_into_head_ends_quietly(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    store.save(
        history=[
            HistoryEntry(1_800_000_000.0 + n, "link", f"STOMP link down: try {n}")
            for n in range(20_000)
        ]
    )
    store.close()
    piped = subprocess.run(
        [
            "bash",
            "-c",
            'set -o pipefail; "$0" -m mwm_tui.cli history --data-dir "$1" | head -2',
            sys.executable,
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert piped.stderr == ""
    assert len(piped.stdout.splitlines()) == 2
    assert piped.returncode == BROKEN_PIPE == 141

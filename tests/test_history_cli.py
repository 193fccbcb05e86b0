"""The outbox and history settings, and ``mwm-tui history`` reading a real database."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from mwm_tui.adapters.store import HistoryEntry, Store
from mwm_tui.cli import main
from mwm_tui.commands.options import parser, settings_from
from mwm_tui.commands.time_args import parse_since
from mwm_tui.config import ConfigError, Settings, data_path, load_settings


def test_outbox_settings_from_file_environment_and_flags(tmp_path: Path) -> None:
    config = tmp_path / "mwm-tui" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('order-expiry = 60\nhistory-days = 7\ndata-dir = "/srv/hq"\n')
    environ = {"XDG_CONFIG_HOME": str(tmp_path), "MWM_HISTORY_DAYS": "3"}
    settings = load_settings({"order_expiry": 30.0}, environ)
    assert (settings.order_expiry, settings.history_days, settings.data_dir) == (30, 3, "/srv/hq")
    assert data_path(settings) == Path("/srv/hq")
    assert data_path(Settings(), {"XDG_DATA_HOME": "/data"}) == Path("/data/mwm-tui")
    assert data_path(Settings(), {}) == Path.home() / ".local" / "share" / "mwm-tui"
    with pytest.raises(ConfigError, match="order-expiry"):
        load_settings({"order_expiry": 0.0}, {"XDG_CONFIG_HOME": str(tmp_path / "none")})
    with pytest.raises(ConfigError, match="history-days"):
        load_settings({"history_days": -1.0}, {"XDG_CONFIG_HOME": str(tmp_path / "none")})
    flags = settings_from(["--order-expiry", "120", "--history-days", "9", "--data-dir", "/x"])
    assert (flags.order_expiry, flags.history_days, flags.data_dir) == (120, 9, "/x")
    shown = parser().format_help()
    assert "--order-expiry SEC" in shown and "--history-days DAYS" in shown
    assert "--data-dir PATH" in shown and "mwm-tui history --help" in shown


def test_since_takes_iso_times_and_ages() -> None:
    now = 1_800_000_000.0
    assert parse_since("2h", now) == now - 7200
    assert parse_since("30m", now) == now - 1800
    assert parse_since("1.5d", now) == now - 1.5 * 86400
    assert parse_since("2026-11-30T14:05", now) == datetime(2026, 11, 30, 14, 5).timestamp()
    assert parse_since("2026-11-30", now) == datetime(2026, 11, 30).timestamp()
    with pytest.raises(ConfigError, match="not a date/time"):
        parse_since("soon", now)


def test_history_prints_a_table_or_json_lines_filtered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = datetime.now().timestamp()
    store = Store.open(tmp_path)
    store.save(
        history=[
            HistoryEntry(now - 7200, "status", "online -> stale (silent for 15 s)", "truck-1"),
            HistoryEntry(now - 60, "will", "last will: went away", "truck-2\x1b[2J"),
            HistoryEntry(now - 30, "link", "STOMP link down: connection refused"),
            HistoryEntry(
                now - 10, "order", "✔ d1: order to truck-1 (go) accepted", "truck-1", "o1", "d1"
            ),
            HistoryEntry(
                now - 5, "alert", "✔ d2: alert red to truck-1 accepted", "truck-1", "a1", "d2"
            ),
        ]
    )
    store.close()
    assert main(["history", "--data-dir", str(tmp_path), "--since", "1h"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 4
    assert "will      -             truck-2\\x1b[2J" in table[0] and "\x1b" not in "".join(table)
    assert "link      -             -" in table[1]
    assert "order     d1            truck-1" in table[2]

    assert main(["history", "--data-dir", str(tmp_path), "--device", "truck-1", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in records] == ["status", "order", "alert"]
    assert records[1]["dispatch"] == "o1" and records[1]["device"] == "truck-1"
    assert records[1]["by"] == "d1" and records[0]["by"] is None
    assert datetime.fromisoformat(records[1]["at"]).timestamp() == pytest.approx(now - 10, 1e-3)

    assert main(["history", "--data-dir", str(tmp_path), "--by", "d2", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["kind"], r["by"]) for r in records] == [("alert", "d2")]

    argv = ["history", "--data-dir", str(tmp_path), "--kind", "will", "--kind", "link", "--json"]
    assert main(argv) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in records] == ["will", "link"]

    assert main(["history", "--data-dir", str(tmp_path), "--until", "1h", "--json"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["kind"] for r in records] == ["status"]


def test_history_without_a_database_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--data-dir", str(tmp_path / "empty")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("mwm-tui history: error: no history yet:")

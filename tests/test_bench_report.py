"""The benchmark report: soak slope, terminal verdicts, and RESULTS.md updated in place."""

from __future__ import annotations

import math
from typing import Any

from benchmarks.report import Plan, Results, updated, verdicts
from benchmarks.terminal import slope_mb_per_hour

HAND_WRITTEN = "Where the rest goes: written by hand, kept by every run."
EXISTING = f"""# results

## Verdicts

| measure | value | target | verdict |
| --- | --- | --- | --- |
| MQTT pipeline / bare client | 1.00 | >= 0.95 | **met** |
| CPU of the app, 1,000 trucks at 1 Hz | 99.0 % of one core | <= 10 % | **NOT met** |

## Findings

Found by hand.

## 8. What a remote user pays

<!-- terminal: written by benchmarks/report.py from make bench -->
old terminal table
<!-- end of terminal -->

<!-- soak: written by benchmarks/report.py from make bench -->
old soak text
<!-- end of soak -->

{HAND_WRITTEN}
"""


def _screen(kind: str, bytes_per_s: int, cpu: float = 1.0) -> dict[str, Any]:
    return {
        "kind": kind,
        "run": kind,
        "seconds": 60.0,
        "bytes": bytes_per_s * 60,
        "bytes_per_s": bytes_per_s,
        "zlib_bytes_per_s": bytes_per_s // 15,
        "cpu_core_pct": cpu,
        "rss_mb": 80.0,
        "others_cores": 0.1,
        "loadavg": 0.5,
    }


def _results(demo: int, idle: int, cpu: float, slope: float) -> Results:
    results = Results(Plan(), machine={"date": "today", "commit": "abc1234"})
    results.terminal = [
        _screen("top", 4_000),
        _screen("demo", demo),
        _screen("idle", idle),
        _screen("trucks", 10_000, cpu),
    ]
    results.soak = {
        "kind": "soak",
        "run": "soak",
        "trucks": 1_000,
        "minutes": 10.0,
        "seconds": 600.0,
        "rss_mb": [[float(minute), 80.0] for minute in range(11)],
        "warm_up_minutes": 2,
        "slope_samples": 9,
        "slope_mb_per_hour": slope,
        "bytes_per_s": 10_000,
        "cpu_core_pct": cpu,
        "others_cores": 0.1,
        "loadavg": 0.5,
    }
    return results


def test_soak_slope_is_the_least_squares_line_in_mb_per_hour() -> None:
    rising = [(minute, 80.0 + 0.5 * minute + (0.2 if minute % 2 else -0.2)) for minute in range(9)]
    assert math.isclose(slope_mb_per_hour(rising), 30.0, abs_tol=1.0)
    assert slope_mb_per_hour([(2.0, 80.0), (3.0, 80.0), (4.0, 80.0)]) == 0.0
    assert math.isnan(slope_mb_per_hour([(0.0, 80.0)]))


def test_each_terminal_target_gets_a_plain_verdict() -> None:
    words = {v.what.split(",")[0]: v.word for v in verdicts(_results(8_000, 0, 5.0, 0.2))}
    assert words == {
        "demo (20 trucks)": "met",
        "bytes written by a screen where nothing changes (links up": "met",
        "bytes/s to the terminal": "met",
        "CPU of the app": "met",
        "RSS slope": "met",
    }
    missed = verdicts(_results(8_001, 1, 10.5, 1.0))
    assert [v.word for v in missed] == ["NOT met", "NOT met", "met", "NOT met", "NOT met"]


def test_a_terminal_run_alone_rewrites_its_rows_and_blocks_and_keeps_the_rest() -> None:
    once = updated(EXISTING, _results(8_800, 0, 12.0, 0.2))
    assert updated(once, _results(8_800, 0, 12.0, 0.2)) == once
    assert "| MQTT pipeline / bare client | 1.00 | >= 0.95 | **met** |" in once
    assert "99.0 %" not in once
    assert "| CPU of the app, 1,000 trucks at 1 Hz | 12.0 % of one core" in once
    assert "| demo (20 trucks), bytes/s to a 120x40 terminal / `top -d 1`'s | 2.20" in once
    assert "old terminal table" not in once
    assert "old soak text" not in once
    assert "+0.20 MB/hour" in once
    assert once.endswith(f"{HAND_WRITTEN}\n")
    assert "Found by hand." in once


def _fleet_run(
    trucks: int, cpu: float, bytes_per_s: int, worst_will: float, worst_silence: float = 2.9
) -> dict[str, Any]:
    return {
        "trucks": trucks,
        "seconds": 60.0,
        "online_s": 41.0,
        "cpu_core_pct": cpu,
        "peak_rss_mb": 150.0,
        "bytes_per_s": bytes_per_s,
        "key_ms": [40.0] * 29 + [90.0],
        "missed_keys": 0,
        "will_to_offline_s": [0.4, worst_will, 0.5],
        "missed_offline": 0,
        "silence_shown_s": [2.4, worst_silence, 2.6],
        "sim_ready_s": 40.0,
        "sim_cpu_core_pct": 80.0,
        "sim_threads": 6,
        "others_cores": 0.1,
        "loadavg": 1.5,
        "loadavg_all": ["1.50", "1.20", "1.00"],
    }


def _fleet_results(
    big_cpu: float, big_bytes: int, worst_will: float, worst_silence: float = 2.9
) -> Results:
    results = Results(Plan(), machine={"date": "today", "commit": "abc1234", "cores": "2"})
    results.fleet = [
        _fleet_run(1_000, 8.0, 3_000, 0.5),
        _fleet_run(3_000, 12.0, 3_000, 0.5),
        _fleet_run(10_000, big_cpu, big_bytes, worst_will, worst_silence),
    ]
    return results


def test_the_fleet_curve_is_judged_at_its_largest_size() -> None:
    met = verdicts(_fleet_results(29.0, 3_000, 0.9))
    assert [(v.what.split(",")[0], v.word) for v in met] == [
        ("fleet curve: HQ CPU", "met"),
        ("fleet curve: HQ peak RSS", "met"),
        ("fleet curve: key press to visible", "met"),
        ("fleet curve: HQ keeps up (a silent truck shown silent)", "met"),
        ("fleet curve: will to offline mark", "met"),
        ("fleet curve: bytes/s to the terminal", "met"),
        ("fleet curve: every truck online on screen", "met"),
    ]
    missed = verdicts(_fleet_results(31.0, 3_001, 1.2, 11.5))
    assert [v.word for v in missed] == [
        "NOT met", "met", "met", "NOT met", "NOT met", "NOT met", "met"
    ]  # fmt: skip
    assert "worst 11.5 s of 3" in next(v.value for v in missed if "keeps up" in v.what)


def test_a_fleet_run_alone_adds_its_section_then_rewrites_it() -> None:
    once = updated(EXISTING, _fleet_results(31.0, 3_000, 0.9))
    assert "| fleet curve: HQ CPU, 10,000 trucks at 1 Hz | 31.0 % of one core" in once
    assert "## 11. HQ's cost as the fleet grows" in once
    assert "| 10,000 | 41.0 s | 31.0 | 150 MB | 3,000 | 40 / 90 ms (30) | 2.4, 2.9, 2.6 s |" in once
    assert "Run on a loaded machine" not in once
    again = updated(once, _fleet_results(25.0, 3_000, 0.9))
    assert again.count("## 11. HQ's cost as the fleet grows") == 1
    assert "31.0 % of one core" not in again
    assert "old terminal table" in again
    assert f"{HAND_WRITTEN}\n" in again

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

"""What a remote user pays: bytes the app writes to a real pseudo-terminal, and its CPU and RSS.

Part of ``make bench`` (``benchmarks/run.py``, sections ``terminal`` and ``soak``); alone,
``python -m benchmarks.terminal`` runs, in one go and at 120x40, each for ``--seconds``:

- ``top -d 1``, the baseline: a whole screen redrawn every second;
- ``mwm-tui --demo`` (20 trucks);
- ``mwm-tui`` on real Mosquitto and ActiveMQ with no truck at all (a screen where nothing moves);
- ``mwm-tui`` on real Mosquitto and ActiveMQ fed by ``mwm-sim`` with ``--trucks`` trucks at 1 Hz.

Each reports bytes/s written to the terminal (raw, and through zlib as ``ssh -C`` sends it),
CPU of the app process in % of one core, and RSS. ``--soak MINUTES`` keeps the broker run going
and samples RSS each minute, reporting the slope. One JSON line per run on stdout.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.load import OtherCpu, loadavg  # noqa: E402
from tests.support.brokers import ActiveMQ, Mosquitto  # noqa: E402

COLUMNS, ROWS = 120, 40
WARM_UP = 5.0
# Soak: RSS sampled this often; the slope leaves out the samples of the first minutes.
SOAK_SAMPLE_SECONDS = 60.0
SOAK_WARM_UP_MINUTES = 2
# A soak shorter than this keeps every sample: too few would be left after a warm-up.
SOAK_MIN_FOR_WARM_UP = 5
BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system time of one process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Terminal:
    """A program on a pseudo-terminal of COLUMNS x ROWS; everything it writes is counted."""

    def __init__(self, argv: Sequence[str], env: dict[str, str]) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes the program
            os.execve(argv[0], list(argv), env)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        self.written = bytearray()
        self.count = 0

    def read_for(self, seconds: float, keep: bool) -> None:
        """Drain what the program writes for ``seconds``; keep it only when ``keep``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.1))
            if ready:
                try:
                    chunk = os.read(self.fd, 65536)
                except OSError:
                    return
                self.count += len(chunk)
                if keep:
                    self.written += chunk

    def stop(self, quit_key: bytes) -> None:
        os.write(self.fd, quit_key)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if os.waitpid(self.pid, os.WNOHANG) != (0, 0):
                break
            self.read_for(0.1, keep=False)
        else:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


def measure(
    kind: str,
    label: str,
    argv: Sequence[str],
    env: dict[str, str],
    seconds: float,
) -> dict[str, Any]:
    terminal = Terminal(argv, env)
    try:
        terminal.read_for(WARM_UP, keep=False)
        others = OtherCpu()
        cpu_before, began = cpu_seconds(terminal.pid), time.monotonic()
        terminal.read_for(seconds, keep=True)
        elapsed = time.monotonic() - began
        cpu = (cpu_seconds(terminal.pid) - cpu_before) / elapsed
        rss = rss_mb(terminal.pid)
    finally:
        terminal.stop(b"q")
    raw = bytes(terminal.written)
    return {
        "kind": kind,
        "run": label,
        "seconds": round(elapsed, 1),
        "bytes": len(raw),
        "bytes_per_s": round(len(raw) / elapsed),
        "zlib_bytes_per_s": round(len(zlib.compress(raw, 6)) / elapsed) if raw else 0,
        "cpu_core_pct": round(cpu * 100, 1),
        "rss_mb": round(rss, 1),
        "others_cores": round(others.cores(), 2),
        "loadavg": loadavg(),
    }


def base_env(config: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("TMUX", "COLORTERM")}
    env |= {"TERM": "xterm-256color", "LANG": "C.UTF-8", "MWM_CONFIG": str(config)}
    return env


def soak(terminal: Terminal, minutes: float, trucks: int) -> dict[str, Any]:
    """RSS once the app is up, then once a minute; bytes and CPU over the whole soak."""
    terminal.read_for(WARM_UP, keep=False)
    others = OtherCpu()
    count_before, cpu_before = terminal.count, cpu_seconds(terminal.pid)
    began = time.monotonic()
    samples = [(0.0, rss_mb(terminal.pid))]
    for number in range(1, max(round(minutes), 1) + 1):
        terminal.read_for(began + number * SOAK_SAMPLE_SECONDS - time.monotonic(), keep=False)
        samples.append(((time.monotonic() - began) / 60, rss_mb(terminal.pid)))
    elapsed = time.monotonic() - began
    warm_up = SOAK_WARM_UP_MINUTES if minutes >= SOAK_MIN_FOR_WARM_UP else 0
    kept = [(minute, rss) for minute, rss in samples if minute >= warm_up - 0.01]
    return {
        "kind": "soak",
        "run": f"soak, {trucks:,} trucks, {minutes:g} min",
        "trucks": trucks,
        "minutes": minutes,
        "seconds": round(elapsed, 1),
        "rss_mb": [[round(minute, 2), round(rss, 1)] for minute, rss in samples],
        "warm_up_minutes": warm_up,
        "slope_samples": len(kept),
        "slope_mb_per_hour": round(slope_mb_per_hour(kept), 3),
        "bytes_per_s": round((terminal.count - count_before) / elapsed),
        "cpu_core_pct": round((cpu_seconds(terminal.pid) - cpu_before) / elapsed * 100, 1),
        "others_cores": round(others.cores(), 2),
        "loadavg": loadavg(),
    }


def slope_mb_per_hour(samples: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (minute, MB) samples, in MB per hour; NaN with fewer than two."""
    n = len(samples)
    if n < 2:
        return float("nan")
    mean_x = sum(minute for minute, _ in samples) / n
    mean_y = sum(rss for _, rss in samples) / n
    cov = sum((x - mean_x) * (y - mean_y) for x, y in samples)
    var = sum((x - mean_x) ** 2 for x, _ in samples)
    return cov / var * 60 if var else float("nan")


Say = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def _said(run: dict[str, Any], say: Say) -> dict[str, Any]:
    if run["kind"] == "soak":
        say(
            f"  {run['run']}: RSS slope {run['slope_mb_per_hour']:+.2f} MB/hour over "
            f"{run['slope_samples']} samples, {run['bytes_per_s']:,} B/s, "
            f"CPU {run['cpu_core_pct']:.1f} %; load average {run['loadavg']:.2f}"
        )
    else:
        say(
            f"  {run['run']}: {run['bytes_per_s']:,} B/s (zlib {run['zlib_bytes_per_s']:,}), "
            f"CPU {run['cpu_core_pct']:.1f} %, RSS {run['rss_mb']:.1f} MB; "
            f"other processes {run['others_cores']:.2f} cores, load average {run['loadavg']:.2f}"
        )
    return run


def brokers_run(
    workdir: Path,
    env: dict[str, str],
    trucks: int,
    seconds: float,
    soak_minutes: float,
    *,
    screens: bool = True,
    say: Say = _quiet,
) -> list[dict[str, Any]]:
    """With ``screens``, the idle and the ``trucks`` screens; with ``soak_minutes``, the soak."""
    with (
        Mosquitto(workdir=workdir / "mosquitto") as mosquitto,
        ActiveMQ(workdir=workdir / "activemq") as activemq,
    ):
        argv = [str(BIN / "mwm-tui"), "--stomp", activemq.url, "--mqtt", mosquitto.url]
        env = env | {"XDG_DATA_HOME": str(workdir / "data")}
        results = []
        if screens:
            # A screen where nothing changes: ideally nothing is written.
            results.append(_said(measure("idle", "links up, no trucks", argv, env, seconds), say))
        if not screens and not soak_minutes:
            return results
        sim = subprocess.Popen(
            [
                str(BIN / "mwm-sim"),
                *("--stomp", activemq.url, "--mqtt", mosquitto.url),
                *("--devices", str(trucks), "--prefix", "bench-"),
                *("--location-interval", "1", "--motion-interval", "1"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert sim.stdout is not None
            if not any(line.startswith("READY") for line in sim.stdout):
                raise RuntimeError(f"mwm-sim ended before READY (exit status {sim.wait()})")
            if screens:
                label = f"{trucks:,} trucks, 1 Hz"
                results.append(_said(measure("trucks", label, argv, env, seconds), say))
            if soak_minutes:
                say(f"  soak: {trucks:,} trucks for {soak_minutes:g} min, RSS each minute")
                terminal = Terminal(argv, env)
                try:
                    results.append(_said(soak(terminal, soak_minutes, trucks), say))
                finally:
                    terminal.stop(b"q")
            return results
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.wait(30)


def measure_all(
    seconds: float,
    trucks: int,
    soak_minutes: float,
    *,
    screens: bool = True,
    say: Say = _quiet,
) -> list[dict[str, Any]]:
    """Top, the demo and the broker runs (``screens``), then the soak (``soak_minutes``)."""
    with tempfile.TemporaryDirectory(prefix="mwm-terminal-") as tmp:
        workdir = Path(tmp)
        config = workdir / "config.toml"
        config.write_text("")
        env = base_env(config)
        runs = []
        if screens:
            top = ["/usr/bin/top", "-d", "1"]
            demo = [str(BIN / "mwm-tui"), "--demo"]
            runs.append(_said(measure("top", "top -d 1", top, env, seconds), say))
            runs.append(_said(measure("demo", "demo, 20 trucks", demo, env, seconds), say))
        runs += brokers_run(workdir, env, trucks, seconds, soak_minutes, screens=screens, say=say)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.terminal", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60, help="each run [default: 60]")
    parser.add_argument("--trucks", type=int, default=1000, help="broker run [default: 1000]")
    parser.add_argument("--soak", type=float, default=0, metavar="MINUTES", help="RSS soak")
    args = parser.parse_args(argv)
    for run in measure_all(args.seconds, args.trucks, args.soak):
        print(json.dumps(run), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What a remote user pays: bytes the app writes to a real pseudo-terminal, and its CPU and RSS.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.brokers import ActiveMQ, Mosquitto  # noqa: E402

COLUMNS, ROWS = 120, 40
WARM_UP = 5.0
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
    label: str, argv: Sequence[str], env: dict[str, str], seconds: float, quit_key: bytes
) -> dict[str, Any]:
    terminal = Terminal(argv, env)
    try:
        terminal.read_for(WARM_UP, keep=False)
        cpu_before, began = cpu_seconds(terminal.pid), time.monotonic()
        terminal.read_for(seconds, keep=True)
        elapsed = time.monotonic() - began
        cpu = (cpu_seconds(terminal.pid) - cpu_before) / elapsed
        rss = rss_mb(terminal.pid)
    finally:
        terminal.stop(quit_key)
    raw = bytes(terminal.written)
    return {
        "run": label,
        "seconds": round(elapsed, 1),
        "bytes_per_s": round(len(raw) / elapsed),
        "zlib_bytes_per_s": round(len(zlib.compress(raw, 6)) / elapsed),
        "cpu_core_pct": round(cpu * 100, 1),
        "rss_mb": round(rss, 1),
    }


def base_env(config: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("TMUX", "COLORTERM")}
    env |= {"TERM": "xterm-256color", "LANG": "C.UTF-8", "MWM_CONFIG": str(config)}
    return env


def soak(terminal: Terminal, minutes: float) -> list[float]:
    """RSS once the app is up, then once a minute."""
    terminal.read_for(WARM_UP, keep=False)
    samples = [rss_mb(terminal.pid)]
    for _ in range(int(minutes)):
        terminal.read_for(60, keep=False)
        samples.append(rss_mb(terminal.pid))
    return samples


def slope_mb_per_hour(samples: Sequence[float]) -> float:
    """Least-squares slope of samples taken a minute apart, in MB per hour."""
    n = len(samples)
    if n < 2:
        return 0.0
    mean_x, mean_y = (n - 1) / 2, sum(samples) / n
    cov = sum((x - mean_x) * (y - mean_y) for x, y in enumerate(samples))
    var = sum((x - mean_x) ** 2 for x in range(n))
    return cov / var * 60


def brokers_run(
    workdir: Path, env: dict[str, str], trucks: int, seconds: float, soak_minutes: float
) -> list[dict[str, Any]]:
    with (
        Mosquitto(workdir=workdir / "mosquitto") as mosquitto,
        ActiveMQ(workdir=workdir / "activemq") as activemq,
    ):
        argv = [str(BIN / "mwm-tui"), "--stomp", activemq.url, "--mqtt", mosquitto.url]
        env = env | {"XDG_DATA_HOME": str(workdir / "data")}
        # A screen where nothing changes: ideally nothing is written.
        results = [measure("links up, no trucks", argv, env, seconds, b"q")]
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
            results.append(measure(f"{trucks} trucks, 1 Hz", argv, env, seconds, b"q"))
            if soak_minutes:
                terminal = Terminal(argv, env)
                try:
                    samples = soak(terminal, soak_minutes)
                finally:
                    terminal.stop(b"q")
                results.append(
                    {
                        "run": f"soak, {trucks} trucks, {soak_minutes:g} min",
                        "rss_mb": [round(sample, 1) for sample in samples],
                        "slope_mb_per_hour": round(slope_mb_per_hour(samples), 2),
                    }
                )
            return results
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.wait(30)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.terminal", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60, help="each run [default: 60]")
    parser.add_argument("--trucks", type=int, default=1000, help="broker run [default: 1000]")
    parser.add_argument("--soak", type=float, default=0, metavar="MINUTES", help="RSS soak")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mwm-terminal-") as tmp:
        workdir = Path(tmp)
        config = workdir / "config.toml"
        config.write_text("")
        env = base_env(config)
        runs = [
            measure("top -d 1", ["/usr/bin/top", "-d", "1"], env, args.seconds, b"q"),
            measure("demo, 20 trucks", [str(BIN / "mwm-tui"), "--demo"], env, args.seconds, b"q"),
            *brokers_run(workdir, env, args.trucks, args.seconds, args.soak),
        ]
    for run in runs:
        print(json.dumps(run), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

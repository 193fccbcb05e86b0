"""HQ's cost as the fleet grows: the dashboard on a real 120x40 pseudo-terminal, fed by
``mwm-sim`` trucks at 1 Hz on real brokers, at each fleet size in turn.

Part of ``make bench`` (section ``fleet``); alone, ``python -m benchmarks.fleet_curve`` prints
one JSON line per size. Per size: fresh Mosquitto and ActiveMQ; ``mwm-sim`` (one process per
5,000 trucks) until READY; then HQ, read through a small screen model of what it wrote:

- *online*: seconds from HQ's start until its status bar counts every truck online;
- *CPU* (% of one core), *bytes/s* to the terminal and *peak RSS* (VmHWM) over the window;
- *key p99*: ``j`` pressed every 2 s, each timed until the motion pane's title names the newly
  selected truck;
- *silence shown*: trucks on screen fall silent at random moments of the window (``quiet ID``
  to mwm-sim, connections kept); seconds until their row shows ``SILENT_SHOWN`` s of age on
  both the fix and the motion column. On time, that is 2-3 s (the last message was up to a
  second old); more is what HQ's intake lags behind the brokers;
- *will to offline*: each silent truck then dies (``kill ID``), and HQ, having seen it silent
  past ``SPOKE_BEFORE``, believes its will at once (``domain/wills.py``); from the will
  reaching a watching MQTT client until HQ shows it offline: its row says so, or the status
  bar counts one more offline, whichever comes first.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import random
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import paho.mqtt.client as mqtt
import stomp
import stomp.utils
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.load import OtherCpu, loadavg  # noqa: E402
from benchmarks.terminal import BIN, COLUMNS, ROWS, Terminal, base_env, cpu_seconds  # noqa: E402
from mwm_tui.domain import codecs, ids  # noqa: E402
from mwm_tui.domain.wills import SPOKE_BEFORE  # noqa: E402
from tests.support.brokers import ActiveMQ, Mosquitto  # noqa: E402

SIZES = (1_000, 3_000, 10_000)
TRUCKS_PER_SIM_PROCESS = 5_000
WARM_UP = 5.0
KEY_EVERY = 2.0
KILLS = 3
# The age a silent truck's row must show before it is killed: past SPOKE_BEFORE, so its will
# is believed at once.
SILENT_SHOWN = math.ceil(SPOKE_BEFORE) + 1
SILENT_TIMEOUT = 30.0
ONLINE_LIMIT = 60.0
# The heap ActiveMQ needs for 10,000 STOMP clients each on its own queue (about 60 kB each).
ACTIVEMQ_HEAP = "2G"

_ONLINE = re.compile(r"(\d+) online")
_OFFLINE = re.compile(r"(\d+) offline")
_MOTION_TITLE = re.compile(r"motion · (\S+)")
_TRUCK = re.compile(r"bench-\d+")
_CSI = re.compile(rb"\x1b\[([0-9;?]*)([@-~])")

Say = Callable[[str], None]


class BigActiveMQ(ActiveMQ):
    heap = ACTIVEMQ_HEAP


class ScreenModel:
    """The text on a ROWS x COLUMNS terminal, from what a Textual app writes: cursor moves
    (CUP, CUF, CR, LF) and printed text; colours and other sequences are skipped."""

    def __init__(self) -> None:
        self.rows = [[" "] * COLUMNS for _ in range(ROWS)]
        self._y = self._x = 0
        self._pending = b""

    def feed(self, data: bytes) -> None:
        data = self._pending + data
        self._pending = b""
        pos, end = 0, len(data)
        text = bytearray()
        while pos < end:
            byte = data[pos]
            if byte == 0x1B:
                self._put(text)
                text.clear()
                consumed = self._escape(data, pos)
                if consumed < 0:
                    self._pending = data[pos:]
                    return
                pos = consumed
            elif byte == 0x0D:
                self._put(text)
                text.clear()
                self._x = 0
                pos += 1
            elif byte == 0x0A:
                self._put(text)
                text.clear()
                self._y = min(self._y + 1, ROWS - 1)
                pos += 1
            else:
                text.append(byte)
                pos += 1
        # A UTF-8 character cut at the end waits for the next read.
        cut = 0
        while cut < min(len(text), 3) and text[len(text) - 1 - cut] & 0xC0 == 0x80:
            cut += 1
        if cut < len(text) and text[len(text) - 1 - cut] >= 0xC0:
            self._pending = bytes(text[len(text) - 1 - cut :])
            del text[len(text) - 1 - cut :]
        self._put(text)

    def _escape(self, data: bytes, pos: int) -> int:
        if pos + 1 >= len(data):
            return -1
        kind = data[pos + 1]
        if kind == ord("["):
            match = _CSI.match(data, pos)
            if match is None:
                return -1 if len(data) - pos < 64 else pos + 2
            params, final = match.group(1).decode(), match.group(2)
            numbers = [int(p) if p.isdigit() else 0 for p in params.split(";")] if params else []
            if final in (b"H", b"f"):
                row = numbers[0] if numbers else 1
                column = numbers[1] if len(numbers) > 1 else 1
                self._y = min(max(row, 1), ROWS) - 1
                self._x = min(max(column, 1), COLUMNS) - 1
            elif final == b"C":
                self._x = min(self._x + max(numbers[0] if numbers else 1, 1), COLUMNS - 1)
            elif final == b"G":
                self._x = min(max(numbers[0] if numbers else 1, 1), COLUMNS) - 1
            return match.end()
        if kind == ord("]"):  # OSC, up to BEL or ST
            for terminator in (b"\x07", b"\x1b\\"):
                found = data.find(terminator, pos)
                if found >= 0:
                    return found + len(terminator)
            return -1
        return pos + 2

    def _put(self, text: bytearray) -> None:
        if not text:
            return
        row = self.rows[self._y]
        for char in text.decode("utf-8", "replace"):
            if self._x < COLUMNS:
                row[self._x] = char
            self._x += 1

    def text(self) -> str:
        return "\n".join("".join(row) for row in self.rows)


class WillWatcher:
    """When each truck's will reached an MQTT client of our own."""

    def __init__(self, port: int) -> None:
        self.heard: dict[str, float] = {}
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port)
        self._client.subscribe(ids.WILL_TOPIC, qos=1)
        self._client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        self.heard.setdefault(codecs.decode_will(bytes(message.payload)), time.monotonic())

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


class FixProbe(stomp.ConnectionListener):  # type: ignore[misc]
    """When one truck's fixes reach a STOMP client of our own: how late the brokers' side
    still delivers them after the truck fell silent."""

    def __init__(self, port: int) -> None:
        self.arrivals: list[float] = []
        self._subscription = 0
        self._connection = stomp.Connection([("127.0.0.1", port)], heartbeats=(0, 0))
        self._connection.set_listener("probe", self)
        self._connection.connect(wait=True)

    def watch(self, device_id: str) -> None:
        if self._subscription:
            self._connection.unsubscribe(str(self._subscription))
        self._subscription += 1
        self.arrivals = []
        destination = ids.location_destination(device_id)
        self._connection.subscribe(destination, id=str(self._subscription), ack="auto")

    def on_message(self, frame: stomp.utils.Frame) -> None:
        self.arrivals.append(time.monotonic())

    def close(self) -> None:
        self._connection.disconnect()


class SimProcess:
    """mwm-sim with its stdout read on a thread and its stdin kept for ``kill`` commands."""

    def __init__(self, stomp_url: str, mqtt_url: str, trucks: int) -> None:
        processes = max(1, math.ceil(trucks / TRUCKS_PER_SIM_PROCESS))
        self.proc = subprocess.Popen(
            [
                str(BIN / "mwm-sim"),
                *("--stomp", stomp_url, "--mqtt", mqtt_url),
                *("--devices", str(trucks), "--prefix", "bench-", "--processes", str(processes)),
                *("--location-interval", "1", "--motion-interval", "1"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.printed: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream: IO[str] | None = self.proc.stdout
        assert stream is not None
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise RuntimeError(f"mwm-sim not READY in {timeout:g} s") from None
            if line.startswith("READY"):
                return

    def command(self, command: str, device_id: str) -> None:
        """``kill`` or ``quiet`` a device."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{command} {device_id}\n")
        self.proc.stdin.flush()

    def said(self, line: str) -> bool:
        """Whether mwm-sim printed ``line`` since it was last asked (lines read are kept)."""
        while True:
            try:
                self.printed.append(self.lines.get_nowait())
            except queue.Empty:
                return line in self.printed

    def threads(self) -> int:
        """Threads of mwm-sim and its workers."""
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        return sum(_status_field(pid, "Threads") for pid in pids)

    def cpu(self) -> float:
        """CPU seconds of mwm-sim and its live workers."""
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(pid) for pid in children.read_text().split()]
        return sum(cpu_seconds(pid) for pid in pids)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return int(line.split()[1])
    return 0


class Watch:
    """HQ on a pseudo-terminal, its output read into a ScreenModel as it comes."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self.screen = ScreenModel()
        self.bytes = 0

    def read_until(self, done: Callable[[str], bool], timeout: float) -> float | None:
        """Read until ``done(screen text)``; when it was, or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            if done(self.screen.text()):
                return time.monotonic()
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.read(min(left, 0.05))

    def read_for(self, seconds: float) -> None:
        """Keep the screen up to date for ``seconds``."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.read(min(left, 0.05))

    def read(self, seconds: float) -> None:
        ready, _, _ = select.select([self.terminal.fd], [], [], seconds)
        if ready:
            try:
                chunk = os.read(self.terminal.fd, 65536)
            except OSError:
                return
            self.bytes += len(chunk)
            self.screen.feed(chunk)


def _count(pattern: re.Pattern[str], text: str) -> int:
    found = pattern.findall(text)
    return int(found[-1]) if found else 0


def _title(text: str) -> str:
    found = _MOTION_TITLE.search(text)
    return found.group(1) if found else ""


def _offline_mark(victim: str, before: int) -> Callable[[str], bool]:
    """The victim's row says offline, or the status bar counts more than ``before``."""

    def shown(text: str) -> bool:
        row = next((line for line in text.splitlines() if victim in line), "")
        return "offline" in row or _count(_OFFLINE, text) > before

    return shown


_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _ages(victim: str, text: str) -> tuple[int, int] | None:
    """The fix and motion ages the victim's row shows, in seconds; None when not listed."""
    found = re.search(rf"{re.escape(victim)}\s+(\d+)([smhd])\s+(\d+)([smhd])", text)
    if found is None:
        return None
    fix, fix_unit, motion, motion_unit = found.groups()
    return int(fix) * _UNIT_SECONDS[fix_unit], int(motion) * _UNIT_SECONDS[motion_unit]


def _silent_for(victim: str, seconds: int) -> Callable[[str], bool]:
    """The victim's row shows neither a fix nor a motion newer than ``seconds``."""

    def shown(text: str) -> bool:
        ages = _ages(victim, text)
        return ages is not None and min(ages) >= seconds

    return shown


def _victim(text: str, taken: set[str]) -> str | None:
    """A truck listed on screen and online, not the selected one, not killed before."""
    selected = _title(text)
    for line in text.splitlines():
        for device_id in _TRUCK.findall(line):
            if device_id not in taken and device_id != selected and "online" in line:
                return str(device_id)
    return None


def _title_other_than(before: str) -> Callable[[str], bool]:
    return lambda text: _title(text) not in ("", before)


def measure_size(trucks: int, seconds: float, workdir: Path, say: Say) -> dict[str, Any]:
    config = workdir / "config.toml"
    config.write_text("")
    env = base_env(config) | {"XDG_DATA_HOME": str(workdir / f"data-{trucks}")}
    with (
        Mosquitto(workdir=workdir / f"mosquitto-{trucks}") as mosquitto,
        BigActiveMQ(workdir=workdir / f"activemq-{trucks}") as activemq,
    ):
        sim_began = time.monotonic()
        sim = SimProcess(activemq.url, mosquitto.url, trucks)
        watcher = WillWatcher(mosquitto.port)
        probe = FixProbe(activemq.port)
        try:
            sim.wait_ready(600)
            sim_ready_s = time.monotonic() - sim_began
            say(f"  {trucks:,} trucks: mwm-sim READY after {sim_ready_s:.0f} s")
            argv = [str(BIN / "mwm-tui"), "--stomp", activemq.url, "--mqtt", mosquitto.url]
            started = time.monotonic()
            watch = Watch(Terminal(argv, env))
            try:
                return _measure_hq(
                    watch,
                    sim=sim,
                    watcher=watcher,
                    probe=probe,
                    trucks=trucks,
                    seconds=seconds,
                    started=started,
                    sim_ready_s=sim_ready_s,
                )
            finally:
                watch.terminal.stop(b"q")
        finally:
            probe.close()
            watcher.close()
            sim.stop()


def _measure_hq(
    watch: Watch,
    *,
    sim: SimProcess,
    watcher: WillWatcher,
    probe: FixProbe,
    trucks: int,
    seconds: float,
    started: float,
    sim_ready_s: float,
) -> dict[str, Any]:
    pid = watch.terminal.pid
    online_at = watch.read_until(lambda text: _count(_ONLINE, text) >= trucks, ONLINE_LIMIT + 30)
    online_s = None if online_at is None else online_at - started
    watch.read_for(WARM_UP)
    others = OtherCpu()
    cpu_before, sim_cpu_before = cpu_seconds(pid), sim.cpu()
    bytes_before, began = watch.bytes, time.monotonic()
    end = began + seconds
    # At random moments: HQ's once-a-second work must not be met always at the same phase.
    moments = random.Random(trucks)
    kill_times = sorted(began + moments.uniform(5, seconds - 10) for _ in range(KILLS))
    killed: set[str] = set()
    keys: list[float] = []
    missed_keys = 0
    offline: list[float] = []
    missed_offline = 0
    misses: list[str] = []
    silences: list[float | None] = []
    upstream: list[float] = []
    next_key = began + 1.0
    while time.monotonic() < end:
        now = time.monotonic()
        if kill_times and now >= kill_times[0]:
            kill_times.pop(0)
            text = watch.screen.text()
            victim = _victim(text, killed) or f"bench-{2 + len(killed):0{len(str(trucks))}d}"
            killed.add(victim)
            probe.watch(victim)
            watch.read_for(0.5)
            quiet_at = time.monotonic()
            sim.command("quiet", victim)
            silent = watch.read_until(_silent_for(victim, SILENT_SHOWN), SILENT_TIMEOUT)
            silences.append(None if silent is None else round(silent - quiet_at, 2))
            upstream.append(round(max(probe.arrivals, default=quiet_at) - quiet_at, 2))
            text = watch.screen.text()
            sim.command("kill", victim)
            shown = watch.read_until(_offline_mark(victim, _count(_OFFLINE, text)), 10)
            will = watcher.heard.get(victim)
            if shown is None or will is None:
                missed_offline += 1
                text = watch.screen.text()
                row = next((line for line in text.splitlines() if victim in line), "(not listed)")
                why = "no will heard" if will is None else "will heard, no mark"
                why += f" ({'KILLED' if sim.said(f'KILLED {victim}') else 'no KILLED'} line)"
                misses.append(f"{victim}: {why}; row {row.strip()!r}; {_count(_OFFLINE, text)} off")
            else:
                offline.append(shown - will)
        elif now >= next_key:
            next_key = now + KEY_EVERY
            before_title = _title(watch.screen.text())
            pressed = time.monotonic()
            os.write(watch.terminal.fd, b"j")
            shown = watch.read_until(_title_other_than(before_title), 2)
            if shown is None:
                missed_keys += 1
            else:
                keys.append(shown - pressed)
        else:
            watch.read(min(0.05, max(end - now, 0)))
    elapsed = time.monotonic() - began
    return {
        "trucks": trucks,
        "seconds": round(elapsed, 1),
        "online_s": None if online_s is None else round(online_s, 1),
        "cpu_core_pct": round((cpu_seconds(pid) - cpu_before) / elapsed * 100, 1),
        "peak_rss_mb": round(_status_field(pid, "VmHWM") / 1024, 1),
        "bytes_per_s": round((watch.bytes - bytes_before) / elapsed),
        "key_ms": [round(k * 1000, 1) for k in keys],
        "missed_keys": missed_keys,
        "will_to_offline_s": [round(o, 3) for o in offline],
        "missed_offline": missed_offline,
        "offline_misses": misses,
        "silence_shown_s": silences,
        "brokers_last_fix_after_quiet_s": upstream,
        "sim_ready_s": round(sim_ready_s, 1),
        "sim_cpu_core_pct": round((sim.cpu() - sim_cpu_before) / elapsed * 100, 1),
        "sim_threads": sim.threads(),
        "others_cores": round(others.cores(), 2),
        "loadavg": loadavg(),
        "loadavg_all": Path("/proc/loadavg").read_text().split()[:3],
    }


def measure_curve(
    seconds: float, sizes: Sequence[int] = SIZES, say: Say = lambda _: None
) -> list[dict[str, Any]]:
    runs = []
    with tempfile.TemporaryDirectory(prefix="mwm-fleet-curve-") as tmp:
        for trucks in sizes:
            run = measure_size(trucks, seconds, Path(tmp), say)
            keys = sorted(run["key_ms"])
            p99 = keys[min(len(keys) - 1, max(math.ceil(0.99 * len(keys)) - 1, 0))] if keys else 0
            say(
                f"  {trucks:,} trucks: online after {run['online_s']} s; CPU "
                f"{run['cpu_core_pct']:.1f} %, peak RSS {run['peak_rss_mb']:.0f} MB, "
                f"{run['bytes_per_s']:,} B/s, key p99 {p99:.0f} ms ({run['missed_keys']} missed), "
                f"will to offline {run['will_to_offline_s']} s; mwm-sim "
                f"{run['sim_cpu_core_pct']:.0f} % CPU, {run['sim_threads']} threads; "
                f"load average {' '.join(run['loadavg_all'])}"
            )
            runs.append(run)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet_curve", description=__doc__)
    parser.add_argument("--seconds", type=float, default=60, help="each size [default: 60]")
    parser.add_argument(
        "--sizes", default=",".join(str(s) for s in SIZES), help="trucks, comma-separated"
    )
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    for run in measure_curve(args.seconds, sizes, say=lambda text: print(text, file=sys.stderr)):
        print(json.dumps(run), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""mwm-sim, the fleet simulator, as a subprocess for tests: stdout to a file, stdin for commands.

Its stdout goes to a file rather than a pipe so that a test can read it at any time from any
thread or process (a tmux test reads it while a person would be typing).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import stomp

from mwm_tui.domain import ids
from mwm_tui.domain.targets import Protocol, parse_target

ROOT = Path(__file__).resolve().parents[2]


def unique_prefix(hint: str = "t") -> str:
    """Device id prefix of one test: the session brokers keep queues and retained motion.

    Short (9 characters), so that ``<prefix>01`` fits the device list's id column whole.
    """
    cleaned = "".join(char for char in hint if char.isalnum())[:4] or "t"
    return f"{cleaned}{uuid.uuid4().hex[: 8 - len(cleaned)]}-"


def fleet_ids(prefix: str, count: int) -> list[str]:
    """The ids mwm-sim gives ``--devices count --prefix prefix``."""
    return [f"{prefix}{number:02d}" for number in range(1, count + 1)]


def send_marker_orders(stomp_url: str, device_ids: list[str], text: str = "marker") -> None:
    """Queue an order ``text`` for each device, behind whatever its queue already holds.

    Queues are FIFO: once a device has printed its marker, any earlier order in its queue
    has been printed too. That is how a test proves an order reached no other device.
    """
    target = parse_target(stomp_url, Protocol.STOMP)
    # RabbitMQ reads the host header as its vhost; ActiveMQ ignores it.
    connection = stomp.Connection12([(target.host, target.port)], vhost=target.vhost)
    connection.connect(wait=True)
    try:
        for device_id in device_ids:
            connection.send(ids.order_destination(device_id), text)
    finally:
        connection.disconnect()


def sim_command() -> list[str]:
    """The ``mwm-sim`` console script next to this interpreter, else ``python -m``."""
    script = Path(sys.executable).with_name("mwm-sim")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "mwm_tui.sim.cli"]


class Sim:
    """One mwm-sim process; use as a context manager so it is always stopped."""

    def __init__(self, stomp_url: str, mqtt_url: str, workdir: Path, *arguments: str) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        name = f"sim-{uuid.uuid4().hex[:6]}"
        self.stdout_path = workdir / f"{name}.out"
        self.stderr_path = workdir / f"{name}.err"
        self._stdout: IO[bytes] = self.stdout_path.open("wb")
        self._stderr: IO[bytes] = self.stderr_path.open("wb")
        command = [*sim_command(), "--stomp", stomp_url, "--mqtt", mqtt_url, *arguments]
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=self._stdout,
            stderr=self._stderr,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def out(self) -> list[str]:
        """Every complete line the simulator has printed so far."""
        text = self.stdout_path.read_bytes().decode("utf-8", "replace")
        return text.splitlines() if text.endswith("\n") else text.splitlines()[:-1]

    @property
    def err(self) -> str:
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def lines(self, prefix: str) -> list[str]:
        return [line for line in self.out if line.startswith(prefix)]

    def wait_line(self, prefix: str, timeout: float) -> str:
        """The first line starting with ``prefix``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not (found := self.lines(prefix)):
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"mwm-sim exited ({self.proc.returncode}) before printing {prefix!r}\n"
                    f"stdout: {self.out}\nstderr: {self.err}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"no {prefix!r} line from mwm-sim in {timeout:g} s\n"
                    f"stdout: {self.out}\nstderr: {self.err[-2000:]}"
                )
            time.sleep(0.02)
        return found[0]

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait for ``READY <n> devices``: every device subscribed on both brokers."""
        self.wait_line("READY ", timeout)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the simulator has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def command(self, line: str) -> None:
        """Write one command (``kill <ID>``, ``quiet <ID>``) to the simulator's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def stop(self) -> int:
        """Ctrl-C (clean DISCONNECTs, no wills), SIGKILL if it hangs; return the exit status."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait()
        finally:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self._stdout.close()
            self._stderr.close()

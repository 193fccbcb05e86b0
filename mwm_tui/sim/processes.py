"""mwm-sim over several processes: the devices split among forked workers, each serving its
share on one event loop of its own; this process hands each ``kill`` and ``quiet`` to the worker
that owns the device and merges what the workers print into one stdout and one status line."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import BinaryIO, TextIO

from mwm_tui.domain.simulation import SimulatedTruck
from mwm_tui.domain.text import literal

from .fleet import FleetSimulator, LineWriter

# How a worker tells this process how far it is: ``STATUS <stomp> <mqtt> <living>``.
_STATUS = "STATUS "
_READY = "READY "

FleetMaker = Callable[[list[SimulatedTruck], "WorkerOutput"], FleetSimulator]


@dataclass(slots=True)
class WorkerOutput:
    """What a worker's fleet writes to: lines for this process, diagnostics to stderr."""

    say: LineWriter
    complain: LineWriter

    def status(self, stomp: int, mqtt: int, living: int) -> None:
        self.say(f"{_STATUS}{stomp} {mqtt} {living}")


@dataclass(slots=True)
class _Worker:
    pid: int
    commands: BinaryIO
    lines: BinaryIO
    ids: frozenset[str]
    pending: bytes = b""
    ready: int | None = None
    status: tuple[int, int, int] = (0, 0, 0)
    open: bool = True


def split(trucks: list[SimulatedTruck], count: int) -> list[list[SimulatedTruck]]:
    """``trucks`` in ``count`` runs of nearly equal length, in order; none empty."""
    count = max(1, min(count, len(trucks)))
    return [trucks[len(trucks) * n // count : len(trucks) * (n + 1) // count] for n in range(count)]


# The commands of stdin: each takes a device id and says whether the fleet has that device.
COMMANDS = ("kill", "quiet")
DeviceCommand = Callable[[str], bool]


def serve_commands(
    stream: TextIO, commands: dict[str, DeviceCommand], complain: LineWriter
) -> None:
    """Serve ``kill <ID>`` and ``quiet <ID>`` lines from ``stream`` until it closes."""
    for line in stream:
        words = line.split()
        if not words:
            continue
        command = commands.get(words[0]) if len(words) == 2 else None
        if command is not None:
            if not command(words[1]):
                complain(f"mwm-sim: no device {literal(words[1])!r} to {words[0]}")
        else:
            said = literal(line.strip())
            known = ", ".join(f"{name} <ID>" for name in COMMANDS)
            complain(f"mwm-sim: unknown command {said!r}; the commands are: {known}")


def fleet_commands(kill: DeviceCommand, quiet: DeviceCommand) -> dict[str, DeviceCommand]:
    return {"kill": kill, "quiet": quiet}


def _worker_main(trucks: list[SimulatedTruck], make: FleetMaker) -> int:
    """In the forked child: serve ``trucks`` until stdin (this process's pipe) closes or a
    signal says stop."""
    output = WorkerOutput(LineWriter(sys.stdout), LineWriter(sys.stderr))
    fleet = make(trucks, output)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        fleet.stop()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def commands() -> None:
        serve_commands(sys.stdin, fleet_commands(fleet.kill, fleet.quiet), output.complain)
        fleet.stop()  # the parent is gone or stopping

    threading.Thread(target=commands, name="mwm-sim-commands", daemon=True).start()
    fleet.run()
    return 0


def _fork_worker(trucks: list[SimulatedTruck], make: FleetMaker) -> _Worker:
    command_read, command_write = os.pipe()
    line_read, line_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the worker
        code = 1
        try:
            os.close(command_write)
            os.close(line_read)
            os.dup2(command_read, 0)
            os.dup2(line_write, 1)
            os.close(command_read)
            os.close(line_write)
            sys.stdin = open(0, encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
            sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
            code = _worker_main(trucks, make)
        finally:
            sys.stdout.flush()
            os._exit(code)
    os.close(command_read)
    os.close(line_write)
    return _Worker(
        pid,
        os.fdopen(command_write, "wb", buffering=0),
        os.fdopen(line_read, "rb", buffering=0),
        frozenset(truck.device_id for truck in trucks),
        status=(0, 0, len(trucks)),
    )


class WorkerPool:
    """The workers of one mwm-sim and what they said; runs on the calling thread."""

    def __init__(
        self,
        shares: list[list[SimulatedTruck]],
        make: FleetMaker,
        say: LineWriter,
        complain: LineWriter,
    ) -> None:
        self._say = say
        self._complain = complain
        self._workers = [_fork_worker(share, make) for share in shares]
        self._lock = threading.Lock()
        self._ready_announced = False
        self._last_status: tuple[int, int, int] | None = None

    def kill(self, device_id: str) -> bool:
        """Hand ``kill <ID>`` to the worker that owns the device; False when none does."""
        return self._hand("kill", device_id)

    def quiet(self, device_id: str) -> bool:
        """Hand ``quiet <ID>`` to the worker that owns the device; False when none does."""
        return self._hand("quiet", device_id)

    def _hand(self, command: str, device_id: str) -> bool:
        for worker in self._workers:
            if device_id in worker.ids:
                with self._lock, contextlib.suppress(OSError):
                    worker.commands.write(f"{command} {device_id}\n".encode())
                return True
        return False

    def stop(self) -> None:
        """Ask every worker to leave cleanly (each DISCONNECTs its devices)."""
        for worker in self._workers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGTERM)

    def run(self) -> int:
        """Merge the workers' lines until every worker has ended; 0 if all ended well."""
        with selectors.DefaultSelector() as selector:
            for worker in self._workers:
                selector.register(worker.lines, selectors.EVENT_READ, worker)
            while any(worker.open for worker in self._workers):
                for key, _ in selector.select():
                    worker = key.data
                    if not self._read(worker):
                        selector.unregister(worker.lines)
        codes = []
        for worker in self._workers:
            _, status = os.waitpid(worker.pid, 0)
            codes.append(os.waitstatus_to_exitcode(status))
            worker.commands.close()
            worker.lines.close()
        return 0 if all(code == 0 for code in codes) else 1

    def _read(self, worker: _Worker) -> bool:
        try:
            data = os.read(worker.lines.fileno(), 65536)
        except InterruptedError:
            return True
        if not data:
            worker.open = False
            return False
        *lines, worker.pending = (worker.pending + data).split(b"\n")
        for raw in lines:
            self._line(worker, raw.decode("utf-8", "replace"))
        return True

    def _line(self, worker: _Worker, line: str) -> None:
        if line.startswith(_STATUS):
            stomp, mqtt, living = (int(part) for part in line[len(_STATUS) :].split())
            worker.status = (stomp, mqtt, living)
            self._report()
        elif line.startswith(_READY):
            worker.ready = int(line.split()[1])
            self._announce_ready()
        else:
            self._say(line)

    def _report(self) -> None:
        statuses = [worker.status for worker in self._workers]
        stomp, mqtt, living = (sum(status[n] for status in statuses) for n in range(3))
        if (stomp, mqtt, living) != self._last_status:
            self._last_status = (stomp, mqtt, living)
            self._complain(f"mwm-sim: STOMP {stomp}/{living} subscribed, MQTT {mqtt}/{living}")

    def _announce_ready(self) -> None:
        counts = [worker.ready for worker in self._workers]
        if self._ready_announced or any(count is None for count in counts):
            return
        self._ready_announced = True
        self._say(f"READY {sum(count or 0 for count in counts)} devices")
